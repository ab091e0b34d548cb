"""The ``--diagnose`` mode of experiments/dgs_topology.py: why DGS-driven MMA stalls.

Measured on each start (docs/benchmarks/dgs.md §5.1): where DGS's quadrature nodes fall
relative to the box, how its gradient norms compare with the trigger ``gamma``, and how the
DGS gradient agrees with the exact adjoint at the start and at DGS's final design (cosines,
KKT residuals, restarts of MMA from that design). Not an experiment of its own: run it as
``python -m experiments.dgs_topology --diagnose``.
"""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import markdown_table
from experiments.dgs_topology import DGS, PROFILES, run_mma
from jaxopt_lab.dgs import estimate
from jaxopt_lab.dgs.estimator import positive_nodes
from jaxopt_lab.problems import topology as T
from jaxopt_lab.problems.topology_mma import kkt_residual


def _unclipped_compliance(problem, x):
    """``(f^T u, min modulus)`` of SIMP *without* clipping the design (diagnostic only)."""
    modulus = T.modulus(problem, T.physical_density(problem, x))
    u = T.solve_displacements(problem, modulus)
    f = jnp.asarray(problem.force() * problem.free_mask(), u.dtype)
    return jnp.sum(f * u), jnp.min(modulus)


def diagnose(problem, x0, key, num_iters, chunk):
    """Measures the mechanism of the DGS-MMA stall from start ``x0`` (docs/benchmarks/dgs.md §5.1).

    Returns a dict of numbers: (a) the share of DGS's quadrature nodes outside ``[0, 1]`` and,
    evaluated *without* clipping, the share with a negative element modulus and with a
    non-finite compliance; (b) the DGS gradient norms against ``gamma`` (first, smallest,
    smallest / first) and how often each trigger reading fired; (c) agreement of the DGS and
    adjoint gradients at the start and at DGS's final design (cosine over all coordinates
    and over the free ones projected onto the volume constraint's tangent space), KKT
    residuals, and the compliance that adjoint- and DGS-driven MMA reach when restarted from
    DGS's final design.
    """
    d = problem.num_design
    f = functools.partial(T.compliance, problem)
    cg = jax.jit(functools.partial(T.compliance_and_grad, problem))
    a = np.asarray(T.volume_and_grad(problem, jnp.asarray(x0))[1])
    unclipped = jax.jit(jax.vmap(functools.partial(_unclipped_compliance, problem)))
    u, _ = positive_nodes(DGS["num_points"])

    def smoothed(x):
        return np.asarray(estimate(f, jnp.asarray(x), jnp.full(d, DGS["r"]),
                                   num_points=DGS["num_points"], chunk_size=chunk).grad)

    def cos(p, q):
        return float(np.dot(p, q) / (np.linalg.norm(p) * np.linalg.norm(q)))

    def tangent_cos(p, q, x):
        free = (x > 1e-3) & (x < 1 - 1e-3)
        af = a[free] / np.linalg.norm(a[free])
        pf, qf = p[free] - (p[free] @ af) * af, q[free] - (q[free] @ af) * af
        return cos(pf, qf)

    out = {}
    adj = run_mma(problem, "adjoint", x0, num_iters, chunk, key)
    dgs = run_mma(problem, "dgs", x0, num_iters, chunk, key)
    best = np.minimum.accumulate(dgs["trace"])
    out["C adjoint-MMA"], out["C DGS-MMA"] = adj["best_c"], dgs["best_c"]
    stalled = np.flatnonzero(best > best[-1] * (1 + 1e-6))
    out["DGS: last improving evaluation"] = int(stalled[-1] + 2) if stalled.size else 1
    out["DGS: share of evaluations above the best so far"] = float(
        np.mean(dgs["trace"][1:] > best[:-1]))
    gn = dgs["grad_norms"]
    out["DGS norm g: first"], out["DGS norm g: smallest"] = float(gn[0]), float(gn.min())
    out["DGS norm g: smallest / first"] = float(gn.min() / gn[0])
    out["perturbations, grad_norm trigger (gamma = 0.01)"] = int(np.sum(gn < DGS["gamma"]))
    xd = np.asarray(dgs["x"])
    for name, x in (("start", np.asarray(x0)), ("DGS final", xd)):
        off = (u[:, None] * DGS["r"])[:, :, None] * np.eye(d)[None]
        pts = np.concatenate([x[None, None] + off, x[None, None] - off]).reshape(-1, d)
        outside = np.any((pts < 0) | (pts > 1), axis=1)
        c_u, mod = (np.asarray(v) for v in unclipped(jnp.asarray(pts)))
        out[f"{name}: nodes outside [0, 1]"] = float(np.mean(outside))
        out[f"{name}: unclipped nodes with a negative modulus"] = float(np.mean(mod < 0))
        out[f"{name}: unclipped nodes with a non-finite compliance"] = float(
            np.mean(~np.isfinite(c_u)))
        g_true = np.asarray(cg(jnp.asarray(x))[1])
        g_dgs = smoothed(x)
        out[f"{name}: cos(DGS, adjoint)"] = cos(g_dgs, g_true)
        out[f"{name}: cos(DGS, adjoint) in the volume tangent space"] = tangent_cos(
            g_dgs, g_true, x)
        out[f"{name}: KKT residual, adjoint gradient"] = kkt_residual(g_true, x, a)
        out[f"{name}: KKT residual, DGS gradient"] = kkt_residual(g_dgs, x, a)
    xa = np.asarray(adj["x"])
    out["adjoint-MMA final: KKT residual, adjoint gradient"] = kkt_residual(
        np.asarray(cg(jnp.asarray(xa))[1]), xa, a)
    out["DGS final: share of coordinates at 0"] = float(np.mean(xd <= 1e-3))
    restart = max(2, num_iters // 3)
    out[f"restart from DGS final, adjoint-MMA, {restart} evaluations"] = run_mma(
        problem, "adjoint", xd, restart, chunk, key)["best_c"]
    out[f"restart from DGS final, DGS-MMA, {restart} evaluations"] = run_mma(
        problem, "dgs", xd, restart, chunk, key)["best_c"]
    for trigger in ("relative", "period"):
        r = run_mma(problem, "dgs", x0, num_iters, chunk, key, trigger=trigger, period=10)
        out[f"C DGS-MMA, trigger {trigger}"] = r["best_c"]
        out[f"perturbations, trigger {trigger}"] = r["num_perturb"]
    return out


def diagnose_section(args, ctx) -> str:
    """The ``--diagnose`` section of ``dgs_topology``: :func:`diagnose` on each start."""
    cfg = dict(PROFILES[ctx.profile])
    for name in ("nelx", "nely"):
        if getattr(args, name, None) is not None:
            cfg[name] = getattr(args, name)
    num_iters = cfg["num_iters"] if args.iters is None else args.iters
    problem = T.bridge(cfg["nelx"], cfg["nely"], 0.2, rmin=cfg["rmin"])
    rows = {}
    for s in ctx.seeds:
        key = jax.random.fold_in(jax.random.key(ctx.root_seed), s)
        x0 = np.asarray(jax.random.uniform(jax.random.fold_in(key, 7), (problem.num_design,),
                                           jnp.float64, 0.0, 2 * problem.volfrac))
        for k, v in diagnose(problem, x0, key, num_iters, cfg["chunk"]).items():
            rows.setdefault(k, []).append(v)
    (ctx.out / "diagnose.json").write_text(json.dumps(rows, indent=1) + "\n")
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    table = markdown_table(["quantity"] + [f"start {s}" for s in ctx.seeds],
                           [[k] + [fmt(v) for v in vs] for k, vs in rows.items()])
    return (f"Why DGS-driven MMA stalls: bridge {problem.nelx} x {problem.nely}, MMA for "
            f"{num_iters} evaluations, DGS with the paper's M = 5, r = 0.25, beta = 0.2, "
            f"alpha = 0.1, gamma = 0.01 (see `diagnose()` for the definitions).\n\n{table}\n")
