"""A sparse rule adapted to the moments: Smolyak grids of the marginals' own Gauss rules.

A Gauss-Hermite sparse grid converges slowly on maxent integrands: divided by its Gaussian
weight, ``exp(quartic)`` is far from a polynomial, and the Smolyak rule only integrates
polynomials well (docs/methods/maxent.md). This rule takes its 1-D weights from the problem:

1. **Frame.** In the whitened frame ``w = alpha z`` (zero mean, identity covariance) the
   fourth-order cumulant tensor ``k_ijkl = E[w_i w_j w_k w_l] - d_ij d_kl - d_ik d_jl -
   d_il d_jk`` comes from the given moments. A rotation ``u = V^T w`` that jointly
   diagonalises its slices ``k[:, :, k, l]`` (Jacobi rotations, the JADE criterion [1])
   makes independent components the axes: for a density that is a product of independent
   factors after a linear map, the rotation recovers them (Gaussian factors are
   rotation-invariant, so their mixing does not matter).
2. **Marginal weights.** The moments of each ``u_k`` up to order M follow from the given
   ones; a 1-D maxent solve (the tensor solver, ``Config(1, M)``) turns them into a
   density ``g_k(u_k)``, and :func:`jaxopt_lab.sparse_grid.gauss_from_measure` gives its
   Gauss rules (discretised on a 1-D Legendre rule).
3. **Sparse grid.** :func:`jaxopt_lab.sparse_grid.smolyak` of those rules integrates
   ``int F(u) prod_k g_k(u_k) du``; dividing by ``prod_k g_k`` at the points gives a rule
   for ``int F(z) dz`` (points ``z = V u / alpha``, weights ``w prod_k g_k(u_k)^-1
   alpha^-N``). If the answer is ``prod_k g_k`` in that frame the integrands are
   polynomials, and level 4 (exact to total degree 9) is exact for every moment and the
   Hessian (degree ``2M = 8``); the discrete answer is then the exact one.

[1] J.-F. Cardoso, A. Souloumiac, Blind beamforming for non-Gaussian signals, IEE Proc. F
140 (1993) (joint approximate diagonalisation of eigen-matrices).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from jaxopt_lab.maxent.multiindex import index_of
from jaxopt_lab.maxent.precondition import affine_matrix, alpha
from jaxopt_lab.sparse_grid import gauss_from_measure, smolyak

__all__ = ["cumulant4", "jade_rotation", "marginal_multipliers", "adapted_rule", "product_start",
           "MARGIN_POINTS", "MARGIN_RADIUS"]

#: Legendre nodes and half-width (standardised units) of the discretised marginal measure.
MARGIN_POINTS = 1200
MARGIN_RADIUS = 14.0
_SWEEPS = 100


def cumulant4(white, dim: int, order: int) -> np.ndarray:
    """``[dim, dim, dim, dim]`` fourth-order cumulants of standardised moments ``[K]``
    (zero mean, identity covariance; graded order, ``order >= 4``)."""
    table = index_of(dim, order)
    eye = np.eye(dim)
    out = np.empty((dim,) * 4)
    for i, j, k, m in np.ndindex(*(dim,) * 4):
        e = [0] * dim
        for a in (i, j, k, m):
            e[a] += 1
        out[i, j, k, m] = (white[table[tuple(e)]] - eye[i, j] * eye[k, m]
                           - eye[i, k] * eye[j, m] - eye[i, m] * eye[j, k])
    return out


def jade_rotation(cum: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Orthogonal ``V [dim, dim]`` jointly diagonalising the slices ``cum[:, :, k, l]``
    (Jacobi rotations until every rotation angle's sine is below ``tol``)."""
    dim = cum.shape[0]
    mats = cum.reshape(dim, dim, dim * dim).transpose(2, 0, 1).copy()  # [S, d, d]
    v = np.eye(dim)
    for _ in range(_SWEEPS):
        rotated = False
        for p in range(dim - 1):
            for q in range(p + 1, dim):
                g = np.stack([mats[:, p, p] - mats[:, q, q], mats[:, p, q] + mats[:, q, p]])
                gg = g @ g.T
                ton, toff = gg[0, 0] - gg[1, 1], gg[0, 1] + gg[1, 0]
                theta = 0.5 * math.atan2(toff, ton + math.hypot(ton, toff))
                c, s = math.cos(theta), math.sin(theta)
                if abs(s) <= tol:
                    continue
                rotated = True
                rot = np.array([[c, -s], [s, c]])
                mats[:, :, [p, q]] = mats[:, :, [p, q]] @ rot
                mats[:, [p, q], :] = np.einsum("ji,sjk->sik", rot, mats[:, [p, q], :])
                v[:, [p, q]] = v[:, [p, q]] @ rot
        if not rotated:
            break
    return v


