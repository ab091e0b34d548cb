"""Continuous relaxations of a program, trained by Adam: the baselines of Table 1.

Every variable gets a distribution over its values that the differentiable program
consumes (TerpreT's FMGD [2]); the program read off at every step is the argmax. Kinds
(:class:`Config`): free logits with a softmax (FMGD), a softmax with an annealed
temperature, one Gumbel-softmax sample per step, and logits produced by an MLP of a fixed
random input (neural reparameterisation); each optionally with a regulariser that pushes
the distributions towards vertices. Lu 2021 [1] §3 names these baselines without defining
the last three; the readings here are documented per field.

[1] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
[2] Gaunt et al., "TerpreT", arXiv:1608.04428 (2016).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.gradsearch import _shared
from jaxopt_lab.problems import programs

__all__ = ["Config", "Params", "State", "Info", "params", "make", "initial_point",
           "latent_size", "KINDS", "INITS"]

KINDS = ("fmgd", "temp_softmax", "gumbel", "neural")
INITS = ("log_dirichlet", "uniform")


@dataclasses.dataclass(frozen=True)
class Config:
    """Static configuration.

    Attributes:
      kind: the relaxation. ``"fmgd"``: ``softmax(s)`` of free logits ``s [V, M]``;
        ``"temp_softmax"``: ``softmax(s / T)``, ``T`` annealed geometrically from
        ``temp_start`` to ``temp_end`` over ``num_anneal_steps`` steps; ``"gumbel"``: one
        relaxed Gumbel-softmax sample per step at temperature
        ``gumbel_temp * gumbel_decay**t`` (2.5 and 0.9999 in the author's 2020 code);
        ``"neural"``: logits ``= MLP(u)`` of a fixed random input ``u`` (one hidden ReLU
        layer).
      regularise: add ``reg * sum_v sum_{i<j} mu_v[i] mu_v[j]`` to the loss (for binary
        variables ``reg * mu[0] mu[1]``: symmetric, pushes towards vertices).
      init: logits of :func:`initial_point`: ``"log_dirichlet"`` (TerpreT/Selsam: the
        elementwise log of ONE Dirichlet(1) draw over all entries) or ``"uniform"``
        (U(0, 1), the author's 2020 code).
      num_anneal_steps: length of the temperature schedule of ``"temp_softmax"``.
      hidden: hidden width of ``"neural"``; input_dim: size of its fixed input.
      stop_when_solved: once the argmax program fits every example, stop training.
    """

    kind: str = "fmgd"
    regularise: bool = False
    init: str = "log_dirichlet"
    num_anneal_steps: int = 1000
    hidden: int = 64
    input_dim: int = 16
    stop_when_solved: bool = True

    def __post_init__(self):
        _checks.check_choice(self.kind, "kind", KINDS)
        _checks.check_bool(self.regularise, "regularise")
        _checks.check_choice(self.init, "init", INITS)
        for name in ("num_anneal_steps", "hidden", "input_dim"):
            _checks.check_int(getattr(self, name), name)
        _checks.check_bool(self.stop_when_solved, "stop_when_solved")


class Params(NamedTuple):
    """Numeric hyper-parameters (each used by the kinds that name it).

    Attributes:
      learning_rate: Adam's step size, > 0.
      reg: regulariser weight >= 0 (``regularise``).
      temp_start, temp_end: > 0, the temperature schedule (``"temp_softmax"``).
      gumbel_temp: > 0, initial Gumbel-softmax temperature; gumbel_decay: in (0, 1], its
        factor per step (``"gumbel"``).
    """

    learning_rate: jax.Array
    reg: jax.Array
    temp_start: jax.Array
    temp_end: jax.Array
    gumbel_temp: jax.Array
    gumbel_decay: jax.Array


def params(*, learning_rate=1e-3, reg=1.0, temp_start=1.0, temp_end=0.1, gumbel_temp=2.5,
           gumbel_decay=0.9999, dtype=jnp.float32) -> Params:
    """Builds :class:`Params`; defaults: Adam 1e-3 and the Gumbel schedule of the author's
    2020 code, regulariser weight 1 and temperature 1 -> 0.1 (our readings)."""
    dtype = _checks.check_dtype(dtype)
    p = Params(*(jnp.asarray(v, dtype) for v in (learning_rate, reg, temp_start, temp_end,
                                                  gumbel_temp, gumbel_decay)))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    positive = dict(positive=True)
    _checks.check_params(p, Params, {
        "learning_rate": positive, "reg": dict(non_negative=True), "temp_start": positive,
        "temp_end": positive, "gumbel_temp": positive,
        "gumbel_decay": dict(lo=0.0, hi=1.0, lo_open=True)})


class State(NamedTuple):
    """Carried state. ``V = num_vars``."""

    latent: jax.Array  # the point of the latent space (see make)
    opt_state: Any  # Adam's state
    program: jax.Array  # [V] int32 argmax program of latent
    f: jax.Array  # [] loss of program
    best_x: jax.Array  # [V] int32 program with the smallest loss seen
    best_f: jax.Array  # [] its loss
    num_evals: jax.Array  # [] int32 loss/gradient evaluations
    step: jax.Array  # [] int32 steps taken (drives the temperature schedules)


class Info(NamedTuple):
    """Per-step diagnostics, about the point at the start of the step, but for
    ``current_nonfinite``: ``[]`` bool, the loss of the current program after this step
    (``State.f``, the program of the updated latent point, which the step evaluates) is not
    finite (NaN or +-inf; ``State.f`` is then ``+inf``).
    """

    loss: jax.Array  # [] relaxed training loss
    f: jax.Array  # [] loss of the argmax program
    solved: jax.Array  # [] bool: the argmax program fits every example
    current_nonfinite: jax.Array  # [] bool: the new program's loss is not finite


def latent_size(task: programs.ProgramTask, config: Config) -> int:
    """Length of a point of the latent space: ``num_vars * max_card`` logits, or for
    ``"neural"`` the fixed input, then the MLP's weights and biases."""
    num_logits = task.space.num_vars * task.space.max_card
    if config.kind != "neural":
        return num_logits
    d, h = config.input_dim, config.hidden
    return d + d * h + h + h * num_logits + num_logits


def _split_mlp(latent, config: Config, num_logits: int):
    d, h = config.input_dim, config.hidden
    sizes = (d, d * h, h, h * num_logits, num_logits)
    u, w1, b1, w2, b2 = jnp.split(latent, np.cumsum(sizes)[:-1])
    return u, w1.reshape(d, h), b1, w2.reshape(h, num_logits), b2


def initial_point(key: jax.Array, task: programs.ProgramTask, config: Config) -> jax.Array:
    """The paper's random start, one point of the latent space ``[latent_size]``.

    Logits (``config.init``) for every kind but ``"neural"``, whose point is its fixed input
    ``u ~ N(0, I)``, Gaussian weights scaled by ``1/sqrt(fan_in)`` and zero biases.
    """
    _checks.check_instance(task, programs.ProgramTask, "task")
    _checks.check_instance(config, Config, "config")
    valid = jnp.asarray(task.space.valid)
    shape = valid.shape
    if config.kind == "neural":
        k_in, k1, k2 = jax.random.split(key, 3)
        d, h, n = config.input_dim, config.hidden, shape[0] * shape[1]
        parts = (jax.random.normal(k_in, (d,), jnp.float32),
                 jax.random.normal(k1, (d, h), jnp.float32) / np.float32(np.sqrt(d)),
                 jnp.zeros((h,), jnp.float32),
                 jax.random.normal(k2, (h, n), jnp.float32) / np.float32(np.sqrt(h)),
                 jnp.zeros((n,), jnp.float32))
        return jnp.concatenate([p.reshape(-1) for p in parts])
    if config.init == "uniform":
        return jax.random.uniform(key, shape, jnp.float32).reshape(-1)
    e = jax.random.exponential(key, shape, jnp.float32)  # Dirichlet(1) = normalised Exp(1)
    e = jnp.where(valid, e, 1.0)
    total = jnp.sum(jnp.where(valid, e, 0.0))
    return (jnp.log(e) - jnp.log(total)).reshape(-1)


def make(task: programs.ProgramTask, config: Config = Config()) -> Method:
    """Builds a relaxation of ``task``.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init(key, x0, params)`` takes one point of the
      latent space, ``x0 [latent_size(task, config)]`` floats (:func:`initial_point`): the
      logits ``[num_vars, max_card]`` flattened (entries of values a variable does not have
      are ignored), or for ``"neural"`` the MLP's input and parameters. A ``step`` (one
      Adam update) costs 2 evaluations: the relaxed loss with its gradient and the loss of
      the new argmax program. Only ``"gumbel"`` uses ``key``.
    """
    _checks.check_instance(config, Config, "config")
    loss = _shared.loss_functions(task)
    space, kind = task.space, config.kind
    valid = jnp.asarray(space.valid)
    size = latent_size(task, config)

    def masked_softmax(logits):
        return jax.nn.softmax(jnp.where(valid, logits, -jnp.inf), axis=-1)

    def logits_of(latent):
        if kind == "neural":
            u, w1, b1, w2, b2 = _split_mlp(latent, config, valid.size)
            hidden = jax.nn.relu(jax.lax.stop_gradient(u) @ w1 + b1)
            return (hidden @ w2 + b2).reshape(valid.shape)
        return latent.reshape(valid.shape)

    def argmax_program(latent):
        return jnp.argmax(jnp.where(valid, logits_of(latent), -jnp.inf),
                          axis=-1).astype(jnp.int32)

    def relaxed(latent, key, params, t):
        """The distributions fed to the program, ``[V, M]``."""
        logits = logits_of(latent)
        if kind == "temp_softmax":
            frac = jnp.minimum(t.astype(jnp.float32) / config.num_anneal_steps, 1.0)
            temp = params.temp_start * (params.temp_end / params.temp_start) ** frac
            return masked_softmax(logits / temp)
        if kind == "gumbel":
            g = jax.random.gumbel(key, valid.shape, dtype=logits.dtype)
            tau = params.gumbel_temp * params.gumbel_decay ** t.astype(jnp.float32)
            return masked_softmax((logits + g) / tau)
        return masked_softmax(logits)

    def objective(latent, key, params, t):
        mu = relaxed(latent, key, params, t)
        value = task.loss_flat(mu)
        if config.regularise:
            s = jnp.sum(mu, axis=-1)
            pairwise = 0.5 * (s**2 - jnp.sum(mu**2, axis=-1))  # sum_{i<j} mu_i mu_j
            value = value + params.reg * jnp.sum(pairwise)
        return value

    def init(key, x0, params):
        del key
        x0 = _checks.check_point(x0, "x0", size)
        _validate_params(params)
        program = argmax_program(x0)
        f = loss.program_loss(program, params)
        return State(latent=x0, opt_state=_shared.adam_init(x0, params.learning_rate),
                     program=program, f=f, best_x=program, best_f=f,
                     num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        solved = task.solved(state.program)
        frozen = solved if config.stop_when_solved else jnp.zeros((), bool)
        value, latent, opt_state = _shared.adam_step(
            lambda w: objective(w, key, params, state.step), state.latent, state.opt_state,
            params.learning_rate, frozen)
        program = argmax_program(latent)
        f = loss.program_loss(program, params)
        best_x, best_f, _ = _shared.improve(state.best_x, state.best_f, program, f)
        new = State(latent=latent, opt_state=opt_state, program=program, f=f, best_x=best_x,
                    best_f=best_f, num_evals=state.num_evals + 2, step=state.step + 1)
        return new, Info(loss=value, f=state.f, solved=solved,
                         current_nonfinite=~jnp.isfinite(f))

    return Method(init=init, step=step, config=config, name="relaxation")
