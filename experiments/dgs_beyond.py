"""DGS past the paper's Figure 2 at d = 2000: the averaged restart against the baselines.

    python -m experiments.dgs_beyond --profile quick    # d = 100, 3 trials, baselines run here
    python -m experiments.dgs_beyond --profile paper    # d = 2000, 3 trials, saved baselines

With the paper's budget (``200 (M - 1) d`` evaluations, M = 5) Algorithm 1 leads on Ackley
(F3) at d = 2000 but trails ES-Bpop on Rastrigin (F4, 2.3x) and Schaffer (F5, 1.25x): its
iterates come within reach of the optimum early, then drift back out while the radius shrinks
through the medium scales. ``DGS-avg`` is ``dgs.Config(restart="average", accept="descent")``
with the default ``dgs.params`` restart fields and ``accept_from = 0.5``: the iterates of
steps ``[T/8, T/2)`` are averaged, the mean (one extra evaluation, so one step fewer: 199)
replaces the iterate if lower, the radius restarts at ``0.01 sigma_0`` (the learning rate
at ``0.25 lambda_0``: the paper's curve), and from then on a step that does not lower ``f``
is not taken; docs/methods/dgs.md, "Past the paper's d = 2000 limits".

Baselines: the paper profile reads the saved per-trial records of ``dgs_benchmarks``
(``results/dgs_benchmarks/paper/*_d2000``; same instances, seeds and budget) and computes none;
the quick profile runs them here (DGS, ES-Bpop, Nesterov, FD) through the same driver.
Targets (F3-F5: ahead of ES-Bpop, Nesterov and FD; F1, F2: within 2x of the best method
shown) are judged on the mean best loss over the trials.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import numpy as np

from experiments import dgs_benchmarks as db
from experiments import dgs_methods as dm
from experiments.common import CpuPlan, Experiment, main
from jaxopt_lab.dgs import dgs
from jaxopt_lab.problems import highdim as hd
from jaxopt_lab.records import RunRecord
from jaxopt_lab.sweeps import sweep

VARIANT = "DGS-avg"
FUNCTIONS = ("F1", "F2", "F3", "F4", "F5")
RIVALS = ("ES-Bpop", "Nesterov", "FD")  # F3-F5: the variant must be ahead of each
QUICK_BASELINES = ("DGS",) + RIVALS
PAPER_BASELINES = ("DGS",) + RIVALS + ("Sep-CMA-ES",)
RESTART_FIELDS = ("average_start", "restart_at", "restart_lr", "restart_sigma")
# estimated: 15 trials (F1-F5, 3 seeds) at d = 2000 took 4-8 wall minutes each, three or four
# at a time on 2 cores shared with other work (load 12-14): about 2-4 CPU-minutes a trial
CPU_MINUTES = 60


def add_arguments(parser):
    parser.add_argument("--dim", type=int, default=None, help="dimension (quick 100, paper 2000)")
    parser.add_argument("--functions", default=",".join(FUNCTIONS),
                        help="comma-separated ids of F1-F5")
    parser.add_argument("--iters", type=int, default=200, help="DGS iterations T (budget)")
    parser.add_argument("--baselines-from", type=Path, default=None,
                        help="folder of saved dgs_benchmarks cells to read the baselines from "
                             "(paper default results/dgs_benchmarks/paper; quick: run here)")
    defaults = dgs.params(1.0, 2)
    for name in RESTART_FIELDS:
        parser.add_argument("--" + name.replace("_", "-"), type=float,
                            default=float(getattr(defaults, name)),
                            help=f"dgs.params {name} (non-default values get their own cells)")
    parser.add_argument("--accept", choices=dgs.ACCEPTS, default="descent",
                        help="dgs.Config accept (default descent; always: the ablation without "
                             "it, in cells without the _descent suffix)")
    parser.add_argument("--accept-from", type=float, default=0.5,
                        help="dgs.params accept_from, with --accept descent (default 0.5)")


def variant_run_fn(fid: str, dim: int, total: int, restart: dict, accept: str = "always",
                   accept_from: float = 0.0):
    """``fn(key) -> outputs`` of ``dgs_methods.drive`` for DGS-avg on the seed's instance.

    Budget: ``199`` steps of ``(M - 1) d`` evaluations plus the mean's one fit in ``200 (M -
    1) d`` (``total``); ``f`` at each new iterate is not counted, as for Algorithm 1's cells.
    Every step is a checkpoint (199 is prime); the mean's evaluation is counted from the start
    in ``trace_evals``.
    """
    cfg = dgs.Config(dim=dim, num_points=dm.NUM_POINTS, restart="average", accept=accept)
    steps = (total - cfg.extra_evals) // (cfg.evals_per_step - 1)

    def fn(key):
        k_inst, k_run = jax.random.split(key)
        inst = hd.sample_instance(k_inst, fid, dim)
        f = hd.objective(fid, inst)
        p = dgs.params(hd.width(fid), dim, horizon=float(steps), accept_from=accept_from,
                       **restart)
        method = dgs.make(f, cfg)
        adapter = dm.Adapter(init=lambda k: method.init(k, inst.x0, p),
                             step=lambda k, s: method.step(k, s, p)[0], x=lambda s: s.x,
                             best=lambda s: s.best_f, evals_per_step=cfg.evals_per_step,
                             init_evals=1 + cfg.extra_evals)
        return dm.drive(adapter, k_run, steps, steps, f, inst.x_opt)

    return fn


def _tag(restart: dict) -> str:
    defaults = dgs.params(1.0, 2)
    return "".join(f"_{k}{v:g}" for k, v in restart.items()
                   if not np.isclose(v, float(getattr(defaults, k))))


def _saved_baseline(folder: Path, want: dict, seeds) -> dict | None:
    """The outputs of ``seeds`` in a saved dgs_benchmarks cell (read-only), or ``None``.

    Raises:
      ValueError: naming ``--baselines-from`` if the cell was made with another budget, dim
        or root seed.
    """
    if not (folder / "config.json").exists():
        return None
    config = json.loads((folder / "config.json").read_text())
    bad = sorted(k for k, v in want.items() if config.get(k) != v)
    if bad:
        raise ValueError(f"--baselines-from: {str(folder)!r} was made with other {bad}")
    record = RunRecord.open_readonly(folder)
    done = sorted(set(seeds) & record.done_seeds())
    return record.load(done) if done else None


def _mean(values) -> float:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def run(args, ctx) -> str:
    dim = args.dim or (100 if ctx.profile == "quick" else 2000)
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    for f in functions:
        if f not in FUNCTIONS:
            raise ValueError(f"--functions: unknown id {f!r}; use {', '.join(FUNCTIONS)}")
    if args.iters < 2:
        raise ValueError("--iters must be >= 2")
    restart = {k: getattr(args, k) for k in RESTART_FIELDS}
    total = dm.budget(dim, args.iters)
    results = {}
    for fid in functions:
        cell = f"{fid}_{VARIANT}_d{dim}{_tag(restart)}"
        config = {"function": fid, "method": VARIANT, "dim": dim, "budget": total,
                  "iters": args.iters, "root_seed": ctx.root_seed, **restart}
        if args.accept != "always":  # only then, so cells made before the option match
            cell += f"_{args.accept}{args.accept_from:g}"
            config.update(accept=args.accept, accept_from=args.accept_from)
        results[(fid, VARIANT)] = sweep(
            variant_run_fn(fid, dim, total, restart, args.accept, args.accept_from), ctx.seeds,
            root_seed=ctx.root_seed,
            chunk_size=min(ctx.chunk_size, len(ctx.seeds)), record=ctx.record(cell, config),
            progress=ctx.progress, desc=f"{fid} {VARIANT} d={dim}")
    source = args.baselines_from
    if source is None and ctx.profile == "paper":
        source = Path("results/dgs_benchmarks/paper")
    if source is None:
        base = argparse.Namespace(scipy_max_dim=0, dgs_chunk=None, dgs_sigma=db.DGS_SIGMA)
        results.update(db.run_cells(base, ctx, dim, functions, QUICK_BASELINES, args.iters, 40))
        baselines = QUICK_BASELINES
    else:
        baselines = PAPER_BASELINES
        for fid in functions:
            for m in baselines:
                want = {"function": fid, "method": m, "dim": dim, "budget": total,
                        "root_seed": ctx.root_seed}
                saved = _saved_baseline(Path(source) / f"{fid}_{m}_d{dim}", want, ctx.seeds)
                if saved is not None:
                    results[(fid, m)] = saved
    methods = [VARIANT] + [m for m in baselines if any((f, m) in results for f in functions)]
    fig = f"best_loss_d{dim}"
    db.figure(results, functions, methods, ctx.figure(fig), dim)
    settings = dict(restart, **({"accept_from": args.accept_from}
                                if args.accept == "descent" else {}))
    return _report(ctx, results, functions, methods, dim, total, settings, source, fig,
                   args.iters, args.accept)


def verdicts(results, functions) -> list[str]:
    """One line per function: the target, the variant's mean, the rival's, met or not."""
    lines = []
    for fid in functions:
        means = {m: _mean(r["best_f"]) for (f, m), r in results.items() if f == fid}
        ours = means.pop(VARIANT, float("nan"))
        if fid in ("F3", "F4", "F5"):
            others = {m: v for m, v in means.items() if m in RIVALS and np.isfinite(v)}
            label = f"ahead of {', '.join(sorted(others))}"
        else:
            others = {m: v for m, v in means.items() if np.isfinite(v)}
            label = "within 2x of the best method shown"
        if not others:
            continue
        best = min(others, key=others.get)
        ratio = ours / max(others[best], 1e-30)
        met = ratio < 1.0 if fid in ("F3", "F4", "F5") else ratio <= 2.0
        lines.append(f"- {fid}: {VARIANT} {ours:.4g}; target {label} (best {best} "
                     f"{others[best]:.4g}, ratio {ratio:.3g}): **{'met' if met else 'not met'}**")
    return lines


def _report(ctx, results, functions, methods, dim, total, restart, source, fig,
            iters, accept) -> str:
    seen = sorted({int(s) for r in results.values() for s in np.atleast_1d(r["seed"])})
    settings = ", ".join(f"{k} = {v:g}" for k, v in restart.items())
    where = (f"read from the saved `dgs_benchmarks` cells in `{source}`" if source is not None
             else "run here through the same driver")
    return "\n".join([
        f"Dimension d = {dim}, {len(seen)} trial(s) (seeds {seen[0]}..{seen[-1]}), budget "
        f"{total} evaluations per run ({iters} DGS iterations x (M - 1) d, M = 5). {VARIANT}: "
        f"`dgs.Config(restart=\"average\", accept=\"{accept}\")`, {settings} "
        f"({iters - 1} steps: the mean's "
        f"evaluation takes the place of one). Baselines {where}; same instances and seeds.",
        "",
        "**Best loss at the end of the budget** (mean ± std over trials):",
        "",
        db.loss_table(results, functions, methods, len(seen)),
        "",
        *verdicts(results, functions),
        "",
        ctx.figure_markdown(fig, f"best loss vs evaluations, {VARIANT} and the baselines, "
                                 "mean ± 3 std"),
    ])


EXPERIMENT = Experiment(
    name="dgs_beyond", paper="DGS",
    title="Past Figure 2 at d = 2000: DGS with an averaged restart against the baselines",
    order=11, run=run, add_arguments=add_arguments, quick_seeds=3, paper_seeds=3,
    cpu_plan=CpuPlan(args=("--allow-mixed",), minutes=CPU_MINUTES,
                     note="15 DGS-avg runs at d = 2000 (the baselines are read from the saved "
                          "dgs_benchmarks cells), minutes estimated from loaded wall times; "
                          "the finished trials are kept in git, so the command resumes "
                          "them (with --allow-mixed: written at earlier commits)"))

if __name__ == "__main__":
    main(EXPERIMENT)
