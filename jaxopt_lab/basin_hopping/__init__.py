"""Basin hopping (BH), basin hopping with skipping (BH-S) and their hybrid, over many chains.

Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021
(arXiv:2108.05229). Modules: :mod:`.perturb` (random walk, skipping chain),
:mod:`.local` (projected L-BFGS as an init/step pair), :mod:`.linesearch` (its
Moré-Thuente line search, one evaluation per step), :mod:`.chains` (the batched
init/step methods and Metropolis acceptance), :mod:`.metrics` (reliability, efficiency,
jump statistics, budgeted runs).

Example::

    from jaxopt_lab.basin_hopping import BHConfig, make, make_params, run_budget
    from jaxopt_lab.problems import landscapes
    ls = landscapes.get("Egg-holder")
    method = make(ls.fn, BHConfig(dim=2, kind="bhs", max_skips=25))
    params = make_params(ls.lower, ls.upper, sigma_skip=10.0, num_skips=25,
                         temperature=0.0, x_star=ls.x_star, f_star=ls.f_star)
"""

from jaxopt_lab.basin_hopping import chains, linesearch, local, metrics, perturb
from jaxopt_lab.basin_hopping.chains import (BHConfig, BHInfo, BHParams, BHState, Phases,
                                             Proposal, make, make_params, make_phases,
                                             metropolis_accept, restart_state,
                                             validate_params)
from jaxopt_lab.basin_hopping.local import LBFGSConfig, LocalParams, make_lbfgs
from jaxopt_lab.basin_hopping.metrics import (BudgetResult, Summary, run_budget,
                                              run_to_completion, summarize, time_split,
                                              uniform_starts)
from jaxopt_lab.basin_hopping.perturb import random_walk, skipping_chain, wrap

__all__ = ["BHConfig", "BHInfo", "BHParams", "BHState", "Phases", "Proposal", "make",
           "make_phases", "make_params", "restart_state",
           "metropolis_accept", "validate_params", "LBFGSConfig", "LocalParams", "make_lbfgs",
           "random_walk", "skipping_chain", "wrap", "BudgetResult", "Summary", "run_budget",
           "run_to_completion", "summarize", "time_split", "uniform_starts", "chains",
           "linesearch", "local", "metrics", "perturb"]
