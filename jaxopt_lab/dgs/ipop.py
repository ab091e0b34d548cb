"""IPOP-CMA-ES: CMA-ES with restarts and a doubling population, over evosax's ``CMA_ES``.

Auger & Hansen, "A restart CMA evolution strategy with increasing population size",
IEEE CEC 2005 (the paper's "IPop-CMA" baseline). Each run of evosax's CMA-ES is stopped by
the restart criteria of that paper (Sec. 2), then CMA-ES restarts from a fresh uniform point
in the initial domain with the population multiplied by ``inc_popsize`` (2):

  * ``equalfunvalhist``: the best values of the last ``10 + ceil(30 n / lambda)`` generations
    are all equal, or their range together with the current generation's values is below
    ``tol_fun`` (1e-12);
  * ``tolx``: ``std sqrt(C_ii) < tol_x`` and ``std |p_c,i| < tol_x`` for every ``i``
    (``tol_x = 1e-12 std_init``);
  * ``noeffectaxis``: adding ``0.1 std`` along principal axis ``g mod n`` leaves the mean
    unchanged;
  * ``noeffectcoord``: adding ``0.2 std sqrt(C_ii)`` to coordinate ``i`` leaves it unchanged
    (for some ``i``);
  * ``conditioncov``: the condition number of ``C`` exceeds ``1e14``;
  * and, ours: a non-finite mean, step size or covariance (float32 break-down).

The evaluation budget is shared by all restarts; a restart whose first generation would not
fit in what is left is not started. One restart is one jitted ``lax.while_loop`` over
generations (the population size is a static shape, so every restart compiles once; the
compiled loops are cached per population size). The DGS study's "IPop-CMA" baseline; it
needs evosax (an ``experiments`` extra), imported when a run starts.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks

__all__ = ["IPOPResult", "ipop_cma_es", "default_population"]


class IPOPResult(NamedTuple):
    """Outcome of :func:`ipop_cma_es`.

    Attributes:
      best_f: best value found over all restarts.
      best_x: ``[dim]`` where it was found.
      num_evals: evaluations used (<= budget).
      population_sizes: population of each run, in order (``len - 1`` restarts).
      stop_reasons: why each run stopped (``"budget"`` for the last one if it ran out).
      run_best: best value of each run.
      trace_evals, trace_best: ``[generations]`` evaluations so far and best-so-far after
        every generation of every run (concatenated).
      trace_mean: ``[generations, dim]`` the distribution mean after every generation if
        ``record_mean`` else ``None``.
    """

    best_f: float
    best_x: np.ndarray
    num_evals: int
    population_sizes: list
    stop_reasons: list
    run_best: list
    trace_evals: np.ndarray
    trace_best: np.ndarray
    trace_mean: np.ndarray | None


REASONS = ("none", "equalfunvalhist", "tolx", "noeffectaxis", "noeffectcoord",
           "conditioncov", "nonfinite", "budget")


def _cma_es_class():
    try:
        from evosax.algorithms import CMA_ES
    except ImportError as err:
        raise ImportError("ipop_cma_es needs evosax: pip install 'jaxopt-lab[experiments]' "
                          "(or pip install evosax)") from err
    return CMA_ES


def default_population(dim: int) -> int:
    """CMA-ES's default ``4 + floor(3 ln n)``."""
    return 4 + int(3 * math.log(dim))


