"""BH-S past the paper's d = 11: Schwefel-07 and its rotation up to d = 20.

The paper's BH-S finds Schwefel-07's minimum up to d = 11 in 300 s; with the paper's settings
(those of ``bhs_dimension``: sigma = 20 as a variance, i.i.d. radii, K = 200, first-point
wrap, T = 0, 512 chains) successes per CPU-second fall about 2.4x per added dimension here,
and none come at d = 16 or 20 in 90 CPU-s. Measured: 3-5 % of skipping chains find a lower
point and almost every evaluation goes to chains that run all K steps for nothing.

Variants, each a named option of the library (docs/methods/bhs.md, "Past the paper's d"):

* ``paper``: the settings above;
* ``axes``: ``directions="axes"``, each skipping chain along one coordinate axis;
* ``k50``: ``max_skips=50``, a quarter of the chain that mostly finds nothing;
* ``hybrid``: ``ratio=2``, one random-walk step per skipping chain (Sec. 3.8);
* ``chains2048``: four times the chains side by side, cheaper per chain.

Each variant runs on Schwefel-07 and on ``landscapes.schwefel07_rotated`` (a Haar rotation
about x*): Schwefel-07 is separable, and a gain that only exploits separability shows up
as a gain on the first that is gone on the second. A success is a run whose best point is
within 1e-3 of x* (the authors' radius), checked in float64.
"""

from __future__ import annotations

import dataclasses

import jax

from experiments.bhs_common import Runner, fmt, record_cell
from experiments.common import CpuPlan, Experiment, main, markdown_table
from jaxopt_lab.basin_hopping import hybrid, std_from_variance
from jaxopt_lab.problems import landscapes

#: name -> (Config overrides, Params overrides, chains); ``None`` chains = the profile's.
VARIANTS = {
    "paper": ({}, {}, None),
    "axes": ({"directions": "axes"}, {}, None),
    "k50": ({"max_skips": 50}, {}, None),
    "hybrid": ({}, {"ratio": 2}, None),
    "chains2048": ({}, {}, 2048),
}
#: Fig. 3.4's BH-S: last d with a success, and the last d with reliability above 50 %.
PAPER_LAST_D, PAPER_RELIABLE_D = 11, 7
ROTATION_SEED = 7
QUICK = dict(dims=(4, 8), variants=("paper", "axes"), study_dims=(), budget=2.0, chains=128)
PAPER = dict(dims=tuple(range(2, 21, 2)), variants=("paper", "axes"), study_dims=(8, 12),
             budget=20.0, chains=512)


def add_arguments(parser):
    parser.add_argument("--dims", default=None,
                        help="comma-separated d of the scan (quick 4,8; paper 2,4,...,20)")
    parser.add_argument("--variants", default=None,
                        help=f"variants of the scan, of {','.join(VARIANTS)} "
                             "(default paper,axes)")
    parser.add_argument("--study-dims", default=None,
                        help="d at which every variant runs (quick none; paper 8,12)")
    parser.add_argument("--budget", type=float, default=None,
                        help="CPU seconds per cell (quick 2, paper 20)")
    parser.add_argument("--chains", type=int, default=None,
                        help="chains of the variants that do not set their own (quick 128, "
                             "paper 512)")


def _ints(text, default):
    return tuple(int(v) for v in text.split(",") if v) if text is not None else default


def _problems(d):
    return {"plain": landscapes.schwefel07(d),
            "rotated": landscapes.schwefel07_rotated(d, jax.random.key(ROTATION_SEED))}


