"""Seeds per second: one vmapped sweep vs a Python loop of jitted single-seed runs.

    python scripts/bench_sweep.py [--seeds 512] [--steps 200] [--dim 8]

Workload: local random search (12 samples per step) on an 8-D Rastrigin function, a toy
whose cost is all in vmappable arithmetic. Both paths run the same compiled single-seed computation;
the reference is the loop a user would write without ``sweep``. Compilation is excluded
(one warm-up call each). Prints the ratio.
"""

import argparse
import time

import jax
import jax.numpy as jnp

from jaxopt_lab import random_search, run
from jaxopt_lab.sweeps import seed_keys, sweep


def rastrigin(x):
    return 10.0 * x.shape[0] + jnp.sum(x**2 - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=512)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--chunk-size", type=int, default=128)
    args = parser.parse_args()

    config = random_search.Config(dim=args.dim, num_samples=12, mode="local")
    method = random_search.make(rastrigin, config)
    params = random_search.params(-5.12, 5.12, step_size=0.5)

    def run_fn(key):
        x0 = jax.random.uniform(jax.random.fold_in(key, 1), (args.dim,), minval=-5, maxval=5)
        final, _ = run(method, key, x0, params, args.steps)
        return {"best_f": final.best_f}

    seeds = list(range(args.seeds))
    sweep(run_fn, seeds[: args.chunk_size], chunk_size=args.chunk_size, progress=False)
    t0 = time.perf_counter()
    out = sweep(run_fn, seeds, chunk_size=args.chunk_size, progress=False)
    t_sweep = time.perf_counter() - t0

    single = jax.jit(run_fn)
    keys = seed_keys(0, seeds)
    jax.block_until_ready(single(keys[0]))
    t0 = time.perf_counter()
    loop = [float(single(k)["best_f"]) for k in keys]
    t_loop = time.perf_counter() - t0

    print(f"backend={jax.default_backend()} devices={jax.device_count()} seeds={args.seeds} "
          f"steps={args.steps} dim={args.dim} chunk_size={args.chunk_size}")
    print(f"sweep (vmap, chunked): {t_sweep:.3f} s  = {args.seeds / t_sweep:,.0f} seeds/s")
    print(f"python loop of jit(run): {t_loop:.3f} s = {args.seeds / t_loop:,.0f} seeds/s")
    print(f"ratio sweep/loop: {t_loop / t_sweep:.1f}x")
    print(f"mean best_f: sweep {out['best_f'].mean():.4f}, loop {sum(loop) / len(loop):.4f}")


if __name__ == "__main__":
    main()
