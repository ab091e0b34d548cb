"""Metrics of the BH-S study and budgeted runs of a batch of chains.

Definitions follow Sec. 3 and Table 5.1 of [1] (see ../shared/specs/basin_hopping.md §5):

* reliability ``rho = successes / finished runs`` (a run succeeds when its best point is
  within ``radius`` of a global minimiser; ``rho_f`` uses the f-gap rule instead);
* efficiency ``epsilon = successes within the budget`` (runs unfinished when the budget
  ends are discarded), and successes per CPU-second and per wall-second;
* jump lengths: ``nu_1`` is the mean length of accepted moves whose proposal needed one
  point (every BH step, a skip chain halting at ``k = 1``), ``nu_s`` the mean path length
  ``R_1 + ... + R_k`` of accepted skip chains with ``k > 1``; pooled over every accepted
  move of the budget, as the authors' code does; ``P_s = 100 #(k > 1) / #(moved)``;
* Table 3.1's time split: :func:`time_split` calls the two compiled halves of each step
  (perturbation, then local minimisation + acceptance) alternately and times each.

Runs are launched back to back in every chain (``BHConfig(restart=True)``), so a budget is
spent as ``calls of steps_per_call steps`` until the next call would overrun it.

[1] Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021.
"""

from __future__ import annotations

import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.basin_hopping.chains import BHState, Phases, restart_state, validate_params
from jaxopt_lab.core import Method

__all__ = ["Summary", "BudgetResult", "summarize", "uniform_starts", "run_to_completion",
           "run_budget", "time_split"]


class Summary(NamedTuple):
    """Totals over all chains of a budgeted run (Python floats / ints)."""

    num_runs: int
    num_success: int
    num_success_f: int
    reliability: float
    reliability_f: float
    nu_1: float
    nu_s: float
    p_s: float
    num_evals: int
    num_evals_perturb: int
    num_evals_local: int
    num_nonfinite: int


class BudgetResult(NamedTuple):
    """A budgeted run: its :class:`Summary`, the clocks and the per-second rates.

    Attributes:
      summary: totals.
      wall_s: wall-clock seconds spent (compilation excluded).
      cpu_s: process CPU seconds spent (all threads).
      num_steps: steps run per chain.
      success_per_wall_s, success_per_cpu_s: successes per second.
      state: the final :class:`BHState`.
    """

    summary: Summary
    wall_s: float
    cpu_s: float
    num_steps: int
    success_per_wall_s: float
    success_per_cpu_s: float
    state: BHState


def summarize(state: BHState) -> Summary:
    """Totals over the chains (and any leading batch axes) of ``state``."""
    tot = {k: float(np.sum(np.asarray(getattr(state, k), dtype=np.float64)))
           for k in ("num_runs", "num_success", "num_success_f", "nu1_sum", "nu1_count",
                     "nus_sum", "nus_count", "num_evals", "num_evals_perturb",
                     "num_evals_local", "num_nonfinite")}
    runs = tot["num_runs"]
    moved = tot["nu1_count"] + tot["nus_count"]
    return Summary(
        num_runs=int(runs), num_success=int(tot["num_success"]),
        num_success_f=int(tot["num_success_f"]),
        reliability=tot["num_success"] / runs if runs else float("nan"),
        reliability_f=tot["num_success_f"] / runs if runs else float("nan"),
        nu_1=tot["nu1_sum"] / tot["nu1_count"] if tot["nu1_count"] else float("nan"),
        nu_s=tot["nus_sum"] / tot["nus_count"] if tot["nus_count"] else float("nan"),
        p_s=100.0 * tot["nus_count"] / moved if moved else float("nan"),
        num_evals=int(tot["num_evals"]), num_evals_perturb=int(tot["num_evals_perturb"]),
        num_evals_local=int(tot["num_evals_local"]), num_nonfinite=int(tot["num_nonfinite"]))


