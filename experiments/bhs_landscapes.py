"""BH-S Table 5.1 and Fig. 3.1: BH vs BH-S on the 19 landscapes, with a SciPy column.

For each landscape, with the paper's tuned settings (BH sigma as a *variance*, T = 1;
BH-S sigma as a standard deviation, equal radii, halting index K, T = 0, periodic wrap
except Schwefel-07's first-point-only wrap; L-BFGS tolerances of the authors' notebooks),
a budget of CPU seconds is spent on back-to-back runs of ``num_chains`` vectorised chains
(float64), then on ``scipy.optimize.basinhopping`` (BH, and optionally the faithful
NumPy BH-S) under the same budget. A run succeeds when its best point lies within 1e-5 of
a global minimiser (corrected minimisers, docs/methods/bhs.md); the f-gap rule
``f - f* <= 1e-6 max(1, |f*|)`` is shown beside it. Efficiency is reported per CPU-second
(the paper's eps is per 300 CPU-s of one serial core), and Fig. 3.1 plots
``ln(eps_s/eps_c)`` against ``ln(rho_s/rho_c)``, ours beside the paper's.

The quick profile spends a CPU budget per cell. The paper profile counts runs instead: each
cell runs until it has at least the paper's number of runs (its eps / rho, the runs the
paper finished in 300 s) and at least :data:`PAPER_MIN_RUNS`, every chain counting the same
number of its first runs (``Runner.run(min_runs=...)``), the paper's 300 CPU-s as a cap;
each SciPy cell runs :data:`PAPER_SCIPY_RUNS` runs, capped at :data:`PAPER_SCIPY_CAP` CPU-s.

Where a gap comes from a choice of ours, extra cells rerun the landscape under the paper's
reading (``landscapes.get(name, reading="paper")``: Keane's single success centre,
Whitley's notebook centre; Styblinski-Tang with a short first L-BFGS step and
backtracking search), and
the section ends with a per-landscape account of every gap outside the ±5-point band.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax

from experiments.bhs_common import (Runner, add_run_count_arguments, check_min_runs, explain_rate,
                                    fmt, record_cell, scipy_cell)
from experiments.bhs_common import paper_runs as bhs_paper_runs
from experiments.cells import Cell, judge, load_record, rate_within_2se
from experiments.common import CpuPlan, Experiment, load_targets, main, markdown_table
from jaxopt_lab.basin_hopping import LBFGSConfig, hybrid, std_from_variance
from jaxopt_lab.problems import landscapes

NAMES = landscapes.names()
QUICK_SCIPY = ("Egg-holder", "Modified Rosenbrock", "Rosenbrock")
#: Paper profile: fewest runs per cell of our chains (more where the paper ran more).
PAPER_MIN_RUNS = 500
#: Paper profile: runs per SciPy cell, and the cap in CPU-s on one SciPy cell.
PAPER_SCIPY_RUNS, PAPER_SCIPY_CAP = 30, 30.0
PAPER_CHAINS = 64


def paper_runs(t: dict, method: str) -> int:
    """The runs the paper finished in a cell (eps / rho: successes per 300 s over the
    fraction of runs that succeeded), at least :data:`PAPER_MIN_RUNS`."""
    eps, rho = (t["eps_c"], t["rho_c"]) if method == "bh" else (t["eps_s"], t["rho_s"])
    return max(PAPER_MIN_RUNS, math.ceil(eps / (rho / 100))) if rho else PAPER_MIN_RUNS


def add_arguments(parser):
    add_run_count_arguments(parser, quick_budget=1, paper_cap="300",
                            paper_runs=f"the paper's runs, at least {PAPER_MIN_RUNS}")
    parser.add_argument("--chains", type=int, default=None,
                        help=f"vectorised chains (default: quick 64, paper {PAPER_CHAINS})")
    parser.add_argument("--scipy-budget", type=float, default=None,
                        help="CPU seconds per SciPy cell (default: quick 1.5; paper: a cap "
                             f"of {PAPER_SCIPY_CAP:g} on {PAPER_SCIPY_RUNS} runs)")
    parser.add_argument("--scipy-on", type=str, default=None,
                        help="comma-separated landscapes with SciPy columns (default: quick "
                             "Egg-holder,Modified Rosenbrock,Rosenbrock; paper all)")
    parser.add_argument("--only", type=str, default=None,
                        help="comma-separated landscape names (default: all 19)")
    parser.add_argument("--line-search", type=str, default=None,
                        choices=("backtracking", "more_thuente"),
                        help="the local minimiser's line search (default: LBFGSConfig's)")
    parser.add_argument("--no-readings", action="store_true",
                        help="skip the cells that rerun landscapes under the paper's reading "
                             "(Keane, Whitley success centres; Styblinski-Tang with the "
                             "short first L-BFGS step)")


def _runners(num_chains, targets, line_search=None):
    """One Runner per (boundary, K): the 18 periodic landscapes by their K (with the paper's
    readings of Keane and Whitley beside theirs), and Schwefel-07's first-point wrap."""
    local = LBFGSConfig() if line_search is None else LBFGSConfig(line_search=line_search)
    groups = {}
    for name in NAMES:
        boundary = "first" if name == "Schwefel-07" else "periodic"
        group = groups.setdefault((boundary, targets[name]["K"]), {})
        group[name] = landscapes.get(name)
        if name in landscapes.PAPER_READINGS:
            group[f"{name} (paper)"] = landscapes.get(name, reading="paper")
    return {(boundary, k): Runner(problems, hybrid.Config(
        dim=2, max_skips=k, skip_block=16, boundary=boundary, local=local), num_chains)
        for (boundary, k), problems in groups.items()}


