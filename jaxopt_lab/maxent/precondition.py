"""Preconditioning of the moment constraints (Abramov review, section 4), on the host.

Every step is an affine change of variables ``y = A (x - b)``. Its action on moments is a
linear map ``mu_y = T m_x`` with ``T[i, j]`` = coefficient of ``x^j`` in the polynomial
``prod_k (A_k . (x - b))^{i_k}``, and its action on multipliers is the adjoint plus the
Jacobian term: if ``rho_y(y) = exp(sum_i l_i y^i)`` then
``rho_x(x) = |det A| rho_y(A (x - b))``, so ``lambda = T^T l + ln|det A| e_0``. Hence
``sum_i lambda_i m_i = sum_i l_i mu_i + ln|det A|`` for every ``l`` (the adjoint identity).

* Mean shift (4.1)-(4.3): ``A = I``, ``b = mean``; ``T`` is (4.2) read with ``j <= i``
  componentwise, ``T^T`` is (4.3) (they are adjoint, not inverse: docs/methods/maxent.md).
* Rotation and stretch (4.4)-(4.8): ``A = Lambda^{-1/2} E^T`` from ``C = E Lambda E^T``;
  ``T`` is (4.6) and ``T^T`` plus ``ln|det A|`` is the corrected (4.8).
* Alpha scaling (4.9)-(4.13): ``A = I / alpha``, ``alpha = ((2M-1)!!)^{1/(2M)}``; ``T`` is
  diagonal ``alpha^{-|i|}`` and ``lambda_0`` picks up ``-N ln alpha``.

All of this is float64 NumPy, built once per problem (``T`` is ``[K, K]``), and vectorised
over a leading batch axis where noted.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from jaxopt_lab.maxent.multiindex import _index_table, _multi_indices

__all__ = [
    "forward_multipliers",
    "affine_matrix",
    "shift_matrix",
    "linear_matrix",
    "alpha",
    "alpha_matrix",
    "degenerate",
    "whitening",
    "covariance",
    "Preconditioner",
    "precondition",
    "forward_moments",
    "backward_multipliers",
]


@functools.lru_cache(maxsize=64)
def _down_tables(dim, order):
    """``down[l][j]`` = position of ``j - e_l`` (or K, a zero pad column, if ``j_l = 0``)."""
    idx = _multi_indices(dim, order)
    table = _index_table(dim, order)
    num = idx.shape[0]
    down = np.full((dim, num), num, dtype=np.int64)
    for j, row in enumerate(idx):
        for var in range(dim):
            if row[var] > 0:
                r = row.copy()
                r[var] -= 1
                down[var, j] = table[tuple(int(v) for v in r)]
    parents = []
    for row in idx[1:]:
        var = int(np.flatnonzero(row)[0])
        r = row.copy()
        r[var] -= 1
        parents.append((table[tuple(int(v) for v in r)], var))
    return down, tuple(parents)


def affine_matrix(dim: int, order: int, matrix, shift) -> np.ndarray:
    """Moment map of ``y = A (x - b)``: ``T[..., i, j]`` = coeff. of ``x^j`` in ``y^i``.

    Args:
      dim: dimension of the index set (graded, :func:`multi_indices`).
      order: its total order.
      matrix: ``[..., dim, dim]`` the matrix A.
      shift: ``[..., dim]`` the vector b.

    Returns:
      ``[..., K, K]`` float64; lower block-triangular in degree (``y^i`` only involves
      ``x^j`` with ``|j| <= |i|``), so ``mu_y = T @ m_x`` uses moments of order <= ``|i|``.
    """
    a = np.asarray(matrix, dtype=np.float64)
    b = np.asarray(shift, dtype=np.float64)
    batch = a.shape[:-2]
    down, parents = _down_tables(dim, order)
    num = down.shape[1]
    const = -np.einsum("...kl,...l->...k", a, b)  # y_k = const_k + sum_l a_kl x_l
    polys = np.zeros(batch + (num, num + 1))  # last column: zero pad for `down`
    polys[..., 0, 0] = 1.0
    for i, (parent, var) in enumerate(parents, start=1):
        p = polys[..., parent, :]
        q = const[..., var, None] * p
        for l in range(dim):
            q[..., :num] += a[..., var, l, None] * p[..., down[l]]
        polys[..., i, :] = q
    return polys[..., :num]


def shift_matrix(dim: int, order: int, mean) -> np.ndarray:
    """(4.2): ``mu~ = S m`` for ``rho~(x) = rho(x + mean)``; (4.3) is ``S^T``."""
    mean = np.asarray(mean, dtype=np.float64)
    eye = np.broadcast_to(np.eye(dim), mean.shape[:-1] + (dim, dim))
    return affine_matrix(dim, order, eye, mean)


def linear_matrix(dim: int, order: int, matrix) -> np.ndarray:
    """(4.6)-(4.7): ``mu^ = R mu~`` for ``y = A x``; (4.8) is ``R^T`` plus ``ln|det A| e_0``."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return affine_matrix(dim, order, matrix, np.zeros(matrix.shape[:-1]))


def alpha(order: int) -> float:
    """(4.13): ``alpha = ((2M - 1)!!)^{1/(2M)}``."""
    double_fact = math.prod(range(2 * order - 1, 0, -2))
    return float(double_fact) ** (1.0 / (2 * order))


