"""Bop: flip every binary variable whose averaged gradient clears a threshold.

Bop (Helwegen et al. 2019 [1]) keeps an exponential moving average ``m`` of the gradient
with adaptivity rate ``gamma`` and flips weight ``w`` in {-1, +1} iff ``w m > tau``. Here the
variables are bits ``x`` in {0, 1} and ``m`` averages the gradient at the one-hot point
``(1 - x, x)``, so the flip score ``m[x'] - m[x]`` is the binary flip rule of GradSearch [2]
and ``x`` flips iff ``(2x - 1) (m[1] - m[0]) > tau``: Algorithm 2 of [2], every move whose
predicted decrease exceeds the threshold taken at once. With ``gamma = 1, tau = 0`` (no
memory, zero threshold) it is [2]'s discrete view of the straight-through estimator.

[1] Helwegen et al., "Latent weights do not exist: rethinking binarized neural network
    optimization", NeurIPS 2019 (larq ``optimizers.py``).
[2] Lu, "Mitigating the failures of gradient-based program synthesis" (2021), §2.4.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.gradsearch import _shared, moves
from jaxopt_lab.problems import programs

__all__ = ["Config", "Params", "State", "Info", "params", "make"]


@dataclasses.dataclass(frozen=True)
class Config:
    """Static configuration.

    Attributes:
      stop_when_solved: once the program fits every example, stop flipping.
    """

    stop_when_solved: bool = True

    def __post_init__(self):
        _checks.check_bool(self.stop_when_solved, "stop_when_solved")


class Params(NamedTuple):
    """Numeric hyper-parameters, named as in [1].

    Attributes:
      gamma: adaptivity rate in (0, 1] of the gradient's moving average.
      tau: flip threshold >= 0.
    """

    gamma: jax.Array
    tau: jax.Array


def params(*, gamma=1e-4, tau=1e-8, dtype=jnp.float32) -> Params:
    """Builds :class:`Params`; defaults are larq's (gamma 1e-4, tau 1e-8). The author's
    2020 parity-chain code used gamma 1e-5, tau 0.1."""
    dtype = _checks.check_dtype(dtype)
    p = Params(jnp.asarray(gamma, dtype), jnp.asarray(tau, dtype))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    _checks.check_params(p, Params, {"gamma": dict(lo=0.0, hi=1.0, lo_open=True),
                                     "tau": dict(non_negative=True)})


class State(NamedTuple):
    """Carried state. ``V = num_vars``."""

    program: jax.Array  # [V] int32 current program
    best_x: jax.Array  # [V] int32 program with the smallest loss seen
    best_f: jax.Array  # [] its loss
    num_evals: jax.Array  # [] int32 loss/gradient evaluations
    m: jax.Array  # [V, 2] moving average of the gradient at the one-hot point


class Info(NamedTuple):
    """Per-step diagnostics, about the program at the start of the step.

    ``current_nonfinite`` is ``[]`` bool: the current program's loss, as this step computed
    it (the program at the start of the step: the step evaluates nothing else), is not
    finite (NaN or +-inf; ``f`` is then ``+inf``).
    """

    f: jax.Array  # [] its loss
    solved: jax.Array  # [] bool: it fits every example
    min_estimate: jax.Array  # [] smallest flip score
    num_moved: jax.Array  # [] int32 variables flipped by this step
    current_nonfinite: jax.Array  # [] bool: its loss is not finite


def make(task: programs.ProgramTask, config: Config = Config()) -> Method:
    """Builds Bop for ``task``, whose parameters must all be binary.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init(key, x0, params)`` takes one program
      ``x0 [num_vars]`` of 0/1 ints (1 evaluation); a ``step`` costs 1 evaluation and uses
      no randomness (``key`` is unused).
    """
    _checks.check_instance(config, Config, "config")
    loss = _shared.loss_functions(task)
    _shared.check_binary(task, "bop")
    space = task.space
    valid = jnp.asarray(space.valid)
    no_weights = jnp.zeros((int(task.targets.shape[0]),), jnp.float32)

    def init(key, x0, params):
        del key
        x0 = space.check(x0, "x0")
        _validate_params(params)
        f = loss.program_loss(x0, params)
        return State(program=x0, best_x=x0, best_f=f, num_evals=jnp.ones((), jnp.int32),
                     m=jnp.zeros(valid.shape, jnp.float32))

    def step(key, state, params):
        del key
        x = state.program
        losses, grad = loss.weighted_grad(programs.onehot(space, x), no_weights, params)
        f = _shared.finite_or_inf(jnp.mean(losses))
        solved = task.solved(x)
        m = (1.0 - params.gamma) * state.m + params.gamma * grad
        scores = moves.switch_estimates(m, x)
        scores = jnp.where(moves.candidate_mask(x, valid) & jnp.isfinite(scores), scores,
                           jnp.inf)
        flip_score = jnp.min(scores, axis=1)  # [V]: the other value's score
        flip = -flip_score > params.tau
        if config.stop_when_solved:
            flip = flip & ~solved
        new_x = jnp.where(flip, 1 - x, x)
        best_x, best_f, _ = _shared.improve(state.best_x, state.best_f, x, f)
        new = State(program=new_x, best_x=best_x, best_f=best_f,
                    num_evals=state.num_evals + 1, m=m)
        return new, Info(f=f, solved=solved, min_estimate=jnp.min(flip_score),
                         num_moved=jnp.sum(flip, dtype=jnp.int32),
                         current_nonfinite=~jnp.isfinite(f))

    return Method(init=init, step=step, config=config, name="bop")
