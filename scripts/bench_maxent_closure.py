"""Benchmark: batched 3-D order-4 moment closures (solve_batch) against a SciPy peer.

Usage::

    PYTHONPATH=. python scripts/bench_maxent_closure.py [--batch 256] [--repeats 3]
        [--peer-problems 4] [--json PATH] [--quick]

The problems are the sample moments (order 4, 35 constraints) of ``--samples`` draws of
linearly mixed uniform data in 3-D (flat-topped, platykurtic densities), one random mixing
per problem. Rows:

* ``closure``: ``solve_batch`` with ``Config(3, 4, rules=maxent.CLOSURE_RULES,
  method="newton", reorth="none", moment_tol=1e-8, check_ratio=1.15)``;
* ``ladder``: ``solve_batch`` with the automatic ladder and ``moment_tol=1e-8`` (the same
  accuracy without the closure options);
* ``peer``: ``scipy.optimize.minimize(method="trust-exact")`` with the exact quadrature
  Hessian on the closure's final rule (32^3 nodes, sigma = 0.4), our tensor contraction in
  NumPy, one problem at a time from the Gaussian start, one BLAS thread, on the first
  ``--peer-problems`` problems.

Ours: "cold" is the first call after every compiled program was dropped (compilation
included), "warm" the best of ``--repeats`` calls. Every answer is scored by the refined-rule
moment error (our check rule for ours, the same rule for the peer).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxopt_lab import maxent  # noqa: E402
from jaxopt_lab.maxent import fixed_rule  # noqa: E402
from jaxopt_lab.maxent.cases import mixed_uniform_samples  # noqa: E402
from jaxopt_lab.maxent.precondition import forward_moments, precondition  # noqa: E402
from jaxopt_lab.maxent.rules import alpha_rule  # noqa: E402
from scripts import benchlib  # noqa: E402
from scripts.bench_maxent import _cold_and_warm, moment_error, run_peer  # noqa: E402

BENCHMARK = "maxent_closure"
PEER_RULE = (32, 0.4)


def problems(batch: int, samples: int, seed: int = 0) -> np.ndarray:
    """``[batch, 35]`` sample moments of mixed uniform data (3-D, order 4)."""
    return mixed_uniform_samples(batch, samples, seed)


def closure_config() -> maxent.Config:
    return maxent.Config(3, 4, rules=maxent.CLOSURE_RULES, method="newton", reorth="none",
                         moment_tol=1e-8, check_ratio=1.15)


def bench(batch, samples, repeats, peer_problems):
    moments = problems(batch, samples)
    cells = []
    for name, config in (("closure", closure_config()),
                         ("ladder", maxent.Config(3, 4, moment_tol=1e-8))):
        sol, cold, warm = _cold_and_warm(lambda: maxent.solve_batch(moments, config), repeats)
        cells.append({"row": name, "batch": batch, "cold_s": cold, "warm_s": warm,
                      "solves_per_s": batch / warm,
                      "converged": int(np.sum(sol.result == int(maxent.Result.converged))),
                      "moment_error": float(np.max(sol.stats["moment_error"])),
                      "max_iterations": int(np.max(sol.stats["iterations"]))})
    walls, errors, threads = [], [], None
    t, sigma = PEER_RULE
    for m in moments[:peer_problems]:
        pre = precondition(m[None], 3, 4)
        target = forward_moments(pre, m[None])[0]
        nodes, weights = alpha_rule(t, pre.alpha, sigma)
        x, wall, _, threads = run_peer("tensor", "trust-exact", target, 3, 4, nodes, weights,
                                       fixed_rule.gaussian_start(3, 4))
        walls.append(wall)
        errors.append(moment_error(x, pre, target, 3, 4, t, sigma))
    cells.append({"row": "peer", "batch": peer_problems, "cold_s": None,
                  "warm_s": float(np.sum(walls)), "solves_per_s": peer_problems / np.sum(walls),
                  "converged": int(np.sum(np.asarray(errors) <= 1e-8)),
                  "moment_error": float(np.max(errors)), "max_iterations": None,
                  "blas_threads": threads})
    return cells


def markdown(cells) -> str:
    peer = next(c for c in cells if c["row"] == "peer")["solves_per_s"]
    rows = [[c["row"], c["batch"], "-" if c["cold_s"] is None else f"{c['cold_s']:.2f}",
             f"{c['warm_s']:.3f}", f"{c['solves_per_s']:.1f}",
             f"{c['solves_per_s'] / peer:.0f}x", f"{c['converged']}/{c['batch']}",
             f"{c['moment_error']:.1e}", "-" if c["max_iterations"] is None
             else c["max_iterations"]] for c in cells]
    return benchlib.markdown_table(
        ["row", "problems", "cold s", "warm s", "solves/s", "vs peer", "converged",
         "max moment error", "max Newton steps"], rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=benchlib.positive_int, default=None,
                        help="problems per solve_batch call (256; quick 128)")
    parser.add_argument("--samples", type=benchlib.positive_int, default=4000,
                        help="draws behind each problem's sample moments")
    parser.add_argument("--repeats", type=benchlib.positive_int, default=None,
                        help="warm calls, best kept (3; quick 2)")
    parser.add_argument("--peer-problems", type=benchlib.positive_int, default=None,
                        help="problems the SciPy peer solves (4; quick 2)")
    benchlib.add_common_arguments(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    quick = args.quick
    batch = args.batch or (128 if quick else 256)
    repeats = args.repeats or (2 if quick else 3)
    peer_problems = args.peer_problems or (2 if quick else 4)
    cells = bench(batch, args.samples, repeats, peer_problems)
    result = benchlib.write_result(args.json, BENCHMARK, cells, markdown(cells))
    print(result["markdown"])
    return cells


if __name__ == "__main__":
    main()
