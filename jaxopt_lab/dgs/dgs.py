"""DGS, Algorithm 1 of Zhang, Tran, Lu & Zhang (UAI 2021): descent along the DGS gradient.

Each step computes the DGS gradient ``g`` (Eqs. 6-8, :func:`jaxopt_lab.dgs.estimate`) at
radius ``sigma_t`` and steps ``x <- x - lambda_t g / ||g||`` (normalised, the benchmark
setting: ``lambda`` is a length) or ``x - lambda_t g`` (raw); ``lambda_t`` and ``sigma_t``
follow a schedule. Random perturbation (``Config.perturb``): when ``||g|| < gamma``
and/or every ``perturb_every`` steps, the directions are rotated, ``Xi <- QR(Xi + dXi)`` with
``dXi = alpha (A - A^T)/2``, ``A_ij ~ N(0, 1)``, and the radii are redrawn per direction as
``sigma_i = sigma_t + b_i``, ``b_i ~ U(-beta, beta)`` (floored at ``0.01 sigma_t``).

Averaged restart (``Config.restart="average"``, ours, not the paper's): the iterates
``x_{t+1}`` of the steps ``t0 <= t < J`` (``t0 = floor(average_start T)``, ``J =
floor(restart_at T)``, ``T`` the horizon) are averaged; after step ``J - 1`` the mean is
evaluated (one extra evaluation) and replaces the iterate if its value is lower. From step
``J`` on, the schedules start again from ``restart_lr lambda_0`` and ``restart_sigma sigma_0``
and decay to the same finals over ``T - J`` steps. At a large radius the iterate stops
approaching the optimum of a rugged function and wanders about the point where the smoothed
gradient vanishes (its error is a fixed function of ``x``); the mean of that wandering is
closer to the optimum than any iterate, and the small radius after it descends into a
nearby basin instead of drifting out through the medium radii (docs/methods/dgs.md).
Descent acceptance (``Config.accept="descent"``, ours): from step ``floor(accept_from T)``
on, a step that does not lower ``f`` is not taken.

[1] J. Zhang, H. Tran, D. Lu, G. Zhang, UAI 2021, https://proceedings.mlr.press/v161/zhang21a.html

Example::

    from jaxopt_lab import run
    from jaxopt_lab.dgs import dgs
    method = dgs.make(f, dgs.Config(dim=200))
    params = dgs.params(width=65.0, dim=200, horizon=100)   # lr 0.05 sqrt(d) w, sigma 5 w
    final, trace = run(method, key, x0, params, num_steps=100)
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.dgs import _descent
from jaxopt_lab.dgs.estimator import estimate, num_evaluations
from jaxopt_lab.dgs._restart import average_and_jump, restarted_schedules
from jaxopt_lab.linalg import perturb_orthogonal

__all__ = ["Config", "Params", "State", "Info", "params", "make", "TRIGGERS", "RESTARTS",
           "ACCEPTS"]

TRIGGERS = ("never", "grad_norm", "steps", "either")
RESTARTS = ("none", "average")
ACCEPTS = ("always", "descent")


def _perturb_if(pred, key, directions, offsets, scale, halfwidth):
    """``(directions, offsets)`` perturbed if ``pred`` else unchanged (one run, unbatched)."""
    dim, dtype = directions.shape[0], directions.dtype
    k_rot, k_sig = jax.random.split(key)

    def do(_):
        new_dirs = perturb_orthogonal(k_rot, directions, scale)
        new_off = jax.random.uniform(k_sig, (dim,), dtype, -1.0, 1.0) * halfwidth
        return new_dirs.astype(dtype), new_off.astype(dtype)

    return jax.lax.cond(pred, do, lambda _: (directions, offsets), None)


@jax.custom_batching.custom_vmap
def _maybe_perturb(pred, key, directions, offsets, scale, halfwidth):
    """The random perturbation of Algorithm 1, applied only where ``pred`` holds.

    Under ``vmap`` (e.g. a sweep over seeds) a plain ``lax.cond`` becomes a ``select`` that
    runs the batched QR of every run at every step. On XLA:CPU that batched LAPACK call can
    deadlock against another batched LAPACK call running concurrently in the same step (seen
    with the groundwater objective's batched Cholesky on 2 cores: both kernels wait in
    ``ParallelBatchMap`` for the 2 pool threads; docs/benchmarks/dgs.md §4). The batching
    rule below therefore maps over the batch with an *unbatched* ``cond`` per run, so the QR
    runs only for the runs that perturb, one at a time, and never as a batched kernel.
    """
    return _perturb_if(pred, key, directions, offsets, scale, halfwidth)


@_maybe_perturb.def_vmap
def _maybe_perturb_vmap(axis_size, in_batched, pred, key, directions, offsets, scale,
                        halfwidth):
    args = (pred, key, directions, offsets, scale, halfwidth)
    args = tuple(a if b else jnp.broadcast_to(a, (axis_size,) + jnp.shape(a))
                 for a, b in zip(args, in_batched))
    out = jax.lax.map(lambda a: _perturb_if(*a), args)
    return out, (True, True)


@dataclasses.dataclass(frozen=True)
class Config(_descent.DescentConfig):
    """Static configuration (and the fields of ``DescentConfig``: ``dim``, ``lr_schedule``,
    ``radius_schedule`` (of ``sigma``), ``normalize``, ``chunk_size``, ``record_path``).

    Attributes:
      num_points: Gauss-Hermite nodes per direction ``M`` (>= 2).
      perturb: random-perturbation trigger: ``"never"`` (the benchmark setting, ``gamma =
        0``), ``"grad_norm"`` (``||g|| < gamma``), ``"steps"`` (``perturb_every`` steps since
        the last one) or ``"either"``.
      restart: ``"none"`` (Algorithm 1) or ``"average"``: the averaged restart of the module
        docstring (``Params.average_start``, ``restart_at``, ``restart_lr``,
        ``restart_sigma``); it costs :attr:`extra_evals` evaluations in all.
      accept: ``"always"`` (Algorithm 1) or ``"descent"`` (ours): from step
        ``floor(accept_from T)`` on, a step whose new value is not lower than ``f(x_t)``
        is not taken (``x_{t+1} = x_t``; no extra evaluation).
    """

    num_points: int = 5
    perturb: str = "never"
    restart: str = "none"
    accept: str = "always"

    def __post_init__(self):
        super().__post_init__()
        _checks.check_int(self.num_points, "num_points", minimum=2)
        _checks.check_choice(self.perturb, "perturb", TRIGGERS)
        _checks.check_choice(self.restart, "restart", RESTARTS)
        _checks.check_choice(self.accept, "accept", ACCEPTS)

    @property
    def extra_evals(self) -> int:
        """Evaluations a run makes besides ``evals_per_step`` per step: 1 (the mean) with
        ``restart="average"``, else 0."""
        return int(self.restart != "none")

    @property
    def evals_per_step(self) -> int:
        """The gradient's ``2 floor(M/2) dim`` plus ``f`` at the new iterate."""
        return num_evaluations(self.dim, self.num_points) + 1


