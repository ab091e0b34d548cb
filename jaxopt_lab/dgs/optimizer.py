"""DGS optimisers: Algorithm 1 of Zhang et al. (UAI 2021), AdaDGS, and DGS for optax.

* :func:`make_dgs` — Algorithm 1: ``x <- x - lambda_t g`` (raw) or ``x - lambda_t g/||g||``
  (normalised, the benchmark setting; ../shared/specs/dgs.md §2) with the DGS gradient ``g``;
  learning rate and radius follow a schedule (constant, the paper's quadratic decay, or
  exponential). Random perturbation: when ``||g|| < gamma`` and/or every
  ``perturb_every`` steps, the directions are rotated, ``Xi <- QR(Xi + dXi)`` with
  ``dXi = alpha (A - A^T)/2``, ``A_ij ~ N(0,1)`` (sign-fixed QR), and per-direction radii are
  redrawn as ``sigma_i = sigma_t + b_i``, ``b_i ~ U(-beta, beta)`` (floored at
  ``0.01 sigma_t``). Under ``vmap`` (sweeps over seeds) the perturbation is applied as one
  unbatched ``cond`` per run (a ``custom_vmap`` rule), not as a ``select`` that would run
  a batched QR at every step.
* :func:`make_adadgs` — AdaDGS (Tran & Zhang, the authors' public code; spec §3): a batched
  line search of ``L`` trial lengths ``l_max tau^l`` along ``-g/||g||`` that never increases
  ``f``, radius update ``sigma <- (sigma + ||dx||)/2``, and a reset ``sigma ~ N(m, s^2)`` when
  progress stalls (at most once every ``reset_every`` steps).
* :func:`make_optax` and :func:`gradient_fn` — DGS as a gradient source for any
  ``optax.GradientTransformation`` (e.g. DGS + Adam).

Non-finite values rule (all three): in the gradient, a ``±`` pair with a non-finite value
contributes zero (:mod:`~jaxopt_lab.dgs.estimator`); line-search trials with non-finite
values are never selected; ``best_f`` only takes finite values; every step reports
``Info.num_nonfinite``. A zero gradient gives no move.

[1] J. Zhang, H. Tran, D. Lu, G. Zhang, UAI 2021, https://proceedings.mlr.press/v161/zhang21a.html
[2] H. Tran, G. Zhang, "AdaDGS: an adaptive black-box optimization method with a nonlocal
    directional Gaussian smoothing gradient", arXiv:2011.02009 (2020).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.core import Method
from jaxopt_lab.dgs.baselines import _check_int, _map_batched
from jaxopt_lab.dgs.estimator import _check_num_points, estimate, num_evaluations
from jaxopt_lab.dgs.schedules import check_schedule, descend, safe_norm, schedule_value

__all__ = [
    "DGSConfig", "DGSParams", "DGSState", "DGSInfo", "make_dgs", "dgs_params",
    "AdaDGSConfig", "AdaDGSParams", "AdaDGSState", "AdaDGSInfo", "make_adadgs",
    "adadgs_params",
    "OptaxDGSConfig", "OptaxDGSParams", "OptaxDGSState", "make_optax", "gradient_fn",
    "haar_orthogonal", "perturb_directions",
]

_TRIGGERS = ("never", "grad_norm", "steps", "either")


def haar_orthogonal(key: jax.Array, dim: int, dtype=jnp.float32) -> jax.Array:
    """A Haar-distributed ``[dim, dim]`` orthogonal matrix (QR of a Gaussian, sign-fixed)."""
    a = jax.random.normal(key, (dim, dim), dtype)
    return _qr_sign_fixed(a)


def _qr_sign_fixed(a):
    q, r = jnp.linalg.qr(a)
    d = jnp.sign(jnp.diagonal(r))
    d = jnp.where(d == 0, 1.0, d).astype(a.dtype)
    return q * d[None, :]


def perturb_directions(key: jax.Array, directions: jax.Array, scale) -> jax.Array:
    """``QR(Xi + scale (A - A^T)/2)``, ``A_ij ~ N(0, 1)``: a random small rotation of ``Xi``."""
    dim = directions.shape[0]
    a = jax.random.normal(key, (dim, dim), directions.dtype)
    return _qr_sign_fixed(directions + scale * 0.5 * (a - a.T))


def _perturb_if(pred, key, directions, offsets, scale, halfwidth):
    """``(directions, offsets)`` perturbed if ``pred`` else unchanged (one run, unbatched)."""
    dim, dtype = directions.shape[0], directions.dtype
    k_rot, k_sig = jax.random.split(key)

    def do(_):
        new_dirs = perturb_directions(k_rot, directions, scale)
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


# ------------------------------------------------------------------------ DGS (Alg. 1)


@dataclasses.dataclass(frozen=True)
class DGSConfig:
    """Static configuration of DGS Algorithm 1.

    Attributes:
      dim: number of coordinates.
      num_points: Gauss–Hermite nodes per direction ``M`` (>= 2).
      lr_schedule, sigma_schedule: ``"constant"``, ``"quadratic"`` or ``"exponential"``.
      normalize: normalised step (``lambda`` is a length) or raw ``x - lambda g``.
      perturb: random-perturbation trigger: ``"never"`` (the benchmark setting, ``gamma=0``),
        ``"grad_norm"`` (``||g|| < gamma``), ``"steps"`` (every ``perturb_every`` steps since
        the last one) or ``"either"``.
      chunk_size: max points per batched evaluation (``None``: all ``(M-1) dim`` at once).
      record_path: put the iterate ``x`` in every ``Info``.
    """

    dim: int
    num_points: int = 5
    lr_schedule: str = "quadratic"
    sigma_schedule: str = "quadratic"
    normalize: bool = True
    perturb: str = "never"
    chunk_size: int | None = None
    record_path: bool = False

    def __post_init__(self):
        _check_int(self.dim, "dim")
        _check_num_points(self.num_points)
        check_schedule(self.lr_schedule, "lr_schedule")
        check_schedule(self.sigma_schedule, "sigma_schedule")
        if not isinstance(self.normalize, bool):
            raise ValueError(f"normalize must be a bool, got {self.normalize!r}")
        if self.perturb not in _TRIGGERS:
            raise ValueError(f"perturb must be one of {_TRIGGERS}, got {self.perturb!r}")
        _check_int(self.chunk_size, "chunk_size", allow_none=True)

    @property
    def evals_per_step(self) -> int:
        """Evaluations per step: the gradient's ``2 floor(M/2) dim`` plus ``f(x_new)``."""
        return num_evaluations(self.dim, self.num_points) + 1


