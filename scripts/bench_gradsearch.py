"""Benchmark: vmapped GradSearch restarts vs one restart at a time, and time to first
solution on the circuits against Z3.

1. Throughput: ``--num-restarts`` restarts of GradSearch (running average, parity chain
   K = 256) and GradSearch+ (Shift) advance as one jitted ``lax.scan`` of the vmapped step;
   the reference is the same jitted single-restart step called from a Python loop, one
   restart at a time. Both are compiled before timing; the figure is restart-steps per
   second and their ratio.
2. Time to first solution: ``first_solution`` of experiments/circuits.py (vmapped batch,
   checked every 100 steps) on each circuit vs Z3 on the same encoding, both verified by
   simulation.

Usage: ``python scripts/bench_gradsearch.py [--num-restarts 1000] [--circuits nand swap ...]``
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from experiments.circuits import build, first_solution, verify, z3_synthesize  # noqa: E402
from jaxopt_lab.gradsearch import gradsearch  # noqa: E402
from jaxopt_lab.problems import circuits, programs  # noqa: E402


def throughput(method, params, task, num_restarts, batch_steps, loop_steps, loop_restarts):
    keys = jax.random.split(jax.random.key(0), num_restarts)
    states = jax.jit(jax.vmap(lambda k: method.init(k, task.space.sample(k), params)))(keys)

    @jax.jit
    def batch(states, keys):
        def body(states, t):
            step_keys = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
            return jax.vmap(lambda k, s: method.step(k, s, params)[0])(step_keys, states), None

        return jax.lax.scan(body, states, jnp.arange(batch_steps))[0]

    jax.block_until_ready(batch(states, keys))
    start = time.perf_counter()
    jax.block_until_ready(batch(states, keys))
    batched = num_restarts * batch_steps / (time.perf_counter() - start)

    step = jax.jit(lambda k, s: method.step(k, s, params)[0])
    init = jax.jit(lambda k: method.init(k, task.space.sample(k), params))
    jax.block_until_ready(step(keys[0], init(keys[0])))
    start = time.perf_counter()
    for r in range(loop_restarts):  # one restart at a time, one step per Python call
        s = init(keys[r])
        for t in range(loop_steps):
            s = step(jax.random.fold_in(keys[r], t), s)
        jax.block_until_ready(s)
    looped = loop_restarts * loop_steps / (time.perf_counter() - start)
    return batched, looped


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-restarts", type=int, default=1000)
    parser.add_argument("--batch-steps", type=int, default=100)
    parser.add_argument("--loop-steps", type=int, default=200)
    parser.add_argument("--loop-restarts", type=int, default=3)
    parser.add_argument("--circuits", nargs="*", default=["nand", "swap", "shift", "adder"],
                        choices=circuits.CIRCUITS)
    parser.add_argument("--first-max-steps", type=int, default=20000)
    parser.add_argument("--z3-timeout", type=float, default=600.0)
    parser.add_argument("--z3-encodings", nargs="+", default=["onehot_sym"],
                        choices=["onehot_sym", "onehot", "int"])
    parser.add_argument("--method", default="gradsearch_plus_soft",
                        choices=["gradsearch_plus", "gradsearch_plus_soft"])
    parser.add_argument("--full-budget", action="store_true",
                        help="run every restart for the whole budget (success rate)")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    for name in ("num_restarts", "batch_steps", "loop_steps", "loop_restarts",
                 "first_max_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if not args.z3_timeout > 0:
        parser.error("--z3-timeout must be > 0")
    dev = jax.devices()[0]
    print(f"# machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"jax {jax.__version__}, device {dev.platform} {dev.device_kind}")
    print("\n| problem | method | vmapped restart-steps/s | loop restart-steps/s | ratio |")
    print("|---|---|---|---|---|")
    parity = programs.parity_chain(256)
    cases = [("parity K=256", "GradSearch avg (beta 0.1)", parity,
              gradsearch.make(parity, gradsearch.Config(rule="avg_grad")),
              gradsearch.params(beta=0.1)),
             ("shift", "GradSearch+ (soft)", *build("gradsearch_plus_soft", "shift")[:3])]
    for label, mname, task, method, params in ([] if args.skip_throughput else cases):
        b, lp = throughput(method, params, task, args.num_restarts, args.batch_steps,
                           args.loop_steps, args.loop_restarts)
        print(f"| {label} | {mname} | {b:.4g} | {lp:.4g} | {b / lp:.1f}x |", flush=True)

    z3_heads = " | ".join(f"Z3 {e} s" for e in args.z3_encodings)
    print(f"\n| circuit | method | restarts x steps | s to first solution | steps | "
          f"restarts solved | {z3_heads} |")
    print("|---|---|---|---|---|---|" + "---|" * len(args.z3_encodings))
    for name in args.circuits:
        task, method, params, start_fn = build(args.method, name)
        res = first_solution(method, params, start_fn, jax.random.key(0), args.num_restarts,
                             args.first_max_steps, stop_at_first=not args.full_budget)
        ok = res["solved"] and verify(task, res["program"])
        if ok:
            gs = f"{res['wall_s']:.3g}"
        else:
            wrong = int(task.num_errors(jnp.asarray(res["program"])))
            total = int(np.asarray(task.targets).size)
            gs = (f"{res['wall_s']:.3g} (not solved in {res['num_steps_run']} steps; the "
                  f"lowest-loss program has {wrong}/{total} wrong output bits)")
        solved = (f"{res['num_solved']}/{res['num_restarts']}" if args.full_budget
                  else f">= {res['num_solved']}")
        z3_cells = []
        for enc in args.z3_encodings:
            prog, z3_s, z3_res = z3_synthesize(circuits.circuit(name), args.z3_timeout, enc)
            z3_ok = prog is not None and verify(task, task.space.flatten(prog))
            z3_cells.append(f"{z3_s:.3g}" + (" (verified)" if z3_ok else f" ({z3_res})"))
        print(f"| {name} | {args.method} | {args.num_restarts} x {res['num_steps_run']} | "
              f"{gs} | {res['steps'] if ok else '—'} | {solved} | {' | '.join(z3_cells)} |",
              flush=True)


if __name__ == "__main__":
    main()
