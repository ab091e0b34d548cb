"""One call for the common case: vmapped random restarts of a GradSearch-family method.

``minimize(task, key=key)`` runs ``num_restarts`` restarts of the method from the paper's
random starts as one vmapped batch of ``max_steps`` steps and returns the first program
that fits every example (the restart that needed the fewest steps), or else the program
with the smallest loss. Restart ``i`` is exactly :func:`jaxopt_lab.run` with key
``fold_in(key, i)`` from ``start(split(fold_in(key, i))[0])``, as long as its current
program's loss stays finite: a restart whose step reports ``Info.current_nonfinite`` (a
program where the task's loss is NaN or infinite, where the latent methods' updates stop)
starts again at once, inside the compiled loop, from a fresh random start (drawn from
``fold_in(step_key, _RESTART_STREAM)``), keeping its best program and its evaluation count
(plus the fresh start's evaluation); ``stats["num_nonfinite_restarts"]`` counts these.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method, MinimizeResult, run
from jaxopt_lab.gradsearch import _shared
from jaxopt_lab.gradsearch import bop, gradsearch, relaxation, ste
from jaxopt_lab.gradsearch.metrics import steps_to_solution
from jaxopt_lab.problems import programs

__all__ = ["minimize", "random_start", "METHODS"]

METHODS = {"gradsearch": gradsearch, "bop": bop, "ste": ste, "relaxation": relaxation}

# fold_in(step key, _RESTART_STREAM) draws a fresh start: a stream the step never uses.
_RESTART_STREAM = 0x5EED


def restarting(solver: Method, start: Callable[[jax.Array], jax.Array]) -> Method:
    """``solver`` with its non-finite restarts started again (pure; jit- and vmap-able).

    After each step, where ``Info.current_nonfinite``, the state becomes ``solver.init`` at
    ``start(fold_in(step_key, _RESTART_STREAM))``, with the better of the two best programs
    (the old one on ties) and both evaluation counts summed; elsewhere it is the step's, bit
    for bit. ``step`` returns ``(State, (Info, restarted))``, ``restarted`` a bool ``[]``.
    """

    def step(key, state, params):
        new, info = solver.step(key, state, params)
        bad = info.current_nonfinite
        fresh = solver.init(key, start(jax.random.fold_in(key, _RESTART_STREAM)), params)
        best_x, best_f, _ = _shared.improve(new.best_x, new.best_f, fresh.best_x,
                                            fresh.best_f)
        fresh = fresh._replace(best_x=best_x, best_f=best_f,
                               num_evals=new.num_evals + fresh.num_evals)
        new = jax.tree.map(lambda a, b: jnp.where(bad, a, b), fresh, new)
        return new, (info, bad)

    return solver._replace(step=step)


def random_start(task: programs.ProgramTask, method: str = "gradsearch",
                 config=None) -> Callable[[jax.Array], jax.Array]:
    """``start(key) -> x0``, the paper's random start of ``method`` on ``task``: a uniformly
    random program for GradSearch and Bop, :func:`ste.initial_point` and
    :func:`relaxation.initial_point` (which depends on ``config``) for the latent methods."""
    _checks.check_choice(method, "method", tuple(METHODS))
    programs.check_task(task)
    if method == "ste":
        return lambda key: ste.initial_point(key, task)
    if method == "relaxation":
        config = relaxation.Config() if config is None else config
        return lambda key: relaxation.initial_point(key, task, config)
    return task.space.sample


def minimize(task: programs.ProgramTask, *, key: jax.Array, method: str = "gradsearch",
             config=None, params=None, num_restarts: int = 64, max_steps: int = 1000,
             keep_trace: bool = True) -> MinimizeResult:
    """Synthesises a program for ``task`` with vmapped random restarts.

    Args:
      task: a :class:`~jaxopt_lab.problems.programs.ProgramTask`.
      key: PRNG key.
      method: ``"gradsearch"``, ``"bop"``, ``"ste"`` or ``"relaxation"``.
      config: the method's ``Config`` (default ``Config()``); its ``stop_when_solved``
        must be on, so that a solved restart keeps its program.
      params: the method's ``Params`` (default ``params()``).
      num_restarts: restarts in the batch (>= 1).
      max_steps: steps of every restart (>= 1).
      keep_trace: return every step's ``Info``; off, only the totals are kept (for large
        batches: the trace holds ``num_restarts * max_steps`` of every field).

    Returns:
      :class:`~jaxopt_lab.core.MinimizeResult`: ``x`` the program ``[num_vars]``, ``f`` the
      task's loss of it, ``num_evals`` over all restarts, ``trace`` the ``Info`` with leaves
      ``[num_restarts, max_steps]`` (``None`` without ``keep_trace``) and ``stats``:
      ``solved`` (some restart fits every example), ``restart`` (the one returned),
      ``steps`` (its updates before the solution, -1 if unsolved), ``num_solved``,
      ``steps_to_solution [num_restarts]``, ``best_f [num_restarts]`` and
      ``num_nonfinite_restarts [num_restarts]`` (int32, fresh starts after a non-finite
      current loss).
    """
    _checks.check_choice(method, "method", tuple(METHODS))
    module = METHODS[method]
    config = module.Config() if config is None else config
    _checks.check_instance(config, module.Config, "config")
    if not config.stop_when_solved:
        raise ValueError("config.stop_when_solved must be True for minimize (a solved "
                         "restart must keep its program)")
    params = module.params() if params is None else params
    _checks.check_int(num_restarts, "num_restarts")
    _checks.check_int(max_steps, "max_steps")
    _checks.check_bool(keep_trace, "keep_trace")
    solver = module.make(task, config)
    start = random_start(task, method, config)
    solver.init(key, start(key), params)  # validates params on concrete values
    solver = restarting(solver, start)

    def one(k):
        init_key, _ = jax.random.split(k)
        return run(solver, k, start(init_key), params, max_steps)

    @jax.jit
    def batch(key):
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num_restarts))
        finals, (trace, restarted) = jax.vmap(one)(keys)
        steps = steps_to_solution(trace.solved, axis=1)
        solved = steps >= 0
        first = jnp.argmin(jnp.where(solved, steps, jnp.iinfo(jnp.int32).max))
        best = jnp.argmin(finals.best_f)
        any_solved = jnp.any(solved)
        i = jnp.where(any_solved, first, best)
        x = jnp.where(any_solved, finals.program[i], finals.best_x[i])
        stats = {"solved": any_solved, "restart": i.astype(jnp.int32), "steps": steps[i],
                 "num_solved": jnp.sum(solved, dtype=jnp.int32), "steps_to_solution": steps,
                 "best_f": finals.best_f,
                 "num_nonfinite_restarts": jnp.sum(restarted, axis=1, dtype=jnp.int32)}
        return MinimizeResult(x=x, f=task.program_loss(x), num_evals=jnp.sum(finals.num_evals),
                              trace=trace if keep_trace else None, stats=stats)

    return batch(key)
