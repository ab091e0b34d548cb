"""Linear algebra shared across the library: structured solves and random rotations.

* :func:`block_tridiagonal_solve`: the PDE problems (topology FE, groundwater Darcy flow)
  assemble a symmetric positive-definite matrix that is block tridiagonal when the unknowns
  are ordered column by column (``n`` columns of ``b`` unknowns each), so an exact block
  Cholesky solve costs ``O(n b^3)``, differentiable and jit-able.
* :func:`haar_orthogonal` and :func:`perturb_orthogonal`: random orthogonal matrices (the
  rotations of the DGS benchmarks, and DGS's random perturbation of its directions).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["block_tridiagonal_solve", "qr_sign_fixed", "haar_orthogonal", "perturb_orthogonal"]


def block_tridiagonal_solve(diag: jax.Array, lower: jax.Array, rhs: jax.Array) -> jax.Array:
    """Solves a symmetric positive-definite block-tridiagonal system by block Cholesky.

    Args:
        diag: ``[n, b, b]`` diagonal blocks ``A[i, i]``.
        lower: ``[n - 1, b, b]`` sub-diagonal blocks ``A[i + 1, i]``.
        rhs: ``[n, b]`` right-hand side.

    Returns:
        ``[n, b]`` solution. Non-finite if the matrix is not positive definite.
    """
    n, b = rhs.shape
    dtype = rhs.dtype
    lower_prev = jnp.concatenate([jnp.zeros((1, b, b), dtype), lower], axis=0)  # A[i, i-1]

    # S_i^{-1} = L_i^{-T} L_i^{-1} is formed from the inverse Cholesky factor: one
    # lower-triangular solve against the identity per block, everything else is matmuls
    # (batched triangular solves are erratically slow on XLA:CPU, so the inverse factor is
    # built by plain forward substitution, row by row).
    def forward(carry, inputs):
        inv_prev, y_prev = carry                 # S_{i-1}^{-1}, y_{i-1}
        d, c, f = inputs
        s = d - c @ inv_prev @ c.T
        y = f - c @ (inv_prev @ y_prev)
        chol = jnp.linalg.cholesky(s)
        chol_inv = _lower_triangular_inverse(chol)
        inv = chol_inv.T @ chol_inv
        return (inv, y), (inv, y)

    init = (jnp.zeros((b, b), dtype), jnp.zeros((b,), dtype))
    _, (invs, ys) = jax.lax.scan(forward, init, (diag, lower_prev, rhs))
    lower_next = jnp.concatenate([lower, jnp.zeros((1, b, b), dtype)], axis=0)  # A[i+1, i]

    def backward(u_next, inputs):
        inv, y, c = inputs
        u = inv @ (y - c.T @ u_next)
        return u, u

    _, us = jax.lax.scan(backward, jnp.zeros((b,), dtype), (invs, ys, lower_next), reverse=True)
    return us


def _lower_triangular_inverse(chol: jax.Array) -> jax.Array:
    """Inverse of a ``[b, b]`` lower-triangular matrix by forward substitution (``b`` steps)."""
    b = chol.shape[0]
    eye = jnp.eye(b, dtype=chol.dtype)

    def row(i, inv):
        # rows >= i of ``inv`` are still zero, so ``chol[i] @ inv`` sums over j < i only.
        new = (eye[i] - chol[i] @ inv) / chol[i, i]
        return inv.at[i].set(new)

    return jax.lax.fori_loop(0, b, row, jnp.zeros_like(chol))


def qr_sign_fixed(a: jax.Array) -> jax.Array:
    """The orthogonal factor ``Q`` of ``a = QR`` with the signs fixed so that ``diag R > 0``.

    Args:
        a: ``[dim, dim]`` matrix.

    Returns:
        ``[dim, dim]`` orthogonal matrix (columns orthonormal). The sign fix makes ``Q`` a
        function of ``a`` alone (LAPACK's sign convention drops out), which is what makes
        the QR of a Gaussian matrix Haar-distributed.
    """
    q, r = jnp.linalg.qr(a)
    d = jnp.sign(jnp.diagonal(r))
    d = jnp.where(d == 0, 1.0, d).astype(a.dtype)
    return q * d[None, :]


def haar_orthogonal(key: jax.Array, dim: int, dtype=jnp.float32) -> jax.Array:
    """A Haar-distributed ``[dim, dim]`` orthogonal matrix: sign-fixed QR of a Gaussian."""
    return qr_sign_fixed(jax.random.normal(key, (dim, dim), dtype))


def perturb_orthogonal(key: jax.Array, q: jax.Array, scale) -> jax.Array:
    """A random small rotation of ``q``: ``QR(q + scale (A - A^T) / 2)``, ``A_ij ~ N(0, 1)``.

    Args:
        key: PRNG key.
        q: ``[dim, dim]`` orthogonal matrix.
        scale: entry scale of the skew-symmetric perturbation (``0`` returns ``q``, up to
            the rounding of one QR).

    Returns:
        ``[dim, dim]`` orthogonal matrix near ``q``.
    """
    dim = q.shape[0]
    a = jax.random.normal(key, (dim, dim), q.dtype)
    return qr_sign_fixed(q + scale * 0.5 * (a - a.T))