@functools.lru_cache(maxsize=32)
def _compiled_run(objective: Callable, dim: int, pop: int, max_gens: int, dtype_name: str,
                  record_mean: bool, has_aux: bool):
    """A jitted ``run(key, x_start, std_init, gens_allowed, tol_fun, tol_x, aux)``."""
    CMA_ES = _cma_es_class()

    dtype = jnp.dtype(dtype_name)
    algo = CMA_ES(pop, jnp.zeros((dim,), dtype))
    hist_len = 10 + math.ceil(30 * dim / pop)
    if has_aux:
        batched = jax.vmap(objective, in_axes=(0, None))
    else:
        batched = lambda xs, aux: jax.vmap(objective)(xs)  # noqa: E731

    def run(key, x_start, std_init, gens_allowed, tol_fun, tol_x, aux):
        params = algo.default_params.replace(std_init=jnp.asarray(std_init, dtype))
        k0, key = jax.random.split(key)
        state = algo.init(k0, x_start, params)

        def stop_reason(state, gen, hist, fit):
            h_full = gen >= hist_len
            h_range = jnp.max(hist) - jnp.min(hist)
            all_range = jnp.maximum(jnp.max(hist), jnp.max(fit)) - jnp.minimum(
                jnp.min(hist), jnp.min(fit))
            equal = h_full & ((h_range == 0) | (all_range < tol_fun))
            diag = jnp.diagonal(state.C)
            sd = state.std * jnp.sqrt(jnp.maximum(diag, 0.0))
            tolx = jnp.all(sd < tol_x) & jnp.all(state.std * jnp.abs(state.p_c) < tol_x)
            i = gen % dim
            axis = 0.1 * state.std * state.D[i] * state.B[:, i]
            no_axis = jnp.all(state.mean + axis == state.mean)
            no_coord = jnp.any(state.mean + 0.2 * sd == state.mean)
            cond = jnp.max(state.D) ** 2 > 1e14 * jnp.min(state.D) ** 2
            bad = ~(jnp.all(jnp.isfinite(state.mean)) & jnp.isfinite(state.std)
                    & jnp.all(jnp.isfinite(state.C)))
            codes = jnp.array([equal, tolx, no_axis, no_coord, cond, bad])
            return jnp.where(jnp.any(codes), jnp.argmax(codes) + 1, 0)

        def cond_fn(c):
            return (c["reason"] == 0) & (c["gen"] < gens_allowed)

        def body(c):
            k = jax.random.fold_in(key, c["gen"])
            k1, k2 = jax.random.split(k)
            with jax.numpy_rank_promotion("allow"):  # evosax broadcasts implicitly
                xs, s = algo.ask(k1, c["state"], params)
                fit = batched(xs, aux).astype(dtype)
                fit = jnp.where(jnp.isfinite(fit), fit, jnp.inf)
                s, _ = algo.tell(k2, xs, fit, s, params)
            gen = c["gen"]
            hist = c["hist"].at[gen % hist_len].set(jnp.min(fit))
            reason = stop_reason(s, gen + 1, hist, fit)
            # keep the last finite state when CMA-ES breaks down
            s = jax.tree_util.tree_map(lambda a, b: jnp.where(reason == 6, b, a), s,
                                       c["state"])
            out = dict(c, state=s, gen=gen + 1, hist=hist, reason=reason)
            out["best"] = c["best"].at[gen].set(s.best_fitness)
            if record_mean:
                out["means"] = c["means"].at[gen].set(s.mean)
            return out

        c0 = {"state": state, "gen": jnp.zeros((), jnp.int32),
              "hist": jnp.full((hist_len,), jnp.inf, dtype),
              "reason": jnp.zeros((), jnp.int32),
              "best": jnp.full((max_gens,), jnp.inf, dtype)}
        if record_mean:
            c0["means"] = jnp.zeros((max_gens, dim), dtype)
        c = jax.lax.while_loop(cond_fn, body, c0)
        s = c["state"]
        return (s.best_fitness, s.best_solution, c["gen"], c["reason"], c["best"],
                c.get("means"))

    return jax.jit(run)