class Params(NamedTuple):
    """Numeric hyper-parameters (all ``[]`` arrays).

    Attributes:
      learning_rate: initial learning rate ``lambda_0`` (a length when normalised), > 0.
      learning_rate_final: its final value (quadratic) or floor (exponential), >= 0.
      sigma: initial radius ``sigma_0`` (the standard deviation of the smoothing), > 0.
      sigma_final: its final value or floor, > 0.
      horizon: ``T`` of the quadratic decay, > 0.
      decay: per-step factor of the exponential decay, > 0.
      rotation_scale: ``alpha``, entry scale of the skew-symmetric perturbation, >= 0.
      sigma_halfwidth: ``beta``, radii are redrawn in ``sigma_t + U(-beta, beta)``, >= 0.
      grad_tol: ``gamma``, the ``"grad_norm"`` trigger fires when ``||g|| < gamma``, >= 0.
      perturb_every: int32, the ``"steps"`` trigger fires after this many steps, >= 1.
      average_start: ``t0 / T``, where the averaging window of ``restart="average"``
        opens, in ``[0, 1]``.
      restart_at: ``J / T``, where it closes and the schedules restart, in ``[0, 1]``.
      restart_lr: the restarted learning rate over ``lambda_0``, > 0.
      restart_sigma: the restarted radius over ``sigma_0``, > 0.
      accept_from: ``accept="descent"`` applies from step ``floor(accept_from T)``, in
        ``[0, 1]``.
    """

    learning_rate: jax.Array
    learning_rate_final: jax.Array
    sigma: jax.Array
    sigma_final: jax.Array
    horizon: jax.Array
    decay: jax.Array
    rotation_scale: jax.Array
    sigma_halfwidth: jax.Array
    grad_tol: jax.Array
    perturb_every: jax.Array
    average_start: jax.Array
    restart_at: jax.Array
    restart_lr: jax.Array
    restart_sigma: jax.Array
    accept_from: jax.Array


