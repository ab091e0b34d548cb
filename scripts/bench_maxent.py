"""Benchmark: jaxopt_lab.maxent vs a SciPy peer, and batched throughput.

Usage::

    PYTHONPATH=. python scripts/bench_maxent.py [--cases 2d8_bimodal,3d6_mixed,4d4_mixed]
        [--batch 1000] [--repeats 2]

For each case, our solver runs with the automatic ladder; its final rule (T, sigma) is then
handed to the peer, so both solve the same discrete dual. The peer is
``scipy.optimize.minimize(method="trust-exact")`` (and ``"BFGS"``) on the dual (3.4a) in the
raw monomial basis of the alpha frame (preconditioned moments, no orthonormal basis, no
reorthonormalisation), with NumPy objective/gradient/Hessian evaluated chunk-wise on the
same tensor grid and started from the same Gaussian. Both answers are scored by the same
refined-rule moment error. Times are after compilation (ours) and best of ``--repeats``.
Then ``solve_batch`` throughput on 2D order 4.
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

from experiments.maxent_cases import make_case, rotated_product  # noqa: E402
from jaxopt_lab import maxent  # noqa: E402
from jaxopt_lab.maxent import solver as msolver  # noqa: E402
from jaxopt_lab.maxent.basis import gram_index  # noqa: E402
from jaxopt_lab.maxent.multiindex import _monomials_np  # noqa: E402
from jaxopt_lab.maxent.precondition import forward_moments, precondition  # noqa: E402
from jaxopt_lab.maxent.rules import alpha_rule  # noqa: E402


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


def moment_error(lam_alpha, pre, target, dim, order, t, sigma):
    nodes, weights = alpha_rule(msolver._reference_points(t), pre.alpha, sigma)
    peer = Peer(target, dim, order, nodes, weights)
    mu = peer._moments(lam_alpha, order)
    return float(msolver._moment_error(mu, target, pre.white_scale))


def bench_case(name, repeats):
    case = make_case(name)
    sol = maxent.solve(case.moments, case.dim, case.order)  # compile every rung
    ours = []
    for _ in range(repeats):
        start = time.perf_counter()
        sol = maxent.solve(case.moments, case.dim, case.order)
        ours.append(time.perf_counter() - start)
    # Our solve at the final rule only (what the peer gets).
    kw = dict(quad_points=sol.quad_points, sigma=sol.sigma)
    fixed = maxent.solve(case.moments, case.dim, case.order, **kw)
    ours_fixed = []
    for _ in range(repeats):
        start = time.perf_counter()
        fixed = maxent.solve(case.moments, case.dim, case.order, **kw)
        ours_fixed.append(time.perf_counter() - start)
    pre = precondition(case.moments, case.dim, case.order)
    target = forward_moments(pre, case.moments)
    nodes, weights = alpha_rule(sol.quad_points, pre.alpha, sol.sigma)
    lam0 = msolver._gaussian_start(case.dim, case.order, pre.alpha)
    out = {"case": name, "K": len(target), "T": sol.quad_points, "sigma": sol.sigma,
           "ours_auto_s": min(ours), "ours_auto_err": float(sol.moment_error),
           "ours_fixed_s": min(ours_fixed), "ours_fixed_err": float(fixed.moment_error)}
    for method in ("trust-exact", "BFGS"):
        peer = Peer(target, case.dim, case.order, nodes, weights)
        start = time.perf_counter()
        opts = {"gtol": 1e-10, "maxiter": 2000}
        res = scipy.optimize.minimize(peer.fun, lam0, jac=True, method=method,
                                      hess=peer.hess if method == "trust-exact" else None,
                                      options=opts)
        wall = time.perf_counter() - start
        err = moment_error(res.x, pre, target, case.dim, case.order, sol.quad_points,
                           sol.sigma)
        out[f"{method}_s"] = wall
        out[f"{method}_err"] = err
        out[f"{method}_evals"] = peer.evals
    return out


def bench_batch(batch, repeats):
    rng = np.random.default_rng(0)
    names = ["gauss", "bimodal", "skewed"]
    moments = []
    for _ in range(batch):
        a = np.eye(2) + 0.3 * rng.standard_normal((2, 2))
        f = [names[i] for i in rng.integers(0, 3, 2)]
        moments.append(rotated_product(2, 4, f, a, rng.standard_normal(2)).moments)
    moments = np.stack(moments)
    kw = dict(quad_points=48, sigma=0.45)
    sol = maxent.solve_batch(moments, 2, 4, **kw)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sol = maxent.solve_batch(moments, 2, 4, **kw)
        times.append(time.perf_counter() - start)
    return {"batch": batch, "s": min(times), "solves_per_s": batch / min(times),
            "converged": float(np.mean(sol.converged)),
            "max_moment_error": float(np.max(sol.moment_error))}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="2d8_bimodal,3d6_mixed,4d4_mixed")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"# machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, jax {jax.__version__}, backend {jax.default_backend()}")
    print("| case | K | T/sigma | ours auto s | ours fixed-rule s | ours err | "
          "trust-exact s | err | BFGS s | err | speed-up vs best peer (fixed rule) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in [c for c in args.cases.split(",") if c]:
        r = bench_case(name, args.repeats)
        best = min(r["trust-exact_s"], r["BFGS_s"])
        print(f"| {name} | {r['K']} | {r['T']}/{r['sigma']:.2f} | {r['ours_auto_s']:.2f} | "
              f"{r['ours_fixed_s']:.2f} | {r['ours_fixed_err']:.1e} | "
              f"{r['trust-exact_s']:.2f} | {r['trust-exact_err']:.1e} | {r['BFGS_s']:.2f} | "
              f"{r['BFGS_err']:.1e} | {best / r['ours_fixed_s']:.1f}x |", flush=True)
    if args.batch:
        b = bench_batch(args.batch, args.repeats)
        print(f"\nsolve_batch 2D order 4, B={b['batch']}, T=48, sigma=0.45: {b['s']:.2f} s, "
              f"{b['solves_per_s']:.0f} solves/s, converged {b['converged']:.3f}, "
              f"max moment error {b['max_moment_error']:.1e}")


if __name__ == "__main__":
    with jax.enable_x64(True):
        main()