def ipop_cma_es(objective: Callable[[jax.Array], jax.Array], dim: int, key: jax.Array,
                budget: int, lower: float, upper: float, *, x0=None, population=None,
                std_init=None, inc_popsize: int = 2, max_restarts: int = 9,
                tol_fun: float = 1e-12, tol_x=None, dtype=jnp.float32,
                record_mean: bool = False, aux=None) -> IPOPResult:
    """IPOP-CMA-ES (Auger & Hansen 2005) within ``budget`` evaluations.

    Args:
      objective: ``f(x[dim]) -> scalar`` (vmapped here). Must be hashable (compiled loops
        are cached per ``(objective, population)``).
      dim: number of coordinates.
      key: PRNG key (restart ``r`` uses ``fold_in(key, r)``).
      budget: total evaluations for all runs (> 0).
      lower: initial domain ``[lower, upper]^dim``; restarts start uniformly in it.
      upper: the box's upper corner.
      x0: ``[dim]`` start of the first run (default: uniform in the domain).
      population: first population size (default ``4 + floor(3 ln dim)``).
      std_init: initial step size of every run (default ``(upper - lower) / 2``, as the
        IPOP paper's CEC 2005 setting).
      inc_popsize: population factor per restart (2 in the paper).
      max_restarts: at most this many restarts.
      tol_fun: ``TolFun`` of ``equalfunvalhist``.
      tol_x: ``TolX`` (default ``1e-12 std_init``).
      dtype: float dtype.
      record_mean: keep the distribution mean of every generation (for path metrics).
      aux: if given, the objective is called ``objective(x, aux)`` (a pytree of arrays, e.g.
        a problem instance); then one compiled loop serves every instance.

    Raises:
      ValueError: a bad argument (named in the message), e.g. ``upper <= lower``.
      ImportError: evosax is not installed.
    """
    if not callable(objective):
        raise ValueError(f"objective must be callable, got {type(objective).__name__}")
    _checks.check_int(dim, "dim", minimum=2)
    _checks.check_int(budget, "budget")
    _checks.check_number(lower, "lower")
    _checks.check_number(upper, "upper", lo=lower, lo_open=True)
    _checks.check_int(inc_popsize, "inc_popsize")
    _checks.check_int(max_restarts, "max_restarts", minimum=0)
    _checks.check_int(population, "population", minimum=2, allow_none=True)
    _checks.check_number(std_init, "std_init", positive=True, allow_none=True)
    _checks.check_number(tol_fun, "tol_fun", non_negative=True)
    _checks.check_number(tol_x, "tol_x", non_negative=True, allow_none=True)
    dtype = _checks.check_dtype(dtype)
    if x0 is not None:
        x0 = _checks.check_point(x0, "x0", dim)
    _cma_es_class()  # a clear error now if evosax is missing
    pop = default_population(dim) if population is None else int(population)
    std_init = 0.5 * (upper - lower) if std_init is None else float(std_init)
    tol_x = 1e-12 * std_init if tol_x is None else float(tol_x)
    used = 0
    best_f, best_x = np.inf, None
    pops, reasons, run_best = [], [], []
    tr_e, tr_b, tr_m = [], [], []
    for r in range(max_restarts + 1):
        gens_allowed = (budget - used) // pop
        if gens_allowed < 1:
            break
        k_start, k_run = jax.random.split(jax.random.fold_in(key, r))
        if r == 0 and x0 is not None:
            start = jnp.asarray(x0, dtype)
        else:
            start = jax.random.uniform(k_start, (dim,), dtype, lower, upper)
        max_gens = budget // pop  # static: one compile per population size
        fn = _compiled_run(objective, dim, pop, max_gens, jnp.dtype(dtype).name, record_mean,
                           aux is not None)
        f, x, gens, reason, best_trace, means = fn(k_run, start, std_init, gens_allowed,
                                                   tol_fun, tol_x, aux)
        gens = int(gens)
        reason = int(reason)
        pops.append(pop)
        reasons.append(REASONS[reason] if reason else "budget")
        run_best.append(float(f))
        bt = np.minimum.accumulate(np.asarray(best_trace[:gens], np.float64))
        tr_e.append(used + pop * (np.arange(gens) + 1))
        tr_b.append(np.minimum(bt, best_f))
        if record_mean:
            tr_m.append(np.asarray(means[:gens]))
        used += pop * gens
        if float(f) < best_f:
            best_f, best_x = float(f), np.asarray(x)
        if reason == 0:  # out of budget
            break
        pop *= inc_popsize
    return IPOPResult(best_f=best_f, best_x=best_x, num_evals=used, population_sizes=pops,
                      stop_reasons=reasons, run_best=run_best,
                      trace_evals=np.concatenate(tr_e) if tr_e else np.zeros(0),
                      trace_best=np.concatenate(tr_b) if tr_b else np.zeros(0),
                      trace_mean=np.concatenate(tr_m) if tr_m else None)
