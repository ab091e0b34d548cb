"""DGS (UAI 2021) Table 1: which reading of the cosine distance (Eq. 9) gives the paper's row?

The paper leaves open how exactly Table 1 was measured (docs/benchmarks/dgs.md, the
``dgs_cosine`` section). This experiment runs DGS alone on F1-F5 and evaluates named
readings, each a concrete, testable choice:

Metric readings (computed on the same DGS path ``x_0..x_T``;
:func:`jaxopt_lab.problems.highdim.cosine_readings`): ``eq9`` (Eq. 9 as printed, our default
everywhere else), ``eq9_from_start`` (reference direction fixed at ``x_opt - x_0``),
``displacement`` (how well the whole path so far points at the optimum), ``eq9_first_10`` /
``eq9_first_quarter`` (the "long-range exploration" phase) and ``eq9_approach`` (the steps
until the iterate is closest to ``x_opt``).

Algorithm readings (separate runs; metric ``eq9`` and the others on each path):
  * ``paper``: normalised step, ``v_t = v_end + (v_0 - v_end)(1 - t/T)^2`` for both the
    learning rate (``0.05 sqrt(d) w`` -> 1 %) and the radius (``5 w`` -> 1 %).
  * ``concave``: the other "quadratic decay", ``v_t = v_0 - (v_0 - v_end)(t/T)^2``.
  * ``exponential``: geometric decay from ``v_0`` to ``v_end = v_0 / 100`` over ``T``.
  * ``sigma_const``: radius fixed at ``5 w``, learning rate as ``paper``.
  * ``raw``: un-normalised step ``x - lambda_t g`` with the paper's ``lambda_t``.

Probe functions (``--functions F1_cond1e1,...``): F1 with condition number ``10^k`` instead
of ``10^6`` (``sum 10^(k (i-1)/(d-1)) z_i^2``); DGS is the exact gradient on any quadratic,
so these show which conditioning the paper's F1 value would correspond to.

Speed trick (diagnostics only, never timed): on the rotated benchmarks a DGS point
``x + c e_i`` maps to ``z_0 + c R[:, i]`` with ``z_0 = R (x - x_opt)``, so the ``(M-1) d``
points cost ``O(M d^2)`` instead of a ``[(M-1) d, d] x [d, d]`` product. The iterates are
the same as :mod:`jaxopt_lab.dgs.dgs` with the black-box objective, to float32 rounding
(``tests/dgs/test_cosine_readings.py`` checks it), which is what makes d = 2000 affordable on
2 CPU cores.

    python -m experiments.dgs_cosine --profile quick           # d = 200, 2 trials
    python -m experiments.dgs_cosine --profile paper           # d = 2000, 20 trials
    python -m experiments.dgs_cosine --profile paper --seeds 3  # what we ran on CPU
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.cells import Cell, judge
from experiments.common import CpuPlan, Experiment, load_targets, main, markdown_table
from jaxopt_lab.dgs.estimator import positive_nodes
from jaxopt_lab.problems import highdim as hd

FUNCTION_IDS = ("F1", "F2", "F3", "F4", "F5")
# F1 with a milder conditioning (probe: which conditioning would give the paper's 0.163?)
PROBES = {"F1_cond1e1": 1.0, "F1_cond1e2": 2.0, "F1_cond1e3": 3.0}
VARIANTS = ("paper", "concave", "exponential", "sigma_const", "raw")
READINGS = hd.READINGS


def _ellipsoid(log10_cond: float):
    def f(z):
        d = z.shape[0]
        return jnp.sum(10.0 ** (log10_cond * jnp.arange(d, dtype=z.dtype) / (d - 1)) * z * z)

    return f


def _standard(fid: str):
    """Standard function of ``fid`` (a benchmark id or a key of :data:`PROBES`)."""
    if fid in PROBES:
        return _ellipsoid(PROBES[fid])
    return hd.standard(fid)


def _base(fid: str) -> str:
    return "F1" if fid in PROBES else fid


def _objective(fid: str, inst: hd.Instance):
    f = _standard(fid)
    return lambda x: f(inst.rotation @ (x - inst.x_opt))


def schedule(variant: str, kind: str, t, v0, num_steps: int):
    """Learning-rate (``kind="lr"``) or radius (``"sigma"``) of ``variant`` at step ``t``."""
    v_end = 0.01 * v0
    frac = jnp.clip(t / num_steps, 0.0, 1.0)
    if variant == "concave":
        return v0 - (v0 - v_end) * frac**2
    if variant == "exponential":
        return v0 * 0.01**frac
    if variant == "sigma_const" and kind == "sigma":
        return v0 + 0.0 * frac
    if variant in ("paper", "sigma_const", "raw"):
        return v_end + (v0 - v_end) * (1.0 - frac) ** 2
    raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


def structured_gradient(fname: str, inst: hd.Instance, x, sigma, num_points: int = 5):
    """The DGS gradient (identity directions) of ``f(R (x - x_opt))`` via ``z`` coordinates.

    Same quadrature as :func:`jaxopt_lab.dgs.estimate` (positive nodes, ``±`` pairs), but the
    points ``x ± sigma u_k e_i`` are formed as ``z_0 ± sigma u_k R[:, i]``.

    Returns:
      ``[dim]`` gradient.
    """
    f = _standard(fname)
    u_np, p_np = positive_nodes(num_points)
    dtype = x.dtype
    rot = inst.rotation
    z0 = rot @ (x - inst.x_opt)
    rows = rot.T  # row i = R[:, i] = image of e_i

    def one_node(k):
        c = sigma * jnp.asarray(u_np, dtype)[k]
        plus = jax.vmap(f)(z0[None, :] + c * rows)
        minus = jax.vmap(f)(z0[None, :] - c * rows)
        return plus - minus

    diffs = jax.lax.map(one_node, jnp.arange(u_np.shape[0]))  # [K, dim]
    pu = jnp.asarray(p_np * u_np, dtype)
    return jnp.sum(pu[:, None] * diffs, axis=0) / sigma


def _descend(x, g, lr, normalize):
    """``x - lr g / ||g||`` (or ``x - lr g``), no move for a zero or non-finite ``g``: the
    step of :mod:`jaxopt_lab.dgs.dgs`."""
    gnorm = jnp.sqrt(jnp.sum(g * g))
    ok = jnp.isfinite(gnorm) & (gnorm > 0)
    scale = lr / jnp.where(ok, gnorm, 1.0) if normalize else lr
    return x + jnp.where(ok, -scale * g, jnp.zeros_like(g)).astype(x.dtype)


def dgs_path(fname: str, inst: hd.Instance, variant: str = "paper", num_steps: int = 200,
             num_points: int = 5):
    """DGS Algorithm 1 without perturbation (the benchmark setting) on one instance.

    Returns:
      ``(path [num_steps + 1, dim], values [num_steps + 1])``.
    """
    dim = inst.x0.shape[0]
    w = hd.width(_base(fname))
    lr0 = 0.05 * math.sqrt(dim) * w
    s0 = 5.0 * w
    f = _objective(fname, inst)
    normalize = variant != "raw"

    def body(x, t):
        lr = schedule(variant, "lr", t, lr0, num_steps)
        sig = jnp.asarray(schedule(variant, "sigma", t, s0, num_steps), x.dtype)
        g = structured_gradient(fname, inst, x, sig, num_points)
        x_new = _descend(x, g, lr, normalize)
        return x_new, (x_new, f(x_new))

    _, (xs, fs) = jax.lax.scan(body, inst.x0, jnp.arange(num_steps, dtype=inst.x0.dtype))
    path = jnp.concatenate([inst.x0[None], xs])
    values = jnp.concatenate([f(inst.x0)[None], fs])
    return path, values


def run_one(fname: str, dim: int, key, variant: str, num_steps: int = 200,
            per_step_out: dict | None = None, num_points: int = 5):
    """One trial: instance from ``key`` (as experiments/dgs_methods.py), DGS path, readings."""
    k_inst, _ = jax.random.split(key)
    inst = hd.sample_instance(k_inst, _base(fname), dim)
    path, values = jax.jit(dgs_path, static_argnums=(0, 2, 3, 4))(fname, inst, variant,
                                                                  num_steps, num_points)
    out, per_step = hd.cosine_readings(np.asarray(path), np.asarray(inst.x_opt))
    if per_step_out is not None:
        per_step_out.update(per_step, f=np.asarray(values))
    out["final_f"] = float(values[-1])
    out["diverged"] = float(not values[-1] < values[0])  # ended above its start (or NaN)
    out["best_f"] = float(np.nanmin(np.asarray(values)))
    out["final_dist"] = float(np.linalg.norm(np.asarray(path[-1] - inst.x_opt)))
    out["start_dist"] = float(np.linalg.norm(np.asarray(path[0] - inst.x_opt)))
    return out


# Measured on 2 CPU cores: `--profile paper --seeds 2 --variants paper --functions F3` took
# 135 CPU-s with compilation (about 60 CPU-s per d = 2000 trial of 200 steps).
# The CPU part (3 trials, paper schedule, F1-F5): 7.1 CPU-minutes measured after three of the
# five functions, about 12 in all.
MINUTES = 12
ACCELERATOR_COST = (
    "17 more trials of the paper schedule and 20 of the other four schedules (concave, "
    "exponential, sigma_const, raw) on F1-F5: 485 DGS runs of 200 steps, each about 60 CPU-s "
    "on 2 cores (8 CPU-hours in all; the steps are O(M d^2), no d x d x (M-1) d product); an "
    "estimated 10-20 GPU-minutes on one H100")


def add_arguments(parser):
    parser.add_argument("--dim", type=int, default=None, help="dimension (quick 200, paper 2000)")
    parser.add_argument("--functions", default=",".join(FUNCTION_IDS))
    parser.add_argument("--variants", default=None,
                        help=f"comma-separated from {VARIANTS} (quick: paper,concave)")
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--num-points", type=int, default=5,
                        help="Gauss-Hermite nodes M (the paper: 5; more nodes = closer to the "
                             "exact smoothing, a diagnostic)")


def run(args, ctx) -> str:
    from jaxopt_lab.sweeps import seed_keys

    dim = args.dim or (200 if ctx.profile == "quick" else 2000)
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    for f in functions:
        if f not in FUNCTION_IDS and f not in PROBES:
            raise ValueError(f"--functions: unknown id {f!r}; use {FUNCTION_IDS} or "
                             f"{tuple(PROBES)}")
    if args.variants:
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    else:
        variants = ["paper"] if ctx.profile == "quick" else list(VARIANTS)
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"--variants: unknown variant {v!r}; use {VARIANTS}")
    targets = ctx.targets("dgs_table1")["cosine_distance"]["DGS"]
    keys = seed_keys(ctx.root_seed, ctx.seeds)
    results = {}
    for v in variants:
        for fid in functions:
            rows, arrays = [], []
            for k in keys:
                arrays.append({})
                rows.append(run_one(fid, dim, k, v, args.iters, arrays[-1],
                                    args.num_points))
            np.savez(ctx.out / f"per_step_{v}_{fid}_d{dim}_m{args.num_points}.npz",
                     **{n: np.stack([a[n] for a in arrays]) for n in arrays[0]})
            results[(v, fid)] = {name: np.array([r[name] for r in rows]) for name in rows[0]}
    summary = {f"{v}/{fid}/{name}": [float(np.mean(a)), float(np.std(a))]
               for (v, fid), res in results.items() for name, a in res.items()}
    (ctx.out / "readings.json").write_text(json.dumps(summary, indent=1))

    def ref_of(fid):
        return targets["mean"][FUNCTION_IDS.index(_base(fid))]

    headers = ["variant / reading"] + [f"{fid} (paper {ref_of(fid):.3f})" for fid in functions]
    table_rows, hits = [], []
    for v in variants:
        for name in READINGS:
            row = [f"{v} / {name}"]
            ok_all = True
            for fid in functions:
                a = results[(v, fid)][name]
                ref = ref_of(fid)
                ok = abs(np.mean(a) - ref) <= 0.1
                ok_all &= ok
                row.append(f"{np.mean(a):.3f} ± {np.std(a):.2f}" + (" ✓" if ok else ""))
            table_rows.append(row)
            if ok_all:
                hits.append(f"{v} / {name}")
        row = [f"{v} / final loss"]
        for fid in functions:
            res = results[(v, fid)]
            div = int(np.sum(res["diverged"]))
            row.append(f"{np.mean(res['final_f']):.4g}"
                       + (f" (**diverged** in {div}/{len(keys)})" if div else ""))
        table_rows.append(row)
    verdict = ("Readings within ±0.1 of the paper's DGS row on every function: "
               + (", ".join(hits) if hits else "**none**") + ". A ✓ on a diverged run "
               "(only its first few steps are finite) means nothing.")
    return "\n".join([
        f"DGS alone, d = {dim}, {len(ctx.seeds)} trials, T = {args.iters}, "
        f"M = {args.num_points}, no "
        "perturbation; ✓ marks a mean within ±0.1 of the paper's DGS row (d = 2000)."
        + ("" if dim == 2000 else " **The paper's row is for d = 2000.**"),
        "",
        markdown_table(headers, table_rows),
        "",
        verdict,
    ])


# Cells outside ±0.1 whose mechanism docs/methods/dgs.md ("Table 1: why the DGS row is not
# reproduced") measures: on F1 DGS is steepest descent on a 10^6-conditioned quadratic, whose
# cosine to x_opt - x starts near mean(λ)/rms(λ) ≈ 0.38 and falls (0.163 is out of reach of any
# gradient-direction method); on F4 the first steps point at x_opt and the iterate then drifts
# on the plateau of random phases (the paper's 0.198 matches our first 10 steps).
EXPLAINED = {"F1": "steepest descent on the ill-conditioned ellipsoid",
             "F4": "drift on Rastrigin's plateau after the first steps"}


def cell_verdicts(out: Path) -> list[Cell]:
    """Table 1's DGS row: the Eq. 9 reading of the paper variant within ±0.1, per function
    (a diverged run's reading is not counted as reproduced); outside it, F1 and F4 are
    explained (:data:`EXPLAINED`)."""
    path = out / "readings.json"
    if not path.exists():
        return []
    readings = json.loads(path.read_text())
    targets = load_targets("dgs_table1")["cosine_distance"]["DGS"]["mean"]
    cells = []
    for key, (mean, _) in readings.items():
        variant, fid, name = key.split("/")
        if variant != "paper" or name != "eq9":
            continue
        ref = targets[FUNCTION_IDS.index(_base(fid))]
        diverged = readings.get(f"{variant}/{fid}/diverged", [0.0])[0] > 0
        cells.append(judge(fid, abs(mean - ref) <= 0.1 and not diverged, EXPLAINED,
                           f"{mean:.3f} vs {ref:.3f}" + (" (diverged)" if diverged else "")))
    return cells


EXPERIMENT = Experiment(name="dgs_cosine", paper="DGS",
                        title="Table 1: readings of the cosine distance (Eq. 9)",
                        order=11, run=run, add_arguments=add_arguments, quick_seeds=2,
                        paper_seeds=20, cpu_plan=CpuPlan(
                            args=("--seeds", "3", "--variants", "paper"), minutes=MINUTES,
                            note="Table 1's DGS row: the paper's schedule, 3 trials",
                            rest=ACCELERATOR_COST))

if __name__ == "__main__":
    main(EXPERIMENT)