def _runner(runners, name, targets):
    return runners["first" if name == "Schwefel-07" else "periodic", targets[name]["K"]]


def run(args, ctx) -> str:
    quick = ctx.profile == "quick"
    budget = args.budget or (1.0 if quick else 300.0)
    scipy_budget = args.scipy_budget or (1.5 if quick else PAPER_SCIPY_CAP)
    scipy_runs = None if quick else PAPER_SCIPY_RUNS
    num_chains = args.chains or (64 if quick else PAPER_CHAINS)
    check_min_runs(args)

    def min_runs(t, method):
        return args.min_runs or (None if quick else paper_runs(t, method))

    names = NAMES if args.only is None else [n.strip() for n in args.only.split(",")]
    for n in names:
        if n not in NAMES:
            raise ValueError(f"--only: unknown landscape {n!r}; choose from {NAMES}")
    scipy_on = (args.scipy_on.split(",") if args.scipy_on else
                (QUICK_SCIPY if quick else NAMES))
    targets = ctx.targets("bhs_landscapes")["rows"]
    seed = ctx.seeds[0]
    rows, ours, scipy_rows = [], {}, {}
    with jax.enable_x64(True):
        runners = _runners(num_chains, targets, args.line_search)
        for name in names:
            t = targets[name]
            runner = _runner(runners, name, targets)
            key = jax.random.fold_in(jax.random.fold_in(jax.random.key(ctx.root_seed), seed),
                                     NAMES.index(name))
            res = {}
            for method, kw in _methods(t):
                params = runner.params(name, tol=t["tol"], **kw)
                n = min_runs(t, method)
                config = {"landscape": name, "method": method, "budget_cpu_s": budget,
                          "num_chains": num_chains, "dtype": "float64", "K": t["K"], **{
                              k: float(v) for k, v in kw.items()}, "tol": t["tol"],
                          **({} if n is None else {"min_runs": n})}
                cell = f"{name.replace(' ', '_')}/{method}"
                res[method] = record_cell(ctx, cell, config, seed, lambda: runner.run(
                    name, params, jax.random.fold_in(key, 0 if method == "bh" else 1), budget,
                    min_runs=n))
            ls = landscapes.get(name)
            sp = {}
            if name in scipy_on:
                sp["bh"] = record_cell(
                    ctx, f"{name.replace(' ', '_')}/scipy_bh",
                    {"landscape": name, "method": "scipy_bh", "budget_cpu_s": scipy_budget,
                     **({} if scipy_runs is None else {"max_runs": scipy_runs})},
                    seed, lambda: scipy_cell(ls, "bh", scipy_budget, seed,
                                             sigma=t["bh_sigma_variance"], tol=t["tol"],
                                             max_runs=scipy_runs))
                sp["bhs"] = record_cell(
                    ctx, f"{name.replace(' ', '_')}/scipy_bhs",
                    {"landscape": name, "method": "scipy_bhs", "budget_cpu_s": scipy_budget,
                     **({} if scipy_runs is None else {"max_runs": scipy_runs})},
                    seed, lambda: scipy_cell(ls, "bhs", scipy_budget, seed,
                                             sigma=t["bhs_sigma_std"], num_skips=t["K"],
                                             tol=t["tol"], boundary=t["boundary"],
                                             max_runs=scipy_runs))
            ours[name], scipy_rows[name] = res, sp
            rows.append([
                name, fmt(t["rho_c"]), fmt(res["bh"]["rho"]), fmt(res["bh"]["rho_f"]),
                _get(sp, "bh", "rho"), fmt(t["rho_s"]), fmt(res["bhs"]["rho"]),
                fmt(res["bhs"]["rho_f"]),
                _get(sp, "bhs", "rho"),
                f"{int(res['bh']['runs'])}/{int(res['bhs']['runs'])}",
                fmt(t["eps_c"] / 300, 2), fmt(res["bh"]["success_per_cpu_s"], 1),
                _get(sp, "bh", "success_per_cpu_s", 2),
                fmt(t["eps_s"] / 300, 2), fmt(res["bhs"]["success_per_cpu_s"], 1),
                _get(sp, "bhs", "success_per_cpu_s", 2),
                f"{fmt(t['nu1_c'])} / {fmt(res['bh']['nu_1'])}",
                f"{fmt(t['nu1_s'])} / {fmt(res['bhs']['nu_1'])}",
                f"{fmt(t['nus'])} / {fmt(res['bhs']['nu_s'])}",
                f"{fmt(t['p_s'])} / {fmt(res['bhs']['p_s'])}",
            ])
    readings = [] if args.no_readings else _readings(ctx, args, names, targets, runners, ours,
                                                      budget, num_chains, seed, min_runs)
    fig = _figure(ctx, ours, targets)
    headers = ["landscape", "ρ_c paper", "ρ_c ours", "ρ_c ours (f-gap)", "ρ_c SciPy",
               "ρ_s paper", "ρ_s ours", "ρ_s ours (f-gap)", "ρ_s SciPy BH-S",
               "runs BH/BH-S", "BH succ/CPU-s paper", "BH ours", "BH SciPy",
               "BH-S succ/CPU-s paper", "BH-S ours", "BH-S SciPy", "ν_1 BH paper/ours",
               "ν_1 BH-S paper/ours", "ν_s paper/ours", "P_s paper/ours"]
    compile_s = sum(r.compile_s for r in runners.values())
    num_programs = len(runners)
    local_search = args.line_search or LBFGSConfig().line_search
    capped = [f"{n} {m}" for n, r in ours.items() for m in ("bh", "bhs")
              if r[m].get("complete", 1.0) < 1]
    scipy_capped = [f"{n} {m}" for n, r in scipy_rows.items() for m in r
                    if scipy_runs is not None and r[m]["runs"] < scipy_runs]
    stop = ("" if quick and args.min_runs is None else
            f"Run-count stop: each cell of our chains runs until it has "
            f"{args.min_runs or f'the paper runs (eps / rho), at least {PAPER_MIN_RUNS}'} "
            f"runs, every chain counting the same number of its first runs (no bias towards "
            f"short runs), the budget below a cap"
            f"{' that bound on ' + ', '.join(capped) if capped else ' that never bound'}; "
            + ("" if scipy_runs is None else
               f"each SciPy cell runs {scipy_runs} runs, capped at {scipy_budget:g} CPU-s"
               f"{' (the cap bound on ' + ', '.join(scipy_capped) + ')' if scipy_capped else ''}"
               "; ") + "the runs are in the column 'runs BH/BH-S'; successes per CPU-s "
            "include the steps of the chains that have their runs while the slowest finishes "
            "(they count nothing), so they understate a budgeted run's. ")
    text = [
        stop +
        f"Budget: {budget:g} CPU-s per cell for our vectorised chains ({num_chains} chains, "
        f"float64, one compiled program per halting index K for the 18 periodic landscapes "
        f"and one for Schwefel-07, {num_programs} in all, compiled in {compile_s:.0f} s, not "
        f"counted), {scipy_budget:g} CPU-s per "
        f"SciPy cell (`scipy.optimize.basinhopping` with the authors' steps in NumPy: BH and "
        f"the faithful BH-S; the number of SciPy runs is in brackets; "
        f"SciPy columns on: {', '.join(n for n in names if n in scipy_on)}). The paper "
        f"used 300 CPU-s per cell of one serial core; its eps is shown here as successes per "
        f"CPU-second (eps/300). Reliability ρ in %, success = within 1e-5 of a global "
        f"minimiser (corrected x*); '(f-gap)' uses f − f* ≤ 1e-6·max(1, |f*|) instead. "
        f"ν and P_s: paper / ours (pooled over accepted moves, as the authors' code). "
        f"Local minimiser: projected L-BFGS with the "
        f"{'Moré–Thuente' if local_search == 'more_thuente' else 'backtracking'} line "
        f"search (`LBFGSConfig(line_search={local_search!r})`).",
        "",
        markdown_table(headers, rows),
        "",
        ctx.figure_markdown("fig_3_1", "Fig 3.1: relative efficiency vs relative reliability"),
        "",
        fig,
        "",
        *readings,
        "**Landscapes outside the ±5-point band.** Why each can differ from the paper is "
        "worked out in docs/methods/bhs.md (known traps); in short:",
        "",
        "- *Cross in Tray*, ρ_s: the minimum is extremely flat (power 0.1), so L-BFGS "
        "stops on its ftol test before the 1e-5 ball; a faithful NumPy/SciPy BH-S does the "
        "same. The f-gap column is the fair comparison.",
        "- *Cross Leg Table*: the minimisers are both axes; with (0, 0) as the only centre "
        "almost no run lands within 1e-5, with the whole set almost every run would. The "
        "paper's 15.5% / 12.7% fit neither reading.",
        f"- *Damavandi*, ρ_s: {_rho(ours, 'Damavandi', 'bhs')} here (paper 32.9%). " + (
            "The value grows with the budget per cell: the unfinished last run of every "
            "chain is discarded, and successful runs tend to be the longer ones (each "
            "improvement resets the stall counter), so short budgets under-count them."
            if stop == "" else
            "The run-count stop counts every chain's first runs whatever their length, so "
            "the budget's under-count of long (successful) runs is gone; what is left is in "
            "docs/methods/bhs.md."),
        "- *Egg-holder*, ρ_s: a faithful NumPy/SciPy BH-S also exceeds the paper's 38.7% "
        "(docs/benchmarks/bhs.md); the gap to the paper is not a choice of ours.",
        f"- *Freudenstein-Roth*, ρ_c: {_rho(ours, 'Freudenstein-Roth', 'bh')} here "
        "(paper 82.6%). BH must leave the boundary basin near (10, −0.98); how often it "
        "does depends on the local minimiser's line search, and the Moré–Thuente search "
        "(the default) leaves it about as rarely as L-BFGS-B. The remaining gap is "
        "unexplained.",
        "- *Keane*: closed by the paper's reading (one of the two minimisers), table above.",
        "- *Mishra-03*: x* sits on a cusp where f is flat along the arc, so a 1e-5 ball is "
        "almost unreachable for any L-BFGS, SciPy's included; compare the f-gap column "
        "with the paper's 65.9% (BH) and 5.4% (BH-S). On the cusp the line search runs "
        "out of trials (SciPy's L-BFGS-B ends 'ABNORMAL_TERMINATION_IN_LNSRCH' there), so "
        "each minimisation is expensive and short budgets finish few BH runs.",
        "- *Modified Rosenbrock*: ρ_c is compared with Table 5.1's 5.3%; Table 3.2 reports "
        "18.8% for the same landscape, so the paper's settings differ between the two "
        "tables. ρ_s: above the paper's 83.8%, like the faithful NumPy/SciPy BH-S (its "
        "column here): repeated minimisations from X contract towards x* with L-BFGS-B's "
        "line search and with ours alike.",
        f"- *Price 02*: ρ_c {_rho(ours, 'Price 02', 'bh')} here (paper 44.4%); the value "
        "depends on the local minimiser's line search (the backtracking search leaves "
        "the start basin more often).",
        "- *Schwefel-07*, ρ_s (d = 2): also lower with the f-gap rule, so not a landing "
        "issue; unexplained.",
        "- *Whitley*: the notebook scores a ball around its own L-BFGS-B's stopping point "
        "(table above); the f-gap column is the fair comparison.",
        "- *El Attar*, *Rana* and the other landscapes absent from the authors' notebooks "
        "use domains and forms whose match with the paper's runs is unconfirmed.",
    ]
    return "\n".join(text)


