"""Gauss quadrature rules shared by DGS (1-D smoothing) and MaxEnt (tensor grids).

Nodes come from the Golub–Welsch eigenvalue problem and are then polished by Newton's
method on the orthonormal three-term recurrence; weights are computed from the
Christoffel function ``w_i = 1 / sum_k p_k(x_i)^2`` with a running rescaling, so they are
available in log space when they underflow (Gauss–Hermite of order >= ~700 has weights
below the smallest float64). Everything here is NumPy float64 and runs once per rule;
the rules are constants to the JAX code that uses them.

Conventions for Gauss–Hermite:
  * ``"physicists"``: weight ``exp(-x^2)``, sum of weights ``sqrt(pi)`` (numpy ``hermgauss``).
  * ``"probabilists"``: weight ``exp(-x^2/2)``, sum ``sqrt(2 pi)`` (numpy ``hermegauss``).
  * ``normalized=True`` divides the weights by their sum, so that ``sum w f(x)`` is the
    expectation under ``N(0, 1)`` (probabilists) or ``N(0, 1/2)`` (physicists).

[1] G. H. Golub, J. H. Welsch, Calculation of Gauss quadrature rules, Math. Comp. 23 (1969).
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "QuadratureRule",
    "gauss_hermite",
    "gauss_legendre",
    "composite_gauss_legendre",
    "tensor_grid",
    "tensor_grid_size",
    "integrate_tensor",
]

_CONVENTIONS = ("probabilists", "physicists")


class QuadratureRule(NamedTuple):
    """A 1-D rule: ``sum_i weights[i] f(nodes[i])`` approximates the weighted integral.

    Attributes:
      nodes: ``[n]`` float64, ascending.
      weights: ``[n]`` float64 (may contain exact zeros where ``log_weights`` underflows).
      log_weights: ``[n]`` float64 natural logarithms of the weights, always finite.
    """

    nodes: np.ndarray
    weights: np.ndarray
    log_weights: np.ndarray


def _check_order(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be an int >= 1, got {n!r}")
    return int(n)


def _orthonormal_recurrence(x, n, alpha_fn, beta_fn, p0):
    """Evaluates an orthonormal family ``p_0..p_n`` at ``x`` with running rescaling.

    The recurrence is ``sqrt(b_{k+1}) p_{k+1} = (x - a_k) p_k - sqrt(b_k) p_{k-1}``.

    Returns:
      ``(p_nm1, p_n, log_scale, sum_sq)`` where the true values are
      ``p * exp(log_scale)`` and ``sum_{k<n} p_k^2 = sum_sq * exp(2 log_scale)``.
    """
    prev = np.zeros_like(x)
    cur = np.full_like(x, p0)
    log_scale = np.zeros_like(x)
    sum_sq = cur**2
    for k in range(n):
        nxt = ((x - alpha_fn(k)) * cur - math.sqrt(beta_fn(k)) * prev) / math.sqrt(
            beta_fn(k + 1)
        )
        prev, cur = cur, nxt
        if k + 1 < n:
            sum_sq = sum_sq + cur**2
        big = np.maximum(np.abs(cur), np.abs(prev))
        rescale = big > 1e100
        if np.any(rescale):
            factor = np.where(rescale, big, 1.0)
            prev, cur = prev / factor, cur / factor
            sum_sq = sum_sq / factor**2
            log_scale = log_scale + np.log(factor)
    return prev, cur, log_scale, sum_sq


def _gauss_rule(n, alpha_fn, beta_fn, p0, newton_steps=3):
    """Golub–Welsch nodes + Newton polishing + Christoffel weights in log space."""
    diag = np.array([alpha_fn(k) for k in range(n)], dtype=np.float64)
    off = np.sqrt(np.array([beta_fn(k) for k in range(1, n)], dtype=np.float64))
    jacobi = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    x = np.sort(np.linalg.eigvalsh(jacobi))
    for _ in range(newton_steps):
        # p_n'(x) = sqrt(b_n) p_{n-1}(x) * (...) is awkward for general families; use the
        # derivative recurrence instead (values are rescaled consistently, so the ratio
        # p_n / p_n' is exact).
        p_nm1, p_n, _, _ = _orthonormal_recurrence(x, n, alpha_fn, beta_fn, p0)
        dp = _derivative_ratio(x, n, alpha_fn, beta_fn, p0)
        step = np.where(dp != 0, p_n / dp, 0.0)
        x = x - step
    _, _, log_scale, sum_sq = _orthonormal_recurrence(x, n, alpha_fn, beta_fn, p0)
    log_w = -(np.log(sum_sq) + 2.0 * log_scale)
    return x, log_w


def _derivative_ratio(x, n, alpha_fn, beta_fn, p0):
    """``p_n'(x)`` on the same rescaled footing as ``_orthonormal_recurrence``'s ``p_n``."""
    prev = np.zeros_like(x)
    cur = np.full_like(x, p0)
    dprev = np.zeros_like(x)
    dcur = np.zeros_like(x)
    for k in range(n):
        sb, sb1 = math.sqrt(beta_fn(k)), math.sqrt(beta_fn(k + 1))
        nxt = ((x - alpha_fn(k)) * cur - sb * prev) / sb1
        dnxt = (cur + (x - alpha_fn(k)) * dcur - sb * dprev) / sb1
        prev, cur, dprev, dcur = cur, nxt, dcur, dnxt
        big = np.maximum(np.abs(cur), np.abs(prev))
        rescale = big > 1e100
        if np.any(rescale):
            factor = np.where(rescale, big, 1.0)
            prev, cur = prev / factor, cur / factor
            dprev, dcur = dprev / factor, dcur / factor
    return dcur


@functools.lru_cache(maxsize=256)
def _hermite_physicists(n):
    # Orthonormal Hermite polynomials w.r.t. exp(-x^2): a_k = 0, b_k = k / 2.
    x, log_w = _gauss_rule(
        n, lambda k: 0.0, lambda k: k / 2.0, p0=math.pi ** (-0.25)
    )
    # Symmetrise (the rule is exactly symmetric; this removes rounding asymmetry).
    x = 0.5 * (x - x[::-1])
    log_w = 0.5 * (log_w + log_w[::-1])
    return x, log_w


def gauss_hermite(
    n: int,
    convention: str = "probabilists",
    *,
    normalized: bool = False,
) -> QuadratureRule:
    """Gauss–Hermite rule with ``n`` nodes, accurate in float64 for any ``n``.

    Args:
      n: number of nodes (>= 1). Exact for polynomials of degree ``<= 2n - 1``.
      convention: ``"probabilists"`` (weight ``exp(-x^2/2)``) or ``"physicists"``
        (weight ``exp(-x^2)``).
      normalized: divide the weights by their sum, making the rule an expectation.

    Returns:
      A :class:`QuadratureRule` (float64 NumPy arrays, nodes ascending).
    """
    n = _check_order(n)
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}, got {convention!r}")
    x, log_w = _hermite_physicists(n)
    if convention == "probabilists":
        x = x * math.sqrt(2.0)
        log_w = log_w + 0.5 * math.log(2.0)
    if normalized:
        log_w = log_w - _log_total(convention)
    return QuadratureRule(nodes=x.copy(), weights=np.exp(log_w), log_weights=log_w.copy())


def _log_total(convention):
    return 0.5 * math.log(math.pi) + (0.5 * math.log(2.0) if convention == "probabilists" else 0.0)


@functools.lru_cache(maxsize=256)
def _legendre(n):
    # Orthonormal Legendre polynomials on [-1, 1]: a_k = 0, b_k = k^2 / (4k^2 - 1).
    x, log_w = _gauss_rule(
        n, lambda k: 0.0, lambda k: k * k / (4.0 * k * k - 1.0), p0=math.sqrt(0.5)
    )
    x = 0.5 * (x - x[::-1])
    log_w = 0.5 * (log_w + log_w[::-1])
    return x, log_w


def gauss_legendre(n: int, lower: float = -1.0, upper: float = 1.0) -> QuadratureRule:
    """Gauss–Legendre rule with ``n`` nodes on ``[lower, upper]`` (weight 1).

    Weights sum to ``upper - lower``; exact for polynomials of degree ``<= 2n - 1``.
    """
    n = _check_order(n)
    if not (np.isfinite(lower) and np.isfinite(upper) and lower < upper):
        raise ValueError(f"need finite lower < upper, got lower={lower!r}, upper={upper!r}")
    x, log_w = _legendre(n)
    half = 0.5 * (upper - lower)
    x = lower + half * (x + 1.0)
    log_w = log_w + math.log(half)
    return QuadratureRule(nodes=x, weights=np.exp(log_w), log_weights=log_w.copy())


def composite_gauss_legendre(num_panels: int, per_panel: int, lower: float,
                              upper: float) -> QuadratureRule:
    """Gauss-Legendre rules of ``per_panel`` nodes on ``num_panels`` equal panels of
    ``[lower, upper]``: ``[num_panels * per_panel]`` nodes, ascending (weight 1).

    Exact for piecewise polynomials of degree ``<= 2 per_panel - 1`` on the panels; for a
    smooth integrand the error falls like ``h^(2 per_panel)`` in the panel width ``h``, so a
    feature of width ``w`` is resolved once ``h`` is a fraction of ``w`` (a sharp edge of
    ``exp`` of a polynomial, where one global rule converges slowly).
    """
    num_panels = _check_order(num_panels, "num_panels")
    one = gauss_legendre(per_panel)
    if not (np.isfinite(lower) and np.isfinite(upper) and lower < upper):
        raise ValueError(f"need finite lower < upper, got lower={lower!r}, upper={upper!r}")
    edges = np.linspace(lower, upper, num_panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    nodes = (mid[:, None] + half[:, None] * one.nodes[None, :]).ravel()
    log_w = (np.log(half)[:, None] + one.log_weights[None, :]).ravel()
    return QuadratureRule(nodes=nodes, weights=np.exp(log_w), log_weights=log_w)


def tensor_grid_size(num_nodes: int, dim: int) -> int:
    """Number of points ``num_nodes ** dim`` of a tensor grid."""
    return int(num_nodes) ** int(dim)


def tensor_grid(rule: QuadratureRule, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Full tensor-product grid of a 1-D rule: ``points [n**dim, dim]``, ``weights [n**dim]``.

    Points are in C order (the last coordinate varies fastest). For grids that do not fit
    in memory use :func:`integrate_tensor`, which never materialises the grid.
    """
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim!r}")
    n = len(rule.nodes)
    idx = np.indices((n,) * dim).reshape(dim, -1).T
    points = rule.nodes[idx]
    weights = np.exp(rule.log_weights[idx].sum(axis=1))
    return points, weights


