"""Budgeted runs of many chains (the paper's protocol) and Table 3.1's time split [1].

* :func:`run_budget`: ``num_chains`` chains side by side (``jax.vmap`` of one chain's
  step), each running back-to-back runs from uniform starts, until ``budget_s`` seconds
  are spent. Every step's ``Info`` is added to the chains' :class:`~.metrics.Tally` inside
  the compiled loop (:func:`~.metrics.update`): nothing is stored per step. A call of
  ``steps_per_call`` steps starts only while the time left is at least the previous
  call's duration, so runs that would end after the budget stay unfinished and are not
  counted. With ``runs_per_chain=n`` it stops instead once every chain has finished ``n``
  runs (the budget is then a cap), and each chain's tally counts its first ``n`` runs only:
  every chain contributes the same number of i.i.d. runs, so the stop favours neither short
  nor long runs (stopping at the first ``N`` runs finished over all chains would favour
  short ones, the long runs being the ones still unfinished).
* :func:`time_split`: the same runs with each step's two halves (the perturbation; the
  local minimisation with the acceptance and the tally) compiled and timed apart.

Chain ``c`` is ``jaxopt_lab.run(method, fold_in(key, c), x0_c, params, num_steps)``, its start
``x0_c`` drawn uniformly in the box from the run's init key: it draws only from its own
key, and its first step minimises its start (nothing is evaluated before the clock
starts, and compilation is not timed). Both functions take, instead of a method (or its
phases) and a success test, functions of traced ``args`` returning them (e.g. of a
landscape index that an objective passes to ``lax.switch``), so that one compiled program
serves several objectives; compiled programs are cached.

[1] Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021,
    arXiv:2108.05229.
"""

from __future__ import annotations

import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.basin_hopping import _chain, _settings, metrics
from jaxopt_lab.core import Method

__all__ = ["BudgetResult", "run_budget", "time_split", "start"]


class BudgetResult(NamedTuple):
    """A budgeted run.

    Attributes:
      summary: the :class:`~.metrics.Summary` of ``tally``.
      tally: the chains' :class:`~.metrics.Tally` (``[num_chains]`` each).
      state: the chains' final ``State`` (``[num_chains, ...]``).
      wall_s, cpu_s: wall-clock and process CPU seconds spent (all threads; compilation
        excluded).
      num_steps: steps run per chain.
      success_per_wall_s, success_per_cpu_s: successes per second (the efficiency).
      compile_s: seconds spent compiling (0 when the program was cached).
      complete: with ``runs_per_chain``, whether every chain finished that many runs
        before the budget ran out; True otherwise.
    """

    summary: metrics.Summary
    tally: metrics.Tally
    state: _chain.State
    wall_s: float
    cpu_s: float
    num_steps: int
    success_per_wall_s: float
    success_per_cpu_s: float
    compile_s: float
    complete: bool = True


#: ``runs_per_chain`` of a plain budgeted run: no chain ever reaches it.
_NO_LIMIT = 2**31 - 1


def _empty_tallies(num_chains, dtype):
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (num_chains,)), metrics.empty_tally(dtype))


def start(method, key: jax.Array, params, num_chains: int, dtype=jnp.float32):
    """The chains' loop keys ``[num_chains]`` and initial states, from uniform starts.

    ``method``: a Method or :class:`~._chain.Phases` (its ``init`` and ``config``).
    Chain ``c`` splits ``fold_in(key, c)`` as :func:`jaxopt_lab.run` does; its start is drawn
    uniformly in the box with the init key. Nothing is evaluated.
    """
    dim = method.config.dim
    lower = jnp.broadcast_to(params.lower, (dim,)).astype(dtype)
    upper = jnp.broadcast_to(params.upper, (dim,)).astype(dtype)

    keys = jax.vmap(lambda c: jax.random.split(jax.random.fold_in(key, c)))(
        jnp.arange(num_chains))
    x0 = jax.vmap(lambda k: lower + jax.random.uniform(k, (dim,), dtype) * (upper - lower))(
        keys[:, 0])
    return keys[:, 1], jax.vmap(method.init, in_axes=(0, 0, None))(keys[:, 0], x0, params)


_COMPILED: dict = {}


def _compiled(fn, *args):
    """``fn.lower(*args).compile()``, cached per function and argument shapes/dtypes."""
    leaves, tree = jax.tree.flatten(args)
    sig = (fn, tree, tuple((tuple(a.shape), str(a.dtype)) for a in leaves))
    if sig not in _COMPILED:
        _COMPILED[sig] = fn.lower(*args).compile()
    return _COMPILED[sig]


