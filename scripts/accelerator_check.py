"""One-command accelerator check: a slice of each paper's profile through the public API.

    PYTHONPATH=. bash scripts/accelerator_check.sh              # full sizes, one GPU, < 8 min
    PYTHONPATH=. bash scripts/accelerator_check.sh --tiny --out DIR   # CPU smoke run, < 2 min

Slices (settings imported from the experiment modules, not restated):

* DGS: F3-F5 (Ackley, Rastrigin, Schaffer) at d = 2000, DGS and ES-Bpop, 20 trials vmapped,
  the paper's budget ``200 (M - 1) d`` evaluations (``experiments.dgs_methods.run_fn``);
* BH-S: Table 5.1's settings (``experiments/targets/bhs_landscapes.json``) on Egg-holder and
  Modified Rosenbrock, BH and BH-S, 65 536 chains, a wall-clock budget per cell
  (``experiments.bhs_common.Runner``);
* GradSearch: Table 1's parity chain at K = 256, 1000 vmapped restarts, the paper profile's
  10 000-step budget (``experiments.parity_chain.build``);
* MaxEnt: 100 000 random 2-D order-4 problems (the recipe of ``scripts/bench_maxent.py``'s
  batch: rotated, shifted products of Gaussian, bimodal and skewed factors) through
  ``maxent.solve_batch``, fixed rule T = 48, sigma = 0.45, Newton.

Writes ``docs/benchmarks/accelerator.md`` (``--tiny`` or ``--out DIR``: ``DIR/accelerator.md``
instead) and prints each slice's time. Needs JAX and NumPy, and optax (a dependency of
``jaxopt_lab.dgs`` and ``jaxopt_lab.gradsearch``); no SciPy, threadpoolctl, evosax or z3. A
slice whose imports fail is skipped with a note on the page.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from scripts import benchlib  # noqa: E402

PAGE = ROOT / "docs" / "benchmarks" / "accelerator.md"
SLICES = ("dgs", "bhs", "gradsearch", "maxent")
DGS_FUNCTIONS = ("F3", "F4", "F5")
DGS_METHODS = ("DGS", "ES-Bpop")
BHS_LANDSCAPES = ("Egg-holder", "Modified Rosenbrock")
# the discrete methods, whose Table 1 success at K = 256 is not zero
GRADSEARCH_METHODS = ("gradsearch", "gradsearch_avg", "bop")
ROOT_SEED = 0
# --tiny: compilation dominates a smoke run; these halve it on a 2-core CPU
TINY_XLA_FLAGS = ("--xla_backend_optimization_level=0", "--xla_llvm_disable_expensive_passes=true")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Problem sizes of one run (``full``: the slices of the paper profiles)."""

    dgs_dim: int
    dgs_trials: int
    dgs_iters: int  # DGS iterations T of the budget 200 (M - 1) d (paper: 200)
    bhs_chains: int
    bhs_budget_s: float  # per (landscape, method) cell
    parity_k: int
    parity_restarts: int
    parity_steps: int
    maxent_problems: int
    maxent_chunk: int  # problems per solve_batch call (bounds device memory)


FULL = Sizes(dgs_dim=2000, dgs_trials=20, dgs_iters=200, bhs_chains=65536, bhs_budget_s=20.0,
             parity_k=256, parity_restarts=1000, parity_steps=10000,
             maxent_problems=100_000, maxent_chunk=25_000)
TINY = Sizes(dgs_dim=50, dgs_trials=4, dgs_iters=20, bhs_chains=256, bhs_budget_s=0.5,
             parity_k=16, parity_restarts=32, parity_steps=200,
             maxent_problems=400, maxent_chunk=200)


def _timed_compile(fn, *args):
    """``(compiled, compile_s)`` of ``jax.jit(fn)`` for ``args``."""
    t = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - t


def _timed_call(compiled, *args):
    t = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return jax.tree_util.tree_map(np.asarray, out), time.perf_counter() - t


def _mean_sd(values) -> str:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "—"
    return f"{np.mean(v):.4g} ± {np.std(v):.2g}"


# ----------------------------------------------------------------------------------- DGS


