"""Tensor Gauss-Hermite quadrature in the alpha frame (Abramov review, section 8).

The 1-D probabilists' rule ``(xi_j, w_j)`` for the weight ``exp(-xi^2/2)`` is turned into a
rule for plain integrals ``int g(x) dx`` by dividing the Gaussian weight back out, with the
nodes contracted to the alpha frame (review sec. 8; docs/methods/maxent.md) and an optional
extra contraction ``sigma`` (``sigma = 1`` is the paper-faithful reading):

    x_j = sigma xi_j / alpha,    W_j = sigma w_j exp(xi_j^2 / 2) / alpha.

``W_j`` is formed in log space, so it stays finite for any number of nodes. For a Gaussian
``N(0, (sigma/alpha)^2)`` times a polynomial of degree ``<= 2T - 1`` the rule is exact.

The integrals are tensor products over ``dim`` axes (``T^dim`` points) evaluated with
:func:`jaxopt_lab.quadrature.integrate_tensor`, chunk by chunk, so 4-D and 5-D grids are never
materialised.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from jaxopt_lab.maxent.densities import _sphere
from jaxopt_lab.maxent.multiindex import _monomials_np, _multi_indices, monomials
from jaxopt_lab.quadrature import gauss_hermite, integrate_tensor

__all__ = ["alpha_rule", "grid_moments", "default_chunk"]


def alpha_rule(num_points: int, scale: float, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis nodes and weights ``[T]`` of the (contracted) alpha-frame rule (float64).

    Args:
      num_points: T, nodes per axis.
      scale: alpha (4.13).
      sigma: extra contraction (0 < sigma); 1 is the paper's rule.
    """
    if not (isinstance(num_points, (int, np.integer)) and num_points >= 1):
        raise ValueError(f"quad_points must be an int >= 1, got {num_points!r}")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be finite and > 0, got {sigma!r}")
    rule = gauss_hermite(int(num_points), "probabilists")
    nodes = sigma * rule.nodes / scale
    log_w = rule.log_weights + 0.5 * rule.nodes**2 + math.log(sigma) - math.log(scale)
    return nodes, np.exp(log_w)


def default_chunk(num_outputs: int, dim: int) -> int:
    """Points per chunk so that a chunk holds about 2^21 monomial values."""
    return int(max(256, min(1 << 16, (1 << 21) // max(1, num_outputs + dim))))


def grid_moments(lam, nodes, weights, dim: int, order: int, out_order: int,
                 chunk_size: int | None = None):
    """``sum_grid W(x) exp(sum_i lam_i x^i) x^j`` for all ``|j| <= out_order``.

    Args:
      lam: ``[K]`` multipliers of degree ``<= order`` (graded order).
      nodes: ``[T]`` the 1-D rule's nodes (may be traced).
      weights: ``[T]`` its weights.
      dim: space dimension (static).
      order: degree of the exponent (static).
      out_order: degree of the returned moments (static, >= order).
      chunk_size: points per chunk (static); default :func:`default_chunk`.

    Returns:
      ``[K_out]`` moments. The exponent is clipped at 600 so that a wild trial point gives a
      huge but finite mass (then rejected by the line search) rather than inf/NaN.
    """
    num = lam.shape[0]
    num_out = math.comb(out_order + dim, dim)
    chunk = chunk_size or default_chunk(num_out, dim)

    def fn(x):
        v = monomials(x, out_order)
        f = jnp.dot(v[:num], lam)
        return jnp.exp(jnp.minimum(f, 600.0)) * v

    return integrate_tensor(fn, nodes, weights, dim, chunk_size=chunk)


def support_radius(lam_alpha, dim: int, order: int, *, drop: float = 40.0,
                   num_dirs: int = 1500, r_max: float = 12.0, num_r: int = 241) -> float:
    """Per-axis extent (alpha frame) of the set where ``exp(f) > exp(max f - drop)``.

    ``f(z) = sum_i lam_i z^i`` is scanned along ``num_dirs`` rays (plus the axes) from the
    origin, out to ``r_max / alpha``-free units ``r_max`` (alpha frame: whitened radius
    ``r_max`` corresponds to ``r_max / alpha``; callers pass alpha-frame multipliers and
    read the result in the alpha frame). Host NumPy; used to place the quadrature nodes.
    """
    lam = np.asarray(lam_alpha, np.float64)
    u = _sphere(int(dim), int(num_dirs))
    r = np.linspace(0.0, r_max, num_r)
    # Along a ray f(r u) = sum_d r^d c_d(u), c_d(u) = sum_{|i| = d} lam_i u^i: monomials at
    # the directions only, [dirs, K] -> c [dirs, M + 1] -> f [dirs, r].
    degree = _multi_indices(int(dim), int(order)).sum(axis=1)
    by_degree = np.zeros((len(lam), int(order) + 1))
    by_degree[np.arange(len(lam)), degree] = lam
    f = (_monomials_np(u, order) @ by_degree) @ (r[None, :] ** np.arange(order + 1)[:, None])
    keep = f > f.max() - drop
    last = num_r - 1 - np.argmax(keep[:, ::-1], axis=1)
    # The tensor grid is a box: what matters is the extent along each axis (infinity norm
    # of the support points), not the Euclidean radius of its corners.
    return float(np.max(r[last] * np.abs(u).max(axis=1)))


def adaptive_sigma(lam_alpha, dim: int, order: int, num_points: int, scale: float,
                   lowest: float = 0.15) -> float:
    """Contraction sigma putting the outermost node at :func:`support_radius`.

    The outer Gauss-Hermite node is ``sigma xi_max / alpha``; the support radius is
    measured in the alpha frame. Clipped to ``[lowest, 1]``.
    """
    radius = support_radius(lam_alpha, dim, order, r_max=12.0 / scale)
    xi_max = float(gauss_hermite(int(num_points), "probabilists").nodes[-1])
    return float(np.clip(radius * scale / xi_max, lowest, 1.0))
