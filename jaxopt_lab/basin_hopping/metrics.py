"""Metrics of the BH-S study, computed from the chains' ``Info`` and a ``Problem`` [1].

Definitions (Sec. 3 and Table 5.1 of [1], as the authors' code computes them):

* a run succeeds when its result (``Info.run_best_x`` at the step its run ended) lies
  within ``radius`` of a global minimiser (:func:`jaxopt_lab.problems.success`, rule
  ``"ball"``, or ``"set"`` for a continuum); reliability ``rho = successes / finished
  runs``; ``rho_f`` counts by the f-gap rule ``f - f* <= f_tol max(1, |f*|)`` instead. Runs
  unfinished at the end are discarded;
* efficiency: successes within a budget (:func:`~.budget.run_budget`, per second);
* jumps: ``nu_1`` is the mean length of accepted moves with halting index ``k = 1`` (every
  BH step, a skipping chain halting at its first point), ``nu_s`` the mean path length
  ``R_1 + ... + R_k`` of accepted skipping chains with ``k > 1``, both pooled over every
  accepted move (the authors' code, not a mean of per-run means); ``P_s = 100 #(k > 1) /
  #(moved)``, a move being an accepted perturbation of length > 0.

Counts are gathered in a :class:`Tally`: from a stacked trace by :func:`tally_trace`
(NumPy, :func:`jaxopt_lab.problems.success`), or step by step inside a compiled loop by
:func:`update` with a :func:`success_test` (long budgeted runs keep no trace).

Precision: success is judged against the exact minimisers in float64 whatever the chains'
dtype. :func:`success_test` splits each ``x*`` into a pair of floats of the chains' dtype,
so that it decides as :func:`~jaxopt_lab.problems.success` does. A float32 chain can only
succeed where a float32 point lies within ``radius`` of ``x*``. On Egg-holder (``x* = (512,
404.2318050)``, float32 spacing 3.05e-5 at 404) the nearest float32 point is 6.5e-6 from
``x*``, and float32 BH-S lands on it: of 256 chains of 200 steps (``Config(max_skips=25)``,
``sigma = 10``), 165 ended within 1e-5 of ``x*`` (float64: 163), so the 1e-5 ball needs no
widening there. Where no float32 point lies within the radius, run the chains in float64; the
experiments of this package do.

[1] Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021,
    arXiv:2108.05229.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.basin_hopping._chain import Info
from jaxopt_lab.problems.problem import SUCCESS_RULES, Problem, success

__all__ = ["Tally", "Summary", "success_test", "empty_tally", "update", "tally_trace",
           "summarize"]


class Tally(NamedTuple):
    """Counts of one chain (or totals): runs, successes, moves, evaluations.

    Attributes:
      num_runs: int32 finished runs; num_success, num_success_f: their successes by the
        test's rule and by the f-gap rule.
      nu1_sum, nu1_count: summed length and number of accepted moves with ``k = 1``.
      nus_sum, nus_count: the same for ``k > 1``.
      num_accepted: int32 accepted perturbations (restarts are not moves).
      num_evals_perturb, num_evals_local: int32 evaluations of the steps, by half.
      num_nonfinite: int32 non-finite evaluations of the steps.
    """

    num_runs: jax.Array
    num_success: jax.Array
    num_success_f: jax.Array
    nu1_sum: jax.Array
    nu1_count: jax.Array
    nus_sum: jax.Array
    nus_count: jax.Array
    num_accepted: jax.Array
    num_evals_perturb: jax.Array
    num_evals_local: jax.Array
    num_nonfinite: jax.Array


class Summary(NamedTuple):
    """Totals of a :class:`Tally` over every chain (Python numbers; ``nan`` where a ratio
    has nothing to count)."""

    num_runs: int
    num_success: int
    num_success_f: int
    reliability: float
    reliability_f: float
    nu_1: float
    nu_s: float
    p_s: float
    num_accepted: int
    num_evals: int
    num_evals_perturb: int
    num_evals_local: int
    num_nonfinite: int


def _check_rule(problem, radius, rule, f_tol) -> None:
    _checks.check_instance(problem, Problem, "problem")
    _checks.check_number(radius, "radius", non_negative=True)
    _checks.check_choice(rule, "rule", tuple(r for r in SUCCESS_RULES if r != "fgap"))
    _checks.check_number(f_tol, "f_tol", non_negative=True)


def _split(value: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``value`` (float64) as ``hi + lo`` in ``dtype``: ``(v - hi) - lo`` is then accurate
    for any ``v`` of ``dtype`` near ``value``."""
    hi = value.astype(dtype)
    return hi, (value - hi.astype(np.float64)).astype(dtype)


def success_test(problem: Problem, *, radius: float = 1e-5, rule: str = "ball",
                 f_tol: float = 1e-6) -> Callable:
    """The success tests of :func:`jaxopt_lab.problems.success` as one JAX function.

    Args:
      problem: the problem (its minimisers and minimum).
      radius: the position test's radius.
      rule: the position test: ``"ball"`` or ``"set"`` (the latter needs a
        ``problem.set_distance`` that accepts JAX arrays, as the landscapes' does).
      f_tol: the f-gap rule's relative tolerance.

    Returns:
      ``test(x[dim], f[]) -> (ok, ok_f)``: bools by ``rule`` and by the f-gap rule, in the
      dtype of ``x`` with float64 accuracy (see the module docstring); jit- and vmap-able.
    """
    _check_rule(problem, radius, rule, f_tol)
    x_star = np.asarray(problem.x_star, np.float64)
    f_star = np.asarray(problem.f_star, np.float64)
    gap = f_tol * max(1.0, abs(float(problem.f_star)))
    set_distance = problem.set_distance if rule == "set" else None

    def test(x, f):
        dtype = np.dtype(x.dtype)
        if set_distance is not None:
            ok = set_distance(x) <= radius
        else:
            hi, lo = _split(x_star, dtype)
            d = (x[None, :] - hi) - lo
            ok = jnp.any(jnp.sqrt(jnp.sum(d * d, axis=-1)) <= radius)
        f_hi, f_lo = _split(f_star, dtype)
        return ok, (f - f_hi) - f_lo <= gap

    return test