class DGSParams(NamedTuple):
    """Numeric hyper-parameters of DGS (all ``[]`` arrays).

    Attributes:
      learning_rate, learning_rate_final, sigma, sigma_final, horizon, decay: as
        :class:`~jaxopt_lab.dgs.baselines.DescentParams`.
      rotation_scale: ``alpha``, entry scale of the skew-symmetric perturbation.
      sigma_halfwidth: ``beta``, radii are redrawn in ``sigma_t + U(-beta, beta)``.
      grad_tol: ``gamma``, perturbation trigger on ``||g||``.
      perturb_every: perturb after this many steps without one (``"steps"`` trigger).
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


def dgs_params(learning_rate, sigma, *, learning_rate_final=None, sigma_final=None,
               horizon=200.0, decay=1.0, rotation_scale=0.1, sigma_halfwidth=0.0,
               grad_tol=0.0, perturb_every=10**9, dtype=jnp.float32) -> DGSParams:
    """Builds :class:`DGSParams`; finals default to 1% of the initial values.

    ``dgs_params(0.05 * sqrt(d) * w, 5 * w, horizon=200)`` is the paper's benchmark setting.

    Raises:
      ValueError: for ``learning_rate``, ``sigma`` or ``horizon`` not > 0, or negative
        ``rotation_scale``, ``sigma_halfwidth``, ``grad_tol``.
    """
    for name, v in (("learning_rate", learning_rate), ("sigma", sigma), ("horizon", horizon),
                    ("perturb_every", perturb_every)):
        if not np.all(np.asarray(v) > 0):
            raise ValueError(f"{name} must be > 0, got {v!r}")
    for name, v in (("rotation_scale", rotation_scale), ("sigma_halfwidth", sigma_halfwidth),
                    ("grad_tol", grad_tol)):
        if not np.all(np.asarray(v) >= 0):
            raise ValueError(f"{name} must be >= 0, got {v!r}")
    lr_end = 0.01 * learning_rate if learning_rate_final is None else learning_rate_final
    s_end = 0.01 * sigma if sigma_final is None else sigma_final
    c = lambda v: jnp.asarray(v, dtype)  # noqa: E731
    return DGSParams(c(learning_rate), c(lr_end), c(sigma), c(s_end), c(horizon), c(decay),
                     c(rotation_scale), c(sigma_halfwidth), c(grad_tol),
                     jnp.asarray(perturb_every, jnp.int32))


class DGSState(NamedTuple):
    """State of DGS.

    Attributes:
      x: ``[dim]`` current iterate.
      f_x: ``[]`` objective at ``x``.
      best_x: ``[dim]`` best point evaluated (quadrature points included).
      best_f: ``[]`` its value (finite or ``+inf``).
      num_evals: ``[]`` int32 evaluations so far.
      step: ``[]`` int32 iteration counter.
      directions: ``[dim, dim]`` current orthogonal directions (columns), or ``None`` when
        ``perturb == "never"`` (identity, never formed).
      sigma_offsets: ``[dim]`` per-direction radius offsets ``b_i`` (or ``None``).
      since_perturb: ``[]`` int32 steps since the last perturbation.
    """

    x: jax.Array
    f_x: jax.Array
    best_x: jax.Array
    best_f: jax.Array
    num_evals: jax.Array
    step: jax.Array
    directions: jax.Array | None
    sigma_offsets: jax.Array | None
    since_perturb: jax.Array


class DGSInfo(NamedTuple):
    """Per-step diagnostics of DGS.

    Attributes:
      f_x: ``[]`` objective at the new iterate.
      best_f: ``[]`` best value so far.
      grad_norm: ``[]`` ``||g||``.
      step_norm: ``[]`` length of the step taken.
      learning_rate: ``[]`` scheduled learning rate.
      sigma: ``[]`` scheduled radius (before per-direction offsets).
      num_nonfinite: ``[]`` int32 non-finite evaluations this step.
      perturbed: ``[]`` bool, whether a perturbation was applied after this step.
      x: ``[dim]`` new iterate if ``record_path`` else ``None``.
    """

    f_x: jax.Array
    best_f: jax.Array
    grad_norm: jax.Array
    step_norm: jax.Array
    learning_rate: jax.Array
    sigma: jax.Array
    num_nonfinite: jax.Array
    perturbed: jax.Array
    x: jax.Array | None = None


def _check_x0(x0, dim):
    x0 = jnp.asarray(x0)
    if x0.shape != (dim,):
        raise ValueError(f"x0 must have shape [dim]=({dim},), got {x0.shape}")
    if not jnp.issubdtype(x0.dtype, jnp.floating):
        x0 = x0.astype(jnp.float32)
    return x0


def _check_concrete_positive(value, name):
    """Raises if ``value`` is concrete (not traced) and not finite and > 0 everywhere."""
    try:
        v = np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return
    if not np.all(np.isfinite(v) & (v > 0)):
        raise ValueError(f"{name} must be finite and > 0, got {v!r}")


def _update_best(best_f, best_x, cand_f, cand_x):
    better = jnp.isfinite(cand_f) & (cand_f < best_f)
    return jnp.where(better, cand_f, best_f), jnp.where(better, cand_x, best_x)


def make_dgs(objective: Callable[[jax.Array], jax.Array], config: DGSConfig) -> Method:
    """DGS Algorithm 1 (Zhang et al., UAI 2021) as an init/step method.

    Args:
      objective: black box ``f(x[dim]) -> scalar`` (vmapped by the library).
      config: :class:`DGSConfig`.

    Returns:
      A :class:`~jaxopt_lab.core.Method` with :class:`DGSParams`, :class:`DGSState`,
      :class:`DGSInfo`. ``init`` evaluates ``f(x0)`` (1 evaluation); each ``step`` costs
      ``config.evals_per_step``.
    """
    if not isinstance(config, DGSConfig):
        raise ValueError(f"config must be a DGSConfig, got {type(config).__name__}")
    dim = config.dim
    perturbing = config.perturb != "never"

    def init(key, x0, params):
        del key, params
        x0 = _check_x0(x0, dim)
        f0 = jnp.asarray(objective(x0), x0.dtype)
        return DGSState(
            x=x0, f_x=f0, best_x=x0, best_f=jnp.where(jnp.isfinite(f0), f0, jnp.inf),
            num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32),
            directions=jnp.eye(dim, dtype=x0.dtype) if perturbing else None,
            sigma_offsets=jnp.zeros((dim,), x0.dtype) if perturbing else None,
            since_perturb=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        x, dtype = state.x, state.x.dtype
        t = state.step
        lr = schedule_value(config.lr_schedule, t, params.learning_rate,
                            params.learning_rate_final, params.horizon, params.decay)
        sigma_t = jnp.asarray(
            schedule_value(config.sigma_schedule, t, params.sigma, params.sigma_final,
                           params.horizon, params.decay), dtype)
        if perturbing:
            sigmas = jnp.maximum(sigma_t + state.sigma_offsets, 0.01 * sigma_t)
        else:
            sigmas = sigma_t
        est = estimate(objective, x, sigmas, directions=state.directions,
                       num_points=config.num_points, chunk_size=config.chunk_size,
                       validate=False)
        x_new, gnorm, snorm = descend(x, est.grad, lr, config.normalize)
        f_new = jnp.asarray(objective(x_new), dtype)
        num_bad = est.num_nonfinite + jnp.where(jnp.isfinite(f_new), 0, 1).astype(jnp.int32)
        best_f, best_x = _update_best(state.best_f, state.best_x, est.best_f, est.best_x)
        best_f, best_x = _update_best(best_f, best_x, f_new, x_new)

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

        new = DGSState(x=x_new, f_x=f_new, best_x=best_x, best_f=best_f,
                       num_evals=state.num_evals + config.evals_per_step, step=t + 1,
                       directions=directions, sigma_offsets=offsets, since_perturb=since)
        info = DGSInfo(f_x=f_new, best_f=best_f, grad_norm=gnorm, step_norm=snorm,
                       learning_rate=jnp.asarray(lr, dtype), sigma=sigma_t,
                       num_nonfinite=num_bad, perturbed=perturbed,
                       x=x_new if config.record_path else None)
        return new, info

    return Method(init=init, step=step, config=config, name="dgs")


# ---------------------------------------------------------------------------- AdaDGS


@dataclasses.dataclass(frozen=True)
class AdaDGSConfig:
    """Static configuration of AdaDGS.

    Attributes:
      dim: number of coordinates.
      num_points: Gauss–Hermite nodes per direction ``M``.
      num_line_points: line-search trials ``L``; ``None`` = ``floor(0.05 (M-1) dim)``
        (at least 1), as the authors' code.
      chunk_size: max points per batched evaluation.
      record_path: put the iterate ``x`` in every ``Info``.
    """

    dim: int
    num_points: int = 5
    num_line_points: int | None = None
    chunk_size: int | None = None
    record_path: bool = False

    def __post_init__(self):
        _check_int(self.dim, "dim")
        _check_num_points(self.num_points)
        _check_int(self.num_line_points, "num_line_points", allow_none=True)
        _check_int(self.chunk_size, "chunk_size", allow_none=True)

    @property
    def line_points(self) -> int:
        if self.num_line_points is not None:
            return self.num_line_points
        return max(1, math.floor(0.05 * (self.num_points - 1) * self.dim))

    @property
    def evals_per_step(self) -> int:
        """``2 floor(M/2) dim + L`` (the new value is one of the trials)."""
        return num_evaluations(self.dim, self.num_points) + self.line_points


class AdaDGSParams(NamedTuple):
    """Numeric hyper-parameters of AdaDGS (all ``[]``).

    Attributes:
      sigma_mean, sigma_std: radius (re)draws are ``N(sigma_mean, sigma_std^2)``
        (the code's ``5 w`` and ``0.5 w``), floored at ``0.1 sigma_mean``.
      max_step: ``l_max``, the longest line-search trial (the domain diagonal ``sqrt(d) w``).
      shrink: ``tau``, ratio of successive trial lengths (0.9).
      reset_tol: relative improvement below which ``sigma`` is reset (1e-3).
      reset_every: minimum number of steps between resets (10).
    """

    sigma_mean: jax.Array
    sigma_std: jax.Array
    max_step: jax.Array
    shrink: jax.Array
    reset_tol: jax.Array
    reset_every: jax.Array


def adadgs_params(width, dim, *, sigma_mean=None, sigma_std=None, max_step=None, shrink=0.9,
                  reset_tol=1e-3, reset_every=10, dtype=jnp.float32) -> AdaDGSParams:
    """The authors' defaults for an initial domain of width ``width`` per coordinate.

    Raises:
      ValueError: ``width``, ``sigma_mean``, ``max_step`` or ``reset_every`` not > 0,
        ``sigma_std`` or ``reset_tol`` negative, or ``shrink`` outside ``(0, 1)``.
    """
    if not np.all(np.asarray(width) > 0):
        raise ValueError(f"width must be > 0, got {width!r}")
    if not 0 < shrink < 1:
        raise ValueError(f"shrink must be in (0, 1), got {shrink!r}")
    for name, v in (("sigma_mean", sigma_mean), ("max_step", max_step),
                    ("reset_every", reset_every)):
        if v is not None and not np.all(np.asarray(v) > 0):
            raise ValueError(f"{name} must be > 0, got {v!r}")
    for name, v in (("sigma_std", sigma_std), ("reset_tol", reset_tol)):
        if v is not None and not np.all(np.asarray(v) >= 0):
            raise ValueError(f"{name} must be >= 0, got {v!r}")
    c = lambda v: jnp.asarray(v, dtype)  # noqa: E731
    return AdaDGSParams(
        sigma_mean=c(5.0 * width if sigma_mean is None else sigma_mean),
        sigma_std=c(0.5 * width if sigma_std is None else sigma_std),
        max_step=c(math.sqrt(dim) * width if max_step is None else max_step),
        shrink=c(shrink), reset_tol=c(reset_tol),
        reset_every=jnp.asarray(reset_every, jnp.int32))


class AdaDGSState(NamedTuple):
    """State of AdaDGS: iterate, value, radius, best-so-far, counters, last reset step."""

    x: jax.Array
    f_x: jax.Array
    sigma: jax.Array
    best_x: jax.Array
    best_f: jax.Array
    num_evals: jax.Array
    step: jax.Array
    last_reset: jax.Array


class AdaDGSInfo(NamedTuple):
    """Per-step diagnostics: values, radius used, line-search choice, reset flag."""

    f_x: jax.Array
    best_f: jax.Array
    grad_norm: jax.Array
    step_norm: jax.Array
    sigma: jax.Array
    line_index: jax.Array  # [] int32 chosen trial (-1: stayed)
    reset: jax.Array  # [] bool
    num_nonfinite: jax.Array
    x: jax.Array | None = None


def _draw_sigma(key, params, dtype):
    s = params.sigma_mean + params.sigma_std * jax.random.normal(key, (), dtype)
    return jnp.maximum(s, 0.1 * params.sigma_mean).astype(dtype)


def make_adadgs(objective: Callable[[jax.Array], jax.Array], config: AdaDGSConfig) -> Method:
    """AdaDGS (Tran & Zhang 2020, as in the authors' code) as an init/step method.

    Each step: DGS gradient at radius ``sigma`` (identity directions); trials
    ``x - (g/||g||) l_max tau^l``, ``l = 0..L-1``, in one batched call; move to the best
    trial if it improves on ``f(x)`` (so ``f`` never increases); ``sigma <- (sigma +
    ||dx||)/2``; redraw ``sigma`` if the move was zero or ``|df|/|f| < reset_tol`` and at
    least ``reset_every`` steps passed since the last redraw.

    Args:
      objective: ``f(x[dim]) -> scalar``.
      config: :class:`AdaDGSConfig`.
    """
    if not isinstance(config, AdaDGSConfig):
        raise ValueError(f"config must be an AdaDGSConfig, got {type(config).__name__}")
    dim, num_line = config.dim, config.line_points

    def init(key, x0, params):
        x0 = _check_x0(x0, dim)
        f0 = jnp.asarray(objective(x0), x0.dtype)
        return AdaDGSState(
            x=x0, f_x=f0, sigma=_draw_sigma(key, params, x0.dtype), best_x=x0,
            best_f=jnp.where(jnp.isfinite(f0), f0, jnp.inf),
            num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32),
            last_reset=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        x, dtype, t = state.x, state.x.dtype, state.step
        est = estimate(objective, x, state.sigma, num_points=config.num_points,
                       chunk_size=config.chunk_size, validate=False)
        g = est.grad
        gnorm = safe_norm(g)
        ok = jnp.isfinite(gnorm) & (gnorm > 0)
        direction = jnp.where(ok, g / jnp.where(ok, gnorm, 1.0), 0.0)
        lengths = params.max_step * params.shrink ** jnp.arange(num_line, dtype=dtype)
        trials = x[None, :] - lengths[:, None] * direction[None, :]
        vals = _map_batched(objective, trials, config.chunk_size).astype(dtype)
        vals_ok = jnp.where(jnp.isfinite(vals), vals, jnp.inf)
        i = jnp.argmin(vals_ok)
        f_x_ok = jnp.where(jnp.isfinite(state.f_x), state.f_x, jnp.inf)
        move = ok & (vals_ok[i] < f_x_ok)
        x_new = jnp.where(move, trials[i], x)
        f_new = jnp.where(move, vals_ok[i], state.f_x)
        snorm = safe_norm(x_new - x)
        sigma = 0.5 * (state.sigma + snorm)
        rel = jnp.abs(f_new - state.f_x) / jnp.maximum(jnp.abs(state.f_x),
                                                       jnp.finfo(dtype).tiny)
        stalled = (snorm == 0) | (rel < params.reset_tol)
        reset = stalled & (t + 1 - state.last_reset >= params.reset_every)
        sigma = jnp.where(reset, _draw_sigma(key, params, dtype), sigma)
        last_reset = jnp.where(reset, t + 1, state.last_reset)
        best_f, best_x = _update_best(state.best_f, state.best_x, est.best_f, est.best_x)
        best_f, best_x = _update_best(best_f, best_x, vals_ok[i], trials[i])
        num_bad = est.num_nonfinite + jnp.sum(~jnp.isfinite(vals), dtype=jnp.int32)
        new = AdaDGSState(x=x_new, f_x=f_new, sigma=sigma, best_x=best_x, best_f=best_f,
                          num_evals=state.num_evals + config.evals_per_step, step=t + 1,
                          last_reset=last_reset)
        info = AdaDGSInfo(f_x=f_new, best_f=best_f, grad_norm=gnorm, step_norm=snorm,
                          sigma=state.sigma, line_index=jnp.where(move, i, -1).astype(jnp.int32),
                          reset=reset, num_nonfinite=num_bad,
                          x=x_new if config.record_path else None)
        return new, info

    return Method(init=init, step=step, config=config, name="adadgs")


# ----------------------------------------------------------------------------- optax


def gradient_fn(objective: Callable[[jax.Array], jax.Array], *, num_points: int = 5,
                chunk_size: int | None = None) -> Callable[..., jax.Array]:
    """DGS as a drop-in gradient: returns ``grad(x, sigma, directions=None) -> [dim]``.

    Use it wherever ``jax.grad(objective)`` would go in a hand-written optax loop::

        grad = gradient_fn(f)
        updates, opt_state = opt.update(grad(x, 0.5), opt_state, x)
    """
    _check_num_points(num_points)

    def grad(x, sigma, directions=None):
        return estimate(objective, x, sigma, directions=directions, num_points=num_points,
                        chunk_size=chunk_size).grad

    return grad


@dataclasses.dataclass(frozen=True)
class OptaxDGSConfig:
    """Static configuration of DGS + an optax transformation.

    Attributes:
      dim: number of coordinates.
      num_points: Gauss–Hermite nodes per direction.
      directions: ``"identity"`` (fixed axes) or ``"random"`` (a fresh Haar rotation per step).
      chunk_size: max points per batched evaluation.
    """

    dim: int
    num_points: int = 5
    directions: str = "identity"
    chunk_size: int | None = None

    def __post_init__(self):
        _check_int(self.dim, "dim")
        _check_num_points(self.num_points)
        if self.directions not in ("identity", "random"):
            raise ValueError(f"directions must be 'identity' or 'random', "
                             f"got {self.directions!r}")
        _check_int(self.chunk_size, "chunk_size", allow_none=True)


class OptaxDGSParams(NamedTuple):
    """``sigma``: ``[]`` smoothing radius, finite and > 0 (``init`` checks concrete values).

    The optax transformation's own hyper-parameters live in the transformation.
    """

    sigma: jax.Array


class OptaxDGSState(NamedTuple):
    """Iterate, its value, the optax state, best-so-far and counters."""

    x: jax.Array
    f_x: jax.Array
    opt_state: optax.OptState
    best_x: jax.Array
    best_f: jax.Array
    num_evals: jax.Array
    step: jax.Array


class OptaxDGSInfo(NamedTuple):
    f_x: jax.Array
    best_f: jax.Array
    grad_norm: jax.Array
    num_nonfinite: jax.Array


def make_optax(objective: Callable[[jax.Array], jax.Array],
               optimizer: optax.GradientTransformation, config: OptaxDGSConfig) -> Method:
    """DGS gradient fed to an optax transformation (e.g. ``optax.adam(0.1)``).

    Args:
      objective: ``f(x[dim]) -> scalar``.
      optimizer: any ``optax.GradientTransformation``; called as
        ``optimizer.update(g, opt_state, x)``.
      config: :class:`OptaxDGSConfig`.
    """
    if not isinstance(config, OptaxDGSConfig):
        raise ValueError(f"config must be an OptaxDGSConfig, got {type(config).__name__}")
    if not hasattr(optimizer, "init") or not hasattr(optimizer, "update"):
        raise ValueError("optimizer must be an optax.GradientTransformation")
    dim = config.dim
    per_step = num_evaluations(dim, config.num_points) + 1

    def init(key, x0, params):
        del key
        x0 = _check_x0(x0, dim)
        _check_concrete_positive(params.sigma, "params.sigma")
        f0 = jnp.asarray(objective(x0), x0.dtype)
        return OptaxDGSState(x=x0, f_x=f0, opt_state=optimizer.init(x0), best_x=x0,
                             best_f=jnp.where(jnp.isfinite(f0), f0, jnp.inf),
                             num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        x, dtype = state.x, state.x.dtype
        dirs = haar_orthogonal(key, dim, dtype) if config.directions == "random" else None
        est = estimate(objective, x, jnp.asarray(params.sigma, dtype), directions=dirs,
                       num_points=config.num_points, chunk_size=config.chunk_size,
                       validate=False)
        updates, opt_state = optimizer.update(est.grad, state.opt_state, x)
        x_new = optax.apply_updates(x, updates).astype(dtype)
        f_new = jnp.asarray(objective(x_new), dtype)
        best_f, best_x = _update_best(state.best_f, state.best_x, est.best_f, est.best_x)
        best_f, best_x = _update_best(best_f, best_x, f_new, x_new)
        num_bad = est.num_nonfinite + jnp.where(jnp.isfinite(f_new), 0, 1).astype(jnp.int32)
        new = OptaxDGSState(x=x_new, f_x=f_new, opt_state=opt_state, best_x=best_x,
                            best_f=best_f, num_evals=state.num_evals + per_step,
                            step=state.step + 1)
        return new, OptaxDGSInfo(f_x=f_new, best_f=best_f, grad_norm=safe_norm(est.grad),
                                 num_nonfinite=num_bad)

    return Method(init=init, step=step, config=config, name="dgs_optax")