def run(args, ctx) -> str:
    prof = QUICK if ctx.profile == "quick" else PAPER
    dims = _ints(args.dims, prof["dims"])
    study = _ints(args.study_dims, prof["study_dims"])
    scan = tuple(args.variants.split(",")) if args.variants else prof["variants"]
    for v in scan:
        if v not in VARIANTS:
            raise ValueError(f"--variants: unknown variant {v!r}; the variants are "
                             f"{', '.join(VARIANTS)}")
    budget, chains = args.budget or prof["budget"], args.chains or prof["chains"]
    if budget <= 0 or chains < 1:
        raise ValueError("--budget must be > 0 and --chains >= 1")
    plan = {d: list(scan) + [v for v in VARIANTS if d in study and v not in scan]
            for d in sorted(set(dims) | set(study))}
    seed = ctx.seeds[0]
    sigma = float(std_from_variance(20.0))
    results = {}
    with jax.enable_x64(True):
        for d, variants in plan.items():
            problems = _problems(d)
            runners = {}
            for v in variants:
                config_kw, params_kw, own_chains = VARIANTS[v]
                n = own_chains or chains
                config = dataclasses.replace(
                    hybrid.Config(dim=d, max_skips=200, radii="iid", boundary="first",
                                  skip_block=50, skip_dtype="float32"), **config_kw)
                if (config, n) not in runners:  # one compiled program serves both landscapes
                    runners[(config, n)] = Runner(problems, config, n, steps_per_call=10,
                                                  local_steps=None, radius=1e-3)
                runner = runners[(config, n)]
                kw = {"sigma_skip": sigma, "temperature": 0.0, "ratio": -1, **params_kw}
                for label in problems:
                    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(ctx.root_seed),
                                                                seed), 1000 * d + len(label))
                    results[(d, v, label)] = record_cell(
                        ctx, f"d{d:02d}/{label}/{v}",
                        {"dim": d, "variant": v, "landscape": label, "budget_cpu_s": budget,
                         "num_chains": n, "config": {k: str(val) for k, val in config_kw.items()},
                         "params": {k: float(val) for k, val in kw.items()},
                         "rotation_seed": ROTATION_SEED if label == "rotated" else None},
                        seed, lambda r=runner, lb=label, p=runner.params(label, **kw), k=key:
                        r.run(lb, p, k, budget))
    _figure(ctx, results, scan)
    return _report(ctx, results, scan, budget, chains)


def _report(ctx, results, scan, budget, chains) -> str:
    rows = []
    for (d, v, label), r in sorted(results.items()):
        rows.append([d, label, v, f"{int(r['successes'])}/{int(r['runs'])}", fmt(r["rho"]),
                     fmt(r["success_per_cpu_s"], 2), fmt(r["best_f"], 3)])
    reached = {}
    for (d, v, label), r in results.items():
        if r["successes"] > 0:
            reached[(v, label)] = max(reached.get((v, label), 0), d)
    lines = [f"- `{v}` on {label}: x* found up to d = {reached.get((v, label), 'none')}"
             for v in scan for label in ("plain", "rotated")]
    return "\n".join([
        f"Budget {budget:g} CPU-s per cell, {chains} chains unless the variant sets its own, "
        f"success = best point within 1e-3 of x*. Paper (Fig. 3.4, 300 s per d): BH-S finds "
        f"x* up to d = {PAPER_LAST_D}, reliability above 50 % up to d = {PAPER_RELIABLE_D}. "
        f"'plain' is Schwefel-07, 'rotated' the same turned about x* by a Haar rotation "
        f"(seed {ROTATION_SEED}).",
        "",
        "Largest d with a success in this run:",
        "",
        *lines,
        "",
        markdown_table(["d", "landscape", "variant", "succ/runs", "ρ %", "succ/CPU-s",
                        "best f"], rows),
        "",
        ctx.figure_markdown("beyond", "BH-S past d = 11: successes per CPU-s against d"),
    ])


def _figure(ctx, results, scan):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, v in enumerate(scan):
        for label, style in (("plain", "o-"), ("rotated", "s--")):
            pts = sorted((d, r["success_per_cpu_s"]) for (d, vv, lb), r in results.items()
                         if vv == v and lb == label)
            if pts:
                ax.plot(*zip(*pts), style, color=f"C{i}", label=f"{v}, {label}")
    ax.set_yscale("symlog", linthresh=0.01)
    top = max([r["success_per_cpu_s"] for r in results.values()] + [1.0])
    ax.set_ylim(0.0, 3.0 * top)
    ax.axvline(PAPER_LAST_D, color="grey", lw=0.8, ls=":")
    ax.text(PAPER_LAST_D, 2.0 * top, "paper's last d ", ha="right", va="top", fontsize=8,
            color="grey")
    ax.set_xlabel("d")
    ax.set_ylabel("successes per CPU-s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ctx.figure("beyond"), dpi=120)
    plt.close(fig)


EXPERIMENT = Experiment(
    name="bhs_beyond", paper="BH-S",
    title="Past Fig. 3.4: Schwefel-07 and its rotation to d = 20, five BH-S variants",
    order=56, run=run, add_arguments=add_arguments, quick_seeds=1, paper_seeds=1,
    cpu_plan=CpuPlan(args=(), minutes=25.0,
                     note="52 cells of 20 CPU-s plus 26 compilations of about 15 CPU-s; "
                          "30 min of wall time on one core shared with another process"))

if __name__ == "__main__":
    main(EXPERIMENT)
