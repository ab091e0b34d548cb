"""GradSearch past Table 2: the 2-bit adder on all 16 inputs, and circuits of growing size
against Z3.

Part 1, **the 2-bit adder on its whole truth table** (``full_adder_all16``, W5 G8, one
scratch wire): every variant runs one vmapped batch of restarts for at most ``--budget``
wall seconds and stops at the first verified solution. Variants (``VARIANTS``, each a
:class:`~jaxopt_lab.gradsearch.gradsearch.Config` choice):

* ``plus``: the paper's GradSearch+ (``Config.plus()``);
* ``soft``: its soft variant (``Config.plus_soft()``, beta 0.5), Table 2's best so far;
* ``walk_tabu``: the soft variant with WalkSAT-like random moves at local minima
  (``walk``, no epsilon-greedy) and a tabu of 4 steps (``tabu_steps``);
* ``checked8`` / ``checked16``: the soft variant whose 8 / 16 best Taylor-ranked moves are
  evaluated exactly before one is taken (``exact_top_k``; ``checked16`` is
  ``Config.plus_checked()``);
* ``checked16_tabu``: ``checked16`` with a tabu of 2 steps.

Loss scaling (GradSearch+ 3, the SAT local-search clause weighting of the examples) is on in
every variant. For each, the restarts that did not solve it are read at their best program:
how many output bits stay wrong, and on which output wire (what traps them).

Part 2, **families of growing size** (:mod:`jaxopt_lab.problems.circuit_families`, each on
its whole truth table with the sketch of a hand-built reference circuit): n-bit ripple
adders, the 2-bit multiplier, n-bit comparators. For each circuit, the best variant
(``--variant``) and Z3 (the project's one-hot encoding with symmetry breaking,
:mod:`jaxopt_lab.problems.circuit_z3`; single-threaded) get the same wall-time budget;
the time to the first solution is measured, and every solution is verified by plain-Python
simulation. GradSearch's compile time is reported apart, as is Z3's encoding time. The
size on the x axis is the sketch's search space in bits, ``G log2(5 W^3)``.
"""

from __future__ import annotations

import json
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments.circuits import restart_batch, verify
from experiments.common import CpuPlan, Experiment, main, markdown_table
from jaxopt_lab.core import run
from jaxopt_lab.gradsearch import gradsearch, moves
from jaxopt_lab.problems import circuit_families, circuit_z3, circuits, programs

#: name -> (Config, params keywords), all on top of the soft variant except ``plus``.
VARIANTS = {
    "plus": (gradsearch.Config.plus(), {}),
    "soft": (gradsearch.Config.plus_soft(), {"beta": 0.5}),
    "walk_tabu": (gradsearch.Config.plus_soft(epsilon_greedy=False, walk=True, tabu_steps=4),
                  {"beta": 0.5, "walk": 0.2}),
    "checked8": (gradsearch.Config.plus_soft(exact_top_k=8), {"beta": 0.5}),
    "checked16": (gradsearch.Config.plus_checked(), {"beta": 0.5}),
    "checked16_tabu": (gradsearch.Config.plus_soft(exact_top_k=16, tabu_steps=2),
                       {"beta": 0.5}),
}
SIZES = {"quick": ("adder1", "comparator2", "adder2"),
         "paper": ("comparator1", "adder1", "comparator2", "adder2", "multiplier2",
                   "comparator3", "adder3", "comparator4", "adder4")}
PROFILES = {"quick": dict(budget=45.0, restarts=128, variants=("soft", "checked16")),
            "paper": dict(budget=60.0, restarts=256, variants=tuple(VARIANTS))}


def _size_task(name: str):
    family, n = name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")):])
    return circuit_families.family_circuit(family, n)[0]


def search_bits(task) -> float:
    meta = dict(task.meta)
    return meta["G"] * math.log2(5 * meta["W"] ** 3)