def params(width=None, dim=None, *, learning_rate=None, sigma=None, learning_rate_final=None,
           sigma_final=None, horizon=200.0, decay=1.0, rotation_scale=0.1,
           sigma_halfwidth=0.0, grad_tol=0.0, perturb_every=10**9, average_start=0.125,
           restart_at=0.5, restart_lr=0.25, restart_sigma=0.01, accept_from=0.0,
           dtype=jnp.float32) -> Params:
    """Builds :class:`Params`; defaults from the initial domain's width ``w`` per coordinate.

    Defaults (the paper's benchmark setting, Sec. 4.1): ``learning_rate = 0.05 sqrt(dim) w``
    (5 % of the domain's diagonal), ``sigma = 5 w``, finals 1 % of the initial values,
    ``horizon = 200`` steps; no perturbation unless a trigger is configured. The four
    restart fields act only with ``Config.restart="average"``; their defaults (window
    ``[T/8, T/2)``, restart at ``0.25 lambda_0``, where the quadratic decay is at ``T/2``,
    and ``0.01 sigma_0``) are the setting of ``experiments/dgs_beyond.py``.

    Raises:
      ValueError: a value out of range, or a default needed without ``width``/``dim``.
    """
    dtype = _checks.check_dtype(dtype)
    learning_rate = _descent.from_domain(learning_rate, "learning_rate", width, dim, 0.05,
                                         per_sqrt_dim=True)
    sigma = _descent.from_domain(sigma, "sigma", width, dim, 5.0)
    values = _descent.schedule_values(learning_rate, sigma, learning_rate_final, sigma_final,
                                      horizon, decay)
    values += (rotation_scale, sigma_halfwidth, grad_tol)
    restart = {k: jnp.asarray(v, dtype) for k, v in
               dict(average_start=average_start, restart_at=restart_at, restart_lr=restart_lr,
                    restart_sigma=restart_sigma, accept_from=accept_from).items()}
    p = Params(*(jnp.asarray(v, dtype) for v in values),
               perturb_every=jnp.asarray(perturb_every, jnp.int32), **restart)
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    rules = _descent.schedule_rules("sigma")
    rules.update(rotation_scale=dict(non_negative=True), sigma_halfwidth=dict(non_negative=True),
                 grad_tol=dict(non_negative=True), perturb_every=dict(lo=1),
                 average_start=dict(lo=0.0, hi=1.0), restart_at=dict(lo=0.0, hi=1.0),
                 restart_lr=dict(positive=True), restart_sigma=dict(positive=True),
                 accept_from=dict(lo=0.0, hi=1.0))
    _checks.check_params(p, Params, rules)


class State(NamedTuple):
    """Carried state.

    ``directions`` and ``sigma_offsets`` have the same type for every ``Config``; with
    ``perturb="never"`` they are zero-size placeholders (``[0, dim]`` and ``[0]``): the
    directions stay the identity, which the estimator never forms, so a run never carries a
    ``[dim, dim]`` matrix it does not use (256 MB per chain in float32 at ``dim = 8000``).

    Attributes:
      x: ``[dim]`` current iterate.
      f_x: ``[]`` objective at ``x``.
      best_x: ``[dim]`` best point evaluated (quadrature points included).
      best_f: ``[]`` its value (finite or ``+inf``).
      num_evals: ``[]`` int32 evaluations so far.
      step: ``[]`` int32 iteration counter.
      directions: ``[dim, dim]`` current orthogonal directions (columns), or ``[0, dim]``.
      sigma_offsets: ``[dim]`` per-direction radius offsets ``b_i``, or ``[0]``.
      since_perturb: ``[]`` int32 steps since the last perturbation.
      x_sum: ``[dim]`` sum of the iterates in the averaging window (``restart="average"``),
        or ``[0]``.
      num_summed: ``[]`` int32 iterates in that sum.
    """

    x: jax.Array
    f_x: jax.Array
    best_x: jax.Array
    best_f: jax.Array
    num_evals: jax.Array
    step: jax.Array
    directions: jax.Array
    sigma_offsets: jax.Array
    since_perturb: jax.Array
    x_sum: jax.Array
    num_summed: jax.Array


