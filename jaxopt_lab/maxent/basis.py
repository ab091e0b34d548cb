"""Orthonormal polynomial basis (Abramov review, sections 5-6).

A basis of ``P_M`` is stored as a coefficient matrix ``C [K, K]`` in the graded monomial
basis: ``p_k(x) = sum_i C[i, k] x^i``. The inner product is the quadrature one at the
current density, ``<u, v> = Q_gamma(u v)``. For coefficient vectors it is ``u^T G v`` with
the *moment Gram matrix* ``G[i, j] = Q_gamma(x^{i+j})``, which only needs the moments of
degree ``<= 2M`` (``C(2M+N, N)`` numbers rather than ``K^2``); the solver uses that form so
that the quadrature pass stays cheap and can be chunked over huge grids.

Three orthonormalisations, all pure JAX:

* :func:`mgs_nodes` - the review's modified Gram-Schmidt with ``passes`` = 1 (plain) or 2
  (with reorthogonalisation), on node values and coefficients together (section 6).
* :func:`mgs_gram` - the same algorithm, with the inner product taken through ``G``.
* :func:`cholesky_orthonormalise` - the equivalent weighted-QR form: with
  ``H = C^T G C = L L^T``, ``C_new = C L^{-T}`` (Gram-Schmidt and Cholesky produce the same
  triangular factor). The solver's default: it is one ``[K, K]`` factorisation, and after the
  first step ``H`` is within the kappa <= 20 band of the identity, so it is well conditioned.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial import hermite_e

from jaxopt_lab.maxent.multiindex import _index_table, _multi_indices

__all__ = [
    "hermite_basis",
    "gram_index",
    "gram_matrix",
    "cholesky_orthonormalise",
    "lower_triangular_inverse",
    "mgs_gram",
    "mgs_nodes",
]


def hermite_basis(dim: int, order: int, scale: float) -> np.ndarray:
    """Coefficients ``[K, K]`` (a fresh copy of a cached table); see :func:`_hermite_basis`."""
    return _hermite_basis(int(dim), int(order), float(scale)).copy()


@functools.lru_cache(maxsize=64)
def _hermite_basis(dim: int, order: int, scale: float) -> np.ndarray:
    """Coefficients ``[K, K]`` of ``prod_k He_{i_k}(s x_k) / sqrt(i_k!)``, ``s = scale``.

    These are orthonormal for ``N(0, s^{-2} I)``, the alpha-frame starting density when
    ``s = alpha`` (review sec. 9, step 3). Column ``k`` belongs to multi-index ``k``; the
    matrix is upper triangular (``He_i`` only involves ``x^j`` with ``j <= i``).
    """
    idx = _multi_indices(dim, order)
    one_d = []
    for n in range(order + 1):
        c = np.zeros(n + 1)
        c[n] = 1.0
        coeffs = hermite_e.herme2poly(c)  # power-basis coefficients of He_n
        one_d.append(coeffs * scale ** np.arange(n + 1) / math.sqrt(math.factorial(n)))
    num = idx.shape[0]
    out = np.zeros((num, num))
    for col, i in enumerate(idx):
        for row, j in enumerate(idx):
            if np.all(j <= i):
                out[row, col] = np.prod([one_d[i[k]][j[k]] for k in range(dim)])
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=64)
def _gram_index(dim, order):
    idx = _multi_indices(dim, order)
    table = _index_table(dim, 2 * order)
    num = idx.shape[0]
    out = np.empty((num, num), dtype=np.int32)
    for a in range(num):
        for b in range(num):
            out[a, b] = table[tuple(int(v) for v in idx[a] + idx[b])]
    out.setflags(write=False)
    return out


def gram_index(dim: int, order: int) -> np.ndarray:
    """``[K, K]`` positions of ``i + j`` in the degree-``2M`` graded index set."""
    return _gram_index(int(dim), int(order)).copy()


def gram_matrix(moments_2m, dim: int, order: int):
    """``G[i, j] = mu_{i+j}`` from the ``[C(2M+N, N)]`` moments of degree ``<= 2M``."""
    return jnp.asarray(moments_2m)[_gram_index(int(dim), int(order))]


def cholesky_orthonormalise(gram, coeffs, passes: int = 1):
    """``C_new = C L^{-T}`` with ``C^T G C = L L^T``; repeated ``passes`` times.

    Args:
      gram: ``[K, K]`` monomial Gram matrix ``G``.
      coeffs: ``[K, K]`` current basis coefficients (columns).
      passes: 1, or 2 to re-orthonormalise against the rounding of the first pass.

    Returns:
      ``[K, K]`` coefficients of a basis with ``C_new^T G C_new = I`` (NaN if ``C^T G C``
      is not numerically positive definite).
    """
    for _ in range(passes):
        h = coeffs.T @ gram @ coeffs
        h = 0.5 * (h + h.T)
        chol = jnp.linalg.cholesky(h)
        coeffs = coeffs @ lower_triangular_inverse(chol).T
    return coeffs


def lower_triangular_inverse(chol):
    """``L^{-1}`` of a lower-triangular ``[K, K]`` matrix by row-wise forward substitution.

    Row ``i`` of the inverse is ``(e_i - L[i] X) / L[i, i]``, where ``X`` holds the rows
    found so far (and zeros below them), in one ``fori_loop`` of ``K`` matrix-vector
    products. XLA:CPU's ``triangular_solve`` took 8-16 ms for K = 45 on the development
    machine (this takes 0.03 ms, and compiles in under a second), which had made it the
    dominant cost of a solver iteration.
    """
    num = chol.shape[0]
    eye = jnp.eye(num, dtype=chol.dtype)

    def row(i, out):
        return out.at[i].set((eye[i] - chol[i] @ out) / chol[i, i])

    return jax.lax.fori_loop(0, num, row, jnp.zeros_like(chol))


def _mgs(inner, vectors, passes):
    """Generic MGS over the columns of each array in ``vectors`` (updated together)."""
    num = vectors[0].shape[1]

    def column(k, vecs):
        a = tuple(v[:, k] for v in vecs)

        def project(m, a):
            p = tuple(v[:, m] for v in vecs)
            coef = inner(a, p)
            return tuple(jnp.where(m < k, ai - coef * pi, ai) for ai, pi in zip(a, p))

        for _ in range(passes):
            a = jax.lax.fori_loop(0, num, project, a)
        norm = jnp.sqrt(inner(a, a))
        return tuple(v.at[:, k].set(ai / norm) for v, ai in zip(vecs, a))

    return jax.lax.fori_loop(0, num, column, tuple(vectors))


def mgs_gram(gram, coeffs, passes: int = 2):
    """Modified Gram-Schmidt (review section 6) with ``<u, v> = u^T G v`` on coefficients.

    Args:
      gram: ``[K, K]`` monomial Gram matrix.
      coeffs: ``[K, K]`` starting polynomials ``a_k`` (columns).
      passes: r in the review: 1 plain MGS, 2 with reorthogonalisation.

    Returns:
      ``[K, K]`` coefficients ``p_k`` with ``p_k^T G p_l = delta_kl``.
    """
    (out,) = _mgs(lambda u, v: u[0] @ (gram @ v[0]), (coeffs,), passes)
    return out


def mgs_nodes(values, weights, coeffs, passes: int = 2):
    """The review's MGS on node values: ``<u, v> = sum_n weights_n u_n v_n`` (section 6).

    Args:
      values: ``[num_nodes, K]`` the polynomials ``a_k`` at the quadrature nodes.
      weights: ``[num_nodes]`` quadrature weight times density, ``W_n rho_gamma(x_n)``.
      coeffs: ``[K, K]`` the same polynomials as monomial coefficients (updated alongside).
      passes: 1 plain MGS, 2 with reorthogonalisation.

    Returns:
      ``(values, coeffs)`` of the orthonormal basis.
    """
    return _mgs(lambda u, v: jnp.sum(weights * u[0] * v[0]), (values, coeffs), passes)
