"""Why DGS trails ES on rotated Rastrigin: the smoothed gradient's angle to x_opt - x.

    python scripts/dgs_smoothing_angle.py                        # d = 100, 1000, 2000
    python scripts/dgs_smoothing_angle.py --dims 2000 --estimators
    python scripts/dgs_smoothing_angle.py --dims 1000 --steps 0,50 --estimators --es-average 16

Rotated Rastrigin, ``f(x) = 10 d + sum_j [z_j^2 - 10 cos(2 pi z_j)]``, ``z = R (x - x_opt)``.
Both smoothings have closed forms (Gaussian characteristic function):

  * DGS smooths along each axis ``e_i`` separately (1-D Gaussian of std ``sigma`` along
    ``e_i`` moves ``z`` by ``sigma v R[:, i]``), so the cosine term ``j`` seen along axis ``i``
    is damped by ``exp(-2 pi^2 sigma^2 R_ji^2)``:
    ``g_i = sum_j R_ji [2 z_j + 20 pi sin(2 pi z_j) exp(-2 pi^2 sigma^2 R_ji^2)]``.
  * ES smooths isotropically (``N(0, sigma^2 I)`` is rotation invariant), so every cosine
    term is damped by the same ``exp(-2 pi^2 sigma^2)``:
    ``g = 2 (x - x_opt) + 20 pi exp(-2 pi^2 sigma^2) R^T sin(2 pi z)``.

With a Haar ``R`` the entries ``R_ji`` are about ``N(0, 1/d)``: DGS's damping is strong
for the typical entry when ``sigma >> sqrt(d) / (2 pi)``, but the small entries
(``|R_ji| < 1 / (2 pi sigma)``) pass undamped whatever ``sigma`` is, and their sum is a
noise of squared norm ``(20 pi)^2 / 2 * sum_ij R_ji^2 exp(-4 pi^2 sigma^2 R_ji^2)`` (phases
``2 pi z_j`` treated as random) ``~ d (20 pi)^2 / 2 (1 + 8 pi^2 sigma^2 / d)^(-3/2)``:
it falls only as ``sigma^-3``, while ES's falls as ``exp(-4 pi^2 sigma^2)``. The signal is
``2 (x - x_opt)`` of norm ``2 r``, so the predicted cosine is
``2 r / sqrt(4 r^2 + noise^2)``; DGS's smoothed direction is lost below
``r* = noise / 2``.

The script evaluates the closed forms at the radii of the benchmark schedules (DGS:
``sigma_t`` from ``5 w`` to ``0.05 w``; ES-Bpop: from ``0.1 w`` to ``0.001 w``, quadratic
decay over T = 200 steps, as experiments/dgs_methods.py) at points at distance ``r`` from
``x_opt`` in a random direction, and prints the cosine between ``-g`` and ``x_opt - x``.
``--estimators`` adds the actual estimates: DGS with M = 5 nodes (what the benchmark runs;
the closed form is the M -> infinity limit) and one ES-Bpop estimate with ``2 d`` antithetic
pairs and centred ranks (finite-sample noise included), and with ``--es-average K`` the
mean of K independent ES estimates at the same point. Nothing is timed.
"""

from __future__ import annotations

import argparse
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.dgs import es_estimate, gradient
from jaxopt_lab.problems import highdim as hd

W = hd.width("F4")  # 10.24
STEPS = (0, 50, 100, 150, 190)
T = 200


def schedule(v0: float, t: int) -> float:
    """The benchmark's quadratic decay to 1 % (jaxopt_lab.dgs.schedules)."""
    v_end = 0.01 * v0
    return v_end + (v0 - v_end) * (1.0 - min(t, T) / T) ** 2


def axis_smoothed_grad(rot, x, x_opt, sigma):
    """DGS's M -> infinity gradient with identity directions, ``[dim]`` (float64)."""
    z = rot @ (x - x_opt)
    damp = np.exp(-2.0 * np.pi**2 * sigma**2 * rot**2)  # [j, i]
    return rot.T @ (2.0 * z) + 20.0 * np.pi * np.einsum("ji,ji,j->i", rot, damp,
                                                       np.sin(2.0 * np.pi * z))


def iso_smoothed_grad(rot, x, x_opt, sigma):
    """Gradient of the isotropically smoothed loss (ES's target), ``[dim]`` (float64)."""
    z = rot @ (x - x_opt)
    return 2.0 * (x - x_opt) + 20.0 * np.pi * np.exp(-2.0 * np.pi**2 * sigma**2) * (
        rot.T @ np.sin(2.0 * np.pi * z))


def noise_norm(rot, sigma, isotropic=False):
    """Predicted norm of the cosine terms' contribution (random phases)."""
    if isotropic:
        return math.sqrt((20 * np.pi) ** 2 / 2 * rot.shape[0]
                         * math.exp(-4.0 * np.pi**2 * sigma**2))
    return math.sqrt((20 * np.pi) ** 2 / 2
                     * np.sum(rot**2 * np.exp(-4.0 * np.pi**2 * sigma**2 * rot**2)))