def integrate_tensor(
    fn: Callable[[jax.Array], jax.Array],
    nodes: jax.Array,
    weights: jax.Array,
    dim: int,
    *,
    chunk_size: int = 4096,
) -> jax.Array:
    """``sum_j W_j fn(X_j)`` over the tensor grid of a 1-D rule, in chunks of points.

    The grid is generated chunk by chunk from flat indices (C order, as
    :func:`tensor_grid`), so memory is ``O(chunk_size * dim)`` whatever ``n ** dim`` is.
    Pure JAX: jit-, vmap- and grad-able in ``fn``'s closed-over arguments and in
    ``nodes``/``weights`` (which may be traced, e.g. shifted and scaled nodes).

    Args:
      fn: ``fn(x[dim]) -> array`` (any fixed shape); vmapped over the chunk.
      nodes: ``[n]`` 1-D nodes.
      weights: ``[n]`` 1-D weights (per axis; the grid weight is their product).
      dim: number of dimensions (static).
      chunk_size: points per chunk (static); the last chunk is padded with zero weight.

    Returns:
      The weighted sum, with ``fn``'s output shape.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    n = nodes.shape[0]
    total = n**dim
    chunk = min(chunk_size, total)
    num_chunks = -(-total // chunk)
    # Per-axis strides of the flat C-order index.
    strides = jnp.asarray([n ** (dim - 1 - a) for a in range(dim)], dtype=jnp.int64
                          if jax.config.jax_enable_x64 else jnp.int32)

    def chunk_sum(c):
        flat = c * chunk + jnp.arange(chunk, dtype=strides.dtype)
        valid = flat < total
        digits = (flat[:, None] // strides[None, :]) % n
        x = nodes[digits]
        w = jnp.prod(weights[digits], axis=1) * valid
        values = jax.vmap(fn)(x)
        return jnp.tensordot(w.astype(values.dtype), values, axes=(0, 0))

    if num_chunks == 1:
        return chunk_sum(0)

    def body(acc, c):
        return acc + chunk_sum(c), None

    first = chunk_sum(0)
    acc, _ = jax.lax.scan(body, first, jnp.arange(1, num_chunks))
    return acc
