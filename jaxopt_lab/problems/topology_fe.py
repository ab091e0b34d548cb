"""Finite elements of the topology problem: Q4 plane-stress stiffness and its solves.

With the nodes numbered column by column the global stiffness is block tridiagonal (one
block per grid column of ``nely + 1`` nodes): :func:`stiffness_blocks` assembles its blocks
with the supports eliminated (identity rows and columns), :func:`solve_displacements`
solves it exactly by block Cholesky (:func:`jaxopt_lab.linalg.block_tridiagonal_solve`) or
by Jacobi-preconditioned CG with the matrix-free product :func:`apply_stiffness`. Every
function takes the :class:`~jaxopt_lab.problems.topology.TopologyProblem` it solves.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.linalg import block_tridiagonal_solve

__all__ = ["element_stiffness", "stiffness_blocks", "apply_stiffness", "element_dofs",
           "solve_displacements"]


def element_stiffness(nu: float = 0.3) -> np.ndarray:
    """Q4 plane-stress stiffness matrix of a unit square with ``E = 1`` (2x2 Gauss rule).

    Node order: (0,0), (1,0), (1,1), (0,1); dof order ``[u0, v0, u1, v1, u2, v2, u3, v3]``.

    Returns:
        ``[8, 8]`` float64 symmetric positive semi-definite matrix (three rigid-body modes).
    """
    d_mat = np.array([[1.0, nu, 0.0], [nu, 1.0, 0.0], [0.0, 0.0, (1.0 - nu) / 2]]) / (1 - nu**2)
    corners = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    g = 1.0 / np.sqrt(3.0)
    ke = np.zeros((8, 8))
    for xi in (-g, g):
        for eta in (-g, g):
            # dN/dxi, dN/deta of the bilinear shape functions; dx/dxi = 1/2 on a unit square.
            dn_dxi = corners[:, 0] * (1 + eta * corners[:, 1]) / 4
            dn_deta = corners[:, 1] * (1 + xi * corners[:, 0]) / 4
            dn_dx, dn_dy = 2 * dn_dxi, 2 * dn_deta
            b = np.zeros((3, 8))
            b[0, 0::2] = dn_dx
            b[1, 1::2] = dn_dy
            b[2, 0::2] = dn_dy
            b[2, 1::2] = dn_dx
            ke += b.T @ d_mat @ b * 0.25  # det(J) = 1/4, Gauss weights 1
    return ke


def _block_patterns(nely: int):
    """Flat indices of the 16 entries of each element's 4x4 sub-block inside a column block."""
    nc = 2 * (nely + 1)
    a = np.arange(4)
    rows = 2 * np.arange(nely)[:, None, None] + a[None, :, None]
    cols = 2 * np.arange(nely)[:, None, None] + a[None, None, :]
    return (rows * nc + cols).reshape(-1)


_LEFT = np.array([0, 1, 6, 7])   # dofs of nodes (ex, ey), (ex, ey + 1)
_RIGHT = np.array([2, 3, 4, 5])  # dofs of nodes (ex + 1, ey), (ex + 1, ey + 1)