def run_dgs(sizes: Sizes):
    """F3-F5 x (DGS, ES-Bpop), ``sizes.dgs_trials`` trials vmapped in one program each.

    Returns ``(cells, markdown)``; a cell's ``best_f``/``final_f`` are ``[trials]``.
    """
    from experiments import dgs_methods as dm
    from jaxopt_lab.sweeps import seed_keys

    dim, total = sizes.dgs_dim, dm.budget(sizes.dgs_dim, sizes.dgs_iters)
    keys = seed_keys(ROOT_SEED, np.arange(sizes.dgs_trials))
    cells, rows = [], []
    for fid in DGS_FUNCTIONS:
        for method in DGS_METHODS:
            fn = dm.run_fn(method, fid, dim, total, num_checkpoints=10)
            compiled, compile_s = _timed_compile(
                lambda k, fn=fn: {k2: v for k2, v in jax.vmap(fn)(k).items()
                                  if k2 in ("best_f", "final_f", "num_evals")}, keys)
            out, run_s = _timed_call(compiled, keys)
            cells.append({"slice": "dgs", "function": fid, "method": method, "dim": dim,
                          "trials": sizes.dgs_trials, "budget": total,
                          "num_evals": int(out["num_evals"][0]),
                          "best_f": out["best_f"].tolist(), "final_f": out["final_f"].tolist(),
                          "compile_s": compile_s, "run_s": run_s})
            rows.append([fid, method, _mean_sd(out["best_f"]), _mean_sd(out["final_f"]),
                         int(out["num_evals"][0]), f"{compile_s:.1f}", f"{run_s:.2f}"])
    md = (f"d = {dim}, {sizes.dgs_trials} trials vmapped (seeds 0..{sizes.dgs_trials - 1}), "
          f"budget {total} evaluations per trial ({sizes.dgs_iters} DGS iterations x (M-1) d, "
          f"M = 5{'; the paper budget' if sizes.dgs_iters == 200 else ''}), float32.\n\n"
          + benchlib.markdown_table(
              ["function", "method", "best value (mean ± sd)", "final value (mean ± sd)",
               "evaluations used", "compile s", "run s (all trials)"], rows))
    return cells, md


# ---------------------------------------------------------------------------------- BH-S


def run_bhs(sizes: Sizes):
    """BH and BH-S on Egg-holder and Modified Rosenbrock with Table 5.1's settings."""
    from experiments.bhs_common import Runner
    from experiments.bhs_landscapes import _methods
    from experiments.common import load_targets
    from jaxopt_lab.basin_hopping import LBFGSConfig, hybrid
    from jaxopt_lab.problems import landscapes

    targets = load_targets("bhs_landscapes")["rows"]
    ks = {targets[n]["K"] for n in BHS_LANDSCAPES}
    cells, rows = [], []
    with jax.enable_x64(True):
        runners = {k: Runner({n: landscapes.get(n) for n in BHS_LANDSCAPES
                              if targets[n]["K"] == k},
                             hybrid.Config(dim=2, max_skips=k, skip_block=16,
                                           boundary="periodic", local=LBFGSConfig()),
                             sizes.bhs_chains) for k in ks}
        for i, name in enumerate(BHS_LANDSCAPES):
            t = targets[name]
            runner = runners[t["K"]]
            for method, kw in _methods(t):
                params = runner.params(name, tol=t["tol"], **kw)
                key = jax.random.fold_in(jax.random.key(ROOT_SEED), 2 * i + (method == "bhs"))
                compile_before = runner.compile_s
                res = runner.run(name, params, key, sizes.bhs_budget_s)
                compile_s = runner.compile_s - compile_before
                paper = t["rho_c"] if method == "bh" else t["rho_s"]
                cells.append({"slice": "bhs", "landscape": name, "method": method,
                              "chains": sizes.bhs_chains, "budget_s": sizes.bhs_budget_s,
                              "K": t["K"], "compile_s": compile_s, **res})
                rows.append([name, method.upper().replace("BHS", "BH-S"), int(res["runs"]),
                             int(res["successes"]), f"{res['rho']:.1f}", f"{paper:g}",
                             f"{res['success_per_wall_s']:.4g}",
                             f"{res['success_per_cpu_s']:.4g}", f"{res['wall_s']:.1f}",
                             f"{compile_s:.1f}"])
    md = (f"{sizes.bhs_chains} chains, float64, {sizes.bhs_budget_s:g} s budget per cell "
          f"({'wall-clock' if jax.default_backend() != 'cpu' else 'process CPU'} seconds), "
          "Table 5.1's sigma, T, K and L-BFGS tolerance; success = within 1e-5 of a global "
          "minimiser; a run unfinished at the end of the budget is not counted.\n\n"
          + benchlib.markdown_table(
              ["landscape", "method", "runs", "successes", "success rate %",
               "paper %", "successes / wall-s", "successes / CPU-s", "wall s",
               "compile s"], rows))
    return cells, md


