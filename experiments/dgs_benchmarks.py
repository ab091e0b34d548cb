"""DGS (UAI 2021) Table 1 and Figure 2: F1-F6, DGS vs baselines at equal evaluation budgets.

    python -m experiments.dgs_benchmarks --profile quick      # d = 100, 3 trials, CPU minutes
    python -m experiments.dgs_benchmarks --profile paper      # d = 2000, 20 trials (GPU)

Every method runs on the same instances (rotation, shift, start drawn from the seed's key)
with the budget ``200 (M - 1) d`` evaluations; see experiments/dgs_methods.py for the line-up
and docs/benchmarks/dgs.md for the hyper-parameters we had to choose.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from experiments import dgs_methods as dm
from experiments.cells import Cell, judge, load_record
from experiments.common import CpuPlan, Experiment, load_targets, main, markdown_table
from jaxopt_lab.sweeps import sweep

FUNCTION_IDS = ("F1", "F2", "F3", "F4", "F5", "F6")
DGS_SIGMA = 5.0  # the paper's sigma_0 = 5 w
# quick: one compile per (function, method) dominates on 2 CPU cores, so fewer methods;
# AdaDGS, CMA-ES, ASEBO, DE and COBYLA run with --methods (CMA-ES's per-generation
# eigendecomposition makes it the slowest by far on CPU).
QUICK_METHODS = ("DGS", "ES-Bpop", "Nesterov", "FD", "Sep-CMA-ES", "PSO", "Powell")
PAPER_METHODS = dm.JAX_METHODS + dm.EVOSAX_METHODS + dm.PYTHON_METHODS
# paper's Table 1 row names for ours
PAPER_ROW = {"DGS": "DGS", "ES-Bpop": "ES-Bpop", "Nesterov": "Nesterov", "FD": "FD",
             "CMA-ES": "IPop-CMA", "IPOP-CMA-ES": "IPop-CMA", "ASEBO": "ASEBO", "PSO": "PSO",
             "DE": "DE", "Powell": "Powell", "Cobyla": "Cobyla"}


# Costs of the paper profile (d = 2000, budget 1.6 M evaluations per run). DGS, AdaDGS and FD
# evaluate their axis stencils from one product with R (highdim.RotatedObjective.along_axes):
# a run costs its function evaluations, 1-5 CPU-minutes (3 trials of F1-F6: 17 and 20 wall
# minutes on 2 loaded cores). ES-Bpop, Nesterov and the evosax methods evaluate random points,
# each a d x d product: 12.8 TFLOP per run. Measured per trial on one core of a loaded 2-core
# machine (load 4-5): ES-Bpop 5.5 minutes ([8000, 2000] x [2000, 2000] blocks), Nesterov 11
# (76 000 steps of 21 points); Sep-CMA-ES 5.5 (62 000 steps of 26 points, one core with the
# other busy, load 3) to 9 (load 4-5): each generation's [26, 2000] x [2000, 2000] product
# takes 2.3 ms alone on a core, and its 52 000 normal draws a third as long as the product
# (both timed on a shared core). Nesterov's and Sep-CMA-ES's thin products run about 1.8x
# faster with XLA_FLAGS=--xla_cpu_use_xnnpack=false (measured on a [26, 2000] x [2000, 2000]
# product).
CPU_MINUTES = 580
ACCELERATOR_COST = (
    "17 more trials of DGS, ES-Bpop, Nesterov, FD and Sep-CMA-ES and 20 of AdaDGS, CMA-ES, "
    "IPOP-CMA-ES, ASEBO, PSO and DE on F1-F6 (Powell and COBYLA are skipped above d = 500: "
    "they do not finish). The 324 DGS, AdaDGS and FD runs need no products (a few CPU-hours "
    "in all: they fit on a CPU); the other 906 runs are 12.8 TFLOP of float32 products each "
    "(1.2e16 FLOP), under 1 GB per batched call: over 3 days on 2 cores (10 CPU-minutes or "
    "more a run), an estimated 2-4 GPU-hours on one H100 (products at 20-40 TFLOP/s; "
    "CMA-ES's 2000 x 2000 eigendecompositions and IPOP-CMA-ES's serial restarts dominate)")


def add_arguments(parser):
    parser.add_argument("--dim", type=int, default=None, help="dimension (quick 100, paper 2000)")
    parser.add_argument("--functions", default=",".join(FUNCTION_IDS),
                        help="comma-separated ids, e.g. F1,F4")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated, from {', '.join(dm.ALL_METHODS)}")
    parser.add_argument("--iters", type=int, default=200, help="DGS iterations T (budget)")
    parser.add_argument("--checkpoints", type=int, default=40, help="trace points per run")
    parser.add_argument("--scipy-max-dim", type=int, default=500,
                        help="skip Powell/COBYLA above this dimension (they do not finish)")
    parser.add_argument("--dgs-chunk", type=int, default=None,
                        help="DGS/ES points per batched evaluation (memory bound)")
    parser.add_argument("--dgs-sigma", type=float, default=DGS_SIGMA,
                        help="DGS's initial radius in units of the domain width w (paper: 5);"
                             " other values are a diagnostic and get their own cells")
    parser.add_argument("--saved-only", action="store_true",
                        help="render the report from the cells already saved in --out "
                             "(missing cells are shown as '—'); compute nothing")


def run_cells(args, ctx, dim, functions, methods, iters, checkpoints, prefix=""):
    """Runs every (function, method) cell; returns ``{(fid, method): outputs}``."""
    total = dm.budget(dim, iters)
    results = {}
    seeds = ctx.seeds
    for fid in functions:
        for m in methods:
            if m in dm.SCIPY_METHODS and dim > args.scipy_max_dim:
                continue
            sigma = getattr(args, "dgs_sigma", DGS_SIGMA)
            tag = f"_sigma{sigma:g}" if m == "DGS" and sigma != DGS_SIGMA else ""
            cell = f"{prefix}{fid}_{m}_d{dim}{tag}"
            config = {"function": fid, "method": m, "dim": dim, "budget": total,
                      "iters": iters, "checkpoints": checkpoints, "chunk": args.dgs_chunk,
                      "root_seed": ctx.root_seed}
            if tag:  # only then, so records made before the option existed still match
                config["dgs_sigma"] = sigma
            if getattr(args, "saved_only", False):
                expected = {"experiment": ctx.experiment.name, "profile": ctx.profile,
                            "cell": cell, **config}
                saved = _load_saved(ctx.out / cell, expected, ctx.seeds)
                if saved is not None:
                    results[(fid, m)] = saved
                continue
            record = ctx.record(cell, config)
            if m in dm.PYTHON_METHODS:
                results[(fid, m)] = _scipy_cell(record, m, fid, dim, ctx, total, checkpoints)
                continue
            fn = dm.run_fn(m, fid, dim, total, checkpoints, args.dgs_chunk,
                           sigma if m == "DGS" else DGS_SIGMA)
            results[(fid, m)] = sweep(fn, seeds, root_seed=ctx.root_seed,
                                      chunk_size=min(ctx.chunk_size, len(seeds)),
                                      record=record, progress=ctx.progress,
                                      desc=f"{fid} {m} d={dim}")
    return results


def _load_saved(folder, expected, seeds):
    """The saved outputs of a cell for those of ``seeds`` that it holds, or ``None``.

    Read-only: the record is opened without its constructor, which would rewrite
    ``config.json`` and ``env.json`` (the environment the run was made in).

    Raises:
      ValueError: if the saved cell was made with a different configuration.
    """
    from jaxopt_lab.records import RunRecord

    if not (folder / "config.json").exists():
        return None
    config = json.loads((folder / "config.json").read_text())
    if config != json.loads(json.dumps(expected)):
        diff = sorted(k for k in set(config) | set(expected)
                      if config.get(k) != expected.get(k))
        raise ValueError(f"--saved-only: {str(folder)!r} was made with a different "
                         f"configuration (keys {diff}); use the same arguments")
    record = RunRecord.open_readonly(folder)
    done = sorted(set(seeds) & record.done_seeds())
    return record.load(done) if done else None


def _scipy_cell(record, m, fid, dim, ctx, total, checkpoints):
    from jaxopt_lab.sweeps import seed_keys

    done = record.done_seeds()
    for s in ctx.seeds:
        if s in done:
            continue
        key = seed_keys(ctx.root_seed, [s])[0]
        out = dm.python_run(m, fid, dim, key, total, checkpoints)
        record.write_chunk([s], {k: np.asarray(v)[None] for k, v in out.items()})
    record.write_summary()
    return record.load(ctx.seeds)


def _mean_std(v):
    v = np.asarray(v, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan, np.nan
    return float(np.mean(v)), float(np.std(v))


def table1(results, functions, methods, targets, num_trials=None):
    """Cosine distance mean ± std beside the paper's; a cell with fewer trials than
    ``num_trials`` says so."""
    paper = targets["cosine_distance"]
    rows = []
    for m in methods:
        row = [m]
        ref = paper.get(PAPER_ROW.get(m, ""), None)
        for fid in functions:
            if (fid, m) not in results:
                row.append("—")
                continue
            values = np.atleast_1d(results[(fid, m)]["cos_dist"])
            mu, sd = _mean_std(values)
            j = FUNCTION_IDS.index(fid)
            ref_txt = f" ({ref['mean'][j]:.3f} ± {ref['std'][j]:.2f})" if ref else ""
            row.append(f"{mu:.3f} ± {sd:.2f}{ref_txt}{_trials_note(values, num_trials)}")
        rows.append(row)
    return markdown_table(["method"] + list(functions), rows)


def _trials_note(values, num_trials):
    """`` [n trials]`` when a cell holds other than ``num_trials`` trials, else ``""``."""
    if num_trials is None or values.size == num_trials:
        return ""
    return f" [{values.size} trial{'s' if values.size > 1 else ''}]"


def loss_table(results, functions, methods, num_trials=None):
    """Mean ± std of the best loss; a cell with fewer trials than ``num_trials`` says so."""
    rows = []
    for m in methods:
        row = [m]
        for fid in functions:
            if (fid, m) not in results:
                row.append("—")
                continue
            values = np.atleast_1d(results[(fid, m)]["best_f"])
            mu, sd = _mean_std(values)
            row.append(f"{mu:.4g} ± {sd:.2g}{_trials_note(values, num_trials)}")
        rows.append(row)
    return markdown_table(["method"] + list(functions), rows)


def ranking(results, functions, methods):
    """Per function: the best method by mean best value, and DGS's ratio to it."""
    lines = []
    for fid in functions:
        means = {m: _mean_std(results[(fid, m)]["best_f"])[0] for m in methods
                 if (fid, m) in results}
        means = {m: v for m, v in means.items() if np.isfinite(v)}
        if not means:
            continue
        best = min(means, key=means.get)
        others = {m: v for m, v in means.items() if m != "DGS"}
        if "DGS" in means and others:
            rival = min(others, key=others.get)
            ratio = means["DGS"] / max(others[rival], 1e-30)
            rank = 1 + sum(v < means["DGS"] for v in others.values())
            if fid in ("F3", "F4", "F5"):
                verdict = "target (ahead of every baseline shown): " + (
                    "met" if ratio < 1 else "not met")
            elif fid in ("F1", "F2"):
                verdict = "target (within 2x of the best shown): " + (
                    "met" if ratio <= 2 else "not met")
            else:
                verdict = "no target"
            lines.append(f"- {fid}: best {best} ({means[best]:.4g}); DGS {means['DGS']:.4g}, "
                         f"rank {rank} of {len(means)}; best baseline {rival} "
                         f"{others[rival]:.4g} (DGS/baseline = {ratio:.3g}); {verdict}")
    return "\n".join(lines)


