"""Moment closures: the higher moments of solved maximum-entropy densities, batched.

A moment closure solves, in every cell of a field, the maxent problem of the cell's moments
of order ``<= M`` and reads off moments of higher order (the fluxes of the moment
hierarchy) from the density. :func:`closure_moments` does the second half for a whole
batch: it integrates ``x^j``, ``|j| <= P``, against each row's density on the check rule of
the rung that solved it (``ceil(check_ratio T) + 1`` nodes, or a box rung's check rule: the
rule on which the answer's moment error was measured) and maps them to the original frame.
The first half is ``maxent.solve_batch`` with :data:`jaxopt_lab.maxent.config.CLOSURE_RULES`.
"""

from __future__ import annotations

import functools
import math

import jax
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.core import Solution
from jaxopt_lab.maxent import tensor
from jaxopt_lab.maxent.api import float64
from jaxopt_lab.maxent.fixed_rule import box_rule, check_points
from jaxopt_lab.maxent.precondition import affine_matrix, alpha
from jaxopt_lab.maxent.rules import alpha_rule

__all__ = ["closure_moments"]


def closure_moments(solution: Solution, order: int, *, check_ratio: float = 1.5) -> np.ndarray:
    """Moments of degree ``<= order`` of the densities of a (batched) solution.

    Args:
      solution: from :func:`jaxopt_lab.maxent.solve` or ``solve_batch`` (a leading ``[B]``
        axis or none).
      order: P, the highest total degree of the moments wanted (>= 0; above the solved
        order M gives the closure's higher moments).
      check_ratio: the ``Config.check_ratio`` of the solve (the rule used is its check rule).

    Returns:
      ``[B, C(P + N, N)]`` (or ``[C(P + N, N)]``) moments in the graded order of
      :func:`jaxopt_lab.maxent.multi_indices`, original frame, mass normalised to the
      solved ``m_0``; NaN for rows that have no answer.
    """
    _checks.check_instance(solution, Solution, "solution")
    _checks.check_int(order, "order", minimum=0)
    _checks.check_number(check_ratio, "check_ratio", lo=1.0)
    state = solution.state
    single = np.ndim(state.multipliers) == 1
    lam = np.atleast_2d(np.asarray(state.multipliers, np.float64))
    mean = np.asarray(state.mean, np.float64).reshape(lam.shape[0], -1)
    dim = mean.shape[1]
    matrix = np.asarray(state.matrix, np.float64).reshape(lam.shape[0], dim, dim)
    solved_order = _order_of(lam.shape[1], dim)
    points = np.atleast_1d(np.asarray(solution.stats["quad_points"])).astype(int)
    sigma = np.atleast_1d(np.asarray(solution.stats["sigma"], np.float64))
    radius = np.atleast_1d(np.asarray(solution.stats.get("box_radius", np.nan), np.float64))
    radius = np.broadcast_to(radius, sigma.shape)
    # A Gauss-Hermite rung is named by its sigma, a box rung by its half-width.
    rung = np.where(np.isfinite(sigma), sigma, -radius)
    ok = np.all(np.isfinite(lam), axis=1) & (points > 0) & np.isfinite(rung)
    out = np.full((lam.shape[0], math.comb(order + dim, dim)), np.nan)
    scale = alpha(solved_order)
    with float64():
        for t, s in sorted({(int(t), float(s)) for t, s in zip(points[ok], rung[ok])}):
            rows = np.flatnonzero(ok & (points == t) & (rung == s))
            if s > 0:
                nodes, weights = alpha_rule(check_points(t, check_ratio), scale, s)
            else:
                box = box_rule(t, -s, check_ratio)
                nodes, weights = box.check_nodes, box.check_weights
            batched = _batched_pass(dim, solved_order, order, nodes.shape[0])
            out[rows] = np.asarray(batched(lam[rows], nodes, weights))
    inverse = np.linalg.inv(np.where(ok[:, None, None], matrix, np.eye(dim)))
    back = affine_matrix(dim, order, inverse, -np.einsum("bij,bj->bi", matrix, mean))
    out = np.einsum("bij,bj->bi", back, out)
    return out[0] if single else out


@functools.lru_cache(maxsize=32)
def _batched_pass(dim: int, order: int, out_order: int, num_points: int):
    """``jit(vmap(pass))`` for one shape, compiled once per process (rule as arguments)."""
    tpass = tensor.make_pass(dim, order, out_order, num_points)
    return jax.jit(jax.vmap(tpass, in_axes=(0, None, None)))


def _order_of(num_moments: int, dim: int) -> int:
    for m in range(0, 64):
        if math.comb(m + dim, dim) == num_moments:
            return m
    raise ValueError(f"solution: {num_moments} multipliers is not C(M + N, N) for N = {dim}")