# ---------------------------------------------------------------------------- GradSearch


def run_gradsearch(sizes: Sizes):
    """Parity chain at ``sizes.parity_k``: success rate and mean steps, vmapped restarts."""
    from experiments import parity_chain as pc
    from experiments.common import load_targets
    from jaxopt_lab.problems import programs as P
    from jaxopt_lab.sweeps import seed_keys

    task = P.parity_chain(sizes.parity_k)
    keys = seed_keys(ROOT_SEED, np.arange(sizes.parity_restarts))
    targets = load_targets("gradsearch_table1")
    cells, rows = [], []
    for name in GRADSEARCH_METHODS:
        fn = pc.build(name, task, sizes.parity_steps)
        compiled, compile_s = _timed_compile(jax.vmap(fn), keys)
        out, run_s = _timed_call(compiled, keys)
        solved = out["solved"].astype(bool)
        steps = out["steps"][solved].astype(float)
        mean_steps = float(steps.mean()) if solved.any() else None
        row = targets["rows"][name]
        paper = (f"{row['success'][targets['K'].index(sizes.parity_k)]}% / "
                 f"{row['steps'][targets['K'].index(sizes.parity_k)]}"
                 if sizes.parity_k in targets["K"] else "—")
        cells.append({"slice": "gradsearch", "method": name, "K": sizes.parity_k,
                      "restarts": sizes.parity_restarts, "max_steps": sizes.parity_steps,
                      "success_rate": float(solved.mean()), "mean_steps": mean_steps,
                      "compile_s": compile_s, "run_s": run_s})
        rows.append([row["label"], f"{100 * solved.mean():.1f}",
                     "—" if mean_steps is None else f"{mean_steps:.1f}", paper,
                     f"{compile_s:.1f}", f"{run_s:.2f}"])
    md = (f"K = {sizes.parity_k}, {sizes.parity_restarts} restarts vmapped, "
          f"{sizes.parity_steps}-step budget; steps counted as updates before the "
          "discretised program first fits (`first_fit`).\n\n"
          + benchlib.markdown_table(
              ["method", "success %", "mean steps to solution", "paper: success / steps",
               "compile s", "run s (all restarts)"], rows))
    return cells, md


# -------------------------------------------------------------------------------- MaxEnt


def maxent_problems(num: int, seed: int = 0) -> np.ndarray:
    """``[num, 15]`` moments of random 2-D order-4 rotated products.

    The recipe of ``scripts/bench_maxent.py``'s batch (``A = I + 0.3 N(0, 1)``, shift
    ``N(0, I)``, each axis's factor drawn from Gaussian, bimodal, skewed), vectorised: the
    factor moments come from ``cases.rotated_product`` at ``A = I, b = 0`` and are mapped by
    the batched moment map of ``x = A^{-1} y + b`` (``precondition.affine_matrix``).
    """
    from jaxopt_lab.maxent.cases import rotated_product
    from jaxopt_lab.maxent.precondition import affine_matrix

    names = ("gauss", "bimodal", "skewed")
    rng = np.random.default_rng(seed)
    a = np.eye(2) + 0.3 * rng.standard_normal((num, 2, 2))
    b = rng.standard_normal((num, 2))
    pick = rng.integers(0, 3, (num, 2))
    m_y = np.stack([rotated_product(2, 4, [f, g], np.eye(2), np.zeros(2)).moments
                    for f in names for g in names])  # [9, K]
    ainv = np.linalg.inv(a)
    t_inv = affine_matrix(2, 4, ainv, -np.einsum("nij,nj->ni", a, b))  # [num, K, K]
    m = np.einsum("nij,nj->ni", t_inv, m_y[3 * pick[:, 0] + pick[:, 1]])
    m[:, 0] = 1.0
    return m


