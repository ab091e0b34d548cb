"""Benchmark: jaxopt_lab.maxent vs a SciPy peer, and batched throughput.

Usage::

    PYTHONPATH=. python scripts/bench_maxent.py [--cases 2d8_bimodal,3d6_mixed,4d4_mixed]
        [--batch 1000] [--repeats 3] [--methods newton,bfgs] [--peers monomial,tensor]

For each case, our solver first runs with the automatic ladder; its final rule (T, sigma) is
then used for the "fixed rule" runs of ours and of the peer, so both solve the same discrete
dual. The peer is ``scipy.optimize.minimize(method="trust-exact")`` (and ``"BFGS"``) on the
dual (3.4a) in the raw monomial basis of the alpha frame (preconditioned moments, no
orthonormal basis, no reorthonormalisation), started from the same Gaussian, with the
objective, gradient and Hessian evaluated in NumPy on the same tensor grid in one of two
ways:

* ``monomial``: point by point, the grid materialised in chunks and all monomials of each
  point formed (the straightforward implementation);
* ``tensor``: the same separable contraction as our solver (jaxopt_lab.maxent.tensor),
  written in NumPy, so that the comparison isolates the optimiser and the compilation.

All answers are scored by the same refined-rule moment error (so "equal accuracy" can be
read off the table). Our times are after compilation (the first call is reported
separately) and the best of ``--repeats``; the peer runs once per variant.
Then ``solve_batch`` throughput on 2D order 4 (both methods).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import scipy.optimize

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

from jaxopt_lab import maxent  # noqa: E402
from jaxopt_lab.maxent import fixed_rule  # noqa: E402
from jaxopt_lab.maxent.basis import gram_index  # noqa: E402
from jaxopt_lab.maxent.cases import make_case, rotated_product  # noqa: E402
from jaxopt_lab.maxent.multiindex import _monomials_np  # noqa: E402
from jaxopt_lab.maxent.precondition import forward_moments, precondition  # noqa: E402
from jaxopt_lab.maxent.rules import alpha_rule  # noqa: E402
from jaxopt_lab.maxent.tensor import dense_positions  # noqa: E402


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


def _best_time(fn, repeats):
    out, times = None, []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times)


def bench_case(name, repeats, methods, peers, peer_budget):
    case = make_case(name)
    config = maxent.Config(case.dim, case.order)
    start = time.perf_counter()
    sol = maxent.solve(case.moments, config)  # compiles every rung
    first = time.perf_counter() - start
    sol, auto_s = _best_time(lambda: maxent.solve(case.moments, config), repeats)
    t, sigma = int(sol.stats["quad_points"]), float(sol.stats["sigma"])
    out = {"case": name, "K": len(case.moments), "T": t, "sigma": sigma,
           "auto_first_s": first, "auto_s": auto_s,
           "auto_err": float(sol.stats["moment_error"]),
           "auto_result": maxent.Result.names(sol.result),
           "auto_iterations": int(sol.stats["iterations"])}
    for method in methods:
        fixed_config = maxent.Config(case.dim, case.order, quad_points=t, sigma=sigma,
                                     method=method)
        fixed = maxent.solve(case.moments, fixed_config)
        fixed, wall = _best_time(lambda: maxent.solve(case.moments, fixed_config), repeats)
        out[f"{method}_s"] = wall
        out[f"{method}_err"] = float(fixed.stats["moment_error"])
        out[f"{method}_iterations"] = int(fixed.stats["iterations"])
        out[f"{method}_result"] = maxent.Result.names(fixed.result)
    pre = precondition(case.moments, case.dim, case.order)
    target = forward_moments(pre, case.moments)
    nodes, weights = alpha_rule(t, pre.alpha, sigma)
    lam0 = fixed_rule.gaussian_start(case.dim, case.order)
    for kind in peers:
        if kind == "monomial" and t ** case.dim > peer_budget:
            continue  # the point-by-point peer would take many minutes on this grid
        for method in ("trust-exact", "BFGS"):
            cls = TensorPeer if kind == "tensor" else Peer
            peer = cls(target, case.dim, case.order, nodes, weights)
            start = time.perf_counter()
            opts = {"gtol": 1e-10, "maxiter": 2000}
            res = scipy.optimize.minimize(peer.fun, lam0, jac=True, method=method,
                                          hess=peer.hess if method == "trust-exact" else None,
                                          options=opts)
            wall = time.perf_counter() - start
            err = moment_error(res.x, pre, target, case.dim, case.order, t, sigma)
            out[f"{kind}/{method}_s"] = wall
            out[f"{kind}/{method}_err"] = err
            out[f"{kind}/{method}_evals"] = peer.evals
    return out


def bench_batch(batch, repeats, methods):
    rng = np.random.default_rng(0)
    names = ["gauss", "bimodal", "skewed"]
    moments = []
    for _ in range(batch):
        a = np.eye(2) + 0.3 * rng.standard_normal((2, 2))
        f = [names[i] for i in rng.integers(0, 3, 2)]
        moments.append(rotated_product(2, 4, f, a, rng.standard_normal(2)).moments)
    moments = np.stack(moments)
    rows = []
    for method in methods:
        config = maxent.Config(2, 4, quad_points=48, sigma=0.45, method=method)
        start = time.perf_counter()
        sol = maxent.solve_batch(moments, config)
        first = time.perf_counter() - start
        sol, wall = _best_time(lambda: maxent.solve_batch(moments, config), repeats)
        rows.append({"method": method, "batch": batch, "first_s": first, "s": wall,
                     "solves_per_s": batch / wall,
                     "converged": float(np.mean(sol.result == int(maxent.Result.converged))),
                     "max_moment_error": float(np.max(sol.stats["moment_error"])),
                     "max_iterations": int(np.max(sol.stats["iterations"]))})
    return rows


def _fmt(r, key):
    return (f"{r[key + '_s']:.3f} ({r[key + '_err']:.1e})" if key + "_s" in r else "-")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="2d8_bimodal,3d6_mixed,4d4_mixed")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="newton,bfgs")
    parser.add_argument("--peers", default="monomial,tensor")
    parser.add_argument("--peer-budget", type=int, default=300_000,
                        help="largest grid (points) given to the point-by-point peer")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    peers = [p for p in args.peers.split(",") if p]
    print(f"# machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, jax {jax.__version__}, backend {jax.default_backend()}, "
          f"load {os.getloadavg()[0]:.1f}")
    print("# times in s (moment error); ours after compilation, best of --repeats")
    cols = ([f"ours {m}" for m in methods]
            + [f"{p}/{m}" for p in peers for m in ("trust-exact", "BFGS")])
    print("| case | K | T/sigma | ours auto: 1st call / after compile (err) | "
          + " | ".join(cols) + " | best peer / ours (fixed rule) |")
    print("|" + "---|" * (4 + len(cols) + 1))
    for name in [c for c in args.cases.split(",") if c]:
        r = bench_case(name, args.repeats, methods, peers, args.peer_budget)
        ours = min(r[f"{m}_s"] for m in methods)
        peer_times = [r[f"{p}/{m}_s"] for p in peers for m in ("trust-exact", "BFGS")
                      if f"{p}/{m}_s" in r]
        ratio = f"{min(peer_times) / ours:.0f}x" if peer_times else "-"
        cells = ([_fmt(r, m) for m in methods]
                 + [_fmt(r, f"{p}/{m}") for p in peers for m in ("trust-exact", "BFGS")])
        print(f"| {name} | {r['K']} | {r['T']}/{r['sigma']:.2f} | {r['auto_first_s']:.1f} / "
              f"{r['auto_s']:.3f} ({r['auto_err']:.1e}) | " + " | ".join(cells)
              + f" | {ratio} |", flush=True)
    if args.batch:
        for b in bench_batch(args.batch, args.repeats, methods):
            print(f"\nsolve_batch 2D order 4, B={b['batch']}, T=48, sigma=0.45, "
                  f"{b['method']}: {b['s']:.3f} s ({b['first_s']:.1f} s first call), "
                  f"{b['solves_per_s']:.0f} solves/s, converged {b['converged']:.3f}, "
                  f"max moment error {b['max_moment_error']:.1e}, "
                  f"max iterations {b['max_iterations']}", flush=True)


if __name__ == "__main__":
    with jax.enable_x64(True):
        main()