def uniform_starts(key: jax.Array, lower, upper, num_chains: int, dtype=jnp.float32):
    """``[num_chains, dim]`` points drawn uniformly in the box (the paper's start points)."""
    lower = jnp.asarray(lower, dtype)
    upper = jnp.asarray(upper, dtype)
    u = jax.random.uniform(key, (num_chains, lower.shape[0]), dtype)
    return lower[None, :] + u * (upper - lower)[None, :]


def run_to_completion(method: Method, key: jax.Array, x0, params, max_steps: int) -> BHState:
    """Runs chains made with ``restart=False`` until every run ended (or ``max_steps``).

    Returns the final state; each chain's result is ``run_best_x`` / ``run_best_f``.
    """
    if getattr(method.config, "restart", True):
        raise ValueError("method must be built with BHConfig(restart=False)")
    init_key, loop_key = jax.random.split(key)

    @jax.jit
    def go(x0, params):
        state = method.init(init_key, x0, params)

        def cond(carry):
            i, s = carry
            return (i < max_steps) & ~jnp.all(s.finished)

        def body(carry):
            i, s = carry
            s, _ = method.step(jax.random.fold_in(loop_key, i), s, params)
            return i + 1, s

        return jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), state))[1]

    return go(x0, params)


def _advance_fn(method: Method, steps_per_call: int):
    def advance(key, state, params):
        def body(i, s):
            return method.step(jax.random.fold_in(key, i), s, params)[0]

        return jax.lax.fori_loop(0, steps_per_call, body, state)

    return jax.jit(advance)


def run_budget(method: Method, key: jax.Array, params, *, num_chains: int, budget_s: float,
               steps_per_call: int = 10, clock: str = "wall", max_calls: int | None = None,
               dtype=jnp.float32) -> BudgetResult:
    """Runs ``num_chains`` chains back to back until ``budget_s`` seconds are spent.

    Compilation happens before the clock starts. Every chain starts from a uniform point in
    the box at the first step (:func:`~jaxopt_lab.basin_hopping.chains.restart_state`). A
    call of ``steps_per_call`` steps is only started when the time left is at least the
    duration of the previous call, so runs that would end after the budget are not counted
    (they are still in progress).

    Args:
      method: built with ``BHConfig(restart=True)``.
      key: PRNG key (start points and all steps).
      params: :class:`~jaxopt_lab.basin_hopping.chains.BHParams`.
      num_chains: chains run side by side.
      budget_s: the budget in seconds of ``clock`` (``"wall"`` or ``"cpu"``, the process
        CPU time summed over threads).
      steps_per_call: steps per compiled call.
      max_calls: optional cap on the number of calls.
      dtype: floating dtype of the chains.

    Returns:
      :class:`BudgetResult`.
    """
    if not getattr(method.config, "restart", False):
        raise ValueError("method must be built with BHConfig(restart=True)")
    if not budget_s > 0:
        raise ValueError(f"budget_s must be > 0, got {budget_s!r}")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    if isinstance(num_chains, bool) or not isinstance(num_chains, int) or num_chains < 1:
        raise ValueError(f"num_chains must be an int >= 1, got {num_chains!r}")
    validate_params(params, method.config)
    state = restart_state(num_chains, params.lower.shape[0], dtype, method.config.local.memory)
    advance = _advance_fn(method, steps_per_call).lower(key, state, params).compile()
    read = time.perf_counter if clock == "wall" else time.process_time
    wall0, cpu0 = time.perf_counter(), time.process_time()
    begin = read()
    last = 0.0
    calls = 0
    while True:
        used = read() - begin
        if used + last > budget_s or (max_calls is not None and calls >= max_calls):
            break
        t = read()
        state = jax.block_until_ready(advance(jax.random.fold_in(key, calls), state, params))
        last = read() - t
        calls += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    summary = summarize(state)
    return BudgetResult(summary=summary, wall_s=wall, cpu_s=cpu, num_steps=calls * steps_per_call,
                        success_per_wall_s=summary.num_success / wall,
                        success_per_cpu_s=summary.num_success / cpu, state=state)


