"""BH-S Figs. 3.5-3.7: sensitivity to sigma and K (Egg-holder; Schwefel-07 in d dims).

Fig 3.5: Egg-holder, K = 25, a sigma sweep for BH (variance convention) and BH-S (std).
Fig 3.6: Egg-holder, a K x sigma grid for BH-S. Fig 3.7: Schwefel-07 (d = 5 in quick,
10 in paper), K = 50, a sigma sweep for BH-S. One compiled program per landscape serves
every (sigma, K, method) cell: sigma, K, T and the hybrid ratio are numeric parameters.
The quick profile spends a CPU budget per cell; the paper profile counts runs (each chain
the same number of its first runs): :data:`PAPER_MIN_RUNS` per Egg-holder cell, capped at
300 CPU-s, and :data:`PAPER_MIN_RUNS_SCHWEFEL` per Schwefel-07 cell, capped at
:data:`PAPER_CAP_SCHWEFEL` CPU-s (a BH-S run costs ~100 times more at d = 10).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import jax
import numpy as np

from experiments.bhs_common import (Runner, add_run_count_arguments, check_min_runs, fmt,
                                    record_cell)
from experiments.cells import Cell, judge, load_record
from experiments.common import CpuPlan, Experiment, main, markdown_table
from jaxopt_lab.basin_hopping import bhs, hybrid, std_from_variance
from jaxopt_lab.problems import landscapes

PAPER_MIN_RUNS, PAPER_MIN_RUNS_SCHWEFEL, PAPER_CAP_SCHWEFEL, PAPER_CHAINS = 500, 1000, 60.0, 64


def add_arguments(parser):
    add_run_count_arguments(
        parser, quick_budget=0.5, paper_cap=f"300, {PAPER_CAP_SCHWEFEL:g} for Schwefel-07",
        paper_runs=f"{PAPER_MIN_RUNS}, {PAPER_MIN_RUNS_SCHWEFEL} for Schwefel-07")
    parser.add_argument("--chains", type=int, default=None,
                        help=f"chains (default: quick 64, paper {PAPER_CHAINS})")


def _cell(ctx, runner, name, label, budget, num_chains, min_runs=None, **kw):
    params = runner.params(name, **kw)
    key = jax.random.fold_in(jax.random.key(ctx.root_seed),
                             zlib.crc32(label.encode()) % 2**31)
    return record_cell(ctx, label, {"landscape": name, "budget_cpu_s": budget,
                                    "num_chains": num_chains,
                                    **({} if min_runs is None else {"min_runs": min_runs}),
                                    **{k: (float(v) if v is not None else None)
                                       for k, v in kw.items()}},
                       ctx.seeds[0], lambda: runner.run(name, params, key, budget,
                                                        min_runs=min_runs))


def run(args, ctx) -> str:
    quick = ctx.profile == "quick"
    budget = args.budget or (0.5 if quick else 300.0)
    num_chains = args.chains or (64 if quick else PAPER_CHAINS)
    check_min_runs(args)
    runs = args.min_runs or (None if quick else PAPER_MIN_RUNS)
    runs_sch = args.min_runs or (None if quick else PAPER_MIN_RUNS_SCHWEFEL)
    budget_sch = args.budget or (0.5 if quick else PAPER_CAP_SCHWEFEL)
    capped = []
    sigmas = (1, 10, 50, 100, 200, 300) if quick else (1, 5, 10, 25, 50, 100, 150, 200, 250, 300)
    ks = (1, 5, 25) if quick else (1, 2, 5, 10, 25, 50, 100)
    grid_sigmas = (10, 100) if quick else (5, 10, 25, 50, 100, 200)
    schwefel_dim = 5 if quick else 10
    out = []
    with jax.enable_x64(True):
        egg = landscapes.get("Egg-holder")
        runners = {k: Runner([egg], hybrid.Config(dim=2, max_skips=k, skip_block=16), num_chains)
                   for k in sorted(set(ks + (25,)))}  # K is static: one program per K
        rows = []
        for s in sigmas:
            # BH's sigma is a variance in the authors' code (sigma_walk is its sqrt)
            r_bh = _cell(ctx, runners[25], egg.name, f"fig35/bh_s{s}", budget, num_chains, runs,
                         sigma_walk=float(std_from_variance(s)), temperature=1.0, ratio=1,
                         tol=1e-6)
            r_bhs = _cell(ctx, runners[25], egg.name, f"fig35/bhs_s{s}", budget, num_chains,
                          runs, sigma_skip=float(s), temperature=0.0, ratio=-1, tol=1e-6)
            capped += [f"fig35 {m} sigma={s}" for m, r in (("BH", r_bh), ("BH-S", r_bhs))
                       if r.get("complete", 1.0) < 1]
            rows.append([s, fmt(r_bh["rho"]), fmt(r_bh["success_per_cpu_s"], 1),
                         fmt(r_bhs["rho"]), fmt(r_bhs["success_per_cpu_s"], 1)])
        out += ["**Fig 3.5** (Egg-holder, K = 25). Paper: BH rises roughly linearly with "
                "sigma; BH-S roughly flat once sigma > 10 and above BH everywhere.", "",
                markdown_table(["sigma", "BH ρ %", "BH succ/CPU-s", "BH-S ρ %",
                                "BH-S succ/CPU-s"], rows), ""]
        rows = []
        for k in ks:
            row = [k]
            for s in grid_sigmas:
                r = _cell(ctx, runners[k], egg.name, f"fig36/bhs_k{k}_s{s}", budget,
                          num_chains, runs, sigma_skip=float(s), temperature=0.0, ratio=-1,
                          tol=1e-6)
                capped += [f"fig36 K={k} sigma={s}"] if r.get("complete", 1.0) < 1 else []
                row.append(f"{fmt(r['rho'])} / {fmt(r['success_per_cpu_s'], 1)}")
            rows.append(row)
        out += ["**Fig 3.6** (Egg-holder, BH-S, ρ % / successes per CPU-s). Paper: K ≥ 5 "
                "needed; beyond that larger K trades efficiency for reliability.", "",
                markdown_table(["K"] + [f"sigma={s}" for s in grid_sigmas], rows), ""]
        sch = landscapes.schwefel07(schwefel_dim)
        runner = Runner([sch], bhs.Config(dim=schwefel_dim, max_skips=50, boundary="first",
                                          skip_block=16), num_chains, radius=1e-3)
        rows = []
        for s in ((5, 20, 80) if quick else (2, 5, 10, 20, 40, 80, 160)):
            r = _cell(ctx, runner, sch.name, f"fig37/d{schwefel_dim}_s{s}", budget_sch,
                      num_chains, runs_sch, sigma=float(s), temperature=0.0)
            capped += [f"fig37 sigma={s}"] if r.get("complete", 1.0) < 1 else []
            rows.append([s, fmt(r["rho"]), fmt(r["success_per_cpu_s"], 2), fmt(r["best_f"], 3)])
        out += [f"**Fig 3.7** (Schwefel-07, d = {schwefel_dim}, BH-S, K = 50, sigma as std, "
                f"radius 1e-3). Paper: robust to sigma once sigma is large enough.", "",
                markdown_table(["sigma", "ρ %", "succ/CPU-s", "best f"], rows), "",
                f"Budget {budget:g} CPU-s per cell, {num_chains} chains, float64." + (
                    "" if runs is None else
                    f" Run-count stop: {runs} runs per Egg-holder cell, {runs_sch} per "
                    f"Schwefel-07 cell (cap {budget_sch:g} CPU-s), every chain counting the same "
                    f"number of its first runs; the cap "
                    f"{'bound on ' + ', '.join(capped) if capped else 'never bound'}.")]
    return "\n".join(out)


#: Fig. 3.5's "rather robust" BH-S: every reliability at sigma >= ROBUST_FROM within
#: ROBUST_POINTS percentage points of their median (our reading of the figure's flat curve).
ROBUST_FROM, ROBUST_POINTS = 25, 10.0
#: Cells outside the tolerance whose mechanism docs/methods/bhs.md gives.
EXPLAINED: dict = {}


def _load(out: Path, pattern: str) -> dict:
    """``{cell folder name: (config, rho, runs, successes per CPU-s, evaluations per
    success)}`` of saved cells."""
    cells = {}
    for folder in sorted(out.glob(pattern)):
        data = load_record(folder)
        if data is None or not len(data.get("rho", ())):
            continue
        config = json.loads((folder / "config.json").read_text())
        evals = sum(float(data[k][-1]) for k in ("evals_perturb", "evals_local")
                    if k in data)
        successes = float(data["successes"][-1]) if "successes" in data else float("nan")
        cells[folder.name] = (config, float(data["rho"][-1]), int(data["runs"][-1]),
                              float(data["success_per_cpu_s"][-1]),
                              evals / successes if successes > 0 else float("inf"))
    return cells


def _se(rho, runs):
    p = min(max(rho / 100, 0.5 / runs), 1 - 0.5 / runs)
    return 100 * np.sqrt(p * (1 - p) / runs)


def cell_verdicts(out: Path) -> list[Cell]:
    """The claims of Figs. 3.5-3.7 (qualitative: the paper gives no numbers), each a cell:

    * Fig 3.5 "BH rises with sigma": the rank correlation of BH's reliability with sigma is
      at least 0.7;
    * Fig 3.5 "BH-S robust to sigma": every BH-S reliability at sigma >= 25 within 10
      points of their median;
    * Fig 3.5 "BH-S above BH": BH-S's reliability at least BH's minus 2 standard errors at
      every sigma;
    * Fig 3.6 "K >= 5 needed": at every sigma, BH-S's reliability at K = 1 is below the best
      over K >= 5 by more than 2 standard errors;
    * Fig 3.6 "larger K trades efficiency for reliability": averaged over sigma, K = 100 is
      at least as reliable as K = 10 and less efficient (successes per CPU-s); explained
      when it is less efficient in evaluations per success (the serial core's cost);
    * Fig 3.7 "robust to sigma once large enough": BH-S succeeds at every sigma >= 10 and
      the largest reliability there is at most 3 times the smallest.
    """
    cells = []
    f35 = _load(out, "fig35/*")
    if f35:
        bh = sorted((c["sigma_walk"] ** 2, rho, n) for c, rho, n, *_ in
                    (v for k, v in f35.items() if k.startswith("bh_")))
        bhs = sorted((c["sigma_skip"], rho, n) for c, rho, n, *_ in
                     (v for k, v in f35.items() if k.startswith("bhs_")))
        if len(bh) >= 3:
            sig, rho = np.array([b[0] for b in bh]), np.array([b[1] for b in bh])
            r = float(np.corrcoef(np.argsort(np.argsort(sig)), np.argsort(np.argsort(rho)))[0, 1])
            cells.append(judge("Fig 3.5 BH reliability rises with sigma", r >= 0.7, EXPLAINED,
                               f"rank correlation {r:.2f}"))
        high = [rho for s, rho, _ in bhs if s >= ROBUST_FROM]
        if len(high) >= 2:
            spread = max(abs(h - float(np.median(high))) for h in high)
            cells.append(judge("Fig 3.5 BH-S robust to sigma", spread <= ROBUST_POINTS,
                               EXPLAINED, f"largest distance from the median {spread:.1f} "
                               f"points at sigma >= {ROBUST_FROM}"))
        pairs = [(a, b) for a in bh for b in bhs if abs(a[0] - b[0]) <= 1e-9 * max(1.0, b[0])]
        if pairs:
            worst = min(b[1] - a[1] + 2 * np.hypot(_se(a[1], a[2]), _se(b[1], b[2]))
                        for a, b in pairs)
            cells.append(judge("Fig 3.5 BH-S above BH at every sigma", worst >= 0, EXPLAINED,
                               f"smallest (ρ_s − ρ_c + 2 SE) {worst:.1f} points"))
    f36 = _load(out, "fig36/*")
    if f36:
        grid = {(int(k.split("_")[1][1:]), c["sigma_skip"]): (rho, n, e, per)  # bhs_k{K}_s{σ}
                for k, (c, rho, n, e, per) in f36.items()}
        sigmas = sorted({s for _, s in grid})
        ok, notes = True, []
        for s in sigmas:
            best = max((grid[k, s] for k, ss in grid if ss == s and k >= 5),
                       key=lambda v: v[0], default=None)
            if (1, s) not in grid or best is None:
                continue
            low = grid[1, s]
            ok &= best[0] - low[0] > 2 * np.hypot(_se(*low[:2]), _se(*best[:2]))
            notes.append(f"σ={s:g}: {low[0]:.1f} vs {best[0]:.1f}")
        if notes:
            cells.append(judge("Fig 3.6 K >= 5 needed", ok, EXPLAINED,
                               "ρ at K = 1 vs best K ≥ 5: " + "; ".join(notes)))
        both = [s for s in sigmas if (10, s) in grid and (100, s) in grid]
        if both:
            r10 = np.mean([grid[10, s][0] for s in both])
            r100 = np.mean([grid[100, s][0] for s in both])
            e10 = np.mean([grid[10, s][2] for s in both])
            e100 = np.mean([grid[100, s][2] for s in both])
            v10 = np.mean([grid[10, s][3] for s in both])
            v100 = np.mean([grid[100, s][3] for s in both])
            name = "Fig 3.6 larger K trades efficiency for reliability"
            # one serial core pays per evaluation; our chains evaluate the skipping chain's
            # points in blocks, so the extra points of a larger K cost little CPU time
            why = ({name: f"in evaluations per success (a serial core's cost) K = 100 is "
                          f"less efficient: {v100:.0f} vs {v10:.0f}; the vectorised chains "
                          f"evaluate the skipping chain in blocks"}
                   if r100 >= r10 and v100 > v10 else {})
            cells.append(judge(name, r100 >= r10 and e100 < e10, {**EXPLAINED, **why},
                               f"K = 10 vs 100: ρ {r10:.1f} vs {r100:.1f}%, "
                               f"successes/CPU-s {e10:.1f} vs {e100:.1f}"))
    f37 = _load(out, "fig37/*")
    large = [rho for c, rho, *_ in f37.values() if c["sigma"] >= 10]
    if len(large) >= 2:
        ok = min(large) > 0 and max(large) <= 3 * min(large)
        cells.append(judge("Fig 3.7 BH-S robust to sigma once large enough", ok, EXPLAINED,
                           f"ρ at sigma ≥ 10 from {min(large):.1f} to {max(large):.1f}%"))
    return cells


EXPERIMENT = Experiment(name="bhs_tuning", paper="BH-S",
                        title="Figs. 3.5-3.7: sigma and K sensitivity", order=53, run=run,
                        add_arguments=add_arguments, quick_seeds=1, paper_seeds=1,
                        cpu_plan=CpuPlan(
                            args=(), minutes=11.0,
                            note=("From one run's CPU time: 657 process CPU-s at 2-core load "
                                  "~16, 39 min wall there.")))

if __name__ == "__main__":
    main(EXPERIMENT)
