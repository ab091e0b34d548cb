"""Machinery shared by the DGS family: batched evaluation, best-point bookkeeping, descent.

The descent methods (``dgs``, ``es``, ``nesterov``, ``fd``) share one loop: a learning rate
and a radius that follow a schedule (:mod:`~jaxopt_lab.dgs.schedules`), a raw
(``x - lr g``) or normalised (``x - lr g / ||g||``) step along a gradient estimate, one
evaluation of ``f`` at the new iterate for the loss trace, and the best point seen among
every evaluation (non-finite values never become the best). They differ only in the
gradient oracle (:mod:`~jaxopt_lab.dgs.estimator`); :func:`make_method` builds such a
method from its oracle.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.dgs.schedules import SCHEDULES, schedule_value

# ------------------------------------------------------------------ batched evaluation


def map_batched(f, items, chunk_size):
    """``jax.vmap(f)(items)`` evaluated in batches of ``chunk_size`` (``None``: one batch)."""
    if chunk_size is None or chunk_size >= items.shape[0]:
        return jax.vmap(f)(items)
    return jax.lax.map(f, items, batch_size=int(chunk_size))


def best_of(values, points_of, x):
    """``(best_f, best_x, num_nonfinite)`` of ``values`` (any shape) whose flat index ``i``
    is the point ``points_of(i)``; ``best_x = x`` if no value is finite."""
    finite = jnp.isfinite(values)
    masked = jnp.where(finite, values, jnp.inf).reshape(-1)
    i = jnp.argmin(masked)
    best_f = masked[i]
    best_x = jnp.where(jnp.isfinite(best_f), points_of(i), x)
    return best_f, best_x, jnp.sum(~finite, dtype=jnp.int32)


def centered_ranks(values):
    """Centred ranks in ``[-0.5, 0.5]`` of a flat array (non-finite ranked worst)."""
    v = jnp.where(jnp.isfinite(values), values, jnp.inf)
    ranks = jnp.argsort(jnp.argsort(v)).astype(values.dtype)
    n = values.shape[0]
    return ranks / max(n - 1, 1) - 0.5


def update_best(best_f, best_x, cand_f, cand_x):
    """The better of ``(best_f, best_x)`` and a candidate; a non-finite candidate loses."""
    better = jnp.isfinite(cand_f) & (cand_f < best_f)
    return jnp.where(better, cand_f, best_f), jnp.where(better, cand_x, best_x)


def evaluate_start(objective, x0):
    """``(f(x0), best_f)``: the start's value and the best value so far (``+inf`` if the
    start's value is not finite)."""
    f0 = jnp.asarray(objective(x0), x0.dtype)
    return f0, jnp.where(jnp.isfinite(f0), f0, jnp.inf)


# ---------------------------------------------------------------------------- descent


def safe_norm(v: jax.Array) -> jax.Array:
    """Euclidean norm of ``v[dim]`` (0 for the zero vector)."""
    return jnp.sqrt(jnp.sum(v * v))


def descend(x: jax.Array, g: jax.Array, learning_rate, normalize: bool):
    """One descent step ``x - lr g`` (raw) or ``x - lr g / ||g||`` (normalised).

    A zero or non-finite gradient gives no move (reported as a step of length 0).

    Returns:
      ``(x_new [dim], grad_norm [], step_norm [])``.
    """
    gnorm = safe_norm(g)
    ok = jnp.isfinite(gnorm) & (gnorm > 0)
    scale = learning_rate / jnp.where(ok, gnorm, 1.0) if normalize else learning_rate
    delta = jnp.where(ok, -scale * g, jnp.zeros_like(g)).astype(x.dtype)
    return x + delta, gnorm, safe_norm(delta)


@dataclasses.dataclass(frozen=True)
class DescentConfig:
    """Fields every descent method's ``Config`` has (see each module's ``Config``).

    Attributes:
      dim: number of coordinates.
      lr_schedule, radius_schedule: schedules of the learning rate and of the oracle's
        radius (``sigma``, or ``h`` for FD): ``"constant"``, ``"quadratic"`` (the paper's
        decay) or ``"exponential"``.
      normalize: normalised step (the learning rate is a length) or raw ``x - lr g``.
      chunk_size: at most this many points per batched evaluation (``None``: one batch).
      record_path: put the new iterate ``x`` in every ``Info`` (else ``Info.x`` is None).
    """

    dim: int
    lr_schedule: str = "quadratic"
    radius_schedule: str = "quadratic"
    normalize: bool = True
    chunk_size: int | None = None
    record_path: bool = False

    def __post_init__(self):
        _checks.check_int(self.dim, "dim")
        _checks.check_choice(self.lr_schedule, "lr_schedule", SCHEDULES)
        _checks.check_choice(self.radius_schedule, "radius_schedule", SCHEDULES)
        _checks.check_bool(self.normalize, "normalize")
        _checks.check_int(self.chunk_size, "chunk_size", allow_none=True)
        _checks.check_bool(self.record_path, "record_path")


def from_domain(value, name: str, width, dim, scale: float, per_sqrt_dim: bool = False):
    """``value`` if given, else the domain default ``scale (sqrt(dim)) width``.

    Raises:
      ValueError: ``value`` is None and ``width`` (or ``dim``) is missing or invalid.
    """
    if value is not None:
        return value
    if width is None or (per_sqrt_dim and dim is None):
        need = "width and dim" if per_sqrt_dim else "width"
        raise ValueError(f"{name} must be given, or {need} to compute its default")
    _checks.check_number(width, "width", positive=True)
    if per_sqrt_dim:
        _checks.check_int(dim, "dim")
        return scale * math.sqrt(dim) * width
    return scale * width


