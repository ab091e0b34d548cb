"""Multidimensional moment-constrained maximum entropy (Abramov's review), in float64.

Given moments ``m_i``, ``|i| <= M``, of a density on R^N, find ``rho(x) = exp(sum_i lambda_i
x^i)`` with those moments: precondition (shift, whiten, alpha-scale), minimise the dual in an
orthonormal polynomial basis (BFGS between reorthonormalisations, or Newton) on a tensor
Gauss-Hermite rule, check the answer on a refined rule. [1] R. V. Abramov, The
multidimensional maximum entropy moment problem: a review on numerical methods.

    config = maxent.Config(dim=2, order=8)             # static options, validated
    sol = maxent.solve(moments, config)                # Solution(value, result, stats, state)
    sols = maxent.solve_batch(moments_bk, config)      # the same solve, vmapped over [B]
    closure = maxent.Config(3, 4, rules=maxent.CLOSURE_RULES, method="newton", reorth="none")
    higher = maxent.closure_moments(maxent.solve_batch(m_bk, closure), order=6)
    fitted = maxent.fit(samples, order=4)              # samples -> Density(solution)
    Result.names(sol.result), maxent.density(sol, x)

A deterministic solver, not an init/step method: no entry in ``jaxopt_lab.methods``. The
options and the choices the review leaves open are listed in :mod:`jaxopt_lab.maxent.config`;
densities with known multipliers for tests and experiments are in
:mod:`jaxopt_lab.maxent.cases`.
"""

from jaxopt_lab.core import Result, Solution
from jaxopt_lab.maxent import cases
from jaxopt_lab.maxent.config import Config
from jaxopt_lab.maxent.densities import density, log_density, moments_of_density, top_form_max
from jaxopt_lab.maxent.multiindex import moments_from_samples, multi_indices, num_multi_indices
from jaxopt_lab.maxent.api import (Density, State, fit, relative_entropy_solve, solve,
                                     solve_batch)
from jaxopt_lab.maxent.closure import closure_moments
from jaxopt_lab.maxent.config import BOX_RULES_2D, CLOSURE_RULES

__all__ = [
    "Config", "solve", "solve_batch", "fit", "relative_entropy_solve",
    "CLOSURE_RULES", "BOX_RULES_2D", "closure_moments",
    "Solution", "Result", "State", "Density",
    "multi_indices", "num_multi_indices", "moments_from_samples", "moments_of_density",
    "density", "log_density", "top_form_max",
    "cases",
]
