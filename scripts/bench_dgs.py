"""DGS performance: gradient vs the bare matmul floor, whole run vs NumPy, peak memory.

    python scripts/bench_dgs.py                       # d = 2000 (CPU or GPU), d = 8000 chunked
    python scripts/bench_dgs.py --run-iters 20 --skip-big

All ratios are measured against a reference run *in the same process*:
  1. one DGS gradient (d = 2000, M = 5, (M-1) d = 8000 points) of rotated Rastrigin,
     evaluated as a black box (``vmap`` of ``f(x) = rastrigin(R (x - x_opt))``, one rotation
     per point), vs the bare ``[8000, 2000] x [2000, 2000]`` float32 product that evaluation
     needs (the floor). Reported: ``speed = t_matmul / t_gradient`` (target >= 0.6).
  2. a whole DGS run (paper profile: 200 iterations, d = 2000, normalised step, quadratic
     decay) vs a NumPy float64 implementation of the same algorithm, vectorised as the
     authors' public code is (all ``M d`` points, formed with a dense product against the
     direction matrix, then evaluated in one batch). NumPy is timed for ``--numpy-iters``
     iterations and scaled to the run length (it costs seconds per iteration).
  3. peak resident memory of a d = 8000 chunked gradient, in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np


def _best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def _instance(dim, seed=0):
    from jaxopt_lab.problems import highdim as hd

    inst = hd.sample_instance(jax.random.key(seed), "rastrigin", dim)
    return inst, hd.objective("rastrigin", inst)


def bench_gradient(dim, repeats, chunks):
    from jaxopt_lab import dgs

    inst, f = _instance(dim)
    n = 4 * dim
    a = jax.random.normal(jax.random.key(1), (n, dim), jnp.float32)
    rot = inst.rotation
    mm = jax.jit(lambda a, b: a @ b.T)
    jax.block_until_ready(mm(a, rot))
    t_mm = _best_time(lambda: mm(a, rot), repeats)
    out = {"dim": dim, "points": n, "t_matmul_s": t_mm, "gradient": {}}
    x = inst.x0
    for chunk in chunks:
        g = jax.jit(lambda x: dgs.gradient(f, x, 51.2, chunk_size=chunk))
        jax.block_until_ready(g(x))
        t = _best_time(lambda: g(x), repeats)
        out["gradient"][str(chunk)] = {"t_s": t, "speed_vs_matmul": t_mm / t}
    return out


def _numpy_dgs_run(rot, x_opt, x0, w, iters, num_points=5):
    """DGS in NumPy float64, vectorised like the public reference code (all M d points)."""
    d = x0.size
    v, wts = np.polynomial.hermite.hermgauss(num_points)
    nodes = np.kron(v[:, None], np.eye(d))  # [M d, d] node matrix (one row per point)
    xi = np.eye(d)
    x = x0.astype(np.float64).copy()
    lr0, s0 = 0.05 * math.sqrt(d) * w, 5.0 * w
    for t in range(iters):
        frac = (1 - t / 200.0) ** 2
        lr = 0.01 * lr0 + 0.99 * lr0 * frac
        sigma = 0.01 * s0 + 0.99 * s0 * frac
        pts = x[None, :] + math.sqrt(2) * sigma * (nodes @ xi.T)
        z = (pts - x_opt[None, :]) @ rot.T
        fv = 10 * d + np.sum(z * z - 10 * np.cos(2 * np.pi * z), axis=1)
        dd = (wts * math.sqrt(2) * v) @ fv.reshape(num_points, d) / (math.sqrt(math.pi) * sigma)
        g = xi @ dd
        x = x - lr * g / np.linalg.norm(g)
    return x


def bench_run(dim, run_iters, numpy_iters, chunk):
    from jaxopt_lab.core import run
    from jaxopt_lab.dgs import dgs

    inst, f = _instance(dim)
    w = 10.24
    cfg = dgs.Config(dim=dim, chunk_size=chunk)
    p = dgs.params(w, dim, horizon=200.0)  # lr 0.05 sqrt(d) w, sigma 5 w
    m = dgs.make(f, cfg)
    fn = jax.jit(lambda k: run(m, k, inst.x0, p, run_iters)[0].x)
    t = time.perf_counter()
    jax.block_until_ready(fn(jax.random.key(0)))
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    xj = jax.block_until_ready(fn(jax.random.key(0)))
    t_jax = time.perf_counter() - t
    rot = np.asarray(inst.rotation, np.float64)
    xo = np.asarray(inst.x_opt, np.float64)
    x0 = np.asarray(inst.x0, np.float64)
    t = time.perf_counter()
    xn = _numpy_dgs_run(rot, xo, x0, w, numpy_iters)
    t_np_iter = (time.perf_counter() - t) / numpy_iters
    # cross-check the two implementations over the first numpy_iters iterations
    fj = jax.jit(lambda k: run(m, k, inst.x0, p, numpy_iters)[0].x)(jax.random.key(0))
    agree = float(np.linalg.norm(np.asarray(fj, np.float64) - xn) / np.linalg.norm(xn))
    t_np = t_np_iter * run_iters
    return {"dim": dim, "iters": run_iters, "chunk": chunk, "t_jax_s": t_jax,
            "t_jax_first_call_s": t_first, "t_numpy_per_iter_s": t_np_iter,
            "numpy_iters_timed": numpy_iters, "t_numpy_s_scaled": t_np,
            "speedup_vs_numpy": t_np / t_jax, "rel_diff_after_numpy_iters": agree,
            "final_x_norm": float(np.linalg.norm(np.asarray(xj)))}


def _peak_rss_gib():
    """Peak resident memory of this process in GiB.

    ``VmHWM`` from /proc (Linux) is this address space's own high-water mark; ``ru_maxrss``
    (the fallback) also counts the parent's RSS at fork, since Linux keeps it across exec.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20  # kB -> GiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def big_child(dim, chunk):
    """Runs in a subprocess: one chunked gradient at ``dim``; prints JSON with peak RSS."""
    from jaxopt_lab import dgs

    inst, f = _instance(dim)
    g = jax.jit(lambda x: dgs.gradient(f, x, 51.2, chunk_size=chunk))
    t = time.perf_counter()
    out = jax.block_until_ready(g(inst.x0))
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    out = jax.block_until_ready(g(inst.x0))
    t_grad = time.perf_counter() - t
    print(json.dumps({"dim": dim, "chunk": chunk, "points": 4 * dim, "t_gradient_s": t_grad,
                      "t_first_call_s": t_first, "peak_rss_gib": _peak_rss_gib(),
                      "finite": bool(np.all(np.isfinite(np.asarray(out))))}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunks", default="none,2000,4000",
                    help="gradient chunk sizes (points per batched call) to time")
    ap.add_argument("--run-iters", type=int, default=200)
    ap.add_argument("--numpy-iters", type=int, default=3)
    ap.add_argument("--run-chunk", default="none")
    ap.add_argument("--big-dim", type=int, default=8000)
    ap.add_argument("--big-chunk", type=int, default=4000)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        big_child(args.big_dim, args.big_chunk)
        return
    parse = lambda c: None if c == "none" else int(c)  # noqa: E731
    dev = jax.devices()[0]
    report = {"backend": jax.default_backend(), "device": str(dev.device_kind),
              "jax": jax.__version__, "num_devices": jax.device_count()}
    print(json.dumps(report))
    report["gradient"] = bench_gradient(args.dim, args.repeats,
                                        [parse(c) for c in args.chunks.split(",")])
    print(json.dumps(report["gradient"], indent=1), flush=True)
    if not args.skip_run:
        report["run"] = bench_run(args.dim, args.run_iters, args.numpy_iters,
                                  parse(args.run_chunk))
        print(json.dumps(report["run"], indent=1), flush=True)
    report["peak_rss_gib_this_process"] = _peak_rss_gib()
    if not args.skip_big:
        out = subprocess.run([sys.executable, __file__, "--child", "--big-dim",
                              str(args.big_dim), "--big-chunk", str(args.big_chunk)],
                             capture_output=True, text=True, check=True)
        report["big"] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(report["big"], indent=1), flush=True)
    print(json.dumps({"peak_rss_gib_this_process": report["peak_rss_gib_this_process"]}))


if __name__ == "__main__":
    main()
