"""DGS performance: gradient vs the bare matmul floor, whole run vs NumPy, peak memory.

    python scripts/bench_dgs.py                  # d = 2000, 200-iteration run, d = 8000 chunked
    python scripts/bench_dgs.py --quick          # d = 2000, 10-iteration run, no d = 8000
    python scripts/bench_dgs.py --run-iters 20 --skip-big --json PATH

All ratios are measured against a reference run *in the same process*, each in wall and
process-CPU seconds (all threads); XLA compilation is timed apart (AOT ``lower().compile()``):
  1. one DGS gradient (d = 2000, M = 5, (M-1) d = 8000 points) of rotated Rastrigin,
     evaluated as a black box (``vmap`` of ``f(x) = rastrigin(R (x - x_opt))``, one rotation
     per point), vs the bare ``[8000, 2000] x [2000, 2000]`` float32 product that evaluation
     needs (the floor). Reported: ``speed = t_matmul / t_gradient`` (target >= 0.6); best of
     ``--repeats`` rounds after the first call, the product and the gradients interleaved.
  2. a whole DGS run (paper profile: normalised step, quadratic decay over 200 steps,
     d = 2000) vs a NumPy float64 implementation of the same algorithm, vectorised as the
     authors' public code is (all ``M d`` points, formed with a dense product against the
     direction matrix, then evaluated in one batch). The NumPy peer runs with one BLAS
     thread (:func:`experiments.timing.pinned_peer`); it is timed for ``--numpy-iters``
     iterations and scaled to the run length (its cost per iteration is constant).
     Reported: NumPy / JAX, warm (JAX run only) and cold (JAX compile + run); target >= 2.
  3. peak resident memory of a d = 8000 chunked gradient, in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402  (puts the repository root on sys.path)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from experiments.timing import CpuTimer, blas_threads, pinned_peer  # noqa: E402

FULL = {"repeats": 3, "chunks": "none,2000,4000", "run_iters": 200, "numpy_iters": 3,
        "skip_big": False}
QUICK = {"repeats": 3, "chunks": "none", "run_iters": 10, "numpy_iters": 2, "skip_big": True}
TARGET_GRADIENT = 0.6  # t_matmul / t_gradient at d = 2000
TARGET_RUN = 2.0  # t_numpy / t_jax for the whole run


def _compile(fn, *args):
    """AOT-compile ``jax.jit(fn)`` for ``args``; returns ``(compiled, CpuTimer)``."""
    with CpuTimer() as t:
        compiled = jax.jit(fn).lower(*args).compile()
    return compiled, t


def _interleaved(fns, repeats):
    """Time each of ``fns`` once (its first call), then ``repeats`` rounds calling each in
    turn, so a drifting machine load affects all alike.

    Returns one ``{"first_wall_s", "first_cpu_s", "wall_s", "cpu_s"}`` per function: the
    first call, and the best wall and the best CPU seconds of the rounds.
    """
    out = []
    for fn in fns:
        with CpuTimer() as first:
            jax.block_until_ready(fn())
        out.append({"first_wall_s": first.wall_s, "first_cpu_s": first.cpu_s,
                    "wall_s": math.inf, "cpu_s": math.inf})
    for _ in range(repeats):
        for fn, o in zip(fns, out):
            with CpuTimer() as t:
                jax.block_until_ready(fn())
            o["wall_s"] = min(o["wall_s"], t.wall_s)
            o["cpu_s"] = min(o["cpu_s"], t.cpu_s)
    return out


def _instance(dim, seed=0):
    from jaxopt_lab.problems import highdim as hd

    inst = hd.sample_instance(jax.random.key(seed), "rastrigin", dim)
    loss = hd.objective("rastrigin", inst)
    # a plain closure: the black box of the paper's setting, one product with R per point
    # (RotatedObjective.along_axes would skip the products this benchmark is about)
    return inst, lambda x: loss(x)


def bench_gradient(dim, repeats, chunks):
    """Cells: the bare product (floor) and one DGS gradient per chunk size."""
    from jaxopt_lab import dgs

    inst, f = _instance(dim)
    n = 4 * dim
    a = jax.random.normal(jax.random.key(1), (n, dim), jnp.float32)
    rot = inst.rotation
    mm, c_mm = _compile(lambda a, b: a @ b.T, a, rot)
    x = inst.x0
    grads = [_compile(lambda x: dgs.gradient(f, x, 51.2, chunk_size=c), x) for c in chunks]
    times = _interleaved([lambda: mm(a, rot)] + [lambda g=g: g(x) for g, _ in grads], repeats)
    floor = times[0]
    cells = [{"figure": "matmul", "dim": dim, "points": n, "compile_wall_s": c_mm.wall_s,
              "compile_cpu_s": c_mm.cpu_s, **floor}]
    for chunk, (_, c_g), t in zip(chunks, grads, times[1:]):
        cells.append({"figure": "gradient", "dim": dim, "points": n, "chunk": chunk,
                      "compile_wall_s": c_g.wall_s, "compile_cpu_s": c_g.cpu_s, **t,
                      "speed_vs_matmul_wall": floor["wall_s"] / t["wall_s"],
                      "speed_vs_matmul_cpu": floor["cpu_s"] / t["cpu_s"]})
        print(json.dumps(cells[-1]), flush=True)
    return cells


@pinned_peer
def numpy_dgs_run(rot, x_opt, x0, w, iters, num_points=5):
    """DGS in NumPy float64, vectorised like the public reference code (all M d points).

    ``rot``: [d, d] rotation, ``x_opt``, ``x0``: [d]; runs under one BLAS thread.
    Returns ``{"x": [d], "blas_threads", "setup": CpuTimer, "loop": CpuTimer}``.
    """
    threads = blas_threads()
    with CpuTimer() as setup:
        d = x0.size
        v, wts = np.polynomial.hermite.hermgauss(num_points)
        nodes = np.kron(v[:, None], np.eye(d))  # [M d, d] node matrix (one row per point)
        xi = np.eye(d)
        x = x0.astype(np.float64).copy()
        lr0, s0 = 0.05 * math.sqrt(d) * w, 5.0 * w
    with CpuTimer() as loop:
        for t in range(iters):
            frac = (1 - t / 200.0) ** 2
            lr = 0.01 * lr0 + 0.99 * lr0 * frac
            sigma = 0.01 * s0 + 0.99 * s0 * frac
            pts = x[None, :] + math.sqrt(2) * sigma * (nodes @ xi.T)
            z = (pts - x_opt[None, :]) @ rot.T
            fv = 10 * d + np.sum(z * z - 10 * np.cos(2 * np.pi * z), axis=1)
            dd = ((wts * math.sqrt(2) * v) @ fv.reshape(num_points, d)
                  / (math.sqrt(math.pi) * sigma))
            g = xi @ dd
            x = x - lr * g / np.linalg.norm(g)
    return {"x": x, "blas_threads": threads, "setup": setup, "loop": loop}


def bench_run(dim, run_iters, numpy_iters, chunk):
    """One cell: the JAX run (compile apart) vs the pinned NumPy peer, scaled to ``run_iters``."""
    from jaxopt_lab.core import run
    from jaxopt_lab.dgs import dgs

    inst, f = _instance(dim)
    w = 10.24
    cfg = dgs.Config(dim=dim, chunk_size=chunk)
    p = dgs.params(w, dim, horizon=200.0)  # lr 0.05 sqrt(d) w, sigma 5 w
    m = dgs.make(f, cfg)
    key = jax.random.key(0)
    fn, c_jax = _compile(lambda k: run(m, k, inst.x0, p, run_iters)[0].x, key)
    with CpuTimer() as t_jax:
        xj = jax.block_until_ready(fn(key))
    rot = np.asarray(inst.rotation, np.float64)
    xo = np.asarray(inst.x_opt, np.float64)
    x0 = np.asarray(inst.x0, np.float64)
    peer = numpy_dgs_run(rot, xo, x0, w, numpy_iters)
    scale = run_iters / numpy_iters
    np_wall = peer["setup"].wall_s + scale * peer["loop"].wall_s
    np_cpu = peer["setup"].cpu_s + scale * peer["loop"].cpu_s
    # cross-check the two implementations over the first numpy_iters iterations
    fj = jax.jit(lambda k: run(m, k, inst.x0, p, numpy_iters)[0].x)(key)
    agree = float(np.linalg.norm(np.asarray(fj, np.float64) - peer["x"])
                  / np.linalg.norm(peer["x"]))
    cell = {"figure": "run", "dim": dim, "iters": run_iters, "chunk": chunk,
            "jax_compile_wall_s": c_jax.wall_s, "jax_compile_cpu_s": c_jax.cpu_s,
            "jax_run_wall_s": t_jax.wall_s, "jax_run_cpu_s": t_jax.cpu_s,
            "numpy_iters_timed": numpy_iters, "numpy_blas_threads": peer["blas_threads"],
            "numpy_setup_wall_s": peer["setup"].wall_s,
            "numpy_per_iter_wall_s": peer["loop"].wall_s / numpy_iters,
            "numpy_per_iter_cpu_s": peer["loop"].cpu_s / numpy_iters,
            "numpy_wall_s_scaled": np_wall, "numpy_cpu_s_scaled": np_cpu,
            "speedup_warm_wall": np_wall / t_jax.wall_s,
            "speedup_warm_cpu": np_cpu / t_jax.cpu_s,
            "speedup_cold_wall": np_wall / (c_jax.wall_s + t_jax.wall_s),
            "speedup_cold_cpu": np_cpu / (c_jax.cpu_s + t_jax.cpu_s),
            "rel_diff_after_numpy_iters": agree,
            "final_x_norm": float(np.linalg.norm(np.asarray(xj)))}
    print(json.dumps(cell), flush=True)
    return cell


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
    g, c = _compile(lambda x: dgs.gradient(f, x, 51.2, chunk_size=chunk), inst.x0)
    with CpuTimer() as first:
        jax.block_until_ready(g(inst.x0))
    with CpuTimer() as t:
        out = jax.block_until_ready(g(inst.x0))
    print(json.dumps({"figure": "big", "dim": dim, "chunk": chunk, "points": 4 * dim,
                      "compile_wall_s": c.wall_s, "first_wall_s": first.wall_s,
                      "wall_s": t.wall_s, "cpu_s": t.cpu_s, "peak_rss_gib": _peak_rss_gib(),
                      "finite": bool(np.all(np.isfinite(np.asarray(out))))}))


def _chunk(text):
    return None if text == "none" else benchlib.positive_int(text)


def chunk_list(text: str) -> list[int | None]:
    """argparse type: comma-separated chunk sizes, each a positive integer or ``none``."""
    try:
        return [_chunk(c.strip()) for c in text.split(",")]
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"comma-separated positive integers or 'none': {exc}")


def chunk_size(text: str) -> int | None:
    """argparse type: a positive integer or ``none``."""
    try:
        return _chunk(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"a positive integer or 'none': {exc}")


def _met(value, target):
    return "met" if value >= target else "**not met**"


def markdown(cells) -> str:
    """The page's tables: gradient vs the floor, the whole run vs NumPy, d = 8000 memory."""
    out = []
    floor = next(c for c in cells if c["figure"] == "matmul")
    grads = [c for c in cells if c["figure"] == "gradient"]
    d, n = floor["dim"], floor["points"]
    rows = [[f"bare `[{n},{d}] x [{d},{d}]` f32 product (the floor)",
             floor["wall_s"], floor["cpu_s"], "1",
             f"{floor['compile_wall_s']:.3g} / {floor['compile_cpu_s']:.3g}", ""]]
    for g in grads:
        what = "one batch" if g["chunk"] is None else f"chunks of {g['chunk']} points"
        rows.append([f"DGS gradient, d = {d}, M = 5, black-box rotated Rastrigin, {what}",
                     g["wall_s"], g["cpu_s"],
                     f"**{g['speed_vs_matmul_wall']:.2f}x** / {g['speed_vs_matmul_cpu']:.2f}x",
                     f"{g['compile_wall_s']:.3g} / {g['compile_cpu_s']:.3g}",
                     f"≥ {TARGET_GRADIENT}: {_met(g['speed_vs_matmul_wall'], TARGET_GRADIENT)}"
                     f" (wall), {_met(g['speed_vs_matmul_cpu'], TARGET_GRADIENT)} (CPU)"])
    out.append("**Gradient vs the floor** (best of the interleaved calls after the first; "
               "speed = floor time / gradient time)\n\n" + benchlib.markdown_table(
                   ["figure", "wall s", "CPU s", "speed wall / CPU", "compile s, wall / CPU",
                    "target"], rows))
    for r in (c for c in cells if c["figure"] == "run"):
        it, k = r["iters"], r["numpy_iters_timed"]
        warm = _met(min(r["speedup_warm_wall"], r["speedup_warm_cpu"]), TARGET_RUN)
        cold = _met(min(r["speedup_cold_wall"], r["speedup_cold_cpu"]), TARGET_RUN)
        rows = [
            ["JAX f32, compile (`lower().compile()`)", r["jax_compile_wall_s"],
             r["jax_compile_cpu_s"], ""],
            [f"JAX f32, run of {it} iterations (compiled)", r["jax_run_wall_s"],
             r["jax_run_cpu_s"], ""],
            [f"NumPy f64 (BLAS threads: {r['numpy_blas_threads']}), {k} iterations timed, "
             f"scaled to {it}", r["numpy_wall_s_scaled"], r["numpy_cpu_s_scaled"], ""],
            ["**NumPy / JAX, warm** (run only)", f"**{r['speedup_warm_wall']:.1f}x**",
             f"**{r['speedup_warm_cpu']:.1f}x**",
             f"≥ {TARGET_RUN:g}: {warm}"],
            ["NumPy / JAX, cold (compile + run)", f"{r['speedup_cold_wall']:.1f}x",
             f"{r['speedup_cold_cpu']:.1f}x",
             f"≥ {TARGET_RUN:g}: {cold}"],
            [f"relative difference of x after {k} iterations", r["rel_diff_after_numpy_iters"],
             "", "float32 rounding"],
        ]
        out.append(f"**Whole run vs NumPy** (d = {r['dim']}; NumPy per iteration "
                   f"{r['numpy_per_iter_wall_s']:.3g} s wall, "
                   f"{r['numpy_per_iter_cpu_s']:.3g} s CPU)\n\n"
                   + benchlib.markdown_table(["figure", "wall s", "CPU s", "target"], rows))
    for b in (c for c in cells if c["figure"] == "big"):
        rows = [["peak RSS (`VmHWM`, fresh process)", f"**{b['peak_rss_gib']:.2f} GiB**"],
                ["gradient, second call (wall / CPU s)", f"{b['wall_s']:.3g} / {b['cpu_s']:.3g}"],
                ["compile / first call (wall s)",
                 f"{b['compile_wall_s']:.3g} / {b['first_wall_s']:.3g}"],
                ["finite", str(b["finite"])]]
        out.append(f"**d = {b['dim']}, chunks of {b['chunk']} points** ({b['points']} "
                   f"points)\n\n" + benchlib.markdown_table(["figure", "measured"], rows))
    return "\n\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=benchlib.positive_int, default=2000)
    ap.add_argument("--repeats", type=benchlib.positive_int, default=None,
                    help=f"timed rounds after the first call (default {FULL['repeats']}, "
                         f"--quick {QUICK['repeats']})")
    ap.add_argument("--chunks", type=chunk_list, default=None, metavar="C1,C2,...",
                    help=f"gradient chunk sizes (points per batched call) to time, 'none' = "
                         f"one batch (default {FULL['chunks']}, --quick {QUICK['chunks']})")
    ap.add_argument("--run-iters", type=benchlib.positive_int, default=None,
                    help=f"iterations of the whole run (default {FULL['run_iters']}, "
                         f"--quick {QUICK['run_iters']})")
    ap.add_argument("--numpy-iters", type=benchlib.positive_int, default=None,
                    help=f"NumPy iterations timed (default {FULL['numpy_iters']}, "
                         f"--quick {QUICK['numpy_iters']})")
    ap.add_argument("--run-chunk", type=chunk_size, default=None, metavar="C")
    ap.add_argument("--big-dim", type=benchlib.positive_int, default=8000)
    ap.add_argument("--big-chunk", type=benchlib.positive_int, default=4000)
    ap.add_argument("--skip-big", action="store_true", help="skip the d = 8000 gradient "
                    "(--quick skips it)")
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    benchlib.add_common_arguments(ap)
    args = ap.parse_args(argv)
    if args.child:
        big_child(args.big_dim, args.big_chunk)
        return
    prof = QUICK if args.quick else FULL
    repeats = args.repeats or prof["repeats"]
    chunks = args.chunks or chunk_list(prof["chunks"])
    run_iters = args.run_iters or prof["run_iters"]
    numpy_iters = min(args.numpy_iters or prof["numpy_iters"], run_iters)
    skip_big = args.skip_big or prof["skip_big"]
    print(json.dumps({"backend": jax.default_backend(), "device": jax.devices()[0].device_kind,
                      "jax": jax.__version__, "numpy_blas_threads_default": blas_threads()}),
          flush=True)
    cells = bench_gradient(args.dim, repeats, chunks)
    if not args.skip_run:
        cells.append(bench_run(args.dim, run_iters, numpy_iters, args.run_chunk))
    if not skip_big:
        out = subprocess.run([sys.executable, __file__, "--child", "--big-dim",
                              str(args.big_dim), "--big-chunk", str(args.big_chunk)],
                             capture_output=True, text=True, check=True)
        cells.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(cells[-1]), flush=True)
    benchlib.write_result(args.json, "dgs", cells, markdown(cells),
                          argv=None if argv is None else [sys.argv[0], *argv])


if __name__ == "__main__":
    main()
