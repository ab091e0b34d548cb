"""Basin hopping (BH), basin hopping with skipping (BH-S) and their hybrid.

Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021
(arXiv:2108.05229). One chain per ``init``; many chains are ``jax.vmap`` over keys and
start points. Modules: :mod:`.bh`, :mod:`.bhs`, :mod:`.hybrid` (the three methods),
:mod:`.perturb` (random walk, skipping chain), :mod:`.local` (projected L-BFGS) and
:mod:`.linesearch` (its Moré-Thuente search), :mod:`.metrics` (reliability, jumps, tallies
from ``Info``), :mod:`.budget` (budgeted runs, Table 3.1's time split), and
:func:`minimize`, the one call.

Example::

    from jaxopt_lab import run
    from jaxopt_lab.basin_hopping import bhs, metrics
    from jaxopt_lab.problems import landscapes
    egg = landscapes.get("Egg-holder")
    method = bhs.make(egg.fn, bhs.Config(dim=2, max_skips=25))
    params = bhs.params(egg.lower, egg.upper, sigma=10.0)
    final, trace = jax.vmap(lambda k, x0: run(method, k, x0, params, 200))(keys, x0s)
    print(metrics.summarize(metrics.tally_trace(trace, egg)))
"""

from jaxopt_lab.basin_hopping import (bh, bhs, budget, hybrid, linesearch, local, metrics,
                                      perturb)
from jaxopt_lab.basin_hopping.budget import run_budget, time_split
from jaxopt_lab.basin_hopping.local import LBFGSConfig
from jaxopt_lab.basin_hopping.minimize import minimize
from jaxopt_lab.basin_hopping.perturb import std_from_variance

__all__ = ["bh", "bhs", "hybrid", "perturb", "local", "linesearch", "metrics", "budget",
           "minimize", "run_budget", "time_split", "std_from_variance", "LBFGSConfig"]
