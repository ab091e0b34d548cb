"""MaxEnt (c): BFGS between reorthonormalisations vs a Newton step after every one.

The review (sec. 1) reports that BFGS iterations between reorthonormalisation points plus
constraint rescaling cut the wall-clock time "typically by a factor of 5-6" against the
single Newton steps of [A07]. Both variants here share everything else (preconditioning
including alpha, quadrature rule, line search, stopping test), so the ratio isolates the
BFGS part. The rule is fixed per case (T, sigma) so that both solve the same discrete problem.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from experiments.cells import Cell, judge
from experiments.common import CpuPlan, Experiment, load_targets, main, markdown_table
from jaxopt_lab import maxent
from jaxopt_lab.maxent.cases import make_case

# (case, T, sigma): sigma near the value the automatic ladder settles on.
QUICK = [("2d8_bimodal", 64, 0.32), ("2d8_coupled", 64, 0.24), ("3d6_mixed", 56, 0.34)]
PAPER = QUICK + [("2d8_trimodal", 96, 0.17), ("3d6_coupled", 40, 0.4),
                 ("4d4_mixed", 40, 0.43)]
REPEATS = 3


def _timed(case, **kw):
    config = maxent.Config(case.dim, case.order, **kw)
    maxent.solve(case.moments, config)  # compile
    best = float("inf")
    for _ in range(REPEATS):  # best of REPEATS: the machine is shared
        start = time.perf_counter()
        sol = maxent.solve(case.moments, config)
        best = min(best, time.perf_counter() - start)
    return sol, best


def run(args, ctx) -> str:
    target = ctx.targets("maxent_envelope")["bfgs_speedup_over_newton"]
    rows, records = [], []
    for name, t, sigma in (QUICK if ctx.profile == "quick" else PAPER):
        case = make_case(name)
        kw = dict(quad_points=t, sigma=sigma, max_steps=5000)
        bfgs, t_bfgs = _timed(case, method="bfgs", **kw)
        newton, t_newton = _timed(case, method="newton", **kw)
        diff = float(np.max(np.abs(bfgs.value - newton.value)))
        names = maxent.Result.names
        rows.append([name, f"{t}/{sigma}", names(bfgs.result), int(bfgs.stats["iterations"]),
                     int(bfgs.stats["reorthonormalisations"]), round(t_bfgs, 3),
                     names(newton.result), int(newton.stats["iterations"]),
                     round(t_newton, 3), round(t_newton / t_bfgs, 2),
                     f"{target['low']}-{target['high']}", diff])
        records.append({"case": name, "T": t, "sigma": sigma, "bfgs_s": t_bfgs,
                        "newton_s": t_newton, "bfgs_iterations": int(bfgs.stats["iterations"]),
                        "bfgs_reorth": int(bfgs.stats["reorthonormalisations"]),
                        "newton_iterations": int(newton.stats["iterations"]),
                        "bfgs_result": names(bfgs.result), "newton_result": names(newton.result),
                        "max_multiplier_difference": diff})
        print(f"{name}: bfgs {t_bfgs:.2f}s newton {t_newton:.2f}s", flush=True)
    ctx.record("table", {"cases": [r[0] for r in rows]}).write_summary({"rows": records})
    headers = ["case", "T/sigma", "BFGS result", "BFGS steps", "BFGS reorth.", "BFGS s",
               "Newton result", "Newton steps", "Newton s", "speed-up", "paper speed-up",
               "max |lambda diff|"]
    return "\n\n".join([
        "Paper: BFGS between reorthonormalisations is 'typically' 5-6x faster than a Newton "
        "step after every reorthonormalisation (the gain there also includes alpha "
        "rescaling, which both of our variants use). Times after compilation, same rule.",
        markdown_table(headers, rows),
        "speed-up = Newton s / BFGS s (best of 3 after compilation). In our implementation "
        "both variants use the same tensor-product quadrature pass "
        "(`jaxopt_lab/maxent/tensor.py`): a reorthonormalisation is one pass for the "
        "moments up to order 2M plus a K x K Cholesky and a triangular inverse, which costs "
        "about as much as one BFGS line-search trial (a pass up to order M). So the "
        "review's premise, that a reorthonormalisation is far dearer than a BFGS step, does "
        "not hold here; BFGS saves reorthonormalisations but needs more steps (the "
        "kappa_inf <= 20 trigger still fires every few steps: compare 'BFGS steps' with "
        "'BFGS reorth.'), so neither variant dominates on a well-placed rule (the speed-up "
        "column). Newton has a fixed per-iteration structure, which suits vmap, so it is "
        "solve_batch's default; but on badly resolved rules (early rungs of the automatic "
        "ladder, sample moments as in Fig. 10.1) its pure gradient steps can need far more "
        "iterations than BFGS, whose curvature update absorbs the rule's error, so BFGS "
        "stays the default of solve (batched throughput and such cases: "
        "docs/benchmarks/maxent.md). The review's 5-6x also credits the alpha rescaling, "
        "which both of our variants use.",
    ])


#: Why our speed-up differs from the review's 5-6x (the report's mechanism).
SPEEDUP_MECHANISM = ("a reorthonormalisation costs about one BFGS line-search trial here "
                     "(one tensor-product pass), so BFGS saves little by avoiding them")


def cell_verdicts(out: Path) -> list[Cell]:
    """Section 7's 'typically 5-6x' speed-up of BFGS over Newton, per case that ran."""
    path = out / "table" / "summary.json"
    if not path.exists():
        return []
    target = load_targets("maxent_envelope")["bfgs_speedup_over_newton"]
    cells = []
    for row in json.loads(path.read_text())["rows"]:
        speedup = row["newton_s"] / row["bfgs_s"]
        name = f"{row['case']} speed-up"
        cells.append(judge(name, target["low"] <= speedup <= target["high"],
                           {name: SPEEDUP_MECHANISM}, f"{speedup:.2f}x"))
    return cells


# The paper profile's process CPU minutes (the three MaxEnt experiments: 13.8 in all).
MINUTES_BFGS = 1.2

EXPERIMENT = Experiment(name="maxent_bfgs_vs_newton", paper="MaxEnt",
                        title="Section 7: BFGS with reorthonormalisation vs Newton every step",
                        order=41, run=run, quick_seeds=1, paper_seeds=1,
                        cpu_plan=CpuPlan(args=(), minutes=MINUTES_BFGS))

if __name__ == "__main__":
    main(EXPERIMENT)
