"""BH-S Fig. 3.8: the hybrid (alternating) perturbation at skip:BH ratios.

The authors' ``AlternatingPertubation``: ratio m > 0 gives (m-1) skips per BH step, m < 0
one skip per (|m|-1) BH steps; m = 1 is pure BH, m = -1 pure BH-S; Metropolis at T = 1
throughout; the BH step uses the variance convention with the same number sigma as the
skip's standard deviation (Table 5.1's BH-S sigma and K), wrapped periodically.
"""

from __future__ import annotations

import zlib

import jax

from experiments.bhs_common import Runner, fmt, record_cell
from experiments.common import Experiment, main, markdown_table
from jaxopt_lab.basin_hopping import hybrid, std_from_variance
from jaxopt_lab.problems import landscapes

PAPER_NAMES = ("Mishra-03", "Whitley", "Egg-holder", "Modified Rosenbrock", "Rosenbrock",
               "Styblinski-Tang")
QUICK_NAMES = ("Mishra-03", "Egg-holder")
QUICK_RATIOS = (1, -5, 2, 5, -1)


def add_arguments(parser):
    parser.add_argument("--budget", type=float, default=None,
                        help="CPU seconds per cell (default: quick 0.5, paper 300)")
    parser.add_argument("--chains", type=int, default=None)


def run(args, ctx) -> str:
    quick = ctx.profile == "quick"
    budget = args.budget or (0.5 if quick else 300.0)
    num_chains = args.chains or (64 if quick else 4096)
    target = ctx.targets("bhs_hybrid")
    labels = dict(zip(target["ratios_m"], target["labels"]))
    ratios = QUICK_RATIOS if quick else tuple(target["ratios_m"])
    names = QUICK_NAMES if quick else PAPER_NAMES
    settings = ctx.targets("bhs_landscapes")["rows"]
    rows = []
    with jax.enable_x64(True):
        runners = {}  # one program per halting index K
        for name in names:
            runners.setdefault(settings[name]["K"], []).append(landscapes.get(name))
        runners = {k: Runner(problems, hybrid.Config(dim=2, max_skips=k, skip_block=16,
                                                     walk_periodic=True), num_chains)
                   for k, problems in runners.items()}
        for name in names:
            t = settings[name]
            runner = runners[t["K"]]
            row = [name]
            for m in ratios:
                # the authors' BH step read the skip's sigma as a variance
                params = runner.params(name, sigma_walk=float(std_from_variance(
                    t["bhs_sigma_std"])), sigma_skip=t["bhs_sigma_std"], temperature=1.0,
                    ratio=m, tol=t["tol"])
                key = jax.random.fold_in(jax.random.key(ctx.root_seed),
                                         zlib.crc32(f"{name}|{m}".encode()) % 2**31)
                r = record_cell(ctx, f"{name.replace(' ', '_')}/m{m}",
                                {"landscape": name, "ratio": m, "budget_cpu_s": budget,
                                 "num_chains": num_chains}, ctx.seeds[0],
                                lambda: runner.run(name, params, key, budget))
                row.append(f"{fmt(r['rho'])} ({fmt(r['rho_f'])}) / "
                           f"{fmt(r['success_per_cpu_s'], 1)}")
            rows.append(row)
    return "\n".join([
        f"ρ % (ρ with the f-gap rule) / successes per CPU-s at each skip:BH ratio; "
        f"budget {budget:g} CPU-s per cell, "
        f"{num_chains} chains, float64, T = 1. Paper: {target['claim']}.", "",
        markdown_table(["landscape"] + [labels[m] for m in ratios], rows)])


EXPERIMENT = Experiment(name="bhs_hybrid", paper="BH-S",
                        title="Fig. 3.8: hybrid skip:BH ratios", order=54, run=run,
                        add_arguments=add_arguments, quick_seeds=1, paper_seeds=1)

if __name__ == "__main__":
    main(EXPERIMENT)
