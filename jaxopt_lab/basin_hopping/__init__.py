"""Basin hopping (BH), basin hopping with skipping (BH-S) and their hybrid.

Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021
(arXiv:2108.05229). One chain per ``init``; many chains are ``jax.vmap`` over keys and
start points. Modules: :mod:`.bh`, :mod:`.bhs`, :mod:`.hybrid` (the three methods),
:mod:`.perturb` (random walk, skipping chain), :mod:`.local` (projected L-BFGS) and
:mod:`.linesearch` (its Moré-Thuente search), :mod:`.metrics` (reliability, jumps, tallies
from ``Info``), :mod:`.budget` (budgeted runs, Table 3.1's time split), and
:func:`minimize`, the one call.

Example (256 BH-S chains of 200 steps on Egg-holder)::

    import jax
    from jaxopt_lab import run
    from jaxopt_lab.basin_hopping import bhs, metrics, minimize
    from jaxopt_lab.problems import landscapes
    egg = landscapes.get("Egg-holder")
    method = bhs.make(egg.fn, bhs.Config(dim=2, max_skips=25))
    params = bhs.params(egg.lower, egg.upper, sigma=10.0)
    keys = jax.random.split(jax.random.key(0), 256)
    x0s = jax.random.uniform(jax.random.key(1), (256, 2), minval=-512.0, maxval=512.0)
    final, trace = jax.vmap(lambda k, x0: run(method, k, x0, params, 200))(keys, x0s)
    print(metrics.summarize(metrics.tally_trace(trace, egg)))   # rho, nu_1, nu_s, P_s
    # or, in one call:
    result = minimize(egg.fn, egg.lower, egg.upper, num_chains=256, num_steps=200,
                      sigma=10.0, key=jax.random.key(0))
"""

from jaxopt_lab.basin_hopping import (bh, bhs, budget, hybrid, linesearch, local, metrics,
                                      perturb)
from jaxopt_lab.basin_hopping.budget import run_budget, time_split
from jaxopt_lab.basin_hopping.local import LBFGSConfig
from jaxopt_lab.basin_hopping.minimize import minimize
from jaxopt_lab.basin_hopping.perturb import std_from_variance

__all__ = ["bh", "bhs", "hybrid", "perturb", "local", "linesearch", "metrics", "budget",
           "minimize", "run_budget", "time_split", "std_from_variance", "LBFGSConfig"]
