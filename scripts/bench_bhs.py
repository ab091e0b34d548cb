"""Benchmark: successes per CPU-second, vectorised JAX chains vs their NumPy/SciPy peers.

    python scripts/bench_bhs.py [--json PATH] [--quick] [--budget 10] [--ref-budget 60]
        [--cold-budget 60] [--chains 1024] [--cases "Modified Rosenbrock"] [--methods bhs]
    python scripts/bench_bhs.py --schwefel-dim 8 --budget 8 --chains 512

In one process, on Egg-holder and Modified Rosenbrock with Table 5.1's settings:
  * BH-S: our vectorised chains (float64, ``bhs``) vs the faithful NumPy/SciPy BH-S (the
    authors' skipping step as ``take_step`` of ``scipy.optimize.basinhopping``, T = 0,
    L-BFGS-B);
  * BH: our chains (``bh``) vs ``scipy.optimize.basinhopping`` (Gaussian step in the
    variance convention, T = 1).
Each side runs runs back to back from uniform starts until its CPU budget (process time,
all threads) is spent; a run succeeds within 1e-5 of x*. The peer runs with one BLAS
thread (``experiments.timing.pinned_peer``, inside ``scipy_cell``). Per cell:

  * warm ratio: our successes per CPU-s (compilation excluded) over the peer's;
  * cold ratio, for a budget of ``--cold-budget`` CPU-s: our successes are those of
    ``budget - compile`` CPU-s at the warm rate (``ours_per_cpu_s * max(0, B - c) / B``,
    ``c`` the CPU-s from building the chains to the compiled program, tracing and XLA's
    compilation included), over the peer's rate (the peer compiles nothing);
  * no ratio ("reference too weak") when the peer has fewer than 5 successes.

Our chains run in the asynchronous mode (``local_steps=2``, the minimiser's steps per tick;
``--local-steps 0``: synchronous), the skipping chain in one block of K points (float64),
1024 BH-S and 512 BH chains unless ``--chains`` says otherwise (``DEFAULT_CHAINS``: the
best of 256-4096 in short scans; more chains leave more runs unfinished at the budget's
end). ``XLA_FLAGS`` is left as the caller sets it and recorded.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402

from experiments.bhs_common import Runner, scipy_cell  # noqa: E402
from jaxopt_lab.basin_hopping import LBFGSConfig, bh, bhs, std_from_variance  # noqa: E402
from jaxopt_lab.problems import landscapes  # noqa: E402
from scripts import benchlib  # noqa: E402

CASES = {
    "Egg-holder": dict(bh_sigma=100.0, bhs_sigma=10.0, K=25, tol=1e-6),
    "Modified Rosenbrock": dict(bh_sigma=0.4, bhs_sigma=0.4, K=25, tol=1e-3),
}
METHODS = ("bhs", "bh")
PEER = {"bhs": "faithful NumPy/SciPy BH-S", "bh": "scipy.optimize.basinhopping"}
LABEL = {"bhs": "BH-S", "bh": "BH"}
DEFAULT_CHAINS = {"bhs": 1024, "bh": 512}
FULL = dict(budget=10.0, ref_budget=60.0)
QUICK = dict(budget=5.0, ref_budget=10.0)


def _positive_ints(text):
    try:
        return [benchlib.positive_int(t) for t in text.split(",")]
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"comma-separated positive integers: {err}")


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    benchlib.add_common_arguments(p)
    p.add_argument("--budget", type=benchlib.positive_float, default=None,
                   help=f"CPU-s per cell of ours (default {FULL['budget']:g}, quick "
                        f"{QUICK['budget']:g})")
    p.add_argument("--ref-budget", type=benchlib.positive_float, default=None,
                   help=f"CPU-s per peer cell (default {FULL['ref_budget']:g}, quick "
                        f"{QUICK['ref_budget']:g})")
    p.add_argument("--cold-budget", type=benchlib.positive_float, default=60.0,
                   help="CPU-s budget of the cold ratio (compilation included; default 60)")
    p.add_argument("--chains", type=_positive_ints, default=None,
                   help="chain counts, comma-separated (default: 1024 for BH-S, 512 for BH)")
    p.add_argument("--local-steps", type=_non_negative_int, default=2,
                   help="asynchronous mode: minimiser steps per tick (0: synchronous)")
    p.add_argument("--cases", type=benchlib.comma_list(tuple(CASES), "case"), default=list(CASES))
    p.add_argument("--methods", type=benchlib.comma_list(METHODS, "method"), default=list(METHODS))
    p.add_argument("--line-search", default=None, choices=("backtracking", "more_thuente"),
                   help="local minimiser's line search (default: LBFGSConfig's)")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--schwefel-dim", type=benchlib.positive_int, default=None,
                   help="instead: BH-S on Schwefel-07 in this dimension (Fig 3.4 settings), "
                        "implementation settings compared in one process")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    sizes = QUICK if args.quick else FULL
    args.budget = args.budget or sizes["budget"]
    args.ref_budget = args.ref_budget or sizes["ref_budget"]
    jax.devices()  # start the backend before anything is timed
    if args.schwefel_dim:
        return schwefel(args, argv)
    local = (LBFGSConfig() if args.line_search is None else
             LBFGSConfig(line_search=args.line_search))
    print(f"# backend={jax.default_backend()} cpus={os.cpu_count()} "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r} line_search={local.line_search} "
          f"local_steps={args.local_steps} load={os.getloadavg()[0]:.1f}", flush=True)
    cells = []
    with jax.enable_x64(True):
        for name in args.cases:
            for method in args.methods:
                ref = peer_cell(name, method, args)
                for n in args.chains or [DEFAULT_CHAINS[method]]:
                    cells.append(cell(name, method, n, local, ref, args))
    result = benchlib.write_result(args.json, "bhs", cells, markdown(cells, args), argv)
    print(result["markdown"])
    return result


def peer_cell(name, method, args) -> dict:
    """The NumPy/SciPy peer of ``method`` on ``name`` (one BLAS thread, see scipy_cell)."""
    case = CASES[name]
    t0 = time.perf_counter()
    ref = scipy_cell(landscapes.get(name), method, args.ref_budget, args.seed,
                     sigma=case["bh_sigma"] if method == "bh" else case["bhs_sigma"],
                     num_skips=case["K"], tol=case["tol"], boundary="periodic")
    print(f"{name} | {LABEL[method]} | peer | {ref['runs']} runs | {ref['successes']} succ | "
          f"rho {ref['rho']:.1f}% | {ref['success_per_cpu_s']:.3g}/CPU-s | BLAS threads "
          f"{ref['blas_threads']} | {time.perf_counter() - t0:.0f} s wall", flush=True)
    return ref


def chains_config(name, method, local, local_steps):
    """Our Config for a cell (Table 5.1's K; the skipping chain in one block of K)."""
    case = CASES[name]
    steps = local_steps or None
    if method == "bh":
        return bh.Config(dim=2, local=local, local_steps=steps)
    return bhs.Config(dim=2, max_skips=case["K"], skip_block=None, boundary="periodic",
                      local=local, local_steps=steps)


def cell(name, method, n, local, ref, args) -> dict:
    """Ours with ``n`` chains against the peer's ``ref``: one result cell."""
    case = CASES[name]
    config = chains_config(name, method, local, args.local_steps)
    cpu0 = time.process_time()
    runner = Runner([landscapes.get(name)], config, n, steps_per_call=10, local_steps=None)
    # the authors' BH sigma is a variance
    kw = (dict(sigma=float(std_from_variance(case["bh_sigma"])), temperature=1.0)
          if method == "bh" else dict(sigma=case["bhs_sigma"], temperature=0.0))
    params = runner.params(name, tol=case["tol"], **kw)
    res = runner.run(name, params, jax.random.key(args.seed + n), args.budget)
    compile_cpu = time.process_time() - cpu0 - res["cpu_s"]
    ours = res["success_per_cpu_s"]
    ref_rate = ref["success_per_cpu_s"]
    B = args.cold_budget
    ours_cold = ours * max(0.0, B - compile_cpu) / B
    out = dict(
        landscape=name, method=method, peer=PEER[method], chains=n,
        ours_per_cpu_s=ours, ref_per_cpu_s=ref_rate,
        ratio=benchlib.ratio_or_weak(ours, ref_rate, ref["successes"]),
        ratio_cold=benchlib.ratio_or_weak(ours_cold, ref_rate, ref["successes"]),
        cold_budget_cpu_s=B, ours_cold_per_cpu_s=ours_cold,
        ours_compile_cpu_s=compile_cpu, ours_compile_wall_s=runner.compile_s,
        ours_rho=res["rho"], ref_rho=ref["rho"], rho_z=_z(res, ref),
        ref_blas_threads=ref["blas_threads"],
        ours_runs=res["runs"], ours_successes=res["successes"], ours_cpu_s=res["cpu_s"],
        ours_wall_s=res["wall_s"], ours_steps=res["steps"],
        ref_runs=ref["runs"], ref_successes=ref["successes"], ref_cpu_s=ref["cpu_s"],
        ref_wall_s=ref["wall_s"], local_steps=args.local_steps,
        line_search=local.line_search, xla_flags=os.environ.get("XLA_FLAGS", ""),
        load_average=os.getloadavg()[0])
    print(f"{name} | {LABEL[method]} | {n} chains | {res['runs']} runs | {res['successes']} "
          f"succ | rho {res['rho']:.1f}% | {ours:.3g}/CPU-s | x{_fmt(out['ratio'])} warm | "
          f"x{_fmt(out['ratio_cold'])} cold | compile {compile_cpu:.1f} CPU-s", flush=True)
    return out


def _z(ours, ref):
    """Two-proportion z statistic of the reliabilities (ours - peer); nan if undefined."""
    n1, n2 = ours["runs"], ref["runs"]
    if not (n1 and n2):
        return float("nan")
    p = (ours["successes"] + ref["successes"]) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return (ours["successes"] / n1 - ref["successes"] / n2) / se if se > 0 else 0.0


def _rate(value):
    return f"{value:.0f}" if value >= 1000 else f"{value:.3g}"


def _fmt(value):
    return value if isinstance(value, str) else f"{value:.0f}"


def markdown(cells, args) -> str:
    """The page's table: one row per cell."""
    head = ("landscape", "method (peer)", "chains", "ours: succ / CPU-s (runs, ρ)",
            "peer: succ / CPU-s (runs, ρ)", "ρ z", "× warm",
            f"× cold ({args.cold_budget:g} CPU-s)", "compile CPU-s", "peer BLAS threads")
    rows = []
    for c in cells:
        rows.append((
            c["landscape"], f"{LABEL[c['method']]} ({c['peer']})", c["chains"],
            f"{_rate(c['ours_per_cpu_s'])} ({c['ours_runs']}, {c['ours_rho']:.1f}%)",
            f"{_rate(c['ref_per_cpu_s'])} ({c['ref_runs']}, {c['ref_rho']:.1f}%)",
            f"{c['rho_z']:+.1f}",
            c["ratio"] if isinstance(c["ratio"], str) else f"**{c['ratio']:.0f}**",
            c["ratio_cold"] if isinstance(c["ratio_cold"], str) else f"{c['ratio_cold']:.0f}",
            f"{c['ours_compile_cpu_s']:.1f}", c["ref_blas_threads"]))
    flags = os.environ.get("XLA_FLAGS", "") or "(none)"
    return (f"Budgets: ours {args.budget:g} CPU-s per cell, peer {args.ref_budget:g} CPU-s "
            f"per cell; local_steps = {args.local_steps}; XLA_FLAGS = `{flags}`.\n\n"
            + benchlib.markdown_table(head, rows))


# (label, config overrides, Runner local_steps); the first row is the reference.
SCHWEFEL_SETTINGS = (
    ("async m=2, float64, block 16 (earlier default)", dict(skip_block=16), 2),
    ("sync, float64, block 16", dict(skip_block=16), None),
    ("sync, float64, block 50", dict(skip_block=50), None),
    ("sync, float32 chain, block 50 (default)", dict(skip_block=50,
                                                         skip_dtype="float32"), None),
)


def schwefel(args, argv=None):
    """BH-S on Schwefel-07 (sigma = 20 as a variance, i.i.d. radii, K = 200, first-point
    wrap, radius 1e-3, float64 chains): successes per CPU-second of implementation settings
    that leave the algorithm unchanged, against the first one, in one process."""
    d = args.schwefel_dim
    n = (args.chains or [512])[0]
    ls = landscapes.schwefel07(d)
    print(f"# Schwefel-07 d={d}, {n} chains, {args.budget} CPU-s per setting, "
          f"backend={jax.default_backend()}")
    ref = None
    cells = []
    with jax.enable_x64(True):
        for label, over, local_steps in SCHWEFEL_SETTINGS:
            config = bhs.Config(dim=d, max_skips=200, radii="iid", boundary="first", **over)
            runner = Runner([ls], config, n, steps_per_call=10, local_steps=local_steps,
                            radius=1e-3)
            # sigma = 20 as a variance (the authors' dimension script)
            params = runner.params("Schwefel-07", sigma=float(std_from_variance(20.0)),
                                   temperature=0.0)
            res = runner.run("Schwefel-07", params, jax.random.key(d), args.budget)
            rate = res["success_per_cpu_s"]
            ref = rate if ref is None else ref
            evals = res["evals_perturb"] + res["evals_local"]
            cells.append(dict(setting=label, dim=d, chains=n, runs=res["runs"],
                              successes=res["successes"], rho=res["rho"],
                              ours_per_cpu_s=rate, evals_per_cpu_s=evals / res["cpu_s"],
                              perturb_evals_share=res["evals_perturb"] / max(evals, 1),
                              ratio=rate / ref if ref else float("nan")))
            print(f"{label} | {res['runs']} runs | {res['successes']} succ | {rate:.2f}/CPU-s",
                  flush=True)
    rows = [(c["setting"], c["runs"], c["successes"], c["ours_per_cpu_s"],
             c["evals_per_cpu_s"], c["ratio"]) for c in cells]
    table = benchlib.markdown_table(("setting", "runs", "successes", "succ / CPU-s",
                                     "evaluations / CPU-s", "× first"), rows)
    return benchlib.write_result(args.json, "bhs", cells, table, argv)


if __name__ == "__main__":
    main()
