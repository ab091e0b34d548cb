"""Benchmark: jaxopt_lab.maxent vs a SciPy peer (warm and cold), first/second process, batch.

Usage::

    PYTHONPATH=. python scripts/bench_maxent.py [--cases 2d8_bimodal,3d6_mixed,4d4_mixed]
        [--repeats 3] [--batch 1000] [--peers monomial,tensor] [--json PATH] [--quick]

For each case our solver first runs with the automatic ladder; its final rule (T, sigma) is
then used for the fixed-rule runs of ours and of the peer, so both solve the same discrete
dual. The peer is ``scipy.optimize.minimize`` (``trust-exact`` with the exact quadrature
Hessian, paired with our Newton; ``BFGS``, paired with our BFGS) on the dual (3.4a) in the
raw monomial basis of the alpha frame, from the same Gaussian start, with objective, gradient
and Hessian in NumPy on the same tensor grid, either point by point (``monomial``: the grid
materialised in chunks) or with our separable contraction written in NumPy (``tensor``). It
runs under :func:`experiments.timing.pinned_peer` (one BLAS thread), once.

Ours: "cold" is the first call in a process that has compiled nothing for it (compilation
included; the persistent cache is off in this process), "warm" the best of ``--repeats``
later calls. Every answer is scored by the same refined-rule moment error.

First/second process: two fresh subprocesses solve the first case (automatic ladder) against
one new temporary compilation-cache directory (:func:`jaxopt_lab.enable_compilation_cache`):
the first compiles and writes it, the second loads from it. Import (jax, jaxopt_lab and
scipy.linalg, which jaxlib loads for LAPACK on the first Cholesky) and solve-call times are
reported apart. Then ``solve_batch`` throughput on 2D order 4.

``--quick``: 2d8_bimodal only, ``--repeats 2``, ``--batch 200`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.optimize

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

from experiments.timing import blas_threads, pinned_peer  # noqa: E402
from jaxopt_lab import maxent  # noqa: E402
from jaxopt_lab.maxent import fixed_rule  # noqa: E402
from jaxopt_lab.maxent.basis import gram_index  # noqa: E402
from jaxopt_lab.maxent.cases import CASES, make_case, rotated_product  # noqa: E402
from jaxopt_lab.maxent.multiindex import _monomials_np  # noqa: E402
from jaxopt_lab.maxent.precondition import forward_moments, precondition  # noqa: E402
from jaxopt_lab.maxent.rules import alpha_rule  # noqa: E402
from jaxopt_lab.maxent.tensor import dense_positions  # noqa: E402
from scripts import benchlib  # noqa: E402

BENCHMARK = "maxent"
DEFAULT_CASES = "2d8_bimodal,3d6_mixed,4d4_mixed"
PEER_KINDS = ("monomial", "tensor")
#: Our method and the peer's optimiser it is paired with.
PAIRS = (("newton", "trust-exact"), ("bfgs", "BFGS"))


class Peer:
    """The dual (3.4a) on a materialised tensor grid, in the alpha-frame monomial basis."""

    def __init__(self, target, dim, order, nodes, weights, chunk=200_000):
        self.target, self.dim, self.order = target, dim, order
        idx = np.indices((len(nodes),) * dim).reshape(dim, -1).T
        self.points = nodes[idx]
        self.logw = np.log(weights)[idx].sum(axis=1)
        self.chunk = chunk
        self.gidx = gram_index(dim, order)
        self.num = len(target)
        self.evals = 0

    def _moments(self, lam, out_order):
        total = 0.0
        for s in range(0, len(self.points), self.chunk):
            v = _monomials_np(self.points[s:s + self.chunk], out_order)
            f = v[:, :self.num] @ lam + self.logw[s:s + self.chunk]
            total = total + np.exp(np.minimum(f, 600.0)) @ v
        return total

    def fun(self, lam):
        self.evals += 1
        mu = self._moments(lam, self.order)
        return mu[0] - lam @ self.target, mu - self.target

    def hess(self, lam):
        return self._moments(lam, 2 * self.order)[self.gidx]


class TensorPeer(Peer):
    """Same dual, with the separable tensor contraction of our solver written in NumPy."""

    def __init__(self, target, dim, order, nodes, weights):
        self.target, self.dim, self.order = target, dim, order
        self.gidx = gram_index(dim, order)
        self.num = len(target)
        self.evals = 0
        powers = nodes[:, None] ** np.arange(2 * order + 1)[None, :]
        self.vand = powers[:, :order + 1]
        self.uand = weights[:, None] * powers
        self.lam_pos = dense_positions(dim, order)

    def _moments(self, lam, out_order):
        dim, width = self.dim, self.order + 1
        dense = np.zeros(width**dim)
        dense[self.lam_pos] = lam
        f = dense.reshape((width,) * dim)
        for _ in range(dim):
            f = np.tensordot(f, self.vand, axes=([0], [1]))  # -> [T]*dim
        r = np.exp(np.minimum(f, 600.0))
        u = self.uand[:, :out_order + 1]
        for _ in range(dim):
            r = np.tensordot(r, u, axes=([0], [0]))  # -> [(P+1)]*dim
        return r.reshape(-1)[dense_positions(dim, out_order)]


def moment_error(lam_alpha, pre, target, dim, order, t, sigma):
    nodes, weights = alpha_rule(fixed_rule.check_points(t), pre.alpha, sigma)
    peer = TensorPeer(target, dim, order, nodes, weights)  # checked equal to Peer's sum
    mu = peer._moments(lam_alpha, order)
    return float(fixed_rule.moment_error(mu, target, dim, order))


def _forget_compiled():
    """Drop every compiled program of this process, so the next call is a cold one."""
    jax.clear_caches()
    fixed_rule.compiled.cache_clear()
    fixed_rule._solver.cache_clear()


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _cold_and_warm(fn, repeats):
    """``(answer, cold s, warm s)``: first call after :func:`_forget_compiled`, then the best
    of ``repeats`` calls."""
    _forget_compiled()
    _, cold = _timed(fn)
    out, warm = None, float("inf")
    for _ in range(repeats):
        out, wall = _timed(fn)
        warm = min(warm, wall)
    return out, cold, warm


@pinned_peer
def run_peer(kind, method, target, dim, order, nodes, weights, lam0):
    """The SciPy peer on one fixed rule (one BLAS thread); ``(x [K], wall s, evals,
    BLAS threads seen inside)``."""
    threads = blas_threads()
    cls = TensorPeer if kind == "tensor" else Peer
    peer = cls(target, dim, order, nodes, weights)
    opts = {"gtol": 1e-10, "maxiter": 2000}
    start = time.perf_counter()
    res = scipy.optimize.minimize(peer.fun, lam0, jac=True, method=method,
                                  hess=peer.hess if method == "trust-exact" else None,
                                  options=opts)
    return res.x, time.perf_counter() - start, peer.evals, threads


def bench_case(name, repeats, peers, peer_budget):
    """Cells of one case: the automatic ladder, then each (our method, peer) pair."""
    case = make_case(name)
    config = maxent.Config(case.dim, case.order)
    sol, cold, warm = _cold_and_warm(lambda: maxent.solve(case.moments, config), repeats)
    t, sigma = int(sol.stats["quad_points"]), float(sol.stats["sigma"])
    cells = [{"kind": "ladder", "case": name, "method": "auto", "K": len(case.moments),
              "T": t, "sigma": sigma, "ours_cold_s": cold, "ours_warm_s": warm,
              "ours_moment_error": float(sol.stats["moment_error"]),
              "ours_result": maxent.Result.names(sol.result),
              "ours_iterations": int(sol.stats["iterations"])}]
    pre = precondition(case.moments, case.dim, case.order)
    target = forward_moments(pre, case.moments)
    nodes, weights = alpha_rule(t, pre.alpha, sigma)
    lam0 = fixed_rule.gaussian_start(case.dim, case.order)
    for ours, peer_method in PAIRS:
        fixed = maxent.Config(case.dim, case.order, quad_points=t, sigma=sigma, method=ours)
        mine, cold, warm = _cold_and_warm(lambda: maxent.solve(case.moments, fixed), repeats)
        for kind in peers:
            cell = {"kind": "fixed_rule", "case": name, "method": ours,
                    "peer": f"{kind}/{peer_method}", "K": len(case.moments), "T": t,
                    "sigma": sigma, "ours_cold_s": cold, "ours_warm_s": warm,
                    "ours_moment_error": float(mine.stats["moment_error"]),
                    "ours_iterations": int(mine.stats["iterations"]),
                    "peer_s": None, "peer_moment_error": None, "ratio_warm": None,
                    "ratio_cold": None}
            if kind == "monomial" and t ** case.dim > peer_budget:
                cell["peer_skipped"] = f"grid of {t ** case.dim} points > --peer-budget"
            else:
                x, wall, evals, threads = run_peer(kind, peer_method, target, case.dim,
                                                   case.order, nodes, weights, lam0)
                cell.update(peer_s=wall, peer_evals=evals, peer_blas_threads=threads,
                            peer_moment_error=moment_error(x, pre, target, case.dim,
                                                           case.order, t, sigma),
                            ratio_warm=wall / warm, ratio_cold=wall / cold)
            cells.append(cell)
    return cells


# A fresh process: import, switch the cache on in the given directory, solve one case.
_CHILD = """
import json, sys, time
start = time.perf_counter()
import jax, jax.monitoring
import scipy.linalg  # jaxlib takes LAPACK from it when it first lowers a Cholesky
import jaxopt_lab
from jaxopt_lab import maxent
from jaxopt_lab.maxent.cases import make_case
events = {}
jax.monitoring.register_event_listener(
    lambda name, **kw: events.__setitem__(name, events.get(name, 0) + 1))
