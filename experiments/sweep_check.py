"""Framework check: a seed sweep of uniform random search against its exact expectation.

Uniform random search on the sphere ``f(x) = |x|^2`` over the square ``[-1, 1]^2`` keeps
the minimum of ``n`` i.i.d. values whose distribution function is known in closed form:
``F(t) = pi t / 4`` for ``t <= 1`` and ``(pi t - 4 (t arccos(1/sqrt t) - sqrt(t - 1))) / 4``
for ``1 < t <= 2``. So ``E[best after n] = int_0^2 (1 - F(t))^n dt`` is exact, and the
sweep's mean over seeds must agree with it to within its standard error. This exercises
``run``, ``sweep`` (sharding, chunking), the run records and the report pipeline.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from experiments.cells import Cell, judge, load_record
from experiments.common import CpuPlan, Experiment, main, markdown_table, standard_error, z_verdict
from jaxopt_lab import quadrature, random_search, run

SAMPLES_PER_STEP = 16
NUM_STEPS = 64
BUDGETS = (16, 64, 256, 1024)


def expected_best_sphere_2d(n: int) -> float:
    """Exact ``E[min of n]`` of ``|x|^2`` for ``x ~ U([-1, 1]^2)``."""
    a = math.pi / 4.0
    inner = (1.0 - (1.0 - a) ** (n + 1)) / (a * (n + 1))  # int_0^1 (1 - a t)^n dt
    rule = quadrature.gauss_legendre(200, 1.0, 2.0)
    t = rule.nodes
    r = np.sqrt(t)
    area = math.pi * t - 4.0 * (t * np.arccos(1.0 / r) - np.sqrt(t - 1.0))
    outer = float(np.sum(rule.weights * (1.0 - area / 4.0) ** n))
    return inner + outer


def sphere(x):
    return jnp.sum(x**2)


def make_run_fn():
    config = random_search.Config(dim=2, num_samples=SAMPLES_PER_STEP)
    method = random_search.make(sphere, config)
    params = random_search.params(-1.0, 1.0)
    x0 = jnp.ones((2,), jnp.float32)  # f = 2, the largest value in the box: never the best

    def run_fn(key):
        final, trace = run(method, key, x0, params, NUM_STEPS)
        return {"best_f": final.best_f, "num_evals": final.num_evals, "trace": trace.best_f}

    return run_fn


def run_experiment(args, ctx) -> str:
    results = ctx.sweep(make_run_fn(), {"dim": 2, "samples_per_step": SAMPLES_PER_STEP,
                                        "num_steps": NUM_STEPS}, cell="sphere_2d")
    return report(results["trace"], ctx.chunk_size)


def report(trace, chunk_size: int) -> str:
    """The section from the best-so-far traces ``[num_seeds, NUM_STEPS]``: per budget, the
    exact expectation beside the mean over seeds, its standard error and z-score, and a
    verdict (none below ``MIN_SEEDS_FOR_VERDICT`` seeds)."""
    trace = np.asarray(trace, np.float64)
    num_seeds = trace.shape[0]
    rows, zs = [], []
    for n in BUDGETS:
        values = trace[:, n // SAMPLES_PER_STEP - 1]
        exact = expected_best_sphere_2d(n)
        mean = values.mean()
        stderr = standard_error(values)
        z = (mean - exact) / stderr if stderr > 0 else float("nan")
        zs.append(z)
        rows.append([n, exact, mean, stderr, f"{z:+.2f}" if math.isfinite(z) else "—"])
    verdict = z_verdict(zs, num_seeds)
    return (
        f"Uniform random search on the 2-D sphere, {num_seeds} seeds swept in chunks of "
        f"{chunk_size} per device. The exact column is the closed-form expectation of the "
        f"minimum of n uniform samples (see `experiments/sweep_check.py`); verdict: "
        f"{verdict}.\n\n"
        + markdown_table(["evaluations n", "exact E[best]", "ours: mean best", "std. error", "z"],
                         rows)
    )


def cell_verdicts(out: Path) -> list[Cell]:
    """Each budget's mean best value against the exact expectation, within 2 standard errors."""
    data = load_record(out / "sphere_2d")
    if data is None:
        return []
    trace = data["trace"].astype(np.float64)
    cells = []
    for n in BUDGETS:
        values = trace[:, n // SAMPLES_PER_STEP - 1]
        z = (values.mean() - expected_best_sphere_2d(n)) / (
            values.std(ddof=1) / math.sqrt(len(values)))
        cells.append(judge(f"n = {n}", abs(z) <= 2.0, {}, f"z = {z:+.2f}"))
    return cells


EXPERIMENT = Experiment(
    name="sweep_check",
    paper="Foundation",
    title="Seed sweep of random search vs the exact expected minimum",
    order=0,
    run=run_experiment,
    quick_seeds=512,
    paper_seeds=8192,
    # 23 CPU-s measured (compilation included)
    cpu_plan=CpuPlan(args=(), minutes=0.4),
)

if __name__ == "__main__":
    main(EXPERIMENT)