class Info(NamedTuple):
    """Per-step diagnostics.

    Attributes:
      f_x: ``[]`` objective at the new iterate.
      best_f: ``[]`` best value so far.
      grad_norm: ``[]`` ``||g||``.
      step_norm: ``[]`` length of the step taken.
      learning_rate: ``[]`` scheduled learning rate.
      sigma: ``[]`` scheduled radius (before per-direction offsets).
      num_nonfinite: ``[]`` int32 non-finite evaluations this step.
      perturbed: ``[]`` bool, whether a perturbation was applied after this step.
      current_nonfinite: ``[]`` bool, ``f_x`` (the value at the new iterate, the current
        point) is not finite (NaN or +-inf).
      x: ``[dim]`` new iterate if ``config.record_path``, else None.
    """

    f_x: jax.Array
    best_f: jax.Array
    grad_norm: jax.Array
    step_norm: jax.Array
    learning_rate: jax.Array
    sigma: jax.Array
    num_nonfinite: jax.Array
    perturbed: jax.Array
    current_nonfinite: jax.Array
    x: jax.Array | None = None


def make(objective: Callable[[jax.Array], jax.Array], config: Config) -> Method:
    """DGS Algorithm 1 for ``objective(x[dim]) -> scalar`` (vmapped by the library).

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init`` evaluates ``f(x0)`` (1 evaluation); each
      ``step`` costs ``config.evals_per_step``.
    """
    _checks.check_instance(config, Config, "config")
    _checks.check_objective(objective, config.dim)
    dim = config.dim
    perturbing = config.perturb != "never"
    size = dim if perturbing else 0
    restarting = config.restart != "none"

    def init(key, x0, params):
        del key
        x0 = _checks.check_point(x0, "x0", dim)
        _validate_params(params)
        f0, best_f = _descent.evaluate_start(objective, x0)
        return State(x=x0, f_x=f0, best_x=x0, best_f=best_f,
                     num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32),
                     directions=jnp.eye(size, dim, dtype=x0.dtype),
                     sigma_offsets=jnp.zeros((size,), x0.dtype),
                     since_perturb=jnp.zeros((), jnp.int32),
                     x_sum=jnp.zeros((dim if restarting else 0,), x0.dtype),
                     num_summed=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        x = state.x
        lr, sigma_t = _descent.scheduled(config, params, "sigma", state.step, x.dtype)
        if restarting:
            lr, sigma_t = restarted_schedules(config, params, state.step, lr, sigma_t)
        if perturbing:
            sigmas = jnp.maximum(sigma_t + state.sigma_offsets, 0.01 * sigma_t)
            directions = state.directions
        else:
            sigmas, directions = sigma_t, None
        est = estimate(objective, x, sigmas, directions=directions,
                       num_points=config.num_points, chunk_size=config.chunk_size,
                       validate=False)
        x_new, gnorm, snorm = _descent.descend(x, est.grad, lr, config.normalize)
        f_new, best_f, best_x, num_bad = _descent.advance(objective, state, x_new, est)
        if config.accept == "descent":
            start = jnp.floor(params.accept_from * params.horizon).astype(jnp.int32)
            keep = (state.step >= start) & ~(f_new < state.f_x)
            x_new, f_new = jnp.where(keep, x, x_new), jnp.where(keep, state.f_x, f_new)
            snorm = jnp.where(keep, jnp.zeros_like(snorm), snorm)
        x_sum, num_summed, extra = state.x_sum, state.num_summed, 0
        if restarting:  # the mean, when taken, is the new iterate and a best candidate
            x_new, f_new, x_sum, num_summed, _, extra = average_and_jump(
                objective, params, state, x_new, f_new)
            best_f, best_x = _descent.update_best(best_f, best_x, f_new, x_new)

        directions, offsets, since = state.directions, state.sigma_offsets, state.since_perturb
        perturbed = jnp.zeros((), bool)
        if perturbing:
            since = since + 1
            by_norm = gnorm < params.grad_tol
            by_steps = since >= params.perturb_every
            perturbed = {"grad_norm": by_norm, "steps": by_steps,
                         "either": by_norm | by_steps}[config.perturb]
            directions, offsets = _maybe_perturb(perturbed, key, directions, offsets,
                                                 params.rotation_scale, params.sigma_halfwidth)
            since = jnp.where(perturbed, 0, since)

        new = State(x=x_new, f_x=f_new, best_x=best_x, best_f=best_f,
                    num_evals=state.num_evals + config.evals_per_step + extra,
                    step=state.step + 1, directions=directions, sigma_offsets=offsets,
                    since_perturb=since, x_sum=x_sum, num_summed=num_summed)
        info = Info(f_x=f_new, best_f=best_f, grad_norm=gnorm, step_norm=snorm,
                    learning_rate=jnp.asarray(lr, x.dtype), sigma=sigma_t,
                    num_nonfinite=num_bad, perturbed=perturbed,
                    current_nonfinite=~jnp.isfinite(f_new), x=x_new if config.record_path else None)
        return new, info

    return Method(init=init, step=step, config=config, name="dgs")