def first_solution_timed(task, variant: str, key, num_restarts: int, budget_s: float,
                         chunk_steps: int = 50) -> dict:
    """One vmapped batch of ``num_restarts`` restarts of ``variant`` on ``task``, advanced
    ``chunk_steps`` steps per compiled call until a restart fits every example or
    ``budget_s`` wall seconds have passed (compilation excluded, timed apart)."""
    config, kw = VARIANTS[variant]
    method, params = gradsearch.make(task, config), gradsearch.params(**kw)
    init_all, advance = restart_batch(
        method, params, task.space.sample, key, num_restarts, chunk_steps)
    start = time.perf_counter()
    jax.block_until_ready(advance(init_all(), jnp.int32(0)))
    compile_s = time.perf_counter() - start
    start, cpu0 = time.perf_counter(), time.process_time()
    states, done, solved_at = init_all(), 0, np.full(num_restarts, -1)
    while time.perf_counter() - start < budget_s and not (solved_at >= 0).any():
        states, at = advance(states, jnp.int32(done))
        solved_at = np.asarray(at)
        done += chunk_steps
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu0
    ok = solved_at >= 0
    program = np.asarray(states.program)[int(np.argmax(ok))] if ok.any() else None
    meta = dict(task.meta)
    best = {k: np.asarray(v) for k, v in jax.vmap(task.space.to_dict)(states.best_x).items()}
    wrong = np.stack([circuits.simulate_circuit({k: v[i] for k, v in best.items()},
                                                np.asarray(task.inputs), meta["W"], meta["O"])
                      != np.asarray(task.targets).astype(int)
                      for i in range(num_restarts)])  # [R, E, O]
    return {"solved": bool(ok.any()), "verified": bool(ok.any() and verify(task, program)),
            "steps": int(solved_at[ok].min()) if ok.any() else -1, "steps_run": done,
            "wall_s": wall_s, "cpu_s": cpu_s, "compile_s": compile_s,
            "restart_steps_per_s": done * num_restarts / max(wall_s, 1e-9),
            "load": os.getloadavg()[0],
            "wrong_bits_min": int(wrong.sum((1, 2)).min()),
            "wrong_bits_median": float(np.median(wrong.sum((1, 2)))),
            "wrong_by_output": wrong.sum((0, 1)).tolist()}


def taylor_ranking(task, key, num_restarts: int = 64, num_steps: int = 2000) -> dict:
    """What traps the soft variant: after ``num_steps`` steps of ``num_restarts`` restarts,
    at each restart's current program, the exact loss change of every Hamming-1 move
    (brute force, :func:`~jaxopt_lab.gradsearch.moves.exact_move_deltas`) against the
    Taylor scores the soft variant ranks them by (smoothed point, soft loss)."""
    space, valid = task.space, jnp.asarray(task.space.valid)
    method = gradsearch.make(task, gradsearch.Config.plus_soft())
    params = gradsearch.params(beta=0.5)

    def one(k):
        k1, k2 = jax.random.split(k)
        return run(method, k2, space.sample(k1), params, num_steps)[0].program

    def soft_loss(mat):
        out = task.predict(space.to_dict(mat))
        return jnp.mean(jnp.sum(programs.cross_entropy(out, task.targets, params.loss_eps), -1))

    def diagnose(z):
        point = moves.smoothed_onehot(z, valid, params.smooth, "sum_to_one")
        scores = moves.switch_estimates(jax.grad(soft_loss)(point), z)
        scores = jnp.where(moves.candidate_mask(z, valid), scores, jnp.inf).reshape(-1)
        exact = moves.exact_move_deltas(soft_loss, z, valid).reshape(-1)
        order = jnp.argsort(scores)
        return (exact[order[0]], jnp.min(exact), jnp.argmax(order == jnp.argmin(exact)),
                jnp.sum(exact < -1e-6), jnp.sum(scores < 0))

    progs = jax.jit(jax.vmap(one))(jax.random.split(key, num_restarts))
    top1, best, rank, n_exact, n_pred = (np.asarray(a)
                                         for a in jax.jit(jax.vmap(diagnose))(progs))
    imp = best < -1e-6
    return {"num_states": num_restarts, "num_steps": num_steps, "improvable": int(imp.sum()),
            "top1_not_improving": int(((top1 >= -1e-6) & imp).sum()),
            "best_rank_median": float(np.median(rank[imp])) if imp.any() else -1.0,
            "best_in_top8": float((rank[imp] < 8).mean()) if imp.any() else 0.0,
            "best_in_top16": float((rank[imp] < 16).mean()) if imp.any() else 0.0,
            "improving_median": float(np.median(n_exact)),
            "predicted_median": float(np.median(n_pred)), "wall_s": 0.0}


def z3_timed(task, timeout_s: float) -> dict:
    start = time.perf_counter()
    enc = circuit_z3.encode(task, "onehot_sym")
    encode_s = time.perf_counter() - start
    enc.solver.set("timeout", int(timeout_s * 1000))
    start, cpu0 = time.perf_counter(), time.process_time()
    result = str(enc.solver.check())
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu0
    ok = result == "sat" and verify(task, task.space.flatten(enc.decode(enc.solver.model())))
    return {"result": result, "verified": bool(ok), "wall_s": wall_s, "cpu_s": cpu_s,
            "encode_s": encode_s, "load": os.getloadavg()[0]}


