"""DGS, Algorithm 1 of Zhang, Tran, Lu & Zhang (UAI 2021): descent along the DGS gradient.

Each step computes the DGS gradient ``g`` (Eqs. 6-8, :func:`jaxopt_lab.dgs.estimate`) at
radius ``sigma_t`` and steps ``x <- x - lambda_t g / ||g||`` (normalised, the benchmark
setting: ``lambda`` is a length) or ``x - lambda_t g`` (raw); ``lambda_t`` and ``sigma_t``
follow a schedule. Random perturbation (``Config.perturb``): when ``||g|| < gamma``
and/or every ``perturb_every`` steps, the directions are rotated, ``Xi <- QR(Xi + dXi)`` with
``dXi = alpha (A - A^T)/2``, ``A_ij ~ N(0, 1)``, and the radii are redrawn per direction as
``sigma_i = sigma_t + b_i``, ``b_i ~ U(-beta, beta)`` (floored at ``0.01 sigma_t``).

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
from jaxopt_lab.linalg import perturb_orthogonal

__all__ = ["Config", "Params", "State", "Info", "params", "make", "TRIGGERS"]

TRIGGERS = ("never", "grad_norm", "steps", "either")


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
    """

    num_points: int = 5
    perturb: str = "never"

    def __post_init__(self):
        super().__post_init__()
        _checks.check_int(self.num_points, "num_points", minimum=2)
        _checks.check_choice(self.perturb, "perturb", TRIGGERS)

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


def params(width=None, dim=None, *, learning_rate=None, sigma=None, learning_rate_final=None,
           sigma_final=None, horizon=200.0, decay=1.0, rotation_scale=0.1,
           sigma_halfwidth=0.0, grad_tol=0.0, perturb_every=10**9,
           dtype=jnp.float32) -> Params:
    """Builds :class:`Params`; defaults from the initial domain's width ``w`` per coordinate.

    Defaults (the paper's benchmark setting, Sec. 4.1): ``learning_rate = 0.05 sqrt(dim) w``
    (5 % of the domain's diagonal), ``sigma = 5 w``, finals 1 % of the initial values,
    ``horizon = 200`` steps; no perturbation unless a trigger is configured.

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
    p = Params(*(jnp.asarray(v, dtype) for v in values),
               perturb_every=jnp.asarray(perturb_every, jnp.int32))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    rules = _descent.schedule_rules("sigma")
    rules.update(rotation_scale=dict(non_negative=True), sigma_halfwidth=dict(non_negative=True),
                 grad_tol=dict(non_negative=True), perturb_every=dict(lo=1))
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

    def init(key, x0, params):
        del key
        x0 = _checks.check_point(x0, "x0", dim)
        _validate_params(params)
        f0, best_f = _descent.evaluate_start(objective, x0)
        return State(x=x0, f_x=f0, best_x=x0, best_f=best_f,
                     num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32),
                     directions=jnp.eye(size, dim, dtype=x0.dtype),
                     sigma_offsets=jnp.zeros((size,), x0.dtype),
                     since_perturb=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        x = state.x
        lr, sigma_t = _descent.scheduled(config, params, "sigma", state.step, x.dtype)
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
                    num_evals=state.num_evals + config.evals_per_step, step=state.step + 1,
                    directions=directions, sigma_offsets=offsets, since_perturb=since)
        info = Info(f_x=f_new, best_f=best_f, grad_norm=gnorm, step_norm=snorm,
                    learning_rate=jnp.asarray(lr, x.dtype), sigma=sigma_t,
                    num_nonfinite=num_bad, perturbed=perturbed,
                    current_nonfinite=~jnp.isfinite(f_new), x=x_new if config.record_path else None)
        return new, info

    return Method(init=init, step=step, config=config, name="dgs")
