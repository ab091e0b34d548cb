"""AdaDGS: DGS with a line search instead of a learning rate, and an adaptive radius.

As the authors' public code implements it (Tran & Zhang [2]): each step computes the DGS
gradient at radius ``sigma`` (identity directions), tries ``L`` lengths
``l_max tau^l`` along ``-g/||g||`` in one batched call and moves to the best trial only if
it improves on ``f(x)`` (so ``f`` never increases); then ``sigma <- (sigma + ||dx||)/2``,
and ``sigma`` is redrawn from ``N(sigma_mean, sigma_std^2)`` when progress stalls (at most
once every ``reset_every`` steps).

[1] J. Zhang, H. Tran, D. Lu, G. Zhang, UAI 2021, https://proceedings.mlr.press/v161/zhang21a.html
[2] H. Tran, G. Zhang, "AdaDGS: an adaptive black-box optimization method with a nonlocal
    directional Gaussian smoothing gradient", arXiv:2011.02009 (2020).

Example::

    from jaxopt_lab import run
    from jaxopt_lab.dgs import adadgs
    method = adadgs.make(f, adadgs.Config(dim=2000))
    final, trace = run(method, key, x0, adadgs.params(width=10.24, dim=2000), num_steps=50)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.dgs import _descent
from jaxopt_lab.dgs.estimator import estimate, num_evaluations

__all__ = ["Config", "Params", "State", "Info", "params", "make"]


@dataclasses.dataclass(frozen=True)
class Config:
    """Static configuration.

    Attributes:
      dim: number of coordinates.
      num_points: Gauss-Hermite nodes per direction ``M`` (>= 2).
      num_line_points: line-search trials ``L``; ``None`` = ``floor(0.05 (M-1) dim)``
        (at least 1), as the authors' code.
      chunk_size: at most this many points per batched evaluation (``None``: one batch).
      record_path: put the iterate ``x`` in every ``Info`` (else ``Info.x`` is None).
    """

    dim: int
    num_points: int = 5
    num_line_points: int | None = None
    chunk_size: int | None = None
    record_path: bool = False

    def __post_init__(self):
        _checks.check_int(self.dim, "dim")
        _checks.check_int(self.num_points, "num_points", minimum=2)
        _checks.check_int(self.num_line_points, "num_line_points", allow_none=True)
        _checks.check_int(self.chunk_size, "chunk_size", allow_none=True)
        _checks.check_bool(self.record_path, "record_path")

    @property
    def line_points(self) -> int:
        """``L``, the number of line-search trials."""
        if self.num_line_points is not None:
            return self.num_line_points
        return max(1, math.floor(0.05 * (self.num_points - 1) * self.dim))

    @property
    def evals_per_step(self) -> int:
        """``2 floor(M/2) dim + L`` (the new value is one of the trials)."""
        return num_evaluations(self.dim, self.num_points) + self.line_points


class Params(NamedTuple):
    """Numeric hyper-parameters (all ``[]`` arrays).

    Attributes:
      sigma_mean, sigma_std: mean and standard deviation of the radius (re)draws
        ``N(sigma_mean, sigma_std^2)``, floored at ``0.1 sigma_mean``; > 0 and >= 0.
      max_step: ``l_max``, the longest line-search trial, > 0.
      shrink: ``tau``, ratio of successive trial lengths, in ``(0, 1)``.
      reset_tol: relative improvement below which ``sigma`` is redrawn, >= 0.
      reset_every: int32, minimum number of steps between redraws, >= 1.
    """

    sigma_mean: jax.Array
    sigma_std: jax.Array
    max_step: jax.Array
    shrink: jax.Array
    reset_tol: jax.Array
    reset_every: jax.Array


def params(width=None, dim=None, *, sigma_mean=None, sigma_std=None, max_step=None,
           shrink=0.9, reset_tol=1e-3, reset_every=10, dtype=jnp.float32) -> Params:
    """Builds :class:`Params`; defaults from the initial domain's width ``w`` per coordinate.

    Defaults (the authors' code): ``sigma_mean = 5 w``, ``sigma_std = 0.5 w``,
    ``max_step = sqrt(dim) w`` (the domain's diagonal), ``shrink = 0.9``,
    ``reset_tol = 1e-3``, ``reset_every = 10``.

    Raises:
      ValueError: a value out of range, or a default needed without ``width``/``dim``.
    """
    dtype = _checks.check_dtype(dtype)
    sigma_mean = _descent.from_domain(sigma_mean, "sigma_mean", width, dim, 5.0)
    sigma_std = _descent.from_domain(sigma_std, "sigma_std", width, dim, 0.5)
    max_step = _descent.from_domain(max_step, "max_step", width, dim, 1.0, per_sqrt_dim=True)
    c = lambda v: jnp.asarray(v, dtype)  # noqa: E731
    p = Params(sigma_mean=c(sigma_mean), sigma_std=c(sigma_std), max_step=c(max_step),
               shrink=c(shrink), reset_tol=c(reset_tol),
               reset_every=jnp.asarray(reset_every, jnp.int32))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    _checks.check_params(p, Params, {
        "sigma_mean": dict(positive=True), "sigma_std": dict(non_negative=True),
        "max_step": dict(positive=True), "shrink": dict(lo=0.0, hi=1.0, lo_open=True,
                                                         hi_open=True),
        "reset_tol": dict(non_negative=True), "reset_every": dict(lo=1)})


class State(NamedTuple):
    """Carried state: iterate, value, radius, best-so-far, counters, last reset step."""

    x: jax.Array  # [dim]
    f_x: jax.Array  # []
    sigma: jax.Array  # [] current radius
    best_x: jax.Array  # [dim]
    best_f: jax.Array  # []
    num_evals: jax.Array  # [] int32
    step: jax.Array  # [] int32
    last_reset: jax.Array  # [] int32 step of the last radius redraw


class Info(NamedTuple):
    """Per-step diagnostics (``x`` is None unless ``config.record_path``).

    ``current_nonfinite`` is True when the value carried at the iterate after this step
    (``f_x``: the best line-search trial if it moved, else the previous ``f_x``, ultimately
    ``f(x0)``) is not finite; a non-finite start stays flagged until a trial is finite.
    """

    f_x: jax.Array  # [] value at the new iterate
    best_f: jax.Array  # [] best value so far
    grad_norm: jax.Array  # [] ||g||
    step_norm: jax.Array  # [] length of the move
    sigma: jax.Array  # [] radius used for this step's gradient
    line_index: jax.Array  # [] int32 chosen trial (-1: stayed)
    reset: jax.Array  # [] bool, radius redrawn after this step
    num_nonfinite: jax.Array  # [] int32
    current_nonfinite: jax.Array  # [] bool, f_x (the carried value at the iterate) not finite
    x: jax.Array | None = None  # [dim] new iterate


def _draw_sigma(key, params, dtype):
    s = params.sigma_mean + params.sigma_std * jax.random.normal(key, (), dtype)
    return jnp.maximum(s, 0.1 * params.sigma_mean).astype(dtype)


def make(objective: Callable[[jax.Array], jax.Array], config: Config) -> Method:
    """AdaDGS for ``objective(x[dim]) -> scalar``.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init`` evaluates ``f(x0)`` and draws the first
      radius; each ``step`` costs ``config.evals_per_step``.
    """
    _checks.check_instance(config, Config, "config")
    _checks.check_objective(objective, config.dim)
    num_line = config.line_points

    def init(key, x0, params):
        x0 = _checks.check_point(x0, "x0", config.dim)
        _validate_params(params)
        f0, best_f = _descent.evaluate_start(objective, x0)
        return State(x=x0, f_x=f0, sigma=_draw_sigma(key, params, x0.dtype), best_x=x0,
                     best_f=best_f, num_evals=jnp.ones((), jnp.int32),
                     step=jnp.zeros((), jnp.int32), last_reset=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        x, dtype, t = state.x, state.x.dtype, state.step
        est = estimate(objective, x, state.sigma, num_points=config.num_points,
                       chunk_size=config.chunk_size, validate=False)
        g = est.grad
        gnorm = _descent.safe_norm(g)
        ok = jnp.isfinite(gnorm) & (gnorm > 0)
        direction = jnp.where(ok, g / jnp.where(ok, gnorm, 1.0), 0.0)
        lengths = params.max_step * params.shrink ** jnp.arange(num_line, dtype=dtype)
        trials = x[None, :] - lengths[:, None] * direction[None, :]
        vals = _descent.map_batched(objective, trials, config.chunk_size).astype(dtype)
        vals_ok = jnp.where(jnp.isfinite(vals), vals, jnp.inf)
        i = jnp.argmin(vals_ok)
        f_x_ok = jnp.where(jnp.isfinite(state.f_x), state.f_x, jnp.inf)
        move = ok & (vals_ok[i] < f_x_ok)
        x_new = jnp.where(move, trials[i], x)
        f_new = jnp.where(move, vals_ok[i], state.f_x)
        snorm = _descent.safe_norm(x_new - x)
        sigma = 0.5 * (state.sigma + snorm)
        rel = jnp.abs(f_new - state.f_x) / jnp.maximum(jnp.abs(state.f_x),
                                                       jnp.finfo(dtype).tiny)
        stalled = (snorm == 0) | (rel < params.reset_tol)
        reset = stalled & (t + 1 - state.last_reset >= params.reset_every)
        sigma = jnp.where(reset, _draw_sigma(key, params, dtype), sigma)
        last_reset = jnp.where(reset, t + 1, state.last_reset)
        best_f, best_x = _descent.update_best(state.best_f, state.best_x, est.best_f,
                                              est.best_x)
        best_f, best_x = _descent.update_best(best_f, best_x, vals_ok[i], trials[i])
        num_bad = est.num_nonfinite + jnp.sum(~jnp.isfinite(vals), dtype=jnp.int32)
        new = State(x=x_new, f_x=f_new, sigma=sigma, best_x=best_x, best_f=best_f,
                    num_evals=state.num_evals + config.evals_per_step, step=t + 1,
                    last_reset=last_reset)
        info = Info(f_x=f_new, best_f=best_f, grad_norm=gnorm, step_norm=snorm,
                    sigma=state.sigma, line_index=jnp.where(move, i, -1).astype(jnp.int32),
                    reset=reset, num_nonfinite=num_bad,
                    current_nonfinite=~jnp.isfinite(f_new), x=x_new if config.record_path else None)
        return new, info

    return Method(init=init, step=step, config=config, name="adadgs")
