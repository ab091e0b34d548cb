"""Evaluating the estimate, moments of a density, and the integrability diagnostic.

* :func:`density` evaluates the ``exp(sum_i lambda_i x^i)`` of a solution (times the prior,
  for the relative-entropy problem) at points.
* :func:`moments_of_density` integrates the moments of a density given either as
  multipliers (or a log-density function) on a box, with a tensor Gauss-Legendre rule, or as
  values on a grid, with the tensor trapezoidal rule. It is the independent reference used
  by the tests and experiments (it shares no code with the Gauss-Hermite solver path except
  the monomial evaluation).
* :func:`top_form_max`: review section 8 warns that a finite node set can accept a lambda
  for which ``exp(sum lambda x^i)`` is not integrable. The degree-M form must be negative on
  the unit sphere; we sample it there (review sec. 8).
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.maxent.multiindex import (_check_dim_order, _monomials_np, _multi_indices,
                                          monomials)
from jaxopt_lab.quadrature import gauss_legendre, integrate_tensor

__all__ = ["density", "log_density", "moments_of_density", "top_form_max", "integrability",
           "sphere_points"]


@functools.lru_cache(maxsize=16)
def _sphere(dim, num):
    rng = np.random.default_rng(12345)
    u = rng.standard_normal((num, dim))
    u = np.concatenate([u, np.eye(dim), -np.eye(dim)])
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def sphere_points(dim: int, num: int = 20000) -> np.ndarray:
    """Deterministic ``[num + 2 dim, dim]`` points on the unit sphere (axes included)."""
    return _sphere(int(dim), int(num)).copy()


def top_form_max(multipliers, dim: int, order: int, num: int = 20000,
                 degree: int | None = None) -> np.ndarray:
    """``max_{|u| = 1} sum_{|i| = d} lambda_i u^i`` over sampled directions (``[...]``).

    ``d = degree`` (default: ``order``). Negative means the degree-d form is negative
    definite (up to sampling), so ``exp(sum lambda_i x^i)`` with top degree d is integrable.
    """
    lam = np.asarray(multipliers, dtype=np.float64)
    idx = _multi_indices(dim, order)
    top = idx.sum(axis=1) == (order if degree is None else degree)
    u = _sphere(int(dim), int(num))
    vals = _monomials_np(u, order)[:, top] @ lam[..., top].T  # [num, ...]
    return np.asarray(vals.max(axis=0))


def _num_sphere_points(dim):
    """Directions for :func:`integrability`: 2000 on the circle, doubling per dimension
    (20000 from 5-D on); the batched solver calls it for every problem, so it is kept small
    where a circle or a 2-sphere is already densely covered."""
    return int(min(20000, max(1000, 2000 * 2 ** (dim - 2))))


def integrability(multipliers, dim: int, order: int, rel_tol: float = 1e-6):
    """Integrability diagnostic of ``exp(sum lambda_i x^i)`` (best in a standardised frame).

    The effective top degree is the highest degree whose form is not negligible
    (``max |form| <= rel_tol * max |lambda|`` on the sphere counts as zero). The density is
    integrable if that degree is even (>= 2) and its form is negative on the unit sphere
    (up to ``rel_tol * max |lambda|``: a semidefinite form with a round-off-level positive
    part is accepted, so this is a diagnostic, not a proof). Pure JAX (it runs inside the
    fixed-rule solve); ``multipliers`` may carry leading batch axes.

    Returns:
      ``(integrable [...] bool, top_value [...] float, degree [...] int)``.
    """
    lam = jnp.asarray(multipliers)
    degs = _multi_indices(dim, order).sum(axis=1)
    mono = monomials(jnp.asarray(_sphere(int(dim), _num_sphere_points(int(dim))), lam.dtype),
                     order)
    scale = jnp.maximum(jnp.abs(lam).max(axis=-1), 1e-300)
    batch = lam.shape[:-1]
    found = jnp.zeros(batch, bool)
    value = jnp.full(batch, jnp.nan, lam.dtype)
    degree = jnp.zeros(batch, jnp.int32)
    for d in range(order, 0, -1):
        sel = np.flatnonzero(degs == d)
        vals = lam[..., sel] @ mono[:, sel].T  # [..., num_points]
        big = jnp.abs(vals).max(axis=-1) > rel_tol * scale
        new = big & ~found
        value = jnp.where(new, vals.max(axis=-1), value)
        degree = jnp.where(new, d, degree)
        found = found | big
    # A form that is negative except for values within rel_tol * max|lambda| of zero is
    # accepted: semidefinite top forms (e.g. a Gaussian factor beside a quartic one) come out
    # of an inexact quadrature with such round-off-level positive parts.
    ok = found & (degree % 2 == 0) & (degree >= 2) & (value < rel_tol * scale)
    return ok, value, degree


def _dim_order(solution) -> tuple[int, int]:
    """``(dim, order)`` of a single :class:`jaxopt_lab.core.Solution` of maxent."""
    lam = np.asarray(solution.value)
    if lam.ndim != 1:
        raise ValueError(f"solution must be a single solution (value [K]), got value of shape "
                         f"{lam.shape}; take row i of a batch with "
                         "jax.tree.map(lambda a: a[i], solution)")
    dim = int(np.shape(solution.state.mean)[-1])
    order = 0
    while math.comb(order + dim, dim) < lam.shape[0]:
        order += 1
    if math.comb(order + dim, dim) != lam.shape[0]:
        raise ValueError(f"solution.value has length {lam.shape[0]}, not C(M + {dim}, {dim})")
    return dim, order


def log_density(solution, x, log_prior: Callable | None = None) -> np.ndarray:
    """``log rho(x)`` of a maxent solution at points ``x [..., dim]``; returns ``[...]``.

    Args:
      solution: a single :class:`jaxopt_lab.core.Solution` of :func:`jaxopt_lab.maxent.solve`
        or :func:`jaxopt_lab.maxent.relative_entropy_solve` (an exp-polynomial prior is
        stored in ``solution.state.prior_multipliers`` and included).
      x: ``[..., dim]`` points.
      log_prior: the ``log Pi(x[dim])`` given to ``relative_entropy_solve`` as
        ``prior_log_density`` (JAX-traceable), else None.
    """
    dim, order = _dim_order(solution)
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"x must be a numeric array [..., {dim}]") from err
    if x.shape[-1:] != (dim,):
        raise ValueError(f"x must have shape [..., {dim}], got {x.shape}")
    lam = np.asarray(solution.value) + np.asarray(solution.state.prior_multipliers)
    out = _monomials_np(x, order) @ lam
    if log_prior is not None:
        with jax.enable_x64(True):
            lp = jax.vmap(log_prior)(jnp.asarray(x.reshape(-1, dim)))
            out = out + np.asarray(lp, np.float64).reshape(x.shape[:-1])
    return out


def density(solution, x, log_prior: Callable | None = None) -> np.ndarray:
    """The maximum-entropy estimate ``rho(x)`` at ``x [..., dim]`` (see :func:`log_density`)."""
    return np.exp(log_density(solution, x, log_prior))


def moments_of_density(order: int, *, dim: int | None = None, multipliers=None,
                       log_density_fn=None, lower=None, upper=None, num_points: int = 200,
                       grid=None, values=None, normalize: bool = False) -> np.ndarray:
    """Moments ``int x^i rho(x) dx``, ``|i| <= order``, of a density (float64, ``[K]``).

    Two forms:

    * **Function form**: ``multipliers`` ``[K_rho]`` of ``exp(sum lambda_i x^i)`` (any even
      degree, graded order; give ``dim``) or ``log_density_fn(x[dim]) -> scalar`` (JAX),
      integrated on the box ``[lower, upper]`` (``[dim]`` each) with a tensor Gauss-Legendre
      rule of ``num_points`` nodes per axis. The box must contain all of the mass that
      matters; the rule is spectrally accurate for smooth densities.
    * **Grid form**: ``grid`` = list of ``dim`` ascending 1-D coordinate arrays and
      ``values`` ``[n_1, ..., n_dim]`` density values on their mesh (``indexing="ij"``);
      tensor trapezoidal rule.

    Args:
      normalize: divide by the mass, so entry 0 is 1.

    Returns:
      ``[K]`` moments in the graded order (entry 0 the mass unless ``normalize``).
    """
    if grid is not None or values is not None:
        if grid is None or values is None:
            raise ValueError("grid form needs both grid and values")
        axes = [np.asarray(g, dtype=np.float64) for g in grid]
        vals = np.asarray(values, dtype=np.float64)
        if vals.shape != tuple(len(g) for g in axes):
            raise ValueError(f"values must have shape {tuple(len(g) for g in axes)}, "
                             f"got {vals.shape}")
        if any(g.ndim != 1 or len(g) < 2 or np.any(np.diff(g) <= 0) for g in axes):
            raise ValueError("grid must be 1-D strictly ascending arrays of length >= 2")
        _checks.check_array(vals, "values")
        d = len(axes)
        _check_dim_order(d, order)
        wts = []
        for g in axes:
            w = np.zeros_like(g)
            dx = np.diff(g)
            w[:-1] += 0.5 * dx
            w[1:] += 0.5 * dx
            wts.append(w)
        mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
        wgt = functools.reduce(np.multiply.outer, wts).reshape(-1) * vals.reshape(-1)
        out = _monomials_np(mesh, order).T @ wgt
        return out / out[0] if normalize else out

    if (multipliers is None) == (log_density_fn is None):
        raise ValueError("give exactly one of multipliers, log_density_fn (or grid+values)")
    if dim is None:
        raise ValueError("dim is required for the function form")
    dim, order = _check_dim_order(dim, order)
    _checks.check_box(lower, upper, dim)
    _checks.check_int(num_points, "num_points", minimum=1)
    lower = np.broadcast_to(np.asarray(lower, np.float64), (dim,))
    upper = np.broadcast_to(np.asarray(upper, np.float64), (dim,))
    rule = gauss_legendre(int(num_points))
    centre, half = 0.5 * (lower + upper), 0.5 * (upper - lower)
    if multipliers is not None:
        lam = np.asarray(multipliers, np.float64)
        deg = 0
        while math.comb(deg + dim, dim) < lam.shape[-1]:
            deg += 1
        if math.comb(deg + dim, dim) != lam.shape[-1]:
            raise ValueError(f"multipliers length {lam.shape[-1]} is not C(M + {dim}, {dim})")
    with jax.enable_x64(True):
        c, h = jnp.asarray(centre), jnp.asarray(half)

        if multipliers is not None:
            lam_j = jnp.asarray(lam)

            def logf(x):
                return jnp.dot(monomials(x, deg), lam_j)
        else:
            logf = log_density_fn

        def fn(u):
            x = c + h * u
            return jnp.exp(logf(x)) * monomials(x, order)

        num_out = math.comb(order + dim, dim)
        chunk = max(256, min(1 << 15, (1 << 21) // num_out))
        total = jax.jit(lambda n, w: integrate_tensor(fn, n, w, dim, chunk_size=chunk))(
            jnp.asarray(rule.nodes), jnp.asarray(rule.weights))
        out = np.asarray(total, np.float64) * float(np.prod(half))
    return out / out[0] if normalize else out
