"""Seeds per second: the vmapped program of ``sweep`` vs a Python loop of jitted single-seed runs.

    python scripts/bench_sweep.py [--seeds 512] [--steps 200] [--dim 8] [--chunk-sizes 32,128,512]
    python scripts/bench_sweep.py --quick --json PATH     # 256 seeds, chunks 32,256

Workload: local random search (12 samples per step) on an 8-D Rastrigin function, a toy
whose cost is all in vmappable arithmetic. Both paths run the same single-seed computation:
``jax.jit(jax.vmap(run_fn))`` over chunks of C seeds (what ``sweep`` runs) and the loop a user
would write without ``sweep``, measured in the same process, alternating (best of
``--repeats`` rounds), each compiled ahead (``lower().compile()``, timed apart). Each figure
is given in wall and process-CPU seconds (all threads). The first whole ``sweep()`` call
of each chunk size is timed too: it traces and compiles its program (a later call with the
same ``run_fn`` reuses it)."""

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


def _best_of(fn, timers):
    """Run ``fn`` under a new :class:`CpuTimer`, appended to ``timers``; returns its value."""
    with CpuTimer() as t:
        value = fn()
    timers.append(t)
    return value


def measure(seeds: int, steps: int, dim: int, chunk_sizes: list[int],
            repeats: int) -> list[dict]:
    """One cell per chunk size C: the vmapped C-seed program that ``sweep`` runs (compiled
    ahead, called over all seeds in chunks) vs the loop, best of ``repeats`` alternating
    rounds, in wall and CPU seconds; compilation apart; and a first whole ``sweep()`` call."""
    run_fn = make_run_fn(dim, steps)
    all_seeds = list(range(seeds))
    keys = seed_keys(0, all_seeds)
    with CpuTimer() as c_loop:
        single = jax.jit(run_fn).lower(keys[0]).compile()
    cells = []
    for chunk in chunk_sizes:
        chunk = min(chunk, seeds)
        padded = jnp.concatenate([keys, jnp.repeat(keys[-1:], -seeds % chunk)])
        with CpuTimer() as c_prog:
            prog = jax.jit(jax.vmap(run_fn)).lower(padded[:chunk]).compile()

        def vmapped():
            outs = [prog(padded[i:i + chunk])["best_f"] for i in range(0, seeds, chunk)]
            return np.concatenate([np.asarray(o) for o in outs])[:seeds]

        loops, progs = [], []
        for _ in range(repeats):  # next to each other: the load drifts
            loop = _best_of(lambda: [float(single(k)["best_f"]) for k in keys], loops)
            out = _best_of(vmapped, progs)
        with CpuTimer() as t_call:  # a user's first call: it traces and compiles
            sweep(run_fn, all_seeds, chunk_size=chunk, progress=False)
        lw, lc = min(t.wall_s for t in loops), min(t.cpu_s for t in loops)
        sw, sc = min(t.wall_s for t in progs), min(t.cpu_s for t in progs)
        cells.append({
            "seeds": seeds, "steps": steps, "dim": dim, "chunk_size": chunk,
            "repeats": repeats, "vmapped_wall_s": sw, "vmapped_cpu_s": sc,
            "loop_wall_s": lw, "loop_cpu_s": lc,
            "vmapped_compile_wall_s": c_prog.wall_s, "loop_compile_wall_s": c_loop.wall_s,
            "sweep_call_wall_s": t_call.wall_s, "sweep_call_cpu_s": t_call.cpu_s,
            "vmapped_seeds_per_s": seeds / sw, "loop_seeds_per_s": seeds / lw,
            "ratio_wall": lw / sw, "ratio_cpu": lc / sc,
            "mean_best_f_vmapped": float(np.mean(out)), "mean_best_f_loop": float(np.mean(loop)),
        })
        c = cells[-1]
        print(f"C={chunk}: vmapped {c['vmapped_seeds_per_s']:,.0f} seeds/s, loop "
              f"{c['loop_seeds_per_s']:,.0f} seeds/s, ratio {c['ratio_wall']:.2f}x wall, "
              f"{c['ratio_cpu']:.2f}x CPU; compile {c_prog.wall_s:.1f} s / {c_loop.wall_s:.1f} s;"
              f" sweep() call {t_call.wall_s:.1f} s", flush=True)
    return cells


def markdown(cells: list[dict]) -> str:
    """The page's table: one row per chunk size."""
    rows = [[c["chunk_size"], round(c["vmapped_seeds_per_s"]), round(c["loop_seeds_per_s"]),
             f"{c['ratio_wall']:.2f}×", f"{c['ratio_cpu']:.2f}×",
             f"{c['vmapped_compile_wall_s']:.1f} / {c['loop_compile_wall_s']:.1f}",
             f"{c['sweep_call_wall_s']:.1f}"]
            for c in cells]
    c0 = cells[0]
    return (f"{c0['seeds']} seeds, {c0['steps']} steps, d = {c0['dim']}; best of "
            f"{c0['repeats']} alternating rounds.\n\n"
            + benchlib.markdown_table(
                ["C", "vmapped seeds/s", "loop seeds/s", "ratio (wall)", "ratio (CPU)",
                 "compile s, vmapped / loop", "first `sweep()` call, s"], rows))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=benchlib.positive_int, default=None,
                    help=f"seeds per sweep (default {FULL['seeds']}, --quick {QUICK['seeds']})")
    ap.add_argument("--steps", type=benchlib.positive_int, default=200)
    ap.add_argument("--dim", type=benchlib.positive_int, default=8)
    ap.add_argument("--repeats", type=benchlib.positive_int, default=2,
                    help="timed rounds of loop and sweep per chunk size (best is kept)")
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
    cells = measure(seeds, args.steps, args.dim, chunks, args.repeats)
    benchlib.write_result(args.json, "sweep", cells, markdown(cells),
                          argv=None if argv is None else [sys.argv[0], *argv])


if __name__ == "__main__":
    main()
