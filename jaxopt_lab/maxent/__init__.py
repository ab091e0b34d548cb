"""Multidimensional moment-constrained maximum entropy (Abramov's review), in float64.

Public API::

    multi_indices(dim, order) -> np.ndarray[K, dim]
    moments_from_samples(x[n, dim], order) -> [K]
    moments_of_density(order, *, dim, multipliers | log_density_fn, lower, upper) -> [K]
    solve(moments[K], dim, order, *, quad_points=None, ...) -> MaxEntSolution
    solve_batch(moments[B, K], dim, order, ...) -> MaxEntSolution (batched fields)
    relative_entropy_solve(moments, dim, order, *, prior_multipliers | prior_log_density)
    density(solution, x[..., dim]) -> [...]

float64 is enabled locally (``jax.enable_x64``) inside the entry points when the global flag
is off; see :mod:`jaxopt_lab.maxent.solver`. Not a registry method: it is a deterministic
solver with result codes, not an init/step iteration.

Choices the review leaves open (spec section 9), as implemented:

* Optimiser: ``method="bfgs"`` (default of ``solve``) is the review's BFGS with the inverse
  update (7.4) between reorthonormalisations (kappa_inf > 20); ``method="newton"`` (default
  of ``solve_batch``) is the damped Newton method of [A07]: the basis is rebuilt at every
  iterate, so the quadrature Hessian is I and the step is ``-grad``; every iteration has
  the same structure, which suits ``vmap`` (2x the batched throughput of BFGS). On a
  well-placed rule Newton is as fast or faster; on badly resolved rules (early ladder rungs,
  sample moments) it can need hundreds of steps where BFGS needs tens, hence the split
  (measured in docs/benchmarks/maxent.md).
* Quadrature passes (:mod:`jaxopt_lab.maxent.tensor`): exponent and moments separate over
  the axes of the tensor grid, so a pass is a chain of small dense contractions with the
  1-D Vandermonde matrices (about ``T^N (2M + 2)`` multiply-adds and ``T^N`` exponentials),
  blocked over the first axis (``chunk_size`` points per block) so the grid never sits in
  memory.
* Quadrature: tensor Gauss-Hermite, ``T`` nodes per axis, contraction ``sigma``. With
  ``quad_points=None`` a per-dimension ladder (``AUTO_RULES``) is climbed with warm starts:
  rung 0 is the paper's rule (sigma = 1, exact for a Gaussian answer, capped at 60 steps),
  rung 1 uses sigma = 0.5, later rungs put the outermost node at the per-axis extent of the
  previous answer's support (where the density is above e^-40 of its maximum). It stops at
  the first rung whose refined-rule ``moment_error <= moment_tol``.
* Refined check rule: ``ceil(1.5 T) + 1`` nodes, same sigma. ``moment_error`` is
  ``max |mu_i - m_i| / max(1, |m_i|)`` in the standardised frame (zero mean, unit covariance).
* Line search: backtracking Armijo (c1 = 1e-4, zeta = 1, 1/2, ..., 40 trials, slack
  1e-14 (1 + |L|) for round-off); trials with non-finite moments are rejected (the exponent
  is clipped at 600 so a wild trial gives a huge finite mass). ``s . y <= 0`` or a failed
  search forces a reorthonormalisation; a failed search right after one stops with
  ``line_search_failed``.
* Stopping: ``max |grad| < tol`` (1e-10) in the current basis; caps ``max_iterations``.
* Basis: start from the tensor Hermite basis orthonormal for N(0, alpha^-2 I); rebuild by
  Cholesky of ``C^T G C`` (default; ``C L^{-T}`` with ``L^{-1}`` by forward substitution in
  matrix products, because XLA:CPU's triangular_solve was 100x slower) or modified
  Gram-Schmidt (``reorth="mgs"``), 1 or 2 passes.
* Integrability: the effective top-degree form of the alpha-frame multipliers must be
  negative on 20000 sphere points (values within 1e-6 max|lambda| of zero are tolerated);
  otherwise ``result="not_integrable"`` and ``converged=False``.
* Bad input raises ``ValueError`` before tracing; odd ``order`` is rejected (an odd top
  degree is never integrable).
"""

from jaxopt_lab.maxent.density import density, log_density, moments_of_density, top_form_max
from jaxopt_lab.maxent.multiindex import moments_from_samples, multi_indices, num_multi_indices
from jaxopt_lab.maxent.solver import (AUTO_RULES, RESULT_NAMES, MaxEntSolution,
                                      relative_entropy_solve, solve, solve_batch)

__all__ = [
    "multi_indices",
    "num_multi_indices",
    "moments_from_samples",
    "moments_of_density",
    "solve",
    "solve_batch",
    "relative_entropy_solve",
    "density",
    "log_density",
    "top_form_max",
    "MaxEntSolution",
    "RESULT_NAMES",
    "AUTO_RULES",
]
