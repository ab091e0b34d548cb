"""Why DGS's iterate drifts away from the optimum on rugged functions, and what stops it.

    python scripts/dgs_drift_probe.py --function F4 --dim 500 --variants paper,average
    python scripts/dgs_drift_probe.py --function F4 --dim 2000 --variants monotone,average

Runs DGS (identity directions, M = 5, the benchmark's instance of seed ``--seed``, budget
``200 (M - 1) d``) with one change to Algorithm 1 per variant, and prints the loss at the
iterate, its distance to ``x_opt`` and the distance of the running mean of the iterates of
steps ``[T/8, T/2)`` at nine points of the run. The variants are the approaches tried
against the drift (docs/methods/dgs.md, "Past the paper's d = 2000 limits"):

* ``paper``: Algorithm 1 as in the benchmarks (quadratic decay of lambda and sigma to 1 %);
* ``floor30`` / ``floor100``: the radius decays only to 30 % / 100 % of sigma_0 (a radius
  kept large);
* ``monotone``: a step that does not lower ``f`` is rejected (the iterate stays);
* ``linesearch``: ``L = 0.05 (M - 1) d`` lengths ``lambda_t 10^(-3 l / (L - 1))`` along
  ``-g / ||g||`` in one batch, moving to the best if it is lower (AdaDGS's search on the
  nonlocal direction; ``L`` more evaluations a step, so fewer steps);
* ``cycles``: four restarts of both schedules, each from the best point so far, each
  starting from half the previous lambda_0 and sigma_0;
* ``average``: ``dgs.Config(restart="average")``, the library's option (the mean of the
  iterates of ``[T/8, T/2)`` if lower, then the radius from 0.01 sigma_0).

Nothing is timed; one run per variant (1-4 CPU-minutes at d = 2000).
"""

from __future__ import annotations

import argparse
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.dgs import dgs
from jaxopt_lab.dgs.estimator import estimate
from jaxopt_lab.dgs.schedules import schedule_value
from jaxopt_lab.problems import highdim as hd
from jaxopt_lab.sweeps import seed_keys

VARIANTS = ("paper", "floor30", "floor100", "monotone", "linesearch", "cycles", "average")


def _instance(fid, dim, seed):
    k_inst, _ = jax.random.split(seed_keys(0, [seed])[0])
    inst = hd.sample_instance(k_inst, fid, dim)
    return inst, hd.objective(fid, inst), hd.width(fid)


def run_variant(variant, fid, dim, seed, iters=200):
    """``(losses [steps], distances [steps], mean_distances [steps], best_f)``."""
    inst, f, w = _instance(fid, dim, seed)
    total = iters * 4 * dim
    if variant == "average":
        cfg = dgs.Config(dim=dim, restart="average", record_path=True)
        steps = (total - cfg.extra_evals) // (cfg.evals_per_step - 1)
        p = dgs.params(w, dim, horizon=float(steps))
        method = dgs.make(f, cfg)

        def body(s, _):
            s, info = method.step(None, s, p)
            return s, (info.f_x, info.x)

        state, (fs, xs) = jax.lax.scan(body, method.init(None, inst.x0, p), None, steps)
        return _summary(fs, xs, inst.x_opt, steps, state.best_f)
    L = max(1, int(0.05 * 4 * dim)) if variant == "linesearch" else 0
    steps = total // (4 * dim + L)
    cycles = 4 if variant == "cycles" else 1
    clen = steps // cycles
    lr0, s0 = 0.05 * math.sqrt(dim) * w, 5.0 * w
    floor = {"floor30": 0.3, "floor100": 1.0}.get(variant, 0.01)
    grid = 10.0 ** (-3.0 * jnp.arange(max(L, 1)) / max(L - 1, 1))

    def body(c, t):
        x, fx, bx, bf = c
        cyc = jnp.minimum(t // clen, cycles - 1)
        tc = t - cyc * clen
        horizon = jnp.where(cyc == cycles - 1, steps - cyc * clen, clen).astype(jnp.float32)
        if cycles > 1:
            back = (tc == 0) & (t > 0)
            x, fx = jnp.where(back, bx, x), jnp.where(back, bf, fx)
        scale = 0.5 ** cyc
        lr = schedule_value("quadratic", tc, lr0 * scale, 0.01 * lr0 * scale, horizon, 1.0)
        sg = schedule_value("quadratic", tc, s0 * scale, floor * s0 * scale, horizon, 1.0)
        est = estimate(f, x, sg, num_points=5, validate=False)
        d = -est.grad / jnp.maximum(jnp.linalg.norm(est.grad), 1e-30)
        if L:
            pts = x[None] + (lr * grid)[:, None] * d[None]
            vals = jnp.nan_to_num(jax.vmap(f)(pts), nan=jnp.inf)
            i = jnp.argmin(vals)
            xn, fn, ok = pts[i], vals[i], vals[i] < fx
        else:
            xn = x + lr * d
            fn = f(xn)
            ok = (fn < fx) if variant == "monotone" else True
        xn, fn = jnp.where(ok, xn, x), jnp.where(ok, fn, fx)
        cand_f = jnp.minimum(est.best_f, fn)
        cand_x = jnp.where(est.best_f < fn, est.best_x, xn)
        better = cand_f < bf
        return (xn, fn, jnp.where(better, cand_x, bx), jnp.where(better, cand_f, bf)), (fn, xn)

    f0 = f(inst.x0)
    (_, _, _, best), (fs, xs) = jax.lax.scan(body, (inst.x0, f0, inst.x0, f0),
                                             jnp.arange(steps))
    return _summary(fs, xs, inst.x_opt, steps, best)


def _summary(fs, xs, x_opt, steps, best):
    xs = np.asarray(xs, np.float64)
    dist = np.linalg.norm(xs - np.asarray(x_opt)[None], axis=1)
    lo, hi = steps // 8, steps // 2
    mean = np.cumsum(xs[lo:hi], axis=0) / np.arange(1, hi - lo + 1)[:, None]
    mean_dist = np.full(steps, np.nan)
    mean_dist[lo:hi] = np.linalg.norm(mean - np.asarray(x_opt)[None], axis=1)
    mean_dist[hi:] = mean_dist[hi - 1]
    return np.asarray(fs), dist, mean_dist, float(best)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--function", default="F4", help="F1..F6")
    parser.add_argument("--dim", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default="paper,average",
                        help=f"comma-separated, from {','.join(VARIANTS)}")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"--variants: unknown variant {v!r}; use {', '.join(VARIANTS)}")
    print(f"{args.function}, d = {args.dim}, seed {args.seed}; columns at steps 0, T/8, .., T")
    for v in variants:
        fs, dist, mean_dist, best = run_variant(v, args.function, args.dim, args.seed)
        idx = np.linspace(0, len(fs) - 1, 9).astype(int)
        print(f"{v}: best loss {best:.5g}")
        for name, row in (("  loss at iterate", fs), ("  distance", dist),
                          ("  mean's distance", mean_dist)):
            print(name + ": " + " ".join(f"{row[i]:.4g}" for i in idx))


if __name__ == "__main__":
    main()