def stiffness_blocks(problem, modulus: jax.Array):
    """Block-tridiagonal stiffness with supports eliminated (identity rows/columns).

    Args:
        problem: the problem.
        modulus: ``[nely, nelx]`` element Young's moduli.

    Returns:
        ``(diag, lower)``: ``diag`` ``[nelx + 1, nc, nc]`` blocks ``K[col i, col i]`` and
        ``lower`` ``[nelx, nc, nc]`` blocks ``K[col i + 1, col i]``, ``nc = 2 (nely + 1)``.
    """
    nelx, nely = problem.nelx, problem.nely
    nc = 2 * (nely + 1)
    dtype = modulus.dtype
    ke = element_stiffness(problem.nu)
    k_ll = jnp.asarray(ke[np.ix_(_LEFT, _LEFT)], dtype)
    k_rr = jnp.asarray(ke[np.ix_(_RIGHT, _RIGHT)], dtype)
    k_rl = jnp.asarray(ke[np.ix_(_RIGHT, _LEFT)], dtype)
    idx = jnp.asarray(_block_patterns(nely))
    zero_col = jnp.zeros((nely, 1), dtype)
    m_left = jnp.concatenate([modulus, zero_col], axis=1).T    # [nelx + 1, nely]
    m_right = jnp.concatenate([zero_col, modulus], axis=1).T   # [nelx + 1, nely]
    diag_vals = (m_left[:, :, None, None] * k_ll[None, None]
                 + m_right[:, :, None, None] * k_rr[None, None]).reshape(nelx + 1, -1)
    diag = jnp.zeros((nelx + 1, nc * nc), dtype).at[:, idx].add(diag_vals)
    lower_vals = (modulus.T[:, :, None, None] * k_rl[None, None]).reshape(nelx, -1)
    lower = jnp.zeros((nelx, nc * nc), dtype).at[:, idx].add(lower_vals)
    diag = diag.reshape(nelx + 1, nc, nc)
    lower = lower.reshape(nelx, nc, nc)
    free = jnp.asarray(problem.free_mask(), dtype)
    diag = (diag * free[:, :, None] * free[:, None, :]
            + jax.vmap(jnp.diag)(1.0 - free))
    lower = lower * free[1:, :, None] * free[:-1, None, :]
    return diag, lower


def apply_stiffness(problem, modulus: jax.Array, u: jax.Array) -> jax.Array:
    """Matrix-free product ``K u`` with supports eliminated, element by element.

    Args:
        problem: the problem.
        modulus: ``[nely, nelx]`` element moduli.
        u: ``[nelx + 1, 2 (nely + 1)]`` displacements in column-block layout.

    Returns:
        ``[nelx + 1, 2 (nely + 1)]``.
    """
    free = jnp.asarray(problem.free_mask(), u.dtype)
    ke = jnp.asarray(element_stiffness(problem.nu), u.dtype)
    v = (u * free).reshape(problem.nelx + 1, problem.nely + 1, 2)
    ue = element_dofs(v)                                       # [nelx, nely, 8]
    fe = jnp.einsum("xyj,ij->xyi", ue, ke) * modulus.T[:, :, None]
    out = jnp.zeros_like(v)
    out = out.at[:-1, :-1].add(fe[:, :, 0:2]).at[1:, :-1].add(fe[:, :, 2:4])
    out = out.at[1:, 1:].add(fe[:, :, 4:6]).at[:-1, 1:].add(fe[:, :, 6:8])
    out = out.reshape(u.shape) * free + u * (1.0 - free)
    return out


def element_dofs(v: jax.Array) -> jax.Array:
    """``[nelx + 1, nely + 1, 2]`` nodal values -> ``[nelx, nely, 8]`` element dof values."""
    return jnp.concatenate([v[:-1, :-1], v[1:, :-1], v[1:, 1:], v[:-1, 1:]], axis=-1)


def solve_displacements(problem, modulus: jax.Array) -> jax.Array:
    """Displacements ``[nelx + 1, 2 (nely + 1)]`` (column-block layout) for element moduli
    ``[nely, nelx]``: the direct (block Cholesky) or CG solve of ``problem.solver``."""
    f = jnp.asarray(problem.force() * problem.free_mask(), modulus.dtype)
    if problem.solver == "direct":
        diag, lower = stiffness_blocks(problem, modulus)
        return block_tridiagonal_solve(diag, lower, f)
    diag, _ = stiffness_blocks(problem, modulus)
    inv_diag = 1.0 / jnp.diagonal(diag, axis1=1, axis2=2)
    u, _ = jax.scipy.sparse.linalg.cg(
        lambda w: apply_stiffness(problem, modulus, w), f, tol=problem.cg_tol,
        maxiter=problem.cg_maxiter, M=lambda r: inv_diag * r)
    return u