def _cached(ctx, cell: str, config: dict, compute) -> dict:
    """Resume: a cell whose summary was written with this config is not run again."""
    rec = ctx.record(cell, config)
    path = rec.path / "summary.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if "wall_s" in saved:
            return saved
    out = compute()
    rec.write_summary(out)
    return out


def add_arguments(parser):
    parser.add_argument("--budget", type=float, default=None,
                        help="wall seconds per method and circuit (quick 45, paper 60)")
    parser.add_argument("--restarts", type=int, default=None,
                        help="vmapped restarts of GradSearch (quick 128, paper 256)")
    parser.add_argument("--variants", default=None,
                        help=f"variants on the 2-bit adder, of {','.join(VARIANTS)}")
    parser.add_argument("--variant", default="checked16", choices=tuple(VARIANTS),
                        help="GradSearch variant of the size study")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated circuits of the size study, e.g. adder1,adder2")


def _settings(args, profile):
    base = PROFILES[profile]
    budget = base["budget"] if args.budget is None else args.budget
    restarts = base["restarts"] if args.restarts is None else args.restarts
    variants = base["variants"] if args.variants is None else tuple(args.variants.split(","))
    sizes = SIZES[profile] if args.sizes is None else tuple(args.sizes.split(","))
    if budget <= 0:
        raise ValueError(f"--budget must be > 0, got {budget}")
    if restarts < 1:
        raise ValueError(f"--restarts must be >= 1, got {restarts}")
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"--variants: unknown variant {v!r}, expected one of "
                             f"{', '.join(VARIANTS)}")
    for s in sizes:
        fam = s.rstrip("0123456789")
        if fam not in circuit_families.FAMILIES or fam == s:
            raise ValueError(f"--sizes: unknown circuit {s!r}, expected <family><n> with "
                             f"family one of {', '.join(circuit_families.FAMILIES)}")
    return budget, restarts, variants, sizes


def _fmt(res: dict) -> str:
    if res.get("verified"):
        return f"{res['wall_s']:.3g}"
    return f"> {res['wall_s']:.3g} (not solved)"