def run_maxent(sizes: Sizes):
    """``solve_batch`` throughput on ``sizes.maxent_problems`` problems, in equal chunks."""
    from jaxopt_lab import maxent
    from jaxopt_lab.core import Result

    with jax.enable_x64(True):
        t = time.perf_counter()
        moments = maxent_problems(sizes.maxent_problems)
        make_s = time.perf_counter() - t
        chunk = min(sizes.maxent_chunk, sizes.maxent_problems)
        config = maxent.Config(2, 4, quad_points=48, sigma=0.45, method="newton")
        t = time.perf_counter()
        jax.block_until_ready(maxent.solve_batch(moments[:chunk], config).result)
        first_s = time.perf_counter() - t
        results, errors, iters = [], [], []
        t = time.perf_counter()
        for start in range(0, len(moments), chunk):
            part = moments[start:start + chunk]
            if len(part) < chunk:  # same shape, no second compile: pad with the first rows
                part = np.concatenate([part, moments[:chunk - len(part)]])
            sol = maxent.solve_batch(part, config)
            n = min(chunk, len(moments) - start)
            results.append(np.asarray(sol.result)[:n])
            errors.append(np.asarray(sol.stats["moment_error"])[:n])
            iters.append(np.asarray(sol.stats["iterations"])[:n])
        wall = time.perf_counter() - t
    result = np.concatenate(results)
    error = np.concatenate(errors)
    converged = float(np.mean(result == int(Result.converged)))
    cell = {"slice": "maxent", "problems": sizes.maxent_problems, "chunk": chunk,
            "method": "newton", "quad_points": 48, "sigma": 0.45, "make_s": make_s,
            "first_call_s": first_s, "wall_s": wall,
            "solves_per_s": sizes.maxent_problems / wall, "converged": converged,
            "max_moment_error": float(np.max(error[np.isfinite(error)], initial=0.0)),
            "max_iterations": int(np.max(np.concatenate(iters)))}
    md = (f"{sizes.maxent_problems} random 2-D order-4 problems (15 moments each), "
          f"`solve_batch` in calls of {chunk}, fixed rule T = 48, sigma = 0.45, Newton, "
          "float64; throughput after compilation (the first call, one chunk, is timed "
          "apart).\n\n"
          + benchlib.markdown_table(
              ["problems", "wall s", "solves / s", "converged", "max moment error",
               "max iterations", "first call s (compile + one chunk)"],
              [[sizes.maxent_problems, f"{wall:.2f}", f"{cell['solves_per_s']:.4g}",
                f"{converged:.4f}", f"{cell['max_moment_error']:.1e}",
                cell["max_iterations"], f"{first_s:.1f}"]]))
    return [cell], md


RUNNERS = {"dgs": run_dgs, "bhs": run_bhs, "gradsearch": run_gradsearch, "maxent": run_maxent}
TITLES = {"dgs": "DGS: F3-F5 at d = 2000 (Table 1 / Figure 2)",
          "bhs": "BH-S: Table 5.1 settings, Egg-holder and Modified Rosenbrock",
          "gradsearch": "GradSearch: Table 1 parity chain",
          "maxent": "MaxEnt: batched 2-D order-4 solves"}


# ---------------------------------------------------------------------------------- page