def _rho(ours, name, method) -> str:
    r = ours.get(name, {}).get(method)
    return "—" if r is None else f"{fmt(r['rho'])}% ({int(r['runs'])} runs)"


def _methods(t):
    """BH: the published sigma is a variance (the authors' code), T = 1; BH-S: a standard
    deviation, T = 0. The hybrid's ratio picks the perturbation (1: BH, -1: BH-S)."""
    return (("bh", dict(sigma_walk=float(std_from_variance(t["bh_sigma_variance"])),
                        temperature=1.0, ratio=1)),
            ("bhs", dict(sigma_skip=t["bhs_sigma_std"], temperature=0.0, ratio=-1)))


def _readings(ctx, args, names, targets, runners, ours, budget, num_chains, seed,
              min_runs) -> list:
    """Reruns the landscapes whose gap comes from a choice of ours, under the paper's
    reading: the success centres the paper's numbers imply (``landscapes.PAPER_READINGS``)
    and, for Styblinski-Tang, the short first L-BFGS step (``first_step="scaled"``, with the
    backtracking search) instead of L-BFGS-B's unit first step on a box (the default)."""
    rows = []
    with jax.enable_x64(True):
        for name in [n for n in names if n in landscapes.PAPER_READINGS]:
            t, runner = targets[name], _runner(runners, name, targets)
            res = {}
            for method, kw in _methods(t):
                params = runner.params(name, tol=t["tol"], **kw)
                key = jax.random.fold_in(jax.random.fold_in(jax.random.key(ctx.root_seed),
                                                            seed), 1000 + NAMES.index(name))
                n = min_runs(t, method)
                res[method] = record_cell(
                    ctx, f"{name.replace(' ', '_')}/{method}_paper_reading",
                    {"landscape": name, "method": method, "reading": "paper",
                     "budget_cpu_s": budget, "num_chains": num_chains,
                     **({} if n is None else {"min_runs": n})},
                    seed, lambda: runner.run(f"{name} (paper)", params, key, budget,
                                             min_runs=n))
            rows.append([name, "x* = " + ", ".join(f"({a:.7g}, {b:.7g})" for a, b in
                                                   landscapes.PAPER_READINGS[name]),
                         fmt(t["rho_c"]), fmt(ours[name]["bh"]["rho"]), fmt(res["bh"]["rho"]),
                         fmt(t["rho_s"]), fmt(ours[name]["bhs"]["rho"]),
                         fmt(res["bhs"]["rho"])])
        if "Styblinski-Tang" in names:
            name, t = "Styblinski-Tang", targets["Styblinski-Tang"]
            runner = Runner([landscapes.get(name)], hybrid.Config(
                dim=2, max_skips=t["K"], skip_block=16,
                local=LBFGSConfig(first_step="scaled", line_search="backtracking")),
                num_chains)
            res = {}
            for method, kw in _methods(t):
                params = runner.params(name, tol=t["tol"], **kw)
                key = jax.random.fold_in(jax.random.fold_in(jax.random.key(ctx.root_seed),
                                                            seed), 2000 + (method == "bhs"))
                n = min_runs(t, method)
                res[method] = record_cell(
                    ctx, f"{name}/{method}_scaled_first_step_backtracking",
                    {"landscape": name, "method": method, "first_step": "scaled",
                     "line_search": "backtracking",
                     "budget_cpu_s": budget, "num_chains": num_chains,
                     **({} if n is None else {"min_runs": n})},
                    seed, lambda: runner.run(name, params, key, budget, min_runs=n))
            rows.append([name, "short first L-BFGS step (`first_step=\"scaled\"`, "
                         "backtracking search) instead of the default, L-BFGS-B's unit "
                         "first step and the Moré–Thuente search",
                         fmt(t["rho_c"]), fmt(res["bh"]["rho"]), fmt(ours[name]["bh"]["rho"]),
                         fmt(t["rho_s"]), fmt(res["bhs"]["rho"]), fmt(ours[name]["bhs"]["rho"])])
    if not rows:
        return []
    return [
        "**Gaps from our choices, closed by the paper's reading.** Keane: the paper's ρ ≈ "
        "50% for both methods is what counting only one of the two symmetric minimisers "
        "gives. Whitley: the authors' notebook scores the 1e-5 ball around the point where "
        "*its* finite-difference L-BFGS-B stops (0.9997112, 0.99971121), 4e-4 from the true "
        "minimiser (1, 1); our autodiff L-BFGS stops elsewhere on the quartic-flat floor, so "
        "that reading does not transfer (the f-gap column is the fair comparison). "
        "Styblinski-Tang: L-BFGS-B takes a unit first step P(x − g) on a fully boxed "
        "problem, which lets BH leave its basin; a short first step does not (the "
        "'before' columns). Columns 'corrected' are the main table's values.",
        "",
        markdown_table(["landscape", "paper's reading", "ρ_c paper", "ρ_c corrected / before",
                        "ρ_c paper's reading / now", "ρ_s paper", "ρ_s corrected / before",
                        "ρ_s paper's reading / now"], rows),
        "",
    ]


