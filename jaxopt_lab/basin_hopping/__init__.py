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

import jax.numpy as jnp

from jaxopt_lab import registry
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


def _example(kind: str, local_steps=None) -> registry.Example:
    def eggcrate(x):
        return jnp.sum(x ** 2) + 25.0 * jnp.sum(jnp.sin(x) ** 2)

    config = BHConfig(dim=2, kind=kind, max_skips=8, local=LBFGSConfig(max_iter=20),
                      local_steps=local_steps)
    method = make(eggcrate, config)
    params = make_params([-5.0, -5.0], [5.0, 5.0], sigma_bh=1.0, sigma_skip=1.0, num_skips=8,
                         temperature=1.0, patience=3, ratio=2, x_star=[[0.0, 0.0]], f_star=0.0)
    other = make_params([-4.0, -6.0], [6.0, 4.0], sigma_bh=2.0, sigma_skip=0.5, num_skips=5,
                        temperature=0.0, patience=5, ratio=-3, x_star=[[0.0, 0.0]], f_star=0.0)
    x0 = jnp.asarray([[3.0, -2.0], [1.0, 4.0], [-4.0, -4.0], [2.5, 2.5]], jnp.float32)
    return registry.Example(method=method, x0=x0, params=params, other_params=other,
                            num_steps=5)


registry.register("bh", lambda: _example("bh"))
registry.register("bhs", lambda: _example("bhs"))
registry.register("bh_hybrid", lambda: _example("hybrid"))
registry.register("bh_hybrid_async", lambda: _example("hybrid", local_steps=2))