def device_line() -> str:
    """The devices as ``jax.devices()`` names them, e.g. ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    return ", ".join(f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices())


def machine() -> dict:
    """What the result records about the machine (no BLAS probing: NumPy and JAX only)."""
    return {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
            "device_kinds": [d.device_kind for d in jax.devices()],
            "cpu_count": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(), "jax": jax.__version__,
            "numpy": np.__version__}


PROSE_FULL = """\
Figures of `scripts/accelerator_check.sh` at full sizes: one slice of each paper's profile,
run through the library's public API on one accelerator, with the settings of the experiment
modules (`experiments/dgs_benchmarks.py` via `dgs_methods`, `bhs_landscapes.py`,
`parity_chain.py`, and `scripts/bench_maxent.py`'s batch recipe).
"""

PROSE_SMOKE = """\
**No accelerator figures have been taken yet.** This page was written by a smoke run
(`--tiny`: tiny sizes, CPU) of `scripts/accelerator_check.sh`; its tables show what the page
will contain, **they are not figures**: sizes are far below the slices named in the section
titles, and CPU times say nothing about an accelerator. On a machine with one GPU,

    PYTHONPATH=. bash scripts/accelerator_check.sh

runs the full slices (about 5 minutes expected on one H100) and rewrites this page.
"""

PROSE_COLUMNS = """\
Columns: *compile s* is the compilation of the slice's program (not in the other times);
*run s* the wall time of one call that runs every trial or restart of the cell side by side.
DGS: best value so far and the value at the final iterate, mean ± sd over trials (instances
rotated and shifted from each trial's key; `docs/benchmarks/dgs.md` for the protocol). BH-S:
a run succeeds when its best point is within 1e-5 of a global minimiser; successes per
second are per second of the budget's clock (`docs/benchmarks/bhs.md`). GradSearch: success
is the discretised program fitting the chain; steps are those of the successful restarts
(`docs/benchmarks/gradsearch.md`). MaxEnt: converged = result code `converged`; the moment
error is the refined-rule error of the answer (`docs/benchmarks/maxent.md`).
"""


def build_page(result: dict, smoke: bool, slice_times: dict) -> str:
    lines = ["# Accelerator check", "", PROSE_SMOKE if smoke else PROSE_FULL, PROSE_COLUMNS,
             benchlib.BEGIN, result["markdown"].rstrip(), benchlib.END, ""]
    return "\n".join(lines)


def tables_markdown(command: str, sections: dict, slice_times: dict, smoke: bool) -> str:
    info = machine()
    load = info["load_average"]
    head = (f"Command: `{command}`  \n"
            f"Device (`jax.devices()`): {device_line()}  \n"
            f"Backend: {info['backend']}; jax {info['jax']}, numpy {info['numpy']}; "
            f"{info['cpu_count']} host CPUs"
            + (f", load {load[0]:.1f} at the end" if load else "") + "  \n"
            f"Date: {_dt.datetime.now(_dt.timezone.utc).date().isoformat()}  \n"
            f"Sizes: {'tiny (CPU smoke run, not figures)' if smoke else 'full'}; "
            "time per slice: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in slice_times.items())
            + f", total {sum(slice_times.values()):.1f} s\n")
    parts = [head]
    for name, md in sections.items():
        title = TITLES[name] + (" — smoke run, tiny sizes" if smoke else "")
        parts += [f"### {title}", "", md, ""]
    return "\n".join(parts)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true",
                    help="tiny sizes (a CPU smoke run of every slice); the page goes to "
                         "--out DIR (default results/accelerator_tiny), never to docs/")
    ap.add_argument("--out", type=Path, default=None, metavar="DIR",
                    help="write accelerator.md into DIR instead of docs/benchmarks/")
    ap.add_argument("--slices", default=",".join(SLICES),
                    help=f"comma-separated subset of {','.join(SLICES)}")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH",
                    help="also write the result object (cells, machine, tables) to PATH")
    args = ap.parse_args(argv)
    if args.tiny:  # a smoke run: compile fast (set before the backend starts)
        os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *TINY_XLA_FLAGS])
    slices = [s.strip() for s in args.slices.split(",") if s.strip()]
    bad = [s for s in slices if s not in SLICES]
    if bad or not slices:
        ap.error(f"argument --slices: expected a non-empty subset of {','.join(SLICES)}, "
                 f"got {args.slices!r}")
    args.slices = slices
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        ap.error(f"argument --out: {str(args.out)!r} exists and is not a directory")
    if args.tiny and args.out is None:
        args.out = Path("results") / "accelerator_tiny"
    if not args.tiny and args.out is None and jax.default_backend() == "cpu":
        ap.error("argument --tiny/--out: full sizes on the CPU backend would overwrite "
                 "docs/benchmarks/accelerator.md with CPU figures; run on an accelerator, "
                 "or pass --tiny or --out DIR")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    sizes = TINY if args.tiny else FULL
    smoke = args.tiny or jax.default_backend() == "cpu"
    print(f"devices: {device_line()}; sizes: {'tiny' if args.tiny else 'full'}", flush=True)
    sections, cells, slice_times = {}, [], {}
    for name in args.slices:
        t = time.perf_counter()
        try:
            slice_cells, md = RUNNERS[name](sizes)
        except ModuleNotFoundError as exc:  # an optional package (or optax) is missing
            slice_cells, md = [], f"**Skipped**: this slice needs `{exc.name}` ({exc})."
            print(f"[{name}] skipped: needs {exc.name}", flush=True)
        slice_times[name] = time.perf_counter() - t
        sections[name], cells = md, cells + slice_cells
        print(f"[{name}] {slice_times[name]:.1f} s", flush=True)
    argv_list = list(sys.argv if argv is None else ["scripts/accelerator_check.sh", *argv])
    command = "PYTHONPATH=. bash scripts/accelerator_check.sh " + " ".join(
        a for i, a in enumerate(argv_list[1:])
        if a != "--json" and (i == 0 or argv_list[i] != "--json"))
    command = command.strip()
    markdown = tables_markdown(command, sections, slice_times, smoke)
    result = {"benchmark": "accelerator", "command": command,
              "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
              "machine": machine(), "sizes": dataclasses.asdict(sizes),
              "slice_s": slice_times, "cells": cells, "markdown": markdown}
    page = PAGE if args.out is None else args.out / "accelerator.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(build_page(result, smoke, slice_times))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str))
    print(f"total {sum(slice_times.values()):.1f} s; page: {page}", flush=True)
    return result


if __name__ == "__main__":
    main()