def alpha_matrix(dim: int, order: int, scale: float) -> np.ndarray:
    """(4.10)-(4.11): diagonal ``alpha^{-|i|}`` (moments of ``x / alpha``)."""
    degrees = _multi_indices(dim, order).sum(axis=1)
    return np.diag(float(scale) ** (-degrees.astype(np.float64)))


def _not_positive(evals):
    return ~(evals.min(axis=-1) > 1e-12 * np.maximum(np.abs(evals).max(axis=-1), 1e-300))


def degenerate(cov) -> np.ndarray:
    """``[...]`` True where a covariance ``[..., dim, dim]`` is not positive definite."""
    cov = np.asarray(cov, dtype=np.float64)
    return _not_positive(np.linalg.eigvalsh(0.5 * (cov + np.swapaxes(cov, -1, -2))))


def whitening(cov) -> tuple[np.ndarray, float]:
    """(4.4): ``A = Lambda^{-1/2} E^T`` for ``cov = E Lambda E^T``; returns ``(A, ln|det A|)``.

    Raises:
      ValueError: ``cov`` is not symmetric positive definite.
    """
    cov = np.asarray(cov, dtype=np.float64)
    evals, evecs = np.linalg.eigh(0.5 * (cov + np.swapaxes(cov, -1, -2)))
    if np.any(_not_positive(evals)):
        raise ValueError(
            "moments: covariance (second central moments) is not positive definite "
            f"(smallest eigenvalue {float(np.min(evals)):.3e}); the moments are degenerate")
    a = np.swapaxes(evecs, -1, -2) / np.sqrt(evals)[..., :, None]
    return a, -0.5 * np.log(evals).sum(axis=-1)


class Preconditioner(NamedTuple):
    """The composed map ``z = A (x - mean)`` into the alpha frame (shift, whiten, alpha).

    Attributes:
      transform: ``[..., K, K]``: ``mu_alpha = transform @ m`` (composed (4.2), (4.6), (4.10)).
      log_det: ``[...]``: ``ln|det A|`` of the composed map (``ln|det A_white| - N ln alpha``).
      mean: ``[..., dim]`` the mean ``mbar``.
      matrix: ``[..., dim, dim]`` the composed linear part ``A_white / alpha``.
      alpha: the scalar alpha (4.13).
      white_scale: ``[K]``: ``alpha^{|i|}``, maps alpha-frame moments to the whitened frame.
    """

    transform: np.ndarray
    log_det: np.ndarray
    mean: np.ndarray
    matrix: np.ndarray
    alpha: float
    white_scale: np.ndarray


def covariance(moments, dim: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[..., dim]`` and covariance ``[..., dim, dim]`` of moments ``[..., K]``."""
    m = np.asarray(moments, dtype=np.float64)
    table = _index_table(dim, order)
    unit = [table[tuple(int(v) for v in np.eye(dim, dtype=int)[k])] for k in range(dim)]
    mean = m[..., unit]
    centred = np.einsum("...ij,...j->...i", shift_matrix(dim, order, mean), m)
    cov = np.empty(m.shape[:-1] + (dim, dim))
    for k in range(dim):
        for l in range(dim):
            e = np.zeros(dim, dtype=int)
            e[k] += 1
            e[l] += 1
            cov[..., k, l] = centred[..., table[tuple(int(v) for v in e)]]
    return mean, cov


def precondition(moments, dim: int, order: int) -> Preconditioner:
    """Builds the section-4 preconditioner from (validated) moments ``[..., K]``.

    Raises:
      ValueError: if the covariance is not positive definite.
    """
    idx = _multi_indices(dim, order)
    mean, cov = covariance(moments, dim, order)
    a_white, log_det_white = whitening(cov)
    scale = alpha(order)
    a = a_white / scale
    transform = affine_matrix(dim, order, a, mean)
    log_det = log_det_white - dim * math.log(scale)
    white_scale = scale ** idx.sum(axis=1).astype(np.float64)
    return Preconditioner(transform, np.asarray(log_det), mean, a, scale, white_scale)


def forward_moments(pre: Preconditioner, moments) -> np.ndarray:
    """Original-frame moments ``[..., K]`` -> alpha-frame moments."""
    return np.einsum("...ij,...j->...i", pre.transform, np.asarray(moments, np.float64))


def forward_multipliers(pre: Preconditioner, multipliers) -> np.ndarray:
    """Original-frame multipliers ``[..., K]`` -> alpha-frame ones (inverse of
    :func:`backward_multipliers`; used to warm-start a solve from an earlier answer)."""
    lam = np.array(multipliers, np.float64)
    lam[..., 0] -= pre.log_det
    return np.linalg.solve(np.swapaxes(pre.transform, -1, -2), lam[..., None])[..., 0]


def backward_multipliers(pre: Preconditioner, multipliers_alpha) -> np.ndarray:
    """Alpha-frame multipliers ``[..., K]`` -> original-frame multipliers (4.13), (4.8), (4.3)."""
    lam = np.einsum("...ji,...j->...i", pre.transform,
                    np.asarray(multipliers_alpha, np.float64))
    lam[..., 0] += pre.log_det
    return lam