def schedule_values(learning_rate, radius, learning_rate_final, radius_final, horizon,
                    decay) -> tuple:
    """The six schedule numbers, finals defaulting to 1 % of the initial values."""
    lr_end = 0.01 * learning_rate if learning_rate_final is None else learning_rate_final
    r_end = 0.01 * radius if radius_final is None else radius_final
    return learning_rate, lr_end, radius, r_end, horizon, decay


def schedule_rules(radius: str) -> dict:
    """``check_params`` rules of the six schedule fields, the radius named ``radius``."""
    return {"learning_rate": dict(positive=True), "learning_rate_final": dict(non_negative=True),
            radius: dict(positive=True), f"{radius}_final": dict(positive=True),
            "horizon": dict(positive=True), "decay": dict(positive=True)}


def scheduled(config, params, radius: str, t, dtype):
    """``(learning_rate, radius)`` at step ``t``; the radius as ``dtype``."""
    lr = schedule_value(config.lr_schedule, t, params.learning_rate, params.learning_rate_final,
                        params.horizon, params.decay)
    r = schedule_value(config.radius_schedule, t, getattr(params, radius),
                       getattr(params, f"{radius}_final"), params.horizon, params.decay)
    return lr, jnp.asarray(r, dtype)


class State(NamedTuple):
    """State of a descent method.

    Attributes:
      x: ``[dim]`` current iterate.
      f_x: ``[]`` objective at ``x``.
      best_x: ``[dim]`` best point evaluated so far (oracle points included).
      best_f: ``[]`` its value (finite, or ``+inf`` if nothing finite was seen).
      num_evals: ``[]`` int32 objective evaluations so far.
      step: ``[]`` int32 iteration counter.
    """

    x: jax.Array
    f_x: jax.Array
    best_x: jax.Array
    best_f: jax.Array
    num_evals: jax.Array
    step: jax.Array


class Info(NamedTuple):
    """Per-step diagnostics of a descent method.

    Attributes:
      f_x: ``[]`` objective at the new iterate.
      best_f: ``[]`` best value so far.
      grad_norm: ``[]`` norm of the gradient estimate.
      step_norm: ``[]`` length of the step taken.
      learning_rate: ``[]`` scheduled learning rate.
      radius: ``[]`` scheduled radius (``sigma`` of ES and Nesterov, ``h`` of FD).
      num_nonfinite: ``[]`` int32 non-finite evaluations in this step.
      current_nonfinite: ``[]`` bool, ``f_x`` (the value at the new iterate, the method's
        current point) is not finite (NaN or +-inf).
      x: ``[dim]`` the new iterate if ``config.record_path``, else None.
    """

    f_x: jax.Array
    best_f: jax.Array
    grad_norm: jax.Array
    step_norm: jax.Array
    learning_rate: jax.Array
    radius: jax.Array
    num_nonfinite: jax.Array
    current_nonfinite: jax.Array
    x: jax.Array | None = None


def advance(objective, state, x_new, est):
    """Evaluates ``f(x_new)`` and folds it and the oracle's best point into the best so far.

    Returns:
      ``(f_new, best_f, best_x, num_nonfinite)``: the oracle's non-finite count plus one if
      ``f(x_new)`` is not finite.
    """
    f_new = jnp.asarray(objective(x_new), x_new.dtype)
    num_bad = est.num_nonfinite + jnp.where(jnp.isfinite(f_new), 0, 1).astype(jnp.int32)
    best_f, best_x = update_best(state.best_f, state.best_x, est.best_f, est.best_x)
    best_f, best_x = update_best(best_f, best_x, f_new, x_new)
    return f_new, best_f, best_x, num_bad


def make_method(objective: Callable, config: DescentConfig, name: str, oracle: Callable,
                validate_params: Callable, radius: str) -> Method:
    """A descent method whose gradient is ``oracle(key, state, radius_t) -> Estimate``.

    Args:
      objective: ``f(x[dim]) -> scalar`` (already checked).
      config: the module's ``Config`` (already checked); ``config.evals_per_step`` counts
        the oracle's evaluations and ``f(x_new)``.
      name: the method's name in ``jaxopt_lab.methods``.
      oracle: the gradient estimate at ``state.x`` for the scheduled radius.
      validate_params: raises ``ValueError`` for bad ``Params``.
      radius: the name of the radius field of the module's ``Params``.
    """

    def init(key, x0, params):
        del key
        x0 = _checks.check_point(x0, "x0", config.dim)
        validate_params(params)
        f0, best_f = evaluate_start(objective, x0)
        return State(x=x0, f_x=f0, best_x=x0, best_f=best_f,
                     num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        x = state.x
        lr, r = scheduled(config, params, radius, state.step, x.dtype)
        est = oracle(key, state, r)
        x_new, gnorm, snorm = descend(x, est.grad, lr, config.normalize)
        f_new, best_f, best_x, num_bad = advance(objective, state, x_new, est)
        new = State(x=x_new, f_x=f_new, best_x=best_x, best_f=best_f,
                    num_evals=state.num_evals + config.evals_per_step, step=state.step + 1)
        info = Info(f_x=f_new, best_f=best_f, grad_norm=gnorm, step_norm=snorm,
                    learning_rate=jnp.asarray(lr, x.dtype), radius=r, num_nonfinite=num_bad,
                    current_nonfinite=~jnp.isfinite(f_new), x=x_new if config.record_path else None)
        return new, info

    return Method(init=init, step=step, config=config, name=name)
