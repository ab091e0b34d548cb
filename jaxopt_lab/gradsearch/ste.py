"""The straight-through estimator (STE) on latent weights, for binary programs.

Every bit has a real latent weight ``w``; the forward pass runs the program at the hard
bits ``x = 1[w > 0.5]`` and the backward pass uses ``dL/dx`` as ``dL/dw`` where
``0 <= w <= 1`` (zero outside), Bengio et al. 2013 [1]; ``w`` is trained by Adam. Table 1
of [2] (the author's 2020 code): ``w`` drawn from U(0.45, 0.55), learning rate 1e-3.

This is one algorithm, and [2]'s discrete view of STE (Algorithm 2 with threshold 0: flip
every bit whose flip estimate is negative) is another: the latent weights remember past
gradients and Adam's moments scale them, so a bit flips only once its accumulated update
carries ``w`` across 0.5, while the discrete view flips on the current gradient alone. The
two make the same flips only if every step carried every ``w`` across the threshold the
gradient points to. The discrete view is Bop with ``gamma = 1, tau = 0``
(:mod:`~jaxopt_lab.gradsearch.bop`).

[1] Bengio, Leonard, Courville, "Estimating or propagating gradients through stochastic
    neurons for conditional computation", arXiv:1308.3432 (2013).
[2] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.gradsearch import _shared
from jaxopt_lab.problems import programs

__all__ = ["Config", "Params", "State", "Info", "params", "make", "initial_point"]


@dataclasses.dataclass(frozen=True)
class Config:
    """Static configuration.

    Attributes:
      stop_when_solved: once the program fits every example, stop training.
    """

    stop_when_solved: bool = True

    def __post_init__(self):
        _checks.check_bool(self.stop_when_solved, "stop_when_solved")


class Params(NamedTuple):
    """Numeric hyper-parameters.

    Attributes:
      learning_rate: Adam's step size, > 0.
    """

    learning_rate: jax.Array


def params(*, learning_rate=1e-3, dtype=jnp.float32) -> Params:
    """Builds :class:`Params` (default: Adam learning rate 1e-3, as in [2])."""
    dtype = _checks.check_dtype(dtype)
    p = Params(jnp.asarray(learning_rate, dtype))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    _checks.check_params(p, Params, {"learning_rate": dict(positive=True)})


class State(NamedTuple):
    """Carried state. ``V = num_vars``."""

    latent: jax.Array  # [V] latent weights
    opt_state: Any  # Adam's state
    program: jax.Array  # [V] int32 the hard bits of latent
    f: jax.Array  # [] loss of program
    best_x: jax.Array  # [V] int32 program with the smallest loss seen
    best_f: jax.Array  # [] its loss
    num_evals: jax.Array  # [] int32 loss/gradient evaluations


class Info(NamedTuple):
    """Per-step diagnostics, about the point at the start of the step, but for
    ``current_nonfinite``: ``[]`` bool, the loss of the current program after this step
    (``State.f``, the program of the updated latent point, which the step evaluates) is not
    finite (NaN or +-inf; ``State.f`` is then ``+inf``).
    """

    loss: jax.Array  # [] training loss (the program's loss at the hard bits)
    f: jax.Array  # [] loss of the program
    solved: jax.Array  # [] bool: the program fits every example
    current_nonfinite: jax.Array  # [] bool: the new program's loss is not finite


def initial_point(key: jax.Array, task: programs.ProgramTask) -> jax.Array:
    """The paper's random start: latent weights ``[num_vars]`` from U(0.45, 0.55)."""
    _checks.check_instance(task, programs.ProgramTask, "task")
    return jax.random.uniform(key, (task.space.num_vars,), jnp.float32, minval=0.45,
                              maxval=0.55)


def make(task: programs.ProgramTask, config: Config = Config()) -> Method:
    """Builds STE for ``task``, whose parameters must all be binary.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init(key, x0, params)`` takes one point of the
      latent space, the weights ``x0 [num_vars]`` (floats; e.g. :func:`initial_point`), and
      evaluates its program (1 evaluation); a ``step`` (one Adam update) costs 2: the
      gradient and the loss of the new program. ``key`` is unused.
    """
    _checks.check_instance(config, Config, "config")
    loss = _shared.loss_functions(task)
    _shared.check_binary(task, "ste")
    space = task.space

    def hard(w):
        return (w > 0.5).astype(jnp.int32)

    def objective(w):
        x_hard = (w > 0.5).astype(jnp.float32)
        inside = (w >= 0.0) & (w <= 1.0)
        x = jax.lax.stop_gradient(x_hard) + jnp.where(inside, w - jax.lax.stop_gradient(w),
                                                      0.0)
        return task.loss(space.to_dict(jnp.stack([1.0 - x, x], axis=-1)))

    def init(key, x0, params):
        del key
        x0 = _checks.check_point(x0, "x0", space.num_vars)
        _validate_params(params)
        program = hard(x0)
        f = loss.program_loss(program, params)
        return State(latent=x0, opt_state=_shared.adam_init(x0, params.learning_rate),
                     program=program, f=f, best_x=program, best_f=f,
                     num_evals=jnp.ones((), jnp.int32))

    def step(key, state, params):
        del key
        solved = task.solved(state.program)
        frozen = solved if config.stop_when_solved else jnp.zeros((), bool)
        value, latent, opt_state = _shared.adam_step(objective, state.latent, state.opt_state,
                                                     params.learning_rate, frozen)
        program = hard(latent)
        f = loss.program_loss(program, params)
        best_x, best_f, _ = _shared.improve(state.best_x, state.best_f, program, f)
        new = State(latent=latent, opt_state=opt_state, program=program, f=f, best_x=best_x,
                    best_f=best_f, num_evals=state.num_evals + 2)
        return new, Info(loss=value, f=state.f, solved=solved,
                         current_nonfinite=~jnp.isfinite(f))

    return Method(init=init, step=step, config=config, name="ste")
