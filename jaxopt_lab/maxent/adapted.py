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

from jaxopt_lab.maxent.multiindex import _monomials_np as monomials_np
from jaxopt_lab.maxent.multiindex import index_of, multi_indices
from jaxopt_lab.maxent.precondition import affine_matrix, alpha
from jaxopt_lab.sparse_grid import (gauss_from_measure, nodes_at_level, positive_rule,
                                    smolyak_blocks)

__all__ = ["cumulant4", "jade_rotation", "components", "marginal_multipliers", "adapted_rule",
           "product_start", "BLOCK_POINTS", "BLOCK_RADIUS", "MAX_BLOCK", "DEPENDENCE_TOL",
           "MARGIN_POINTS", "MARGIN_RADIUS"]

#: Legendre nodes and half-width (standardised units) of the discretised marginal measure.
MARGIN_POINTS = 1200
MARGIN_RADIUS = 14.0
#: Tensor Legendre nodes per axis and half-width of a 2-D group's fine measure.
BLOCK_POINTS = 120
BLOCK_RADIUS = 9.0
#: Largest group of coupled axes given its own rule (larger groups are split into axes).
MAX_BLOCK = 2
#: Axes i, j are coupled if their cumulant slice's norm exceeds this fraction of the largest
#: cumulant.
DEPENDENCE_TOL = 1e-3
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


def components(cum_rotated: np.ndarray, max_size: int = MAX_BLOCK) -> tuple[tuple[int, ...], ...]:
    """Groups of axes that the rotated cumulants ``[d, d, d, d]`` couple: the connected
    components of ``D_ij = |k[i, j, :, :]| > DEPENDENCE_TOL max |k|``; a group larger
    than ``max_size`` is split into single axes (treated as independent)."""
    dim = cum_rotated.shape[0]
    dep = np.sqrt(np.sum(cum_rotated**2, axis=(2, 3)))
    np.fill_diagonal(dep, 0.0)
    linked = dep > DEPENDENCE_TOL * max(np.max(np.abs(cum_rotated)), 1e-300)
    seen, groups = set(), []
    for start in range(dim):
        if start in seen:
            continue
        stack, group = [start], set()
        while stack:
            i = stack.pop()
            if i not in group:
                group.add(i)
                stack.extend(np.flatnonzero(linked[i]).tolist())
        seen |= group
        group = tuple(sorted(group))
        groups.extend([group] if len(group) <= max_size else [(i,) for i in group])
    return tuple(groups)


def marginal_multipliers(white, dim: int, order: int, rotation, groups) -> list:
    """Maxent multipliers (graded order in the group's coordinates) of the marginal of each
    group of ``u = V^T w``: the tensor solver in ``len(group)`` dimensions."""
    from jaxopt_lab.maxent.api import solve
    from jaxopt_lab.maxent.config import Config

    mom_u = affine_matrix(dim, order, np.asarray(rotation).T, np.zeros(dim)) @ white
    table = index_of(dim, order)
    out = []
    for group in groups:
        sub = multi_indices(len(group), order)
        pos = []
        for row in sub:
            full = [0] * dim
            for g, p in zip(group, row):
                full[g] = int(p)
            pos.append(table[tuple(full)])
        m = mom_u[pos]
        m[0] = 1.0
        out.append(solve(m, Config(len(group), order, moment_tol=1e-10)).value)
    return out


@functools.lru_cache(maxsize=1)
def _legendre():
    return np.polynomial.legendre.leggauss(MARGIN_POINTS)


def _log_g(lam, order, u):
    """``log g(u)`` of a group's marginal at ``u [n, d_c]``."""
    return np.asarray(monomials_np(u, order)) @ lam


def _component_rule(lam, size, order, lev):
    """Level-``lev`` rule of a group's marginal weight: the Gauss rule of ``2 lev - 1``
    nodes (1-D) or a positive rule exact to degree ``2 lev - 1`` (2-D)."""
    x, w = _legendre()
    if size == 1:
        x, w = MARGIN_RADIUS * x, MARGIN_RADIUS * w
        dens = w * np.exp(np.minimum(_log_g(lam, order, x[:, None]), 700.0))
        nodes, weights = gauss_from_measure(x, dens, nodes_at_level(lev))
        return nodes[:, None], weights
    x, w = np.polynomial.legendre.leggauss(BLOCK_POINTS)
    x, w = BLOCK_RADIUS * x, BLOCK_RADIUS * w
    grid = np.stack([g.reshape(-1) for g in np.meshgrid(x, x, indexing="ij")], axis=-1)
    dens = np.outer(w, w).reshape(-1) * np.exp(np.minimum(_log_g(lam, order, grid), 700.0))
    keep = dens > 1e-300
    return positive_rule(grid[keep], dens[keep], 2 * lev - 1)


def product_start(dim: int, order: int, frame) -> np.ndarray:
    """``[K]`` alpha-frame multipliers of ``prod_c g_c(u_c)``, ``u = alpha V^T z``: the
    product of the maxent marginals, the start of a solve on the adapted rule (the answer
    itself when the density is a product over the groups in that frame)."""
    v, groups, lams = frame[:3]
    table = index_of(dim, order)
    lam_u = np.zeros(len(table))
    for group, lam in zip(groups, lams):
        for row, val in zip(multi_indices(len(group), order), lam):
            full = [0] * dim
            for g, p in zip(group, row):
                full[g] = int(p)
            lam_u[table[tuple(full)]] += val
    scale = alpha(order)
    out = affine_matrix(dim, order, scale * np.asarray(v).T, np.zeros(dim)).T @ lam_u
    out[0] += dim * math.log(scale)
    return out


def adapted_rule(white, dim: int, order: int, level: int, frame=None):
    """Alpha-frame rule adapted to standardised moments ``white [K]``.

    Args:
      white: ``[K]`` standardised moments (the alpha-frame moments times ``alpha^|i|``).
      level: Smolyak level (>= 0).
      frame: optional ``(V, groups, marginals, rules)`` from an earlier call (the check
        rule reuses the solve rule's frame and component rules).

    Returns:
      ``points [P, dim]``, ``weights [P]`` (``sum_p W_p F(z_p) ~ int F(z) dz``) and the frame.
    """
    if frame is None:
        cum = cumulant4(white, dim, order)
        v = jade_rotation(cum)
        groups = components(np.einsum("ijkl,ia,jb,kc,ld->abcd", cum, v, v, v, v))
        frame = (v, groups, marginal_multipliers(white, dim, order, v, groups), {})
    v, groups, lams, cache = frame

    def rule_fn(c, lev):
        if (c, lev) not in cache:
            cache[c, lev] = _component_rule(lams[c], len(groups[c]), order, lev)
        return cache[c, lev]

    u, wu = smolyak_blocks([len(g) for g in groups], level, rule_fn)
    log_div = np.zeros(len(wu))
    start = 0
    for group, lam in zip(groups, lams):
        log_div += _log_g(lam, order, u[:, start:start + len(group)])
        start += len(group)
    axes = np.concatenate(groups)  # the grid's columns are the groups' axes in order
    scale = alpha(order)
    return (u @ v[:, axes].T) / scale, wu * np.exp(-log_div - dim * math.log(scale)), frame
