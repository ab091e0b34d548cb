"""MaxEnt (a): the envelope table, 2D-8 / 3D-6 / 4D-4 and beyond (3D-8, 5D-4).

Each case is a density with known multipliers (jaxopt_lab/maxent/cases.py). We solve from
its reference moments with the automatic quadrature ladder and report iterations,
reorthonormalisations, wall time after compilation (the second of two identical solves),
moment error (refined rule, standardised frame) and the relative L2 multiplier error.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from experiments.cells import Cell, judge
from experiments.common import CpuPlan, Experiment, load_targets, main, markdown_table
from jaxopt_lab import maxent
from jaxopt_lab.maxent.cases import BEYOND, ENVELOPE, make_case

QUICK = ["2d8_bimodal", "2d8_coupled", "3d6_mixed", "4d4_gauss", "4d4_mixed"]


def _solve_case(name, moment_tol):
    case = make_case(name)
    config = maxent.Config(case.dim, case.order, moment_tol=moment_tol)
    start = time.perf_counter()
    maxent.solve(case.moments, config)
    first = time.perf_counter() - start
    start = time.perf_counter()
    sol = maxent.solve(case.moments, config)
    wall = time.perf_counter() - start
    lam_err = float(np.linalg.norm(sol.value - case.multipliers)
                    / np.linalg.norm(case.multipliers))
    return case, sol, first, wall, lam_err


def run(args, ctx) -> str:
    targets = ctx.targets("maxent_envelope")
    names = QUICK if ctx.profile == "quick" else ENVELOPE + BEYOND
    rows, records = [], []
    for name in names:
        beyond = name in BEYOND
        # The solver's own acceptance test is the project's target for the case: 1e-6
        # inside the envelope, 1e-4 beyond it.
        tol = (targets["project_targets"]["beyond_moment_error"] if beyond
               else targets["project_targets"]["envelope_moment_error"])
        case, sol, first, wall, lam_err = _solve_case(name, tol)
        result, stats = maxent.Result.names(sol.result), sol.stats
        ok = (result == "converged" and stats["moment_error"] <= tol
              and (beyond or lam_err <= 1e-4))
        key = f"{case.dim}d{case.order}"
        paper = ("envelope" if key in targets["envelope"] else "beyond the review")
        rows.append([name, case.dim, case.order, len(case.moments) - 1, paper, result,
                     int(stats["iterations"]), int(stats["reorthonormalisations"]),
                     f"{int(stats['quad_points'])}/{float(stats['sigma']):.2f}",
                     round(first, 2), round(wall, 2), float(stats["moment_error"]), lam_err,
                     "yes" if ok else "NO"])
        records.append({"case": name, "dim": case.dim, "order": case.order,
                        "result": result, "iterations": int(stats["iterations"]),
                        "reorthonormalisations": int(stats["reorthonormalisations"]),
                        "quad_points": int(stats["quad_points"]),
                        "sigma": float(stats["sigma"]), "first_call_s": first, "wall_s": wall,
                        "moment_error": float(stats["moment_error"]),
                        "multiplier_error": lam_err, "description": case.description,
                        "meets_target": ok})
        print(f"{name}: {result} {wall:.2f}s merr={float(stats['moment_error']):.1e} "
              f"lamerr={lam_err:.1e}", flush=True)
    rec = ctx.record("table", {"cases": names})
    rec.write_summary({"rows": records})
    headers = ["case", "N", "M", "constraints", "paper", "result", "BFGS steps", "reorth.",
               "T/sigma", "1st call s", "wall s", "moment err", "lambda rel err", "target met"]
    env = targets["envelope"]
    return "\n\n".join([
        "Paper (review, sec. 10): the algorithm of [3] solves 2D order 8 "
        f"({env['2d8']['constraints']} constraints), 3D order 6 ({env['3d6']['constraints']}) "
        f"and 4D order 4 ({env['4d4']['constraints']}); no accuracy or timing figures are "
        "printed in the review. Ours: densities with known multipliers (descriptions in "
        "`jaxopt_lab/maxent/cases.py`), automatic quadrature ladder; targets: moment error "
        "<= 1e-6 and multipliers within 1e-4 (relative L2) inside the envelope, moment error "
        "<= 1e-4 beyond it (the solver is run with that moment_tol). 'wall s' is the second "
        "of two identical solves (after compilation); '1st call s' includes compilation "
        "of every rung's grid size. Default method (BFGS between reorthonormalisations, "
        "tensor-product quadrature passes); timings are those of the machine that ran this report. "
        "5d4_mixed has a Gaussian factor, so its quartic form is only semidefinite and "
        "the maxent problem sits on the integrability boundary (see "
        "docs/benchmarks/maxent.md); 5d4_quartic replaces that factor by a quartic one.",
        markdown_table(headers, rows),
    ])


def cell_verdicts(out: Path) -> list[Cell]:
    """Section 10's envelope (2D-8, 3D-6, 4D-4 are solved): each envelope case that ran meets
    the report's target (converged, moment error <= 1e-6, multipliers within 1e-4)."""
    path = out / "table" / "summary.json"
    if not path.exists():
        return []
    envelope = load_targets("maxent_envelope")["envelope"]
    return [judge(row["case"], bool(row["meets_target"]), {},
                  f"{row['result']}, moment error {row['moment_error']:.1e}")
            for row in json.loads(path.read_text())["rows"]
            if f"{row['dim']}d{row['order']}" in envelope]


# The paper profile's process CPU minutes (the three MaxEnt experiments: 13.8 in all).
MINUTES_ENVELOPE = 12

EXPERIMENT = Experiment(name="maxent_envelope", paper="MaxEnt",
                        title="Section 10: the envelope 2D-8 / 3D-6 / 4D-4 and beyond",
                        order=40, run=run, quick_seeds=1, paper_seeds=1,
                        cpu_plan=CpuPlan(args=(), minutes=MINUTES_ENVELOPE))

if __name__ == "__main__":
    main(EXPERIMENT)