def _resolve(value, args):
    return value(*args) if args else value


@functools.lru_cache(maxsize=64)
def _advance(method, test, steps_per_call: int, with_args: bool):
    def advance(keys, states, tallies, params, t0, limit, *args):
        step = _resolve(method, args).step
        check = _resolve(test, args)

        def chain(key, state, tally):
            def body(i, carry):
                state, info = step(jax.random.fold_in(key, t0 + i), carry[0], params)
                # a chain that has finished ``limit`` runs keeps running but counts nothing
                counted = carry[1].num_runs < limit
                new = metrics.update(carry[1], info, check)
                return state, jax.tree.map(lambda a, b: jnp.where(counted, b, a), carry[1],
                                           new)

            return jax.lax.fori_loop(0, steps_per_call, body, (state, tally))

        return jax.vmap(chain)(keys, states, tallies)

    return jax.jit(advance)


def _check_common(config, num_chains, dtype):
    _checks.check_instance(config, _settings.ChainConfig, "method.config")
    if not config.restart:
        raise ValueError("method must be built with Config(restart=True): budgeted runs "
                         "launch runs back to back")
    _checks.check_int(num_chains, "num_chains")
    return _checks.check_dtype(dtype)


def run_budget(method, test, key: jax.Array, params, *, num_chains: int, budget_s: float,
               steps_per_call: int = 10, clock: str = "wall", max_calls: int | None = None,
               runs_per_chain: int | None = None, dtype=jnp.float32,
               args: tuple = ()) -> BudgetResult:
    """Runs ``num_chains`` chains back to back until ``budget_s`` seconds are spent, or
    until every chain has finished ``runs_per_chain`` runs.

    Args:
      method: a :class:`~jaxopt_lab.core.Method` of this package built with
        ``restart=True``, or (with ``args``) ``build(*args) -> Method``.
      test: a :func:`~.metrics.success_test`, or (with ``args``) ``build(*args) -> test``.
      key: PRNG key of every chain.
      params: the method's Params.
      num_chains: chains side by side.
      budget_s: the budget in seconds of ``clock``: ``"wall"`` or ``"cpu"`` (process CPU
        time, all threads).
      steps_per_call: steps per compiled call.
      max_calls: optional cap on the number of calls.
      runs_per_chain: optional run-count stop: the loop ends (between calls) once every
        chain has finished this many runs, and each chain counts only its first this many
        (``budget_s`` then caps the time; ``complete`` says whether the count was reached).
      dtype: floating dtype of the chains.
      args: traced arguments of ``method`` and ``test`` (see the module docstring).

    Returns:
      :class:`BudgetResult`.
    """
    built = _resolve(method, args)
    _checks.check_instance(built, Method, "method")
    dtype = _check_common(built.config, num_chains, dtype)
    _checks.check_number(budget_s, "budget_s", positive=True)
    _checks.check_int(steps_per_call, "steps_per_call")
    _checks.check_choice(clock, "clock", ("wall", "cpu"))
    _checks.check_int(max_calls, "max_calls", minimum=0, allow_none=True)
    _checks.check_int(runs_per_chain, "runs_per_chain", maximum=_NO_LIMIT - 1, allow_none=True)
    limit = jnp.int32(_NO_LIMIT if runs_per_chain is None else runs_per_chain)
    keys, states = start(built, key, params, num_chains, dtype)
    carry = (states, _empty_tallies(num_chains, dtype))
    compile_start = time.perf_counter()
    advance = _compiled(_advance(method, test, steps_per_call, bool(args)), keys, *carry,
                        params, jnp.int32(0), limit, *args)
    compile_s = time.perf_counter() - compile_start
    read = time.perf_counter if clock == "wall" else time.process_time
    wall0, cpu0 = time.perf_counter(), time.process_time()
    begin, last, calls, complete = read(), 0.0, 0, False
    while read() - begin + last <= budget_s and (max_calls is None or calls < max_calls):
        t = read()
        carry = jax.block_until_ready(
            advance(keys, *carry, params, jnp.int32(calls * steps_per_call), limit, *args))
        last = read() - t
        calls += 1
        if runs_per_chain is not None and int(jnp.min(carry[1].num_runs)) >= runs_per_chain:
            complete = True
            break
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    summary = metrics.summarize(carry[1])
    return BudgetResult(summary=summary, tally=carry[1], state=carry[0], wall_s=wall,
                        cpu_s=cpu, num_steps=calls * steps_per_call,
                        success_per_wall_s=summary.num_success / wall,
                        success_per_cpu_s=summary.num_success / cpu, compile_s=compile_s,
                        complete=complete or runs_per_chain is None)