def _get(sp, method, key, digits=1):
    if method not in sp:
        return "—"
    runs = int(sp[method]["runs"])
    return f"{fmt(sp[method][key], digits)} ({runs})" if key == "rho" else fmt(
        sp[method][key], digits)


def _figure(ctx, ours, targets) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5.5))
    lines = []
    for name, res in ours.items():
        t = targets[name]
        pts = []
        rc, rs = res["bh"]["rho"], res["bhs"]["rho"]
        ec, es = res["bh"]["success_per_cpu_s"], res["bhs"]["success_per_cpu_s"]
        if min(rc, rs, ec, es) > 0:
            pts.append(("ours", math.log(rs / rc), math.log(es / ec)))
        if min(t["rho_c"], t["rho_s"], t["eps_c"], t["eps_s"]) > 0:
            pts.append(("paper", math.log(t["rho_s"] / t["rho_c"]),
                        math.log(t["eps_s"] / t["eps_c"])))
        for label, x, y in pts:
            ax.scatter(x, y, marker="o" if label == "ours" else "x",
                       color="C0" if label == "ours" else "C3")
            ax.annotate(name if label == "ours" else "", (x, y), fontsize=6)
        if len(pts) == 2:
            ax.plot([pts[0][1], pts[1][1]], [pts[0][2], pts[1][2]], color="0.8", lw=0.6)
        quadrant = {(True, True): "I", (False, False): "III"}.get(
            (pts[0][1] > 0, pts[0][2] > 0), "II/IV") if pts and pts[0][0] == "ours" else "—"
        lines.append(f"{name}: {quadrant}")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("ln(ρ_s / ρ_c)")
    ax.set_ylabel("ln(ε_s / ε_c)")
    ax.set_title("Fig 3.1: o ours (1e-5 ball), x paper")
    fig.tight_layout()
    fig.savefig(ctx.figure("fig_3_1"), dpi=120)
    plt.close(fig)
    return "Quadrant of each landscape (ours; the paper puts Egg-holder, Modified Rosenbrock, " \
           "Damavandi, Schwefel in I and Mishra-03, Whitley in III): " + "; ".join(lines) + "."


