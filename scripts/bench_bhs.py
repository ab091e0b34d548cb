"""Benchmark: successes per CPU-second, vectorised JAX chains vs NumPy/SciPy references.

    python scripts/bench_bhs.py [--budget 20] [--ref-budget 30] [--chains 1024,4096]
        [--cases "Modified Rosenbrock"] [--methods bhs] [--line-search backtracking]
    python scripts/bench_bhs.py --schwefel-dim 8 --budget 8 --chains 512

In one process, on Egg-holder and Modified Rosenbrock with Table 5.1's settings:
  * BH-S: our vectorised chains (float64) vs a faithful NumPy/SciPy BH-S (the authors'
    skipping step, written in NumPy from the authors' code's behaviour, inside
    ``scipy.optimize.basinhopping``
    at T = 0 with L-BFGS-B, as the authors ran it);
  * BH: our vectorised chains vs ``scipy.optimize.basinhopping`` (Gaussian step in the
    variance convention, T = 1).
The local minimiser is ``LBFGSConfig()``'s (Moré-Thuente line search) unless
``--line-search`` says otherwise.
Our chains run in the asynchronous mode by default (``Config(local_steps=2)``: a chain
whose local minimisation ends is accepted and perturbed at once instead of waiting for the
slowest chain of the batch; ``--local-steps 0`` gives the synchronous mode).
Each side runs runs back to back from uniform starts until its CPU budget is spent (our
compile time is excluded and printed); a run succeeds within 1e-5 of x*. Ratios are
successes per CPU-second (process time, all threads) and per wall-second. When a reference
has no success, the ratio is a lower bound computed with one success.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402

from experiments.bhs_common import Runner, scipy_cell  # noqa: E402
from jaxopt_lab.basin_hopping import LBFGSConfig, bh, bhs, std_from_variance  # noqa: E402
from jaxopt_lab.problems import landscapes  # noqa: E402

CASES = {
    "Egg-holder": dict(bh_sigma=100.0, bhs_sigma=10.0, K=25, tol=1e-6),
    "Modified Rosenbrock": dict(bh_sigma=0.4, bhs_sigma=0.4, K=25, tol=1e-3),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=20.0, help="CPU s per JAX cell")
    parser.add_argument("--ref-budget", type=float, default=30.0, help="CPU s per SciPy cell")
    parser.add_argument("--chains", type=str, default="1024,4096")
    parser.add_argument("--local-steps", type=int, default=2,
                        help="asynchronous mode: L-BFGS iterations per step (0: synchronous)")
    parser.add_argument("--cases", type=str, default=",".join(CASES))
    parser.add_argument("--methods", type=str, default="bhs,bh", help="bhs,bh or one of them")
    parser.add_argument("--line-search", type=str, default=None,
                        choices=("backtracking", "more_thuente"),
                        help="local minimiser's line search (default: LBFGSConfig's)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--schwefel-dim", type=int, default=0,
                        help="instead: BH-S on Schwefel-07 in this dimension (Fig 3.4 "
                             "settings), implementation settings compared in one process")
    args = parser.parse_args(argv)
    if args.schwefel_dim:
        return schwefel(args)
    chain_counts = [int(c) for c in args.chains.split(",")]
    local = (LBFGSConfig() if args.line_search is None else
             LBFGSConfig(line_search=args.line_search))
    out = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                       "backend": jax.default_backend(),
                       "device": str(jax.devices()[0].device_kind)},
           "budget_cpu_s": args.budget, "ref_budget_cpu_s": args.ref_budget,
           "line_search": local.line_search, "local_steps": args.local_steps, "rows": []}
    print(f"# backend={jax.default_backend()} devices={jax.devices()} cpus={os.cpu_count()} "
          f"line_search={local.line_search} local_steps={args.local_steps}")
    header = ("landscape", "method", "impl", "chains", "runs", "succ", "rho%", "cpu_s",
              "wall_s", "succ/cpu_s", "succ/wall_s", "ratio_cpu", "ratio_wall")
    print(" | ".join(header))
    with jax.enable_x64(True):
        for name in args.cases.split(","):
            case = CASES[name]
            ls = landscapes.get(name)
            for method in args.methods.split(","):
                t0 = time.perf_counter()
                ref = scipy_cell(ls, method, args.ref_budget, 0,
                                 sigma=case["bh_sigma"] if method == "bh" else case["bhs_sigma"],
                                 num_skips=case["K"], tol=case["tol"], boundary="periodic")
                impl = "numpy_bhs" if method == "bhs" else "scipy_basinhopping"
                ref_cpu = max(ref["successes"], 1) / ref["cpu_s"]
                ref_wall = max(ref["successes"], 1) / ref["wall_s"]
                bound = "" if ref["successes"] else ">="
                row = dict(landscape=name, method=method, impl=impl, chains=1, **ref)
                out["rows"].append(row)
                print(f"{name} | {method} | {impl} | 1 | {ref['runs']} | {ref['successes']} | "
                      f"{ref['rho']:.1f} | {ref['cpu_s']:.1f} | {ref['wall_s']:.1f} | "
                      f"{ref['success_per_cpu_s']:.3f} | {ref['success_per_wall_s']:.3f} | 1 | 1"
                      f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
                for n in chain_counts:
                    config = (bh.Config(dim=2, local=local) if method == "bh" else
                              bhs.Config(dim=2, max_skips=case["K"], skip_block=None,
                                         boundary="periodic", local=local))
                    runner = Runner([ls], config, n, steps_per_call=10,
                                    local_steps=args.local_steps or None)
                    # the authors' BH sigma is a variance
                    kw = (dict(sigma=float(std_from_variance(case["bh_sigma"])),
                               temperature=1.0) if method == "bh"
                          else dict(sigma=case["bhs_sigma"], temperature=0.0))
                    params = runner.params(name, tol=case["tol"], **kw)
                    res = runner.run(name, params, jax.random.key(n), args.budget)
                    r_cpu = res["success_per_cpu_s"] / ref_cpu
                    r_wall = res["success_per_wall_s"] / ref_wall
                    out["rows"].append(dict(landscape=name, method=method, impl="jax", chains=n,
                                            compile_s=runner.compile_s, ratio_cpu=r_cpu,
                                            ratio_wall=r_wall, ratio_is_lower_bound=not
                                            ref["successes"], **res))
                    print(f"{name} | {method} | jax | {n} | {res['runs']} | {res['successes']} |"
                          f" {res['rho']:.1f} | {res['cpu_s']:.1f} | {res['wall_s']:.1f} | "
                          f"{res['success_per_cpu_s']:.2f} | {res['success_per_wall_s']:.2f} | "
                          f"{bound}{r_cpu:.0f} | {bound}{r_wall:.0f}  "
                          f"(compile {runner.compile_s:.1f} s)", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1, default=float))


# (label, config overrides, Runner local_steps); the first row is the reference.
SCHWEFEL_SETTINGS = (
    ("async m=2, float64, block 16 (earlier default)", dict(skip_block=16), 2),
    ("sync, float64, block 16", dict(skip_block=16), None),
    ("sync, float64, block 50", dict(skip_block=50), None),
    ("sync, float32 chain, block 50 (default)", dict(skip_block=50,
                                                         skip_dtype="float32"), None),
)


def schwefel(args):
    """BH-S on Schwefel-07 (sigma = 20 as a variance, i.i.d. radii, K = 200, first-point
    wrap, radius 1e-3, float64 chains): successes per CPU-second of implementation settings
    that leave the algorithm unchanged, against the first one, in one process."""
    d = args.schwefel_dim
    n = int(args.chains.split(",")[0])
    ls = landscapes.schwefel07(d)
    print(f"# Schwefel-07 d={d}, {n} chains, {args.budget} CPU-s per setting, "
          f"backend={jax.default_backend()}")
    print("setting | runs | succ | rho% | succ/cpu_s | evals/cpu_s | perturb evals % | ratio")
    ref = None
    rows = []
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
            ratio = rate / ref if ref else float("nan")
            rows.append(dict(setting=label, ratio=ratio, **res))
            print(f"{label} | {res['runs']} | {res['successes']} | {res['rho']:.1f} | "
                  f"{rate:.2f} | {evals / res['cpu_s']:.3g} | "
                  f"{100 * res['evals_perturb'] / max(evals, 1):.0f} | {ratio:.2f}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"schwefel_dim": d, "rows": rows}, indent=1,
                                        default=float))


if __name__ == "__main__":
    main()
