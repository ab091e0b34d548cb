"""Benchmark: vmapped GradSearch restarts against one restart compiled as one ``lax.scan``,
and time to first solution on the circuits against Z3.

1. Throughput. A restart is :func:`jaxopt_lab.run` (one ``lax.scan`` of the step) with key
   ``keys[i]`` from the program ``task.space.sample(split(keys[i])[0])`` (:func:`restart`).
   Ours: ``--num-restarts`` restarts as one jitted ``vmap`` of it. Reference: the same
   restart jitted for one key, run one restart after another. Both are compiled before the
   warm timing (best of ``--repeats``); figures are restart-steps per second and their ratio
   per restart-step (also per process CPU second: steadier on a loaded machine). Cold
   figures add the compilation to the time of the experiment's step
   budget (``--num-restarts`` restarts x the cell's experiment steps at the warm rate,
   compiled once per side). Cells: GradSearch with the running average of the gradient
   (beta 0.1) on the parity chain K = 256, and GradSearch+ (soft) on Shift.
   With ``--profile`` (the default without ``--quick``) each part of the step (random draw,
   loss and gradient, solved check, move selection) is timed alone, batched and single.
2. Time to first solution: ``first_solution`` of experiments/circuits.py (vmapped batch,
   checked every 100 steps) on each circuit against Z3 on the same encoding, both verified
   by simulation; without z3-solver the Z3 column is skipped with a note.

Usage: ``python scripts/bench_gradsearch.py [--quick] [--json PATH] [--circuits nand ...]``
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from experiments.circuits import build, first_solution, verify, z3_synthesize  # noqa: E402
from experiments.timing import CpuTimer  # noqa: E402
from jaxopt_lab import run  # noqa: E402
from jaxopt_lab.gradsearch import gradsearch  # noqa: E402
from jaxopt_lab.problems import circuits, programs  # noqa: E402

# (label, method label, K or None, experiment steps): Table 1's budget for the parity chain,
# the time-to-first-solution budget for Shift.
CASES = (("parity chain", "GradSearch, running average (beta 0.1)", 256, 10_000),
         ("shift", "GradSearch+ (soft, beta 0.5)", None, 20_000))


def case(label: str, k: int | None):
    """``(task, method, params)`` of a throughput cell."""
    if label == "parity chain":
        task = programs.parity_chain(k)
        return (task, gradsearch.make(task, gradsearch.Config(rule="avg_grad")),
                gradsearch.params(beta=0.1))
    return build("gradsearch_plus_soft", label)[:3]


def restart(task, method, params, num_steps: int):
    """One restart as a function of its key: ``key -> (final State, trace Info [num_steps])``
    (``jaxopt_lab.run`` from ``task.space.sample(split(key)[0])``)."""
    def fn(key):
        return run(method, key, task.space.sample(jax.random.split(key)[0]), params, num_steps)
    return fn


def _compile(fn, *args) -> tuple:
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


def _best_seconds(call, repeats: int) -> tuple[float, float]:
    """``(wall s, process CPU s)`` of the fastest of ``repeats`` calls ``call(r)``."""
    best = None
    for r in range(repeats):
        with CpuTimer() as t:
            jax.block_until_ready(call(r))
        if best is None or t.wall_s < best[0]:
            best = (t.wall_s, t.cpu_s)
    return best


def throughput(task, method, params, num_restarts: int, batch_steps: int, ref_steps: int,
               experiment_steps: int, repeats: int) -> dict:
    """Warm and cold restart-steps per second of both sides (see the module docstring)."""
    keys = jax.random.split(jax.random.key(0), num_restarts)
    batch_fn = restart(task, method, params, batch_steps)
    single_fn = restart(task, method, params, ref_steps)
    ours, ours_compile = _compile(lambda ks: jax.vmap(batch_fn)(ks)[0], keys)
    ref, ref_compile = _compile(lambda k: single_fn(k)[0], keys[0])
    jax.block_until_ready(ours(keys))
    jax.block_until_ready(ref(keys[0]))
    ours_wall, ours_cpu = _best_seconds(lambda r: ours(keys), repeats)
    ref_wall, ref_cpu = _best_seconds(lambda r: ref(keys[r % num_restarts]), repeats)
    ours_warm, ref_warm = num_restarts * batch_steps / ours_wall, ref_steps / ref_wall
    ours_per_cpu = num_restarts * batch_steps / max(ours_cpu, 1e-9)
    ref_per_cpu = ref_steps / max(ref_cpu, 1e-9)
    work = num_restarts * experiment_steps
    ours_cold = work / (ours_compile + work / ours_warm)
    ref_cold = work / (ref_compile + work / ref_warm)
    return {"ours_restart_steps_per_s": ours_warm, "ref_restart_steps_per_s": ref_warm,
            "warm_ratio": ours_warm / ref_warm, "ours_cold_restart_steps_per_s": ours_cold,
            "ref_cold_restart_steps_per_s": ref_cold, "cold_ratio": ours_cold / ref_cold,
            "ours_compile_s": ours_compile, "ref_compile_s": ref_compile,
            "ours_restart_steps_per_cpu_s": ours_per_cpu,
            "ref_restart_steps_per_cpu_s": ref_per_cpu, "cpu_ratio": ours_per_cpu / ref_per_cpu}


def step_parts(task, method, params) -> dict:
    """The parts of a GradSearch step on a program, each ``(key, x [V]) -> x [V]`` (the next
    program depends on the part's output, so that no part is hoisted out of the loop)."""
    from jaxopt_lab.gradsearch import moves

    space = task.space
    valid = jnp.asarray(space.valid)
    length = valid.size + 3 + int(task.targets.shape[0])

    def whole(key, x):
        state = method.init(key, x, params)
        return method.step(key, state, params)[0].program

    def draw(key, x):
        u = jax.random.uniform(key, (length,), jnp.float32)
        return jnp.where(u[:x.shape[0]] < 0.5, x, 0)

    def loss_grad(key, x):
        grad = jax.grad(task.loss_flat)(programs.onehot(space, x))
        return jnp.where(grad[:, 0] < grad[:, 1], x, 0)

    def solved(key, x):
        return jnp.where(task.solved(x), 0, x)

    def select(key, x):
        grad = jnp.broadcast_to(x[:, None].astype(jnp.float32), valid.shape)
        scores = moves.switch_estimates(grad, x)
        scores = jnp.where(moves.candidate_mask(x, valid), scores, jnp.inf)
        flat = moves.argmin_by_priority(scores, grad)
        return moves.apply_move(x, flat // valid.shape[1], flat % valid.shape[1])

    return {"whole step (init + step)": whole, "random draw (priorities)": draw,
            "loss and gradient": loss_grad, "solved check": solved,
            "move selection (estimates, argmin, apply)": select}


def profile(task, method, params, num_restarts: int, steps: int, repeats: int) -> list:
    """``[(part, batched CPU s per restart-step, single CPU s per step)]``."""
    keys = jax.random.split(jax.random.key(1), num_restarts)
    out = []
    for name, part in step_parts(task, method, params).items():
        def loop(key, n, part=part):
            def body(x, t):
                return part(jax.random.fold_in(key, t), x), None
            return jax.lax.scan(body, task.space.sample(key), jnp.arange(n))[0]

        batched = jax.jit(jax.vmap(lambda k: loop(k, steps)))
        single = jax.jit(lambda k: loop(k, steps * 10))
        jax.block_until_ready(batched(keys))
        jax.block_until_ready(single(keys[0]))
        b = _best_seconds(lambda r: batched(keys), repeats)[1] / (num_restarts * steps)
        s = _best_seconds(lambda r: single(keys[r]), repeats)[1] / (steps * 10)
        out.append((name, b, s))
    return out


def have_z3() -> bool:
    return importlib.util.find_spec("z3") is not None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    benchlib.add_common_arguments(parser)
    pos = benchlib.positive_int
    parser.add_argument("--num-restarts", type=pos, default=None,
                        help="restarts in a batch (default 1000)")
    parser.add_argument("--batch-steps", type=pos, default=None,
                        help="steps of the timed batch (default 100; quick 20)")
    parser.add_argument("--ref-steps", type=pos, default=None,
                        help="steps of the timed single restart (default 2000; quick 500)")
    parser.add_argument("--repeats", type=pos, default=None,
                        help="timed calls per side, best taken (default 5; quick 3)")
    parser.add_argument("--circuits", nargs="*", default=None, choices=circuits.CIRCUITS,
                        help="time-to-first-solution circuits (default nand swap shift adder; "
                             "quick nand swap; none: skip)")
    parser.add_argument("--first-max-steps", type=pos, default=None,
                        help="step budget of a first-solution batch (default 20000; quick 2000)")
    parser.add_argument("--z3-timeout", type=benchlib.positive_float, default=600.0)
    parser.add_argument("--z3-encodings", nargs="+", default=["onehot_sym"],
                        choices=["onehot_sym", "onehot", "int"])
    parser.add_argument("--method", default="gradsearch_plus_soft",
                        choices=["gradsearch_plus", "gradsearch_plus_soft"],
                        help="method of the first-solution batches")
    parser.add_argument("--full-budget", action="store_true",
                        help="run every restart for the whole budget (success rate)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                        help="time the parts of the step, batched and single (default: yes; "
                             "quick: no)")
    args = parser.parse_args(argv)
    q = args.quick
    for name, full, quick in (("num_restarts", 1000, 1000), ("batch_steps", 100, 20),
                              ("ref_steps", 2000, 500), ("repeats", 5, 3),
                              ("first_max_steps", 20000, 2000)):
        if getattr(args, name) is None:
            setattr(args, name, quick if q else full)
    if args.profile is None:
        args.profile = not q
    if args.circuits is None:
        args.circuits = ["nand", "swap"] if q else ["nand", "swap", "shift", "adder"]
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    cells, parts = [], []
    rows = []
    for label, mname, k, experiment_steps in ([] if args.skip_throughput else CASES):
        task, method, params = case(label, k)
        res = throughput(task, method, params, args.num_restarts, args.batch_steps,
                         args.ref_steps, experiment_steps, args.repeats)
        cells.append({"part": "throughput", "task": task.name, "method": mname, "K": k,
                      "restarts": args.num_restarts, "steps": args.batch_steps,
                      "ref_steps": args.ref_steps, "experiment_steps": experiment_steps,
                      **res})
        rows.append([label + (f" K = {k}" if k else ""), mname, args.num_restarts,
                     res["ours_restart_steps_per_s"], res["ref_restart_steps_per_s"],
                     f"{res['warm_ratio']:.2f}x", f"{res['cpu_ratio']:.2f}x",
                     f"{res['cold_ratio']:.2f}x",
                     f"{res['ours_compile_s']:.2f} / {res['ref_compile_s']:.2f}"])
        print(rows[-1], flush=True)
    if rows:
        parts.append(
            f"### Throughput: {args.num_restarts} vmapped restarts vs one restart as one "
            f"`lax.scan`\n\nWarm: {args.batch_steps} batched steps vs {args.ref_steps} steps "
            f"of one restart, best of {args.repeats}. Cold: compilation plus the experiment's "
            f"budget (parity chain {CASES[0][3]} steps, Shift {CASES[1][3]}) for every "
            f"restart.\n\n" + benchlib.markdown_table(
                ["problem", "method", "restarts", "ours restart-steps/s",
                 "reference restart-steps/s", "warm ratio", "warm ratio, CPU time",
                 "cold ratio",
                 "compile s (ours / ref)"], rows))

    rows = []
    for label, mname, k, _ in (CASES if args.profile else []):
        task, method, params = case(label, k)
        for part, b, single in profile(task, method, params, args.num_restarts,
                                       args.batch_steps, args.repeats):
            cells.append({"part": "profile", "task": task.name, "method": mname, "K": k,
                          "step_part": part, "restarts": args.num_restarts,
                          "ours_cpu_s_per_restart_step": b, "ref_cpu_s_per_step": single})
            rows.append([label, part, f"{b * 1e9:.0f}", f"{single * 1e9:.0f}",
                         f"{single / b:.2f}x"])
            print(rows[-1], flush=True)
    if rows:
        parts.append(
            "### Profile: the parts of a step, batched vs one restart\n\nProcess CPU "
            f"nanoseconds per restart-step, {args.num_restarts} vmapped restarts vs one "
            "restart, each part alone in its own `lax.scan`.\n\n" + benchlib.markdown_table(
                ["problem", "part", "batched ns/restart-step", "one restart ns/step",
                 "ratio"], rows))

    z3_ok = have_z3()
    encodings = args.z3_encodings if z3_ok else []
    rows = []
    for name in args.circuits:
        task, method, params, start_fn = build(args.method, name)
        res = first_solution(method, params, start_fn, jax.random.key(0), args.num_restarts,
                             args.first_max_steps, stop_at_first=not args.full_budget)
        ok = res["solved"] and verify(task, res["program"])
        cell = {"part": "first_solution", "circuit": name, "method": args.method,
                "restarts": args.num_restarts, "steps_run": res["num_steps_run"],
                "solved": bool(ok), "first_solution_s": res["wall_s"],
                "steps": res["steps"] if ok else None, "num_solved": res["num_solved"],
                "compile_s": res["compile_s"], "z3": {}}
        if not ok:
            cell["wrong_bits"] = int(task.num_errors(jnp.asarray(res["program"])))
            cell["total_bits"] = int(np.asarray(task.targets).size)
        gs = f"{res['wall_s']:.3g}" + ("" if ok else
                                        f" (not solved in {res['num_steps_run']} steps; "
                                        f"{cell['wrong_bits']}/{cell['total_bits']} bits wrong)")
        z3_cells = []
        for enc in encodings:
            prog, z3_s, z3_res = z3_synthesize(circuits.circuit(name), args.z3_timeout, enc)
            z3_verified = prog is not None and verify(task, task.space.flatten(prog))
            cell["z3"][enc] = {"seconds": z3_s, "result": z3_res, "verified": z3_verified}
            z3_cells.append(f"{z3_s:.3g}" + (" (verified)" if z3_verified else f" ({z3_res})"))
        solved = (f"{res['num_solved']}/{res['num_restarts']}" if args.full_budget
                  else f">= {res['num_solved']}")
        rows.append([name, args.method, f"{args.num_restarts} x {res['num_steps_run']}", gs,
                     res["steps"] if ok else "—", solved, f"{res['compile_s']:.3g}",
                     *z3_cells])
        cells.append(cell)
        print(rows[-1], flush=True)
    if args.circuits:
        heads = [f"Z3 {e} s" for e in encodings]
        note = ("" if z3_ok else "\n\nZ3 skipped: z3-solver is not installed.")
        parts.append(
            "### Time to first solution: vmapped GradSearch+ restarts vs Z3\n\n"
            + benchlib.markdown_table(["circuit", "method", "restarts x steps",
                                       "s to first solution", "steps", "restarts solved",
                                       "compile s", *heads], rows) + note)
    command = None if argv is None else [str(Path(__file__)), *argv]
    return benchlib.write_result(args.json, "gradsearch", cells, "\n\n".join(parts), command)


if __name__ == "__main__":
    print(main()["markdown"])