@functools.lru_cache(maxsize=32)
def _jitted_halves(phases):
    # Cached so that repeated calls with the same Phases / builder reuse their compilation.
    build = (lambda *a: phases) if isinstance(phases, Phases) else phases
    perturb = jax.jit(lambda k, s, p, *a: build(*a).perturb(k, s, p))
    finish = jax.jit(lambda k, s, p, prop, *a: build(*a).finish(k, s, p, prop)[0])
    return perturb, finish


def time_split(phases, key: jax.Array, params, *, num_chains: int, num_steps: int,
               args: tuple = (), dtype=jnp.float32, memory: int = 10) -> dict:
    """Seconds spent in the perturbation vs the local minimisation (Table 3.1 of [1]).

    Runs ``num_steps`` steps of ``num_chains`` chains (back-to-back runs from uniform
    starts, as :func:`run_budget`) with the step split in its two compiled halves
    (:class:`~jaxopt_lab.basin_hopping.chains.Phases`), which are called alternately and
    timed separately on the *same* trajectory: step ``i`` uses ``fold_in(key, i)`` and gives
    exactly the state of ``method.step``. "local" is everything after the perturbation:
    the local minimisation, the acceptance test and the tallies (the paper subtracts its
    accept-test and callback time; ours are a few element-wise operations). Compilation
    (one warm-up call of each half on a throw-away state) is not timed; the compiled halves
    are cached per ``phases`` object, so later calls with the same shapes do not recompile.

    Args:
      phases: a :class:`Phases`, or a function ``build(*args) -> Phases`` called under jit
        with ``args`` traced (e.g. a landscape index for ``lax.switch``, so that one
        compiled program serves several objectives).
      key: PRNG key.
      params: :class:`~jaxopt_lab.basin_hopping.chains.BHParams`.
      num_chains: chains side by side (the method must be built with ``restart=True``).
      num_steps: steps (ticks in asynchronous mode) to time.
      args: extra arguments of ``build``.
      dtype: floating dtype of the chains; memory: L-BFGS memory of the local minimiser.

    Returns:
      ``{"perturb_s", "local_s", "total_s"}`` (wall-clock), the same with ``_cpu`` (process
      CPU time, all threads), ``"num_runs"``, ``"num_success"``, ``"num_success_f"``,
      ``"evals_perturb"``, ``"evals_local"`` and ``"state"`` (the final ``BHState``).
    """
    if isinstance(num_chains, bool) or not isinstance(num_chains, int) or num_chains < 1:
        raise ValueError(f"num_chains must be an int >= 1, got {num_chains!r}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be an int >= 1, got {num_steps!r}")
    if not isinstance(phases, Phases) and not callable(phases):
        raise ValueError("phases must be a Phases or a function returning one")
    perturb, finish = _jitted_halves(phases)
    state = restart_state(num_chains, params.lower.shape[0], dtype, memory)
    warm = perturb(key, state, params, *args)
    jax.block_until_ready(finish(key, state, params, warm, *args))
    clocks = {"perturb": [0.0, 0.0], "local": [0.0, 0.0]}

    def timed(label, fn, *a):
        w, c = time.perf_counter(), time.process_time()
        out = jax.block_until_ready(fn(*a))
        clocks[label][0] += time.perf_counter() - w
        clocks[label][1] += time.process_time() - c
        return out

    for i in range(num_steps):
        k = jax.random.fold_in(key, i)
        prop = timed("perturb", perturb, k, state, params, *args)
        state = timed("local", finish, k, state, params, prop, *args)
    s = summarize(state)
    (pw, pc), (lw, lc) = clocks["perturb"], clocks["local"]
    return {"perturb_s": pw, "local_s": lw, "total_s": pw + lw, "perturb_cpu_s": pc,
            "local_cpu_s": lc, "total_cpu_s": pc + lc, "num_runs": s.num_runs,
            "num_success": s.num_success, "num_success_f": s.num_success_f,
            "evals_perturb": s.num_evals_perturb, "evals_local": s.num_evals_local,
            "state": state}