def marginal_multipliers(white, dim: int, order: int, rotation) -> np.ndarray:
    """``[dim, order + 1]`` 1-D maxent multipliers of the marginals of ``u = V^T w``."""
    from jaxopt_lab.maxent.api import solve
    from jaxopt_lab.maxent.config import Config

    mom_u = affine_matrix(dim, order, np.asarray(rotation).T, np.zeros(dim)) @ white
    table = index_of(dim, order)
    out = []
    for k in range(dim):
        m1 = np.array([mom_u[table[tuple(p if a == k else 0 for a in range(dim))]]
                       for p in range(order + 1)])
        m1[0] = 1.0
        sol = solve(m1, Config(1, order, moment_tol=1e-10))
        out.append(sol.value)
    return np.asarray(out)


@functools.lru_cache(maxsize=1)
def _legendre():
    return np.polynomial.legendre.leggauss(MARGIN_POINTS)


def product_start(dim: int, order: int, frame) -> np.ndarray:
    """``[K]`` alpha-frame multipliers of ``prod_k g_k(u_k)``, ``u = alpha V^T z``: the
    product of the maxent marginals, the start of a solve on the adapted rule (the answer
    itself when the density is a product in that frame)."""
    v, lam1 = frame
    table = index_of(dim, order)
    lam_u = np.zeros(len(table))
    for k in range(dim):
        lam_u[0] += lam1[k][0]
        for p in range(1, order + 1):
            lam_u[table[tuple(p if a == k else 0 for a in range(dim))]] += lam1[k][p]
    scale = alpha(order)
    lam = affine_matrix(dim, order, scale * np.asarray(v).T, np.zeros(dim)).T @ lam_u
    lam[0] += dim * math.log(scale)
    return lam


def adapted_rule(white, dim: int, order: int, level: int, frame=None):
    """Alpha-frame rule adapted to standardised moments ``white [K]``.

    Args:
      white: ``[K]`` standardised moments (the alpha-frame moments times ``alpha^|i|``).
      level: Smolyak level (>= 0).
      frame: optional ``(V [dim, dim], marginals [dim, order + 1])`` from an earlier call
        (the check rule reuses the solve rule's frame).

    Returns:
      ``points [P, dim]``, ``weights [P]`` (``sum_p W_p F(z_p) ~ int F(z) dz``) and the frame.
    """
    if frame is None:
        v = jade_rotation(cumulant4(white, dim, order))
        frame = (v, marginal_multipliers(white, dim, order, v))
    v, lam1 = frame
    x, w = _legendre()
    x, w = MARGIN_RADIUS * x, MARGIN_RADIUS * w

    def log_g(k, u):
        return np.polynomial.polynomial.polyval(u, lam1[k])

    def rule_fn(axis, n):
        return gauss_from_measure(x, w * np.exp(np.minimum(log_g(axis, x), 700.0)), n)

    u, wu = smolyak(dim, level, rule_fn)
    log_div = sum(log_g(k, u[:, k]) for k in range(dim))
    scale = alpha(order)
    return (u @ v.T) / scale, wu * np.exp(-log_div - dim * math.log(scale)), frame