@functools.lru_cache(maxsize=64)
def _halves(phases, test, with_args: bool):
    def perturb(keys, states, params, t, *args):
        half = _resolve(phases, args).perturb
        return jax.vmap(lambda k, s: half(jax.random.fold_in(k, t), s, params))(keys, states)

    def finish(keys, states, tallies, params, proposals, t, *args):
        half = _resolve(phases, args).finish
        check = _resolve(test, args)

        def chain(key, state, tally, proposal):
            state, info = half(jax.random.fold_in(key, t), state, params, proposal)
            return state, metrics.update(tally, info, check)

        return jax.vmap(chain)(keys, states, tallies, proposals)

    return jax.jit(perturb), jax.jit(finish)


def time_split(phases, test, key: jax.Array, params, *, num_chains: int, num_steps: int,
               dtype=jnp.float32, args: tuple = ()) -> dict:
    """Seconds spent perturbing vs minimising locally (Table 3.1 of [1]).

    Runs ``num_steps`` steps of ``num_chains`` chains (back-to-back runs, as
    :func:`run_budget`: the same trajectory for the same key) with each step split in its
    two compiled halves, called alternately and timed separately. "local" is everything
    after the perturbation: the local minimisation, the acceptance and the tally (the
    paper subtracts its accept-test and callback time; ours are a few element-wise
    operations).

    Args:
      phases: a method's :class:`~._chain.Phases` (``make_phases``), or (with ``args``)
        ``build(*args) -> Phases``.
      test: a :func:`~.metrics.success_test`, or (with ``args``) ``build(*args) -> test``.
      key: PRNG key; params: the method's Params.
      num_chains: chains side by side; num_steps: steps (ticks, asynchronous) to time.
      dtype: floating dtype of the chains.
      args: traced arguments of ``phases`` and ``test``.

    Returns:
      ``{"perturb_s", "local_s", "total_s"}`` (wall-clock), the same with ``_cpu``
      (process CPU time, all threads), ``"num_runs"``, ``"num_success"``,
      ``"num_success_f"``, ``"evals_perturb"``, ``"evals_local"``, ``"state"`` and
      ``"tally"`` (the chains' final ``State`` and :class:`~.metrics.Tally`).
    """
    built = _resolve(phases, args)
    _checks.check_instance(built, _chain.Phases, "phases")
    dtype = _check_common(built.config, num_chains, dtype)
    _checks.check_int(num_steps, "num_steps")
    keys, state = start(built, key, params, num_chains, dtype)
    tally = _empty_tallies(num_chains, dtype)
    perturb_fn, finish_fn = _halves(phases, test, bool(args))
    t0 = jnp.int32(0)
    perturb = _compiled(perturb_fn, keys, state, params, t0, *args)
    proposals = jax.eval_shape(perturb_fn, keys, state, params, t0, *args)
    finish = _compiled(finish_fn, keys, state, tally, params, proposals, t0, *args)
    clocks = {"perturb": [0.0, 0.0], "local": [0.0, 0.0]}

    def timed(label, fn, *a):
        w, c = time.perf_counter(), time.process_time()
        out = jax.block_until_ready(fn(*a))
        clocks[label][0] += time.perf_counter() - w
        clocks[label][1] += time.process_time() - c
        return out

    for i in range(num_steps):
        t = jnp.int32(i)
        proposal = timed("perturb", perturb, keys, state, params, t, *args)
        state, tally = timed("local", finish, keys, state, tally, params, proposal, t, *args)
    s = metrics.summarize(tally)
    (pw, pc), (lw, lc) = clocks["perturb"], clocks["local"]
    return {"perturb_s": pw, "local_s": lw, "total_s": pw + lw, "perturb_cpu_s": pc,
            "local_cpu_s": lc, "total_cpu_s": pc + lc, "num_runs": s.num_runs,
            "num_success": s.num_success, "num_success_f": s.num_success_f,
            "evals_perturb": s.num_evals_perturb, "evals_local": s.num_evals_local,
            "state": state, "tally": tally}
