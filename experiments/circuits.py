"""GradSearch Table 2: Boolean circuits, success % and wall time, with Z3 in the same run.

For every circuit task (spec §2) and method, ``--seeds`` independent restarts run a fixed
step budget as one vmapped batch (``ctx.sweep``): success % and mean steps of successful
runs. The paper's "mean wall time of successful runs" is estimated as mean steps times the
measured wall time of one step of a *single* restart (jitted, compiled beforehand).
Beyond the paper, the best variant also runs a large vmapped batch of restarts until the
first restart fits every example (``solve_with_restarts``): wall time to first solution.
Z3 solves the same synthesis problem (same sketch: gate type, two input wires and one output
wire per gate, in-place wire updates, every example) encoded with z3-solver (``--z3-encodings``:
a propositional one-hot encoding with sound symmetry breaking by default, see
:func:`z3_synthesize`); its circuit is verified by plain-Python simulation, as is every
circuit GradSearch reports.

Methods: ``relaxation`` (FMGD softmax relaxation, Adam lr 0.1), ``gradsearch`` (greedy),
``gradsearch_plus`` (spec preset: greedy + epsilon 0.1 + 0.99/0.01 smoothing + loss scaling,
cross-entropy with eps 1e-7) and ``gradsearch_plus_soft`` (ours: running average of the
gradient beta 0.5 + the same tricks, cross-entropy with eps 0.3 inside the logs, which
keeps wrong bits from dominating every estimate by a factor 1e7).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import Experiment, main, markdown_table
from jaxopt_lab.core import run
from jaxopt_lab.gradsearch import optimizers as O, relaxations as R
from jaxopt_lab.problems import programs as P

METHODS = ("relaxation", "gradsearch", "gradsearch_plus", "gradsearch_plus_soft")
SOFT_EPS = 0.3


def build(name: str, task_name: str):
    """``(task, method, params, start_fn)`` of a method on a circuit."""
    if name == "gradsearch_plus_soft":
        task = P.circuit(task_name, eps=SOFT_EPS)
        cfg = O.GradSearchConfig("avg_grad", smoothing="sum_to_one", loss_scaling=True)
        method, params = O.make(task, cfg), O.make_params(beta=0.5, epsilon=0.1)
        return task, method, params, task.space.sample
    task = P.circuit(task_name)
    if name == "relaxation":
        cfg = R.RelaxationConfig("fmgd")
        return (task, R.make(task, cfg), R.make_params(learning_rate=0.1),
                lambda k: R.initial_latent(k, task.space, cfg))
    if name == "gradsearch":
        method, params = O.gradsearch(task)
    elif name == "gradsearch_plus":
        method, params = O.gradsearch_plus(task)
    else:
        raise ValueError(f"method must be one of {METHODS}, got {name!r}")
    return task, method, params, task.space.sample


def verify(task, program) -> bool:
    """Plain-Python simulation of the discrete circuit on every example."""
    meta = dict(task.meta)
    prog = {k: np.asarray(v) for k, v in task.space.to_dict(jnp.asarray(program)).items()}
    out = P.simulate_circuit(prog, np.asarray(task.inputs), meta["W"], meta["O"])
    return bool((out == np.asarray(task.targets).astype(int)).all())


Z3_ENCODINGS = ("onehot_sym", "onehot", "int")


def z3_synthesize(task, timeout_s: float, encoding: str = "onehot_sym"):
    """Encodes the circuit sketch and examples for Z3; returns (program dict or None,
    seconds in ``check``, result string).

    Encodings (the same synthesis problem: gate type, two input wires and one output wire
    per gate, in-place wire updates, every example):
      * ``"int"``: one integer per gate parameter, wire reads as ``If`` chains (the first
        version; Z3's arithmetic front end);
      * ``"onehot"``: propositional. One Boolean per (parameter, value) with exactly-one
        constraints, per example one Boolean per wire after every gate, the read values and
        the gate result tied to them by implications, solved by Z3's SAT engine (QF_FD);
      * ``"onehot_sym"``: ``"onehot"`` plus symmetry breaking that keeps at least one
        circuit of every equivalence class, so it is sound (unsat stays unsat): NOT/NOP
        read ``in2 = 0``; AND/OR/XOR are commutative, so ``in1 <= in2``; AND/OR of a wire
        with itself is a copy, so forbidden (NOP does it); an idle gate (NOP writing its own
        input wire) is canonically ``in1 = out = 0`` and idle gates come first (moving a
        no-op to the front changes nothing).
    """
    import z3

    if encoding not in Z3_ENCODINGS:
        raise ValueError(f"encoding must be one of {Z3_ENCODINGS}, got {encoding!r}")
    meta = dict(task.meta)
    num_wires, num_gates, num_outputs = meta["W"], meta["G"], meta["O"]
    x = np.asarray(task.inputs).astype(int)
    y = np.asarray(task.targets).astype(int)
    if encoding == "int":
        solver, decode = _z3_int(x, y, num_wires, num_gates, num_outputs)
    else:
        solver, decode = _z3_onehot(x, y, num_wires, num_gates, num_outputs,
                                    symmetry=encoding == "onehot_sym")
    solver.set("timeout", int(timeout_s * 1000))
    start = time.perf_counter()
    result = solver.check()
    seconds = time.perf_counter() - start
    if result != z3.sat:
        return None, seconds, str(result)
    return decode(solver.model()), seconds, "sat"


def _z3_int(x, y, num_wires, num_gates, num_outputs):
    import z3

    solver = z3.Solver()
    names = ("type", "in1", "in2", "out")
    var = {n: [z3.Int(f"{n}_{g}") for g in range(num_gates)] for n in names}
    for g in range(num_gates):
        solver.add(var["type"][g] >= 0, var["type"][g] < 5)
        for n in names[1:]:
            solver.add(var[n][g] >= 0, var[n][g] < num_wires)
    for e in range(x.shape[0]):
        wires = [z3.BoolVal(bool(x[e, w]) if w < x.shape[1] else False)
                 for w in range(num_wires)]
        for g in range(num_gates):
            def read(sel, wires=wires):
                expr = wires[-1]
                for w in range(num_wires - 2, -1, -1):
                    expr = z3.If(sel == w, wires[w], expr)
                return expr

            a, b = read(var["in1"][g]), read(var["in2"][g])
            t = var["type"][g]
            r = z3.If(t == 0, z3.And(a, b), z3.If(t == 1, z3.Or(a, b), z3.If(
                t == 2, z3.Xor(a, b), z3.If(t == 3, z3.Not(a), a))))
            new = []
            for w in range(num_wires):
                v = z3.Bool(f"wire_{e}_{g}_{w}")
                solver.add(v == z3.If(var["out"][g] == w, r, wires[w]))
                new.append(v)
            wires = new
        for o in range(num_outputs):
            solver.add(wires[o] == bool(y[e, o]))

    def decode(model):
        return {n: np.asarray([model.eval(v, model_completion=True).as_long() for v in var[n]])
                for n in names}

    return solver, decode


def _z3_onehot(x, y, num_wires, num_gates, num_outputs, symmetry):
    import z3

    solver = z3.SolverFor("QF_FD")
    wires_range, gates = range(num_wires), range(num_gates)
    sel = {n: [[z3.Bool(f"{n}_{g}_{v}") for v in range(5 if n == "type" else num_wires)]
               for g in gates] for n in ("type", "in1", "in2", "out")}
    kind, in1, in2, out = (sel[n] for n in ("type", "in1", "in2", "out"))
    for n in sel:
        for g in gates:
            solver.add(z3.PbEq([(v, 1) for v in sel[n][g]], 1))
    if symmetry:
        idle = [z3.Bool(f"idle_{g}") for g in gates]
        for g in gates:
            unary = z3.Or(kind[g][3], kind[g][4])
            solver.add(z3.Implies(unary, in2[g][0]))
            for w1 in wires_range:
                for w2 in range(w1):
                    solver.add(z3.Not(z3.And(z3.Not(unary), in1[g][w1], in2[g][w2])))
                solver.add(z3.Not(z3.And(z3.Or(kind[g][0], kind[g][1]), in1[g][w1],
                                         in2[g][w1])))
            solver.add(idle[g] == z3.And(kind[g][4], z3.Or(
                [z3.And(in1[g][w], out[g][w]) for w in wires_range])))
            solver.add(z3.Implies(idle[g], z3.And(in1[g][0], out[g][0])))
            if g + 1 < num_gates:
                solver.add(z3.Implies(idle[g + 1], idle[g]))
    for e in range(x.shape[0]):
        wires = [z3.BoolVal(bool(x[e, w]) if w < x.shape[1] else False) for w in wires_range]
        for g in gates:
            a, b, r = (z3.Bool(f"{c}_{e}_{g}") for c in "abr")
            for w in wires_range:
                solver.add(z3.Implies(in1[g][w], a == wires[w]))
                solver.add(z3.Implies(in2[g][w], b == wires[w]))
            for k, f in enumerate((z3.And(a, b), z3.Or(a, b), z3.Xor(a, b), z3.Not(a), a)):
                solver.add(z3.Implies(kind[g][k], r == f))
            new = []
            for w in wires_range:
                v = z3.Bool(f"wire_{e}_{g}_{w}")
                solver.add(z3.Implies(out[g][w], v == r))
                solver.add(z3.Implies(z3.Not(out[g][w]), v == wires[w]))
                new.append(v)
            wires = new
        for o in range(num_outputs):
            solver.add(wires[o] == bool(y[e, o]))

    def decode(model):
        def value(row):
            hot = [z3.is_true(model.eval(v, model_completion=True)) for v in row]
            return int(np.argmax(hot))

        return {n: np.asarray([value(row) for row in sel[n]]) for n in sel}

    return solver, decode


def step_seconds(method, params, start_fn, num_steps: int = 200) -> float:
    """Wall seconds per step of ONE restart (jitted scan, compiled beforehand)."""
    fn = jax.jit(lambda k: run(method, k, start_fn(k), params, num_steps)[0].best_f)
    jax.block_until_ready(fn(jax.random.key(0)))
    start = time.perf_counter()
    jax.block_until_ready(fn(jax.random.key(1)))
    return (time.perf_counter() - start) / num_steps


def add_arguments(parser):
    parser.add_argument("--tasks", nargs="+", default=None, choices=P.CIRCUITS)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                        help="methods of the independent-runs table")
    parser.add_argument("--first-tasks", nargs="+", default=None, choices=P.CIRCUITS,
                        help="tasks of the vmapped time-to-first-solution runs")
    parser.add_argument("--num-restarts", type=int, default=None,
                        help="restarts in the time-to-first-solution batch")
    parser.add_argument("--first-max-steps", type=int, default=None)
    parser.add_argument("--z3-timeout", type=float, default=None)
    parser.add_argument("--z3-encodings", nargs="+", default=["onehot_sym"],
                        choices=Z3_ENCODINGS, help="Z3 encodings to run (first = main column)")
    parser.add_argument("--full-budget", action="store_true", default=None,
                        help="run every restart of the batch for the whole budget (success "
                             "rate); default: paper profile yes, quick no")


def run_experiment(args, ctx) -> str:
    quick = ctx.profile == "quick"
    tasks = args.tasks or (("nand", "swap") if quick else P.CIRCUITS)
    first_tasks = args.first_tasks or (("shift",) if quick else P.CIRCUITS)
    # Step budgets: the paper stops a run after one hour; one restart does 1e4-1e5 steps/s
    # here, so even 50 000 steps is far inside that cap. With a 1000- or 5000-step budget
    # Swap "fails" in runs that are merely unfinished (docs/benchmarks/gradsearch.md).
    max_steps = args.max_steps or (10000 if quick else 50000)
    num_restarts = args.num_restarts or (128 if quick else 1000)
    first_max = args.first_max_steps or (3000 if quick else 20000)
    z3_timeout = args.z3_timeout or (60.0 if quick else 3600.0)
    full_budget = (not quick) if args.full_budget is None else args.full_budget
    encodings = list(dict.fromkeys(args.z3_encodings))
    methods = [m for m in METHODS if m in set(args.methods)]
    for name, v in (("--max-steps", max_steps), ("--num-restarts", num_restarts),
                    ("--first-max-steps", first_max)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    targets = ctx.targets("gradsearch_table2")
    all_tasks = [t for t in P.CIRCUITS if t in set(tasks) | set(first_tasks)]

    z3_results, z3_all = {}, {}
    for t in all_tasks:
        task = P.circuit(t)
        for enc in encodings:
            prog, seconds, result = z3_synthesize(task, z3_timeout, enc)
            ok = prog is not None and verify(task, task.space.flatten(prog))
            z3_all[t, enc] = (seconds, result, ok)
            ctx.record(f"z3_{enc}_{t}", {"task": t, "timeout_s": z3_timeout,
                                         "encoding": enc}).write_summary(
                {"seconds": seconds, "result": result, "verified": ok})
        z3_results[t] = z3_all[t, encodings[0]]

    rows = []
    for t in tasks:
        row = [t]
        for m in methods:
            task, method, params, start_fn = build(m, t)

            def run_fn(key, method=method, params=params, start_fn=start_fn, task=task):
                k_init, k_run = jax.random.split(key)
                final, _ = run(method, k_run, start_fn(k_init), params, max_steps)
                return {"solved": final.solved_at >= 0, "steps": final.solved_at,
                        "verified": task.solved(final.z), "best_f": final.best_f}

            out = ctx.sweep(run_fn, {"task": t, "method": m, "max_steps": max_steps},
                            cell=f"{m}_{t}")
            solved = out["solved"].astype(bool)
            assert (out["verified"].astype(bool) | ~solved).all()
            if solved.any():
                mean_steps = float(out["steps"][solved].mean())
                secs = mean_steps * step_seconds(method, params, start_fn)
                row.append(f"{100 * solved.mean():.0f}% / {mean_steps:.0f} steps / {secs:.3g} s")
            else:
                row.append(f"0% (budget {max_steps} steps)")
        i = targets["tasks"].index(t) if t in targets["tasks"] else None
        paper = [targets[c][i] if i is not None else None
                 for c in ("relaxation", "gradsearch", "gradsearch_plus")]
        row += ["; ".join(f"{enc} {z3_all[t, enc][0]:.3g} s ("
                          f"{'verified' if z3_all[t, enc][2] else z3_all[t, enc][1]})"
                          for enc in encodings),
                " · ".join("blank" if p is None else str(p) for p in paper)
                + (f" · Z3 {targets['z3_seconds'][i]}" if i is not None else "")]
        rows.append(row)
    table = markdown_table(["task"] + [f"{m}: success / steps / est. s" for m in methods]
                           + ["Z3 (ours)", "paper: relax · GS · GS+ · Z3"], rows)

    first_rows = []
    for t in first_tasks:
        for m in (("gradsearch_plus_soft",) if quick else ("gradsearch_plus",
                                                          "gradsearch_plus_soft")):
            task, method, params, start_fn = build(m, t)
            res = O.solve_with_restarts(method, params, start_fn, jax.random.key(ctx.root_seed),
                                        num_restarts, first_max, chunk_steps=100,
                                        stop_at_first=not full_budget)
            ok = res.solved and verify(task, res.program)
            ctx.record(f"first_{m}_{t}", {"task": t, "method": m, "num_restarts": num_restarts,
                                          "max_steps": first_max,
                                          "full_budget": full_budget}).write_summary(
                {"solved": res.solved, "verified": ok, "steps": res.steps,
                 "num_steps_run": res.num_steps_run, "wall_s": res.wall_s,
                 "compile_s": res.compile_s, "num_solved": res.num_solved})
            z3s = z3_results[t]
            first_rows.append([t, m, "yes (verified)" if ok else "no",
                               res.steps if res.solved else "—",
                               f"{res.num_solved}/{num_restarts}" if full_budget
                               else f">= {res.num_solved} (stopped)",
                               f"{res.wall_s:.3g}", f"{res.compile_s:.2g}",
                               f"{z3s[0]:.3g} ({z3s[1]})"])
    first = markdown_table(["task", "method", "solved", "steps", "restarts solved",
                            "wall s to first solution", "compile s", "Z3 s"], first_rows)
    device = jax.devices()[0].platform
    budget_note = ("whole budget run: restarts solved = success rate" if full_budget
                   else "stopped at the first solution")
    return (
        f"**Independent runs** ({len(ctx.seeds)} restarts per cell, paper: 100; budget "
        f"{max_steps} steps; the paper's cells are 'mean wall time of successful runs / "
        f"success %', 'x' = not solved in 1 h, blank = blank in the paper):\n\n{table}\n\n"
        f"**Vmapped restarts, time to first solution** ({num_restarts} restarts in one batch, "
        f"up to {first_max} steps, checked every 100 steps, "
        f"{budget_note}"
        f", {device}; Z3 ({encodings[0]} encoding) measured in this run on the same machine, "
        f"timeout {z3_timeout:g} s):\n\n{first}\n\n"
        "Swap: with ε = 0.1 no run is trapped for ever; runs that have not solved it yet sit on "
        "the plateau of programs with 2 wrong output bits (one output right, the other right "
        "on 2 of 4 rows), and the steps to success have a long tail (over 100 runs of the spec "
        "preset: median 913, 99th percentile 5711, max 7734), so the budget decides the "
        "success rate; the paper stops a run after 1 h, far more steps than the budget "
        "here.\n\n"
        "Readings the paper leaves open (spec §5): NAND is our W3_G2_O1 sketch; Adder = "
        "TerpreT's 1-bit full adder W4_G5_O2, Full Adder = its 2-bit adder W5_G8_O3 on the 8 "
        "sampled examples, plus `full_adder_all16` on the whole truth table, which is "
        "satisfiable with its one scratch wire (an 8-gate ripple-carry circuit, checked in "
        "tests/gradsearch/test_circuit_synthesis.py). Wall times are "
        "on a shared CPU and not comparable with the paper's machine; Z3 times here use our "
        "own direct encoding, not TerpreT's SMT back-end.\n")


EXPERIMENT = Experiment(name="circuits", paper="GradSearch",
                        title="Table 2: Boolean circuits, GradSearch(+) vs relaxation vs Z3",
                        order=61, run=run_experiment, add_arguments=add_arguments,
                        quick_seeds=16, paper_seeds=100)

if __name__ == "__main__":
    main(EXPERIMENT)