#: Cells outside the tolerance whose mechanism the report's list gives (not its unexplained);
#: their notes come first. Besides these, :func:`~experiments.bhs_common.explain_rate`
#: explains a cell from a measurement: the paper's own sampling error, or the f-gap rate on
#: a flat minimum.
#: A cell whose faithful NumPy/SciPy peer (same settings, the authors' steps) misses the
#: paper on the same side, beyond 2 standard errors of its runs, is explained by it too.
EXPLAINED = {
    **{f"{name} {column}": why for column in ("ρ_c", "ρ_s") for name, why in (
        ("Cross Leg Table", "minimisers are both axes; no reading gives the paper's value"),
        ("Keane", "the paper counts one of the two symmetric minimisers (readings table)"))},
}


def cell_verdicts(out: Path) -> list[Cell]:
    """Table 5.1's reliabilities ρ_c (BH) and ρ_s (BH-S), within 2 standard errors."""
    rows = load_targets("bhs_landscapes")["rows"]
    cells = []
    for folder in sorted(p for p in out.glob("*/bh*") if p.name in ("bh", "bhs")):
        data = load_record(folder)
        if data is None or not len(data.get("rho", ())):
            continue
        config = json.loads((folder / "config.json").read_text())
        target = rows.get(config["landscape"])
        if target is None:
            continue
        ours, runs = float(data["rho"][-1]), int(data["runs"][-1])
        ours_f = float(data["rho_f"][-1]) if "rho_f" in data else float("nan")
        column = "ρ_c" if config["method"] == "bh" else "ρ_s"
        paper = target["rho_c" if column == "ρ_c" else "rho_s"]
        eps = target["eps_c" if column == "ρ_c" else "eps_s"]
        name = f"{config['landscape']} {column}"
        within = runs > 0 and rate_within_2se(ours, paper, runs)
        why = None if within or runs == 0 else explain_rate(
            config["landscape"], ours, ours_f, runs, paper, bhs_paper_runs(eps, paper))
        peer = load_record(folder.parent / f"scipy_{config['method']}")
        if not within and why is None and peer is not None and len(peer.get("rho", ())):
            rho_peer, n_peer = float(peer["rho"][-1]), int(peer["runs"][-1])
            if (n_peer > 0 and not rate_within_2se(rho_peer, paper, n_peer)
                    and (rho_peer > paper) == (ours > paper)):
                why = (f"the faithful NumPy/SciPy peer misses the paper on the same side: "
                       f"{rho_peer:.1f}% over {n_peer} runs")
        cells.append(judge(name, within, {**({name: why} if why else {}), **EXPLAINED},
                           f"{ours:.1f}% over {runs} runs vs {paper}%"))
    return cells


EXPERIMENT = Experiment(name="bhs_landscapes", paper="BH-S",
                        title="Table 5.1 and Fig. 3.1: BH vs BH-S on 19 landscapes",
                        order=50, run=run, add_arguments=add_arguments, quick_seeds=1,
                        paper_seeds=1,
                        cpu_plan=CpuPlan(
                            args=(), minutes=11.0,
                            note=("From one run's CPU time: 639 process CPU-s (compilation of "
                                  "the 6 programs included) at 2-core load ~16, 55 min wall "
                                  "there; the SciPy cells run serially on one core.")))

if __name__ == "__main__":
    main(EXPERIMENT)