def cosine(g, x, x_opt):
    to = x_opt - x
    return float(-g @ to / (np.linalg.norm(g) * np.linalg.norm(to)))


def study(dim, distances, key, estimators, steps=STEPS, es_average=1, dgs_sigma=5.0):
    inst = hd.sample_instance(key, "F4", dim)
    rot = np.asarray(inst.rotation, np.float64)
    x_opt = np.asarray(inst.x_opt, np.float64)
    u = np.asarray(jax.random.normal(jax.random.fold_in(key, 7), (dim,)), np.float64)
    u /= np.linalg.norm(u)
    f = hd.objective("F4", inst)
    dgs5 = jax.jit(lambda x, s: gradient(f, x, s, num_points=5, chunk_size=4000))
    es = _es_estimator(f, dim) if estimators else None
    rows = []
    for t in steps:
        s_dgs, s_es = schedule(dgs_sigma * W, t), schedule(0.1 * W, t)
        nd, ne = noise_norm(rot, s_dgs), noise_norm(rot, s_es, isotropic=True)
        for r in distances:
            x = x_opt + r * u
            row = {"d": dim, "t": t, "r": r, "sigma_dgs": s_dgs, "sigma_es": s_es,
                   "cos_dgs": cosine(axis_smoothed_grad(rot, x, x_opt, s_dgs), x, x_opt),
                   "pred_dgs": 2 * r / math.sqrt(4 * r * r + nd * nd),
                   "cos_es": cosine(iso_smoothed_grad(rot, x, x_opt, s_es), x, x_opt),
                   "pred_es": 2 * r / math.sqrt(4 * r * r + ne * ne),
                   "r_star_dgs": nd / 2}
            if estimators:
                xj = jnp.asarray(x, jnp.float32)
                g5 = dgs5(xj, jnp.float32(s_dgs))
                row["cos_dgs_m5"] = cosine(np.asarray(g5, np.float64), x, x_opt)
                k = jax.random.fold_in(jax.random.fold_in(key, t), int(r * 1000))
                g_es = np.asarray(es(k, xj, jnp.float32(s_es)), np.float64)
                row["cos_es_mc"] = cosine(g_es, x, x_opt)
                if es_average > 1:
                    # ES's error is fresh noise at every call (DGS's is a fixed function of
                    # x): the mean of independent estimates tends to the exact smoothing
                    for i in range(1, es_average):
                        g_es = g_es + np.asarray(es(jax.random.fold_in(k, i), xj,
                                                    jnp.float32(s_es)), np.float64)
                    row["cos_es_mean"] = cosine(g_es, x, x_opt)
            rows.append(row)
    return rows


def _es_estimator(f, dim):
    """``(key, x, sigma) -> [dim]``: one ES-Bpop gradient estimate (2 d antithetic pairs,
    centred ranks)."""

    @jax.jit
    def estimate(key, x, sigma):
        return es_estimate(key, f, x, sigma, num_pairs=2 * dim,
                           fitness_shaping="centered_rank").grad

    return estimate


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", default="100,1000,2000")
    ap.add_argument("--distances", default="3,10,30,100")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--estimators", action="store_true",
                    help="also the M = 5 DGS estimate and one ES-Bpop Monte Carlo estimate")
    ap.add_argument("--steps", default=",".join(map(str, STEPS)),
                    help="schedule steps t (of T = 200) whose radii are used")
    ap.add_argument("--dgs-sigma", type=float, default=5.0,
                    help="DGS's sigma_0 in units of w (paper: 5)")
    ap.add_argument("--es-average", type=int, default=1,
                    help="with --estimators: also the mean of this many ES estimates")
    args = ap.parse_args()
    dims = [int(v) for v in args.dims.split(",")]
    distances = [float(v) for v in args.distances.split(",")]
    key = jax.random.key(args.seed)
    head = ["d", "t", "sigma_DGS", "sigma_ES", "r", "cos DGS (exact smoothing)", "predicted",
            "cos ES (exact smoothing)", "predicted", "r* DGS"]
    steps = [int(v) for v in args.steps.split(",")]
    average = args.estimators and args.es_average > 1
    if args.estimators:
        head += ["cos DGS M=5", "cos ES-Bpop (one MC estimate)"]
    if average:
        head += [f"cos ES-Bpop (mean of {args.es_average})"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for dim in dims:
        for row in study(dim, distances, jax.random.fold_in(key, dim), args.estimators,
                         steps, args.es_average, args.dgs_sigma):
            cells = [row["d"], row["t"], f"{row['sigma_dgs']:.3g}", f"{row['sigma_es']:.3g}",
                     f"{row['r']:g}", f"{row['cos_dgs']:.3f}", f"{row['pred_dgs']:.3f}",
                     f"{row['cos_es']:.3f}", f"{row['pred_es']:.3f}",
                     f"{row['r_star_dgs']:.1f}"]
            if args.estimators:
                cells += [f"{row['cos_dgs_m5']:.3f}", f"{row['cos_es_mc']:.3f}"]
            if average:
                cells.append(f"{row['cos_es_mean']:.3f}")
            print("| " + " | ".join(map(str, cells)) + " |", flush=True)


if __name__ == "__main__":
    main()