def empty_tally(dtype=jnp.float32) -> Tally:
    """A :class:`Tally` of zeros for one chain (lengths summed in ``dtype``)."""
    zi = jnp.zeros((), jnp.int32)
    zf = jnp.zeros((), dtype)
    return Tally(num_runs=zi, num_success=zi, num_success_f=zi, nu1_sum=zf, nu1_count=zi,
                 nus_sum=zf, nus_count=zi, num_accepted=zi, num_evals_perturb=zi,
                 num_evals_local=zi, num_nonfinite=zi)


def update(tally: Tally, info: Info, test: Callable) -> Tally:
    """Adds one step's ``Info`` of one chain to its ``tally`` (pure; vmap it over chains).

    Args:
      tally: the chain's :class:`Tally`.
      info: the step's ``Info``.
      test: a :func:`success_test`.
    """
    ok, ok_f = test(info.run_best_x, info.run_best_f)
    ended = info.run_ended
    moved = info.accepted & (info.jump_length > 0)
    skip = moved & (info.halting_index > 1)
    one = moved & ~(info.halting_index > 1)
    return Tally(
        num_runs=tally.num_runs + ended, num_success=tally.num_success + (ended & ok),
        num_success_f=tally.num_success_f + (ended & ok_f),
        nu1_sum=tally.nu1_sum + jnp.where(one, info.jump_length, 0.0),
        nu1_count=tally.nu1_count + one,
        nus_sum=tally.nus_sum + jnp.where(skip, info.jump_length, 0.0),
        nus_count=tally.nus_count + skip, num_accepted=tally.num_accepted + info.accepted,
        num_evals_perturb=tally.num_evals_perturb + info.num_evals_perturb,
        num_evals_local=tally.num_evals_local + info.num_evals_local,
        num_nonfinite=tally.num_nonfinite + info.num_nonfinite)


def tally_trace(trace: Info, problem: Problem, *, radius: float = 1e-5, rule: str = "ball",
                f_tol: float = 1e-6) -> Tally:
    """The totals of a stacked trace (any leading axes, e.g. ``[num_chains, num_steps]``).

    Success by :func:`jaxopt_lab.problems.success` (float64); returns NumPy totals.
    """
    _check_rule(problem, radius, rule, f_tol)
    _checks.check_instance(trace, Info, "trace")
    ended = np.asarray(trace.run_ended, bool)
    x = np.asarray(trace.run_best_x, np.float64)[ended]
    f = np.asarray(trace.run_best_f, np.float64)[ended]
    length = np.asarray(trace.jump_length, np.float64)
    k = np.asarray(trace.halting_index)
    accepted = np.asarray(trace.accepted, bool)
    moved = accepted & (length > 0)
    skip, one = moved & (k > 1), moved & ~(k > 1)
    total = lambda a: np.sum(np.asarray(a), dtype=np.int64)  # noqa: E731
    return Tally(num_runs=total(ended),
                 num_success=total(success(problem, x, f, radius=radius, rule=rule)),
                 num_success_f=total(success(problem, x, f, rule="fgap", f_tol=f_tol)),
                 nu1_sum=np.sum(length[one]), nu1_count=total(one),
                 nus_sum=np.sum(length[skip]), nus_count=total(skip),
                 num_accepted=total(accepted), num_evals_perturb=total(trace.num_evals_perturb),
                 num_evals_local=total(trace.num_evals_local),
                 num_nonfinite=total(trace.num_nonfinite))


def summarize(tally: Tally) -> Summary:
    """Totals and ratios of ``tally`` over all its axes (summed in float64)."""
    _checks.check_instance(tally, Tally, "tally")
    tot = {k: float(np.sum(np.asarray(v, dtype=np.float64))) for k, v in tally._asdict().items()}
    runs = tot["num_runs"]
    moved = tot["nu1_count"] + tot["nus_count"]
    ratio = lambda a, b: a / b if b else float("nan")  # noqa: E731
    return Summary(
        num_runs=int(runs), num_success=int(tot["num_success"]),
        num_success_f=int(tot["num_success_f"]),
        reliability=ratio(tot["num_success"], runs),
        reliability_f=ratio(tot["num_success_f"], runs),
        nu_1=ratio(tot["nu1_sum"], tot["nu1_count"]),
        nu_s=ratio(tot["nus_sum"], tot["nus_count"]),
        p_s=ratio(100.0 * tot["nus_count"], moved), num_accepted=int(tot["num_accepted"]),
        num_evals=int(tot["num_evals_perturb"] + tot["num_evals_local"]),
        num_evals_perturb=int(tot["num_evals_perturb"]),
        num_evals_local=int(tot["num_evals_local"]), num_nonfinite=int(tot["num_nonfinite"]))
