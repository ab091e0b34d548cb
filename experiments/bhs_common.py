"""Shared machinery of the BH-S experiments (not an experiment itself).

* :class:`Runner`: one compiled program per (dimension, config) that runs a budget of
  back-to-back BH / BH-S / hybrid runs (``jaxopt_lab.basin_hopping.run_budget``) on *any*
  of a list of landscapes (the objective and the success test are picked by traced
  indices through ``lax.switch``, so changing landscape, sigma, T, the hybrid ratio or the
  tolerances never recompiles; the halting index K is static, so each K has its Runner).
  Chains run in float64 so that the paper's 1e-5 success ball is meaningful on every
  landscape (float32 resolves only ~3e-5 at |x| = 400).
* :func:`scipy_cell`: the classic tool, ``scipy.optimize.basinhopping``, run back to back
  under the same budget, with the authors' steps written in NumPy after their code:
  :class:`GaussStep` (variance convention, no wrap) and
  :class:`SkipStep` (the authors' ``MonotonicSkippingSMCTakeStep``: equal radii, strict
  sublevel test, periodic or first-point-only wrap, f(X) re-evaluated). It runs under
  :func:`experiments.timing.single_threaded_blas` (one BLAS thread, process CPU time), whoever
  calls it, and reports the BLAS thread count it ran with.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from experiments.cells import rate_within_2se
from jaxopt_lab.basin_hopping import bh, bhs, hybrid, metrics, run_budget
from jaxopt_lab.problems import Problem, success

DEFAULT_FTOL, DEFAULT_GTOL = 2.2e-9, 1e-5
MODULES = {bh.Config: bh, bhs.Config: bhs, hybrid.Config: hybrid}


def tolerances(tol):
    """SciPy's ``minimize(tol=...)`` sets both; ``None`` means L-BFGS-B's defaults."""
    return (DEFAULT_FTOL, DEFAULT_GTOL) if tol is None else (tol, tol)


class Runner:
    """Budgeted back-to-back runs on a list of same-dimension landscapes, one compile.

    Args:
      problems: the landscapes (same ``dim``), as a list or as ``{label: Problem}`` (e.g.
        a landscape and its paper's reading, which share one objective).
      config: a ``bh``, ``bhs`` or ``hybrid`` Config (``restart=True``; a hybrid serves BH
        with ``ratio=1`` and BH-S with ``ratio=-1`` from one program).
      num_chains: chains side by side.
      steps_per_call: steps per compiled call.
      local_steps: the asynchronous mode's local-minimiser steps per tick (used when
        ``config.local_steps`` is None; pass None to keep the synchronous mode).
      radius: the success ball's radius.
    """

    def __init__(self, problems: Sequence[Problem] | Mapping[str, Problem], config,
                 num_chains: int, steps_per_call: int = 10, local_steps: int | None = 2,
                 radius: float = 1e-5):
        if config.local_steps is None and local_steps is not None:
            config = dataclasses.replace(config, local_steps=local_steps)
        problems = dict(problems) if isinstance(problems, Mapping) else {
            p.name: p for p in problems}
        self.labels, self.problems = list(problems), list(problems.values())
        self.config, self.module = config, MODULES[type(config)]
        self.num_chains = num_chains
        self.steps_per_call = steps_per_call
        self.compile_s = 0.0
        names = list(dict.fromkeys(p.name for p in self.problems))
        self._fn_index = [names.index(p.name) for p in self.problems]
        fns = [next(p.fn for p in self.problems if p.name == n) for n in names]
        tests = [metrics.success_test(p, radius=radius) for p in self.problems]
        module = self.module

        def method(fn_index, test_index):
            if len(fns) == 1:  # no conditional around a single objective
                return module.make(fns[0], config)
            return module.make(lambda x: jax.lax.switch(fn_index, fns, x), config)

        def test(fn_index, test_index):
            if len(tests) == 1:
                return tests[0]
            return lambda x, f: jax.lax.switch(test_index, tests, x, f)

        self._method, self._test = method, test

    def params(self, label: str, *, tol=None, patience=50, **kw):
        """The module's Params for ``label``'s box (float64), ``tol`` as SciPy's."""
        problem = self.problems[self.labels.index(label)]
        ftol, gtol = tolerances(tol)
        return self.module.params(problem.lower, problem.upper, ftol=ftol, gtol=gtol,
                                  patience=patience, dtype=jnp.float64, **kw)

    def run(self, label: str, params, key, budget_s: float, min_runs: int | None = None) -> dict:
        """Runs until ``budget_s`` process CPU seconds (all threads; wall-clock seconds on an
        accelerator backend) are spent (a call is started only if the previous call's
        duration still fits); returns scalar metrics.

        ``min_runs``: stop instead once every chain has finished ``ceil(min_runs /
        num_chains)`` runs, each chain counting only that many (``run_budget``'s
        ``runs_per_chain``: equal runs per chain, no bias towards short runs), with
        ``budget_s`` as a cap; ``complete`` (1 or 0) says whether the count was reached.
        """
        if min_runs is not None and min_runs < 1:
            raise ValueError(f"min_runs must be >= 1, got {min_runs}")
        per_chain = None if min_runs is None else -(-int(min_runs) // self.num_chains)
        i = self.labels.index(label)
        # CPU seconds on a CPU backend (the paper's budget); on an accelerator the host's
        # CPU time says little about the work done, so the budget is wall-clock there.
        clock = "cpu" if jax.default_backend() == "cpu" else "wall"
        res = run_budget(self._method, self._test, key, params, num_chains=self.num_chains,
                         budget_s=budget_s, steps_per_call=self.steps_per_call, clock=clock,
                         runs_per_chain=per_chain, dtype=jnp.float64,
                         args=(jnp.int32(self._fn_index[i]), jnp.int32(i)))
        self.compile_s += res.compile_s
        s = res.summary
        return {"runs": s.num_runs, "successes": s.num_success, "successes_f": s.num_success_f,
                "rho": 100 * s.reliability, "rho_f": 100 * s.reliability_f, "nu_1": s.nu_1,
                "nu_s": s.nu_s, "p_s": s.p_s, "wall_s": res.wall_s, "cpu_s": res.cpu_s,
                "steps": res.num_steps,
                "success_per_cpu_s": s.num_success / res.cpu_s,
                "success_per_wall_s": s.num_success / res.wall_s,
                "evals_perturb": s.num_evals_perturb, "evals_local": s.num_evals_local,
                "nonfinite": s.num_nonfinite, "best_f": float(jnp.min(res.state.best_f)),
                **({} if per_chain is None else {"runs_per_chain": per_chain,
                                                 "complete": float(res.complete)})}


# ----------------------------------------------------------------------------- SciPy / NumPy


class GaussStep:
    """BH step of the authors' code: ``W ~ N(0, sigma I)`` (variance convention), no wrap."""

    def __init__(self, sigma_variance: float, rng: np.random.Generator):
        self.std = float(np.sqrt(sigma_variance))
        self.rng = rng

    def __call__(self, x):
        return x + self.std * self.rng.standard_normal(x.shape)


class SkipStep:
    """The authors' skipping step (one particle), as in the authors' code (docs/methods/bhs.md).

    Equal radii, strict test ``f(Z_k) < f(X)``, at most ``K`` evaluations; ``boundary`` is
    ``"periodic"`` (every point wrapped) or ``"first"`` (only ``Z_1``). f(X) is
    re-evaluated on every call, as in the authors' code.
    """

    def __init__(self, fn, sigma_std: float, num_skips: int, lower, upper, boundary: str,
                 rng: np.random.Generator, radii: str = "equal"):
        self.fn, self.sigma, self.K = fn, float(sigma_std), int(num_skips)
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.boundary, self.rng, self.radii = boundary, rng, radii

    def _wrap(self, z):
        return self.lower + np.mod(z - self.lower, self.upper - self.lower)

    def __call__(self, x):
        fx = self.fn(x)
        g = self.sigma * self.rng.standard_normal(x.shape)
        r = np.linalg.norm(g)
        phi = g / r
        z = self._wrap(x + r * phi)
        for k in range(1, self.K + 1):
            if k > 1:
                if self.radii == "iid":
                    r = self.sigma * np.linalg.norm(self.rng.standard_normal(x.shape))
                z = z + r * phi
                if self.boundary == "periodic":
                    z = self._wrap(z)
            fz = self.fn(z)
            if fz < fx:
                return z
        return x


def _lbfgsb_always_success(fun, x0, args=(), bounds=None, tol=None, **kwargs):
    # scipy >= 1.9 refuses failed local minimisations in basinhopping; scipy 1.6.2 (the
    # paper's) did not check. Report success, as SciPy 1.6.2 did, to match the paper.
    from scipy.optimize import minimize

    res = minimize(fun, x0, args=args, method="L-BFGS-B", bounds=bounds, tol=tol)
    res.success = True
    return res


def scipy_cell(ls: Problem, kind: str, budget_s: float, seed: int, *,
               sigma: float, num_skips: int = 1, tol=None, boundary: str = "periodic",
               temperature: float | None = None, radius: float = 1e-5, radii: str = "equal",
               max_runs: int | None = None) -> dict:
    """``scipy.optimize.basinhopping`` runs back to back until ``budget_s`` CPU seconds.

    ``kind="bh"``: :class:`GaussStep` at ``T = 1``; ``kind="bhs"``: :class:`SkipStep` at
    ``T = 0``. ``niter_success=50``, L-BFGS-B with the box and ``tol``; a run that ends
    after the budget is discarded; success is the 1e-5 ball around any minimiser.
    Runs with one BLAS thread (:func:`~experiments.timing.single_threaded_blas`); the budget and
    ``cpu_s`` are process CPU seconds; ``blas_threads`` is the count it ran with.
    """
    # SciPy (and its own BLAS) is imported before the thread limit is set, so that the
    # limit covers it; both imports stay here so that the JAX side of this module needs
    # neither SciPy nor threadpoolctl.
    from scipy.optimize import basinhopping

    from experiments.timing import blas_threads, single_threaded_blas

    with single_threaded_blas():
        return _scipy_runs(basinhopping, blas_threads, ls, kind, budget_s, seed, sigma,
                           num_skips, tol, boundary, temperature, radius, radii, max_runs)


def _scipy_runs(basinhopping, blas_threads, ls, kind, budget_s, seed, sigma, num_skips, tol,
                boundary, temperature, radius, radii, max_runs):
    rng = np.random.default_rng(seed)
    bounds = list(zip(ls.lower, ls.upper))
    if kind == "bh":
        step = GaussStep(sigma, rng)
        temperature = 1.0 if temperature is None else temperature
    else:
        step = SkipStep(ls.np_fn, sigma, num_skips, ls.lower, ls.upper, boundary, rng, radii)
        temperature = 0.0 if temperature is None else temperature
    threads = blas_threads()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    runs = successes = successes_f = 0
    while True:
        x0 = rng.uniform(ls.lower, ls.upper)
        res = basinhopping(ls.np_fn, x0, niter=100000, T=temperature, take_step=step,
                           niter_success=50, seed=rng,
                           minimizer_kwargs={"method": _lbfgsb_always_success,
                                             "bounds": bounds, "tol": tol})
        if time.process_time() - cpu0 > budget_s:
            break
        runs += 1
        successes += bool(success(ls, res.x, radius=radius))
        successes_f += bool(success(ls, res.x, res.fun, rule="fgap"))
        if max_runs is not None and runs >= max_runs:
            break
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    threads = max(threads, blas_threads())  # a BLAS loaded meanwhile would show here
    return {"runs": runs, "successes": successes, "successes_f": successes_f,
            "rho": 100 * successes / runs if runs else float("nan"),
            "rho_f": 100 * successes_f / runs if runs else float("nan"),
            "cpu_s": cpu, "wall_s": wall, "success_per_cpu_s": successes / cpu,
            "success_per_wall_s": successes / wall, "blas_threads": threads}


def add_run_count_arguments(parser, *, quick_budget: float, paper_cap: str,
                            paper_runs: str) -> None:
    """``--budget`` and ``--min-runs`` of a BH-S experiment: CPU seconds per cell (quick), or
    a run-count stop with the budget as its cap (paper); ``paper_cap`` and ``paper_runs`` are
    the paper profile's defaults as the help shows them."""
    parser.add_argument("--budget", type=float, default=None,
                        help=f"CPU seconds per cell (default: quick {quick_budget:g}; paper: a "
                             f"cap of {paper_cap} on the run-count stop)")
    parser.add_argument("--min-runs", type=int, default=None,
                        help="stop each cell once it has this many runs (equal per chain), "
                             f"--budget a cap (default: quick none; paper {paper_runs})")


def check_min_runs(args) -> None:
    """Refuses ``--min-runs`` below 1, naming it."""
    if args.min_runs is not None and args.min_runs < 1:
        raise ValueError(f"--min-runs must be >= 1, got {args.min_runs}")


def record_cell(ctx, cell: str, config: dict, seed: int, compute) -> dict:
    """Runs ``compute()`` unless ``ctx.out/cell`` already holds this seed (resume)."""
    rec = ctx.record(cell, config)
    if seed in rec.done_seeds():
        data = rec.load([seed])
        return {k: float(np.asarray(v)[0]) for k, v in data.items() if k != "seed"}
    out = compute()
    rec.write_chunk([seed], {k: np.asarray([v], dtype=np.float64) for k, v in out.items()})
    rec.write_summary(out)
    return out


#: Landscapes whose minimum no L-BFGS reliably lands within 1e-5 of (docs/methods/bhs.md,
#: known traps): there the f-gap rule measures whether a run reached the minimum.
FLAT_MINIMA = {
    "Cross in Tray": "flat minimum (power 0.1): L-BFGS stops on ftol before the 1e-5 ball",
    "Mishra-03": "x* on a cusp where f is flat along the arc: the 1e-5 ball is unreachable",
    "Rosenbrock": "flat valley floor: some runs stop on ftol just outside the 1e-5 ball",
    "Whitley": "quartic-flat floor: L-BFGS stops short of the 1e-5 ball",
}


def paper_runs(eps: float, rho: float) -> float | None:
    """The runs behind a published rate: eps (successes in the cell) over rho (in %)."""
    return eps / (rho / 100) if rho and eps else None


def explain_rate(landscape: str, ours: float, ours_f: float, runs: int, paper: float,
                 runs_paper: float | None) -> str | None:
    """Why a reliability cell outside 2 standard errors of our runs is not a discrepancy,
    from a measurement, or ``None``.

    * the paper's own sampling error: ours within 2 standard errors of the difference of
      two rates, ours over ``runs`` and the paper's over ``runs_paper`` (its eps / rho);
    * on :data:`FLAT_MINIMA`, the f-gap rate ``ours_f`` within those 2 standard errors.
    """
    n = runs if not runs_paper else 1.0 / (1.0 / runs + 1.0 / runs_paper)
    if runs_paper and rate_within_2se(ours, paper, n):
        return (f"within 2 SE once the paper's own sampling error ({runs_paper:.0f} runs) is "
                f"counted")
    if landscape in FLAT_MINIMA and np.isfinite(ours_f) and rate_within_2se(ours_f, paper, n):
        return f"{FLAT_MINIMA[landscape]}; by the f-gap rule {ours_f:.1f}%, within 2 SE"
    return None


def fmt(value, digits=1):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}"