def run_experiment(args, ctx) -> str:
    budget, restarts, variants, sizes = _settings(args, ctx.profile)
    key = jax.random.key(ctx.root_seed)
    adder = circuits.circuit("full_adder_all16")
    trap = _cached(ctx, "adder16_taylor_ranking", {"restarts": 64, "steps": 2000},
                   lambda: taylor_ranking(adder, key))
    rows = []
    for v in variants:
        res = _cached(ctx, f"adder16_{v}", {"variant": v, "restarts": restarts,
                                            "budget_s": budget},
                      lambda v=v: first_solution_timed(adder, v, key, restarts, budget))
        rows.append([f"`{v}`", "yes (verified)" if res["verified"] else "no",
                     res["steps"] if res["verified"] else "—", res["steps_run"],
                     _fmt(res), f"{res['cpu_s']:.3g}", f"{res['compile_s']:.2g}",
                     f"{res['restart_steps_per_s']:.3g}", res["wrong_bits_min"],
                     f"{res['wrong_bits_median']:g}",
                     " / ".join(str(int(w)) for w in res["wrong_by_output"]),
                     f"{res['load']:.1f}"])
    part1 = markdown_table(
        ["variant", "solved", "steps", "steps run", "wall s to first", "CPU s", "compile s",
         "restart-steps/s", "wrong bits: fewest", "median", "by output (c, s1, s0)", "load"], rows)

    study, points = [], []
    for name in sizes:
        task = _size_task(name)
        meta, bits = dict(task.meta), search_bits(task)
        gs = _cached(ctx, f"size_{name}_gs", {"variant": args.variant, "restarts": restarts,
                                              "budget_s": budget},
                     lambda task=task: first_solution_timed(task, args.variant, key,
                                                            restarts, budget))
        z3 = _cached(ctx, f"size_{name}_z3", {"timeout_s": budget},
                     lambda task=task: z3_timed(task, budget))
        points.append((name, bits, gs, z3))
        study.append([name, f"W{meta['W']} G{meta['G']}", meta["num_examples"], f"{bits:.0f}",
                      _fmt(gs), f"{gs['cpu_s']:.3g}", f"{gs['compile_s']:.2g}",
                      gs["steps"] if gs["verified"] else "—",
                      _fmt(z3) if z3["verified"] else f"> {z3['wall_s']:.3g} ({z3['result']})",
                      f"{z3['cpu_s']:.3g}", f"{z3['encode_s']:.2g}",
                      f"{gs['load']:.1f} / {z3['load']:.1f}"])
    part2 = markdown_table(["circuit", "sketch", "examples", "search bits",
                            f"GradSearch `{args.variant}` wall s", "CPU s", "compile s",
                            "steps", "Z3 wall s", "Z3 CPU s", "Z3 encode s",
                            "load (GS / Z3)"], study)
    figure = _plot(ctx, points, budget, args.variant)
    verdict = _verdict(points)
    return (f"Wall seconds on a shared 2-core CPU (load: the 1-min load average at the end "
            f"of each cell; CPU s: process time, both cores for GradSearch, one for Z3), "
            f"budget {budget:g} s per method and circuit, {restarts} vmapped "
            f"restarts, checked every 50 steps, compile time apart.\n\n"
            f"**The 2-bit adder on all 16 inputs** (`full_adder_all16`, W5 G8):\n\n{part1}\n\n"
            f"Wrong bits: of every restart's best program, over 16 rows x 3 outputs.\n\n"
            f"**What traps the soft variant** (after {trap['num_steps']} steps of "
            f"{trap['num_states']} restarts, every Hamming-1 move of the current program "
            f"evaluated exactly): {trap['improvable']} of {trap['num_states']} programs have "
            f"an improving move, so they are not local minima; in "
            f"{trap['top1_not_improving']} of those the Taylor-ranked first move does not "
            f"improve. The exactly best move has Taylor rank {trap['best_rank_median']:g} "
            f"(median, 0 = first), within the first 8 in "
            f"{100 * trap['best_in_top8']:.0f} % and the first 16 in "
            f"{100 * trap['best_in_top16']:.0f} % of them; a median program has "
            f"{trap['improving_median']:g} improving moves and "
            f"{trap['predicted_median']:g} moves predicted to improve.\n\n"
            f"**Circuits of growing size** (whole truth tables, reference-circuit sketches; "
            f"Z3 = one-hot encoding with symmetry breaking):\n\n{part2}\n\n"
            f"{ctx.figure_markdown(figure, 'time to first verified solution vs size')}\n\n"
            f"**Verdict**: {verdict}\n")


def _verdict(points) -> str:
    both = [(n, gs, z3) for n, _, gs, z3 in points]
    wins = [n for n, gs, z3 in both if gs["verified"]
            and (not z3["verified"] or gs["wall_s"] < z3["wall_s"])]
    gs_max = [n for n, gs, _ in both if gs["verified"]]
    z3_max = [n for n, _, z3 in both if z3["verified"]]
    text = (f"GradSearch solved {', '.join(gs_max) or 'none'}; Z3 solved "
            f"{', '.join(z3_max) or 'none'} within the budget. ")
    if wins:
        return text + f"GradSearch is first on {', '.join(wins)}."
    return text + "GradSearch is first on no circuit: no crossover within these sizes."


def _plot(ctx, points, budget, variant) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, key, color in ((f"GradSearch ({variant})", 0, "C0"), ("Z3 one-hot", 1, "C3")):
        for name, bits, gs, z3 in points:
            res = (gs, z3)[key]
            ok = res["verified"]
            ax.scatter(bits, res["wall_s"], color=color, marker="o" if ok else "^",
                       facecolors=color if ok else "none",
                       label=label if name == points[0][0] else None)
            if key == 0:
                ax.annotate(name, (bits, res["wall_s"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    ax.axhline(budget, color="grey", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("sketch search space (bits)")
    ax.set_ylabel("wall s to first verified solution")
    ax.set_title("open triangles: not solved within the budget")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = ctx.figure("scaling")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return "scaling"


CPU_PLAN = CpuPlan(
    args=(), minutes=None,
    note="the whole paper profile: at most 6 variants x 60 s + 9 circuits x 2 methods x "
         "60 s wall plus about 15 compilations, about 30 min at most on 2 cores, less where "
         "circuits are solved early")

EXPERIMENT = Experiment(name="gradsearch_scaling", paper="GradSearch",
                        title="GradSearch past Table 2: the 2-bit adder on all inputs, and "
                              "circuits of growing size against Z3",
                        order=64, run=run_experiment, add_arguments=add_arguments,
                        quick_seeds=1, paper_seeds=1, cpu_plan=CPU_PLAN)

if __name__ == "__main__":
    main(EXPERIMENT)