jaxopt_lab.enable_compilation_cache(sys.argv[1])
case = make_case(sys.argv[2])
config = maxent.Config(case.dim, case.order)
imported, imported_cpu = time.perf_counter(), time.process_time()
sol = maxent.solve(case.moments, config)
done, done_cpu = time.perf_counter(), time.process_time()
print(json.dumps({"import_s": imported - start, "solve_s": done - imported,
                  "import_cpu_s": imported_cpu, "solve_cpu_s": done_cpu - imported_cpu,
                  "result": maxent.Result.names(sol.result),
                  "moment_error": float(sol.stats["moment_error"]),
                  "cache_hits": events.get("/jax/compilation_cache/cache_hits", 0),
                  "cache_misses": events.get("/jax/compilation_cache/cache_misses", 0)}))
"""


def bench_processes(name):
    """Two fresh processes solving case ``name`` against one new cache directory."""
    cells = []
    env = dict(os.environ)
    env["PYTHONPATH"] = str(benchlib.ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory(prefix="maxent-cache-") as folder:
        for number in (1, 2):
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _CHILD, folder, name], env=env,
                                 capture_output=True, text=True, check=True)
            wall = time.perf_counter() - start
            report = json.loads(out.stdout.strip().splitlines()[-1])
            entries = sum(1 for p in Path(folder).rglob("*") if p.is_file())
            cells.append({"kind": "process", "case": name, "method": "auto",
                          "process": number, "process_wall_s": wall, "cache_entries": entries,
                          "load_average": os.getloadavg()[0], **report})
    return cells


def bench_batch(batch, repeats):
    rng = np.random.default_rng(0)
    names = ["gauss", "bimodal", "skewed"]
    moments = []
    for _ in range(batch):
        a = np.eye(2) + 0.3 * rng.standard_normal((2, 2))
        f = [names[i] for i in rng.integers(0, 3, 2)]
        moments.append(rotated_product(2, 4, f, a, rng.standard_normal(2)).moments)
    moments = np.stack(moments)
    cells = []
    for method, _ in PAIRS:
        config = maxent.Config(2, 4, quad_points=48, sigma=0.45, method=method)
        sol, cold, warm = _cold_and_warm(lambda: maxent.solve_batch(moments, config), repeats)
        cells.append({"kind": "batch", "case": "2d4_random", "method": method, "batch": batch,
                      "ours_cold_s": cold, "ours_warm_s": warm, "solves_per_s": batch / warm,
                      "converged": float(np.mean(sol.result == int(maxent.Result.converged))),
                      "ours_moment_error": float(np.max(sol.stats["moment_error"])),
                      "max_iterations": int(np.max(sol.stats["iterations"]))})
    return cells


def _num(v, fmt):
    return "-" if v is None else format(v, fmt)


def markdown(cells):
    """The page's tables (Markdown)."""
    parts = []
    ladder = [c for c in cells if c["kind"] == "ladder"]
    if ladder:
        parts.append("Automatic ladder (`maxent.solve(moments, Config(dim, order))`), ours:\n\n"
                     + benchlib.markdown_table(
                         ["case", "K", "final T/sigma", "cold s", "warm s", "moment error",
                          "iterations"],
                         [[c["case"], c["K"], f"{c['T']}/{c['sigma']:.2f}",
                           _num(c["ours_cold_s"], ".2f"), _num(c["ours_warm_s"], ".3f"),
                           _num(c["ours_moment_error"], ".1e"), c["ours_iterations"]]
                          for c in ladder]))
    fixed = [c for c in cells if c["kind"] == "fixed_rule"]
    if fixed:
        rows = []
        for c in fixed:
            peer = (c.get("peer_skipped", "not run") if c["peer_s"] is None
                    else f"{c['peer_s']:.3f} ({c['peer_moment_error']:.1e})")
            rows.append([c["case"], f"{c['T']}/{c['sigma']:.2f}", c["method"], c["peer"],
                         _num(c["ours_cold_s"], ".2f"),
                         f"{c['ours_warm_s']:.4f} ({c['ours_moment_error']:.1e})", peer,
                         _num(c["ratio_warm"], ".3g"), _num(c["ratio_cold"], ".3g")])
        parts.append("Same fixed rule, ours vs the SciPy peer (seconds; moment error):\n\n"
                     + benchlib.markdown_table(
                         ["case", "T/sigma", "ours", "peer", "ours cold s", "ours warm s",
                          "peer s", "peer/ours warm", "peer/ours cold"], rows))
    procs = [c for c in cells if c["kind"] == "process"]
    if procs:
        parts.append("Fresh processes against one new compilation-cache directory "
                     "(automatic ladder):\n\n" + benchlib.markdown_table(
                         ["case", "process", "import s (CPU s)", "solve call s (CPU s)",
                          "process wall s", "cache hits/misses", "entries after", "result",
                          "load"],
                         [[c["case"], c["process"],
                           f"{c['import_s']:.2f} ({c.get('import_cpu_s', float('nan')):.2f})",
                           f"{c['solve_s']:.2f} ({c.get('solve_cpu_s', float('nan')):.2f})",
                           f"{c['process_wall_s']:.2f}",
                           f"{c['cache_hits']}/{c['cache_misses']}", c["cache_entries"],
                           c["result"], f"{c['load_average']:.1f}"] for c in procs]))
    batch = [c for c in cells if c["kind"] == "batch"]
    if batch:
        parts.append("`solve_batch`, 2D order 4, T = 48, sigma = 0.45, random rotated "
                     "products:\n\n" + benchlib.markdown_table(
                         ["method", "B", "cold s", "warm s", "solves/s", "converged",
                          "max moment error", "max iterations"],
                         [[c["method"], c["batch"], f"{c['ours_cold_s']:.2f}",
                           f"{c['ours_warm_s']:.3f}", f"{c['solves_per_s']:.0f}",
                           f"{c['converged']:.3f}", f"{c['ours_moment_error']:.1e}",
                           c["max_iterations"]] for c in batch]))
    return "\n\n".join(parts) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=benchlib.comma_list(tuple(sorted(CASES)), "case"),
                        default=None,
                        help=f"comma-separated cases (default {DEFAULT_CASES}; --quick: "
                             "2d8_bimodal); the first one is also run in fresh processes")
    parser.add_argument("--repeats", type=benchlib.positive_int, default=None,
                        help="warm calls of ours, best taken (default 3; --quick: 2)")
    parser.add_argument("--batch", type=benchlib.positive_int, default=None,
                        help="problems in the solve_batch run (default 1000; --quick: 200)")
    parser.add_argument("--peers", type=benchlib.comma_list(tuple(PEER_KINDS), "peer kind"),
                        default=list(PEER_KINDS),
                        help="peer kinds: monomial,tensor")
    parser.add_argument("--peer-budget", type=benchlib.positive_int, default=300_000,
                        help="largest grid (points) given to the point-by-point peer")
    benchlib.add_common_arguments(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    cases = args.cases or (["2d8_bimodal"] if args.quick else DEFAULT_CASES.split(","))
    repeats = args.repeats or (2 if args.quick else 3)
    batch = args.batch or (200 if args.quick else 1000)
    # Cold means cold: nothing from a persistent cache in this process.
    jax.config.update("jax_enable_compilation_cache", False)
    cells = []
    with jax.enable_x64(True):
        for name in cases:
            new = bench_case(name, repeats, args.peers, args.peer_budget)
            print(markdown(new), flush=True)
            cells += new
        cells += bench_processes(cases[0])
        cells += bench_batch(batch, repeats)
    text = markdown(cells)
    print(text)
    benchlib.write_result(args.json, BENCHMARK, cells, text,
                          argv=[sys.argv[0]] + list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
