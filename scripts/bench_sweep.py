"""Seeds per second: one vmapped sweep vs a Python loop of jitted single-seed runs.

    python scripts/bench_sweep.py [--seeds 512] [--steps 200] [--dim 8] [--chunk-sizes 32,128,512]
    python scripts/bench_sweep.py --quick --json PATH     # 256 seeds, chunks 32,256

Workload: local random search (12 samples per step) on an 8-D Rastrigin function, a toy
whose cost is all in vmappable arithmetic. Both paths run the same single-seed computation;
the reference is the loop a user would write without ``sweep``, measured in the same
process next to each sweep. Compilation is timed apart (the first call of each path) and excluded from the
seeds per second. Each figure is given in wall and process-CPU seconds (all threads).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402  (puts the repository root on sys.path)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from experiments.timing import CpuTimer  # noqa: E402
from jaxopt_lab import random_search, run  # noqa: E402
from jaxopt_lab.sweeps import seed_keys, sweep  # noqa: E402

FULL = {"seeds": 512, "chunk_sizes": "32,128,512"}
QUICK = {"seeds": 256, "chunk_sizes": "32,256"}


def rastrigin(x):
    """Rastrigin function; ``x``: [d] -> scalar."""
    return 10.0 * x.shape[0] + jnp.sum(x**2 - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def chunk_list(text: str) -> list[int]:
    """argparse type: comma-separated positive integers."""
    try:
        return [benchlib.positive_int(c) for c in text.split(",")]
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"comma-separated positive integers: {exc}")


def make_run_fn(dim: int, steps: int):
    """The single-seed run: key -> {"best_f": scalar} after ``steps`` steps."""
    config = random_search.Config(dim=dim, num_samples=12, mode="local")
    method = random_search.make(rastrigin, config)
    params = random_search.params(-5.12, 5.12, step_size=0.5)

    def run_fn(key):
        x0 = jax.random.uniform(jax.random.fold_in(key, 1), (dim,), minval=-5, maxval=5)
        final, _ = run(method, key, x0, params, steps)
        return {"best_f": final.best_f}

    return run_fn


def measure(seeds: int, steps: int, dim: int, chunk_sizes: list[int]) -> list[dict]:
    """One cell per chunk size: sweep vs loop, compile apart, wall and CPU seconds."""
    run_fn = make_run_fn(dim, steps)
    all_seeds = list(range(seeds))
    single = jax.jit(run_fn)
    keys = seed_keys(0, all_seeds)
    with CpuTimer() as c_loop:
        jax.block_until_ready(single(keys[0]))
    cells = []
    for chunk in chunk_sizes:
        chunk = min(chunk, seeds)
        with CpuTimer() as t_loop:  # timed next to each sweep: the load drifts
            loop = [float(single(k)["best_f"]) for k in keys]
        with CpuTimer() as c_sweep:  # compiles the chunk program (one chunk's work too)
            sweep(run_fn, all_seeds[:chunk], chunk_size=chunk, progress=False)
        with CpuTimer() as t_sweep:
            out = sweep(run_fn, all_seeds, chunk_size=chunk, progress=False)
        cells.append({
            "seeds": seeds, "steps": steps, "dim": dim, "chunk_size": chunk,
            "sweep_wall_s": t_sweep.wall_s, "sweep_cpu_s": t_sweep.cpu_s,
            "loop_wall_s": t_loop.wall_s, "loop_cpu_s": t_loop.cpu_s,
            "sweep_first_call_wall_s": c_sweep.wall_s, "loop_first_call_wall_s": c_loop.wall_s,
            "sweep_seeds_per_s": seeds / t_sweep.wall_s, "loop_seeds_per_s": seeds / t_loop.wall_s,
            "ratio_wall": t_loop.wall_s / t_sweep.wall_s, "ratio_cpu": t_loop.cpu_s / t_sweep.cpu_s,
            "mean_best_f_sweep": float(np.mean(out["best_f"])),
            "mean_best_f_loop": float(np.mean(loop)),
        })
        c = cells[-1]
        print(f"C={chunk}: sweep {c['sweep_seeds_per_s']:,.0f} seeds/s, loop "
              f"{c['loop_seeds_per_s']:,.0f} seeds/s, ratio {c['ratio_wall']:.2f}x wall, "
              f"{c['ratio_cpu']:.2f}x CPU (first calls {c_sweep.wall_s:.1f} s / "
              f"{c_loop.wall_s:.1f} s)", flush=True)
    return cells


def markdown(cells: list[dict]) -> str:
    """The page's table: one row per chunk size."""
    rows = [[c["chunk_size"], round(c["sweep_seeds_per_s"]), round(c["loop_seeds_per_s"]),
             f"{c['ratio_wall']:.2f}×", f"{c['ratio_cpu']:.2f}×",
             f"{c['sweep_first_call_wall_s']:.1f} / {c['loop_first_call_wall_s']:.1f}"]
            for c in cells]
    c0 = cells[0]
    return (f"{c0['seeds']} seeds, {c0['steps']} steps, d = {c0['dim']}.\n\n"
            + benchlib.markdown_table(
                ["C", "sweep seeds/s", "loop seeds/s", "ratio (wall)", "ratio (CPU)",
                 "first call s, sweep / loop"], rows))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=benchlib.positive_int, default=None,
                    help=f"seeds per sweep (default {FULL['seeds']}, --quick {QUICK['seeds']})")
    ap.add_argument("--steps", type=benchlib.positive_int, default=200)
    ap.add_argument("--dim", type=benchlib.positive_int, default=8)
    ap.add_argument("--chunk-sizes", type=chunk_list, default=None, metavar="C1,C2,...",
                    help=f"seeds per vmapped chunk (default {FULL['chunk_sizes']}, "
                         f"--quick {QUICK['chunk_sizes']})")
    benchlib.add_common_arguments(ap)
    args = ap.parse_args(argv)
    profile = QUICK if args.quick else FULL
    seeds = args.seeds or profile["seeds"]
    chunks = args.chunk_sizes or chunk_list(profile["chunk_sizes"])
    print(f"backend={jax.default_backend()} devices={jax.device_count()} seeds={seeds} "
          f"steps={args.steps} dim={args.dim} chunk_sizes={chunks}", flush=True)
    cells = measure(seeds, args.steps, args.dim, chunks)
    benchlib.write_result(args.json, "sweep", cells, markdown(cells),
                          argv=None if argv is None else [sys.argv[0], *argv])


if __name__ == "__main__":
    main()
