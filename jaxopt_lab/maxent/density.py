"""Evaluating the estimate, moments of a density, and the integrability diagnostic.

* :func:`density` evaluates ``exp(sum_i lambda_i x^i)`` (times the prior, for the
  relative-entropy problem) at points.
* :func:`moments_of_density` integrates the moments of a density given either as
  multipliers (or a log-density function) on a box, with a tensor Gauss-Legendre rule, or as
  values on a grid, with the tensor trapezoidal rule. It is the independent reference used
  by the tests and experiments (it shares no code with the Gauss-Hermite solver path except
  the monomial evaluation).
* :func:`top_form_max`: review section 8 warns that a finite node set can accept a lambda
  for which ``exp(sum lambda x^i)`` is not integrable. The degree-M form must be negative on
  the unit sphere; we sample it there (spec section 6).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.maxent.multiindex import _check_dim_order, _monomials_np, _multi_indices
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
    part is accepted, so this is a diagnostic, not a proof).

    Returns:
      ``(integrable [...] bool, top_value [...] float, degree [...] int)``.
    """
    lam = np.asarray(multipliers, dtype=np.float64)
    idx = _multi_indices(dim, order)
    degs = idx.sum(axis=1)
    u = _sphere(int(dim), _num_sphere_points(int(dim)))
    mono = _monomials_np(u, order)
    scale = np.maximum(np.abs(lam).max(axis=-1), 1e-300)
    batch = lam.shape[:-1]
    found = np.zeros(batch, bool)
    value = np.full(batch, np.nan)
    degree = np.zeros(batch, np.int64)
    for d in range(order, 0, -1):
        sel = degs == d
        vals = mono[:, sel] @ lam[..., sel].T
        vals = vals.reshape(len(u), -1).T.reshape(batch + (len(u),))
        big = np.abs(vals).max(axis=-1) > rel_tol * scale
        new = big & ~found
        value = np.where(new, vals.max(axis=-1), value)
        degree = np.where(new, d, degree)
        found |= big
    # A form that is negative except for values within rel_tol * max|lambda| of zero is
    # accepted: semidefinite top forms (e.g. a Gaussian factor beside a quartic one) come out
    # of an inexact quadrature with such round-off-level positive parts.
    ok = found & (degree % 2 == 0) & (degree >= 2) & (value < rel_tol * scale)
    return ok, value, degree


def log_density(solution, x) -> np.ndarray:
    """``log rho(x)`` of a :class:`MaxEntSolution` at points ``x [..., dim]`` (float64)."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1:] != (solution.dim,):
        raise ValueError(f"x must have shape [..., {solution.dim}], got {x.shape}")
    lam = np.asarray(solution.multipliers)
    if lam.ndim != 1:
        raise ValueError("density: solution must be a single (unbatched) solution")
    out = _monomials_np(x, solution.order) @ lam
    if solution.prior_multipliers is not None:
        out = out + _monomials_np(x, solution.order) @ solution.prior_multipliers
    if solution.prior_log_density is not None:
        with jax.enable_x64(True):
            lp = jax.vmap(solution.prior_log_density)(jnp.asarray(x.reshape(-1, x.shape[-1])))
            out = out + np.asarray(lp, np.float64).reshape(x.shape[:-1])
    return out


def density(solution, x) -> np.ndarray:
    """The maximum-entropy estimate ``rho(x)`` at ``x [..., dim]``; returns ``[...]``."""
    return np.exp(log_density(solution, x))


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
        if not np.all(np.isfinite(vals)):
            raise ValueError("values must be finite")
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
    lower = np.broadcast_to(np.asarray(lower, np.float64), (dim,))
    upper = np.broadcast_to(np.asarray(upper, np.float64), (dim,))
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper)) and np.all(lower < upper)):
        raise ValueError("lower and upper must be finite with lower < upper")
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
        from jaxopt_lab.maxent.multiindex import monomials

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