def figure(results, functions, methods, path, dim):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = 3
    nrow = -(-len(functions) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 3.6 * nrow), squeeze=False)
    for ax, fid in zip(axes.ravel(), functions):
        for m in methods:
            if (fid, m) not in results:
                continue
            r = results[(fid, m)]
            ev = np.asarray(r["trace_evals"], np.float64)[0]
            tb = np.asarray(r["trace_best"], np.float64)
            mu, sd = np.nanmean(tb, 0), np.nanstd(tb, 0)
            lw = 2.2 if m == "DGS" else 1.0
            ax.plot(ev, mu, label=m, lw=lw)
            ax.fill_between(ev, np.maximum(mu - 3 * sd, 0.5 * np.nanmin(tb, 0)),
                            mu + 3 * sd, alpha=0.15)  # log axis: floor the band
        ax.set_yscale("log")
        ax.set_title(f"{fid} ({dim}-D)")
        ax.set_xlabel("function evaluations")
        ax.set_ylabel("best loss")
    for ax in axes.ravel()[len(functions):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(args, ctx) -> str:
    dim = args.dim or (100 if ctx.profile == "quick" else 2000)
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    for f in functions:
        if f not in FUNCTION_IDS:
            raise ValueError(f"--functions: unknown id {f!r}; use {FUNCTION_IDS}")
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    else:
        methods = list(QUICK_METHODS if ctx.profile == "quick" else PAPER_METHODS)
    for m in methods:
        if m not in dm.ALL_METHODS:
            raise ValueError(f"--methods: unknown method {m!r}; use {dm.ALL_METHODS}")
    results = run_cells(args, ctx, dim, functions, methods, args.iters, args.checkpoints)
    targets = ctx.targets("dgs_table1")
    # the quick profile's figure keeps its name; other runs get the dimension in theirs, so
    # a saved d = 2000 run and the quick run can both be collected into docs/figures
    fig_name = ("figure2_loss_vs_evals" if ctx.profile == "quick" and args.dim is None
                else f"figure2_loss_vs_evals_d{dim}")
    fig_path = ctx.figure(fig_name)
    figure(results, functions, methods, fig_path, dim)
    shown = [m for m in methods if any((f, m) in results for f in functions)]
    total = dm.budget(dim, args.iters)
    seen = sorted({int(s) for r in results.values() for s in np.atleast_1d(r["seed"])})
    if not seen:
        seen = list(ctx.seeds)
    sigma = getattr(args, "dgs_sigma", DGS_SIGMA)
    parts = [
        f"Dimension d = {dim}, {len(seen)} trial(s) (seeds {seen[0]}..{seen[-1]}),"
        f" budget {total} evaluations per run (= {args.iters} DGS iterations x (M-1) d,"
        " M = 5; the paper counts M d). Same instances for every method."
        + (" **The paper's numbers are for d = 2000 and 20 trials; this run is smaller and"
           " is not expected to match them.**" if dim != 2000 or len(seen) < 20 else "")
        + (f" **Diagnostic: DGS's sigma_0 = {sigma:g} w, not the paper's 5 w.**"
           if sigma != DGS_SIGMA else "")
        + (f" Rendered from the cells saved in `{ctx.out}` (`--saved-only`); a cell not"
           " saved there shows as —." if getattr(args, "saved_only", False) else ""),
        "",
        "**Table 1** - averaged cosine distance (Eq. 9), ours mean ± std (paper's in"
        " parentheses; both our plain CMA-ES and our IPOP-CMA-ES, when run, are set beside"
        " the paper's IPop-CMA row):",
        "",
        table1(results, functions, shown, targets, len(seen)),
        "",
        "**Best loss at the end of the budget** (mean ± std over trials):",
        "",
        loss_table(results, functions, shown, len(seen)),
        "",
        ranking(results, functions, shown),
        "",
        "How the ordering and DGS's Table 1 row change with d: docs/benchmarks/dgs.md;"
        " why DGS leads on Ackley but trails ES-Bpop on Rastrigin (the smoothing"
        " mechanism), and the readings of Eq. 9 the paper leaves open: docs/methods/dgs.md"
        " and the `dgs_cosine` section.",
        "",
        ctx.figure_markdown(fig_name, "Figure 2: best loss vs evaluations, mean ± 3 std"),
    ]
    return "\n".join(parts)


# Figure 2 claims outside their rule whose mechanism docs/methods/dgs.md measures ("The
# smoothing mechanism"): on rotated Rastrigin the directional smoothing leaks the cosine terms
# of the directions nearly orthogonal to them, a fixed error that ES's isotropic smoothing
# does not make (why DGS trails on F5 is not measured: open).
EXPLAINED = {f"Fig. 2 F4 (d={dim})": "directional smoothing leaks Rastrigin's cosine terms"
             for dim in (1000, 2000)}
# Table 1 on F1 (docs/methods/dgs.md, "F1 (ellipsoid)"): on a quadratic FD's central
# differences are exact and ES-Bpop's 4000-pair estimate follows the gradient closely, so
# both make normalised steepest-descent steps like DGS, whose 0.92 the conditioning (10^6)
# sets; they measure 0.93-0.94 at d = 2000.
EXPLAINED.update({f"Table 1 {m} F1 (d={dim})": "steepest descent on the ill-conditioned "
                  "ellipsoid, as DGS's F1" for m in ("ES-Bpop", "FD") for dim in (1000, 2000)})
# Figure 2 on F1 is not explained: FD's lead is (on the quadratic DGS and FD take the same
# exact-gradient steps, FD twice as many for the budget; DGS given 400 steps ends level with
# it), Nesterov's larger lead with 76 000 small steps is not measured (docs/methods/dgs.md).


def cell_verdicts(out: Path) -> list[Cell]:
    """Table 1's baseline rows (cosine distance within ±0.1; the DGS row is ``dgs_cosine``'s)
    and Figure 2's per-function claims (F3-F5: DGS ahead of every baseline run; F1, F2:
    within 2x of the best), from the saved cells of each dimension."""
    paper = load_targets("dgs_table1")["cosine_distance"]
    means, cells = {}, []
    for folder in sorted(out.glob("F*_*_d*")):
        data = load_record(folder)
        if data is None or not len(data.get("best_f", ())):
            continue
        config = json.loads((folder / "config.json").read_text())
        fid, m, dim = config["function"], config["method"], config["dim"]
        means[dim, fid, m] = _mean_std(data["best_f"])[0]
        ref = paper.get(PAPER_ROW.get(m, ""))
        if ref is not None and m != "DGS":
            mu, want = _mean_std(data["cos_dist"])[0], ref["mean"][FUNCTION_IDS.index(fid)]
            n = len(data["cos_dist"])
            cells.append(judge(f"Table 1 {m} {fid} (d={dim})", abs(mu - want) <= 0.1,
                               EXPLAINED, f"{mu:.3f} vs {want:.3f} ({n} trial"
                               f"{'s' if n > 1 else ''})"))
    for dim, fid in sorted({(d, f) for d, f, _ in means}):
        dgs = means.get((dim, fid, "DGS"), np.nan)
        others = {m: v for (d, f, m), v in means.items() if (d, f) == (dim, fid) and m != "DGS"}
        if fid not in ("F1", "F2", "F3", "F4", "F5") or not others or not np.isfinite(dgs):
            continue
        ratio = dgs / max(min(others.values()), 1e-30)
        met = ratio < 1 if fid in ("F3", "F4", "F5") else ratio <= 2
        cells.append(judge(f"Fig. 2 {fid} (d={dim})", met, EXPLAINED,
                           f"DGS/best of {', '.join(sorted(others))}: {ratio:.3g}"))
    return cells


EXPERIMENT = Experiment(name="dgs_benchmarks", paper="DGS",
                        title="Table 1 and Figure 2: F1-F6 at equal evaluation budgets",
                        order=10, run=run, add_arguments=add_arguments, quick_seeds=3,
                        paper_seeds=20, cpu_plan=CpuPlan(
                            args=("--dim", "2000", "--seeds", "3", "--methods",
                                  "DGS,ES-Bpop,Nesterov,FD,Sep-CMA-ES", "--allow-mixed"),
                            minutes=CPU_MINUTES,
                            note="3 trials of the five methods whose runs take minutes on a CPU; "
                                 "minutes measured per trial on a loaded machine, about 5 h of "
                                 "wall time on 2 cores; the finished trials are kept in git, so "
                                 "the command resumes them (--allow-mixed: they were written "
                                 "at earlier commits)",
                            rest=ACCELERATOR_COST,
                            rest_args=("--dim", "2000", "--seeds", "20")))

if __name__ == "__main__":
    main(EXPERIMENT)
