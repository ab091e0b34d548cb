"""GradSearch: gradient-approximated discrete local search for program synthesis.

Lu, "Mitigating the failures of gradient-based program synthesis" (2021). Modules:
  * :mod:`~jaxopt_lab.gradsearch.moves`: Taylor estimates of single-variable moves;
  * :mod:`~jaxopt_lab.gradsearch.optimizers`: GradSearch (greedy), running average (both
    readings), GradSearch+, Bop and STE as threshold rules, as ``init``/``step`` methods;
  * :mod:`~jaxopt_lab.gradsearch.relaxations`: continuous relaxation baselines (FMGD,
    regularised, temperature softmax, Gumbel-softmax, neural reparameterisation, STE).
The tasks live in :mod:`jaxopt_lab.problems.programs`.
"""

from jaxopt_lab.gradsearch import moves, optimizers, relaxations
from jaxopt_lab.gradsearch.optimizers import (
    GradSearchConfig, GradSearchInfo, GradSearchParams, GradSearchState, bop, gradsearch,
    RestartResult, gradsearch_avg, gradsearch_plus, make, make_params, solve_with_restarts,
    ste_discrete)
from jaxopt_lab.gradsearch.relaxations import (
    RelaxationConfig, RelaxationInfo, RelaxationParams, RelaxationState, initial_latent)

__all__ = ["moves", "optimizers", "relaxations", "GradSearchConfig", "GradSearchParams",
           "GradSearchState", "GradSearchInfo", "make", "make_params", "gradsearch",
           "gradsearch_avg", "gradsearch_plus", "bop", "ste_discrete", "RestartResult",
           "solve_with_restarts", "RelaxationConfig",
           "RelaxationParams", "RelaxationState", "RelaxationInfo", "initial_latent"]
