"""The one shape of every method in jaxopt_lab, and the loop that runs it.

An iterative method is a pair of pure functions, after optax's ``(init, update)``,
blackjax's explicit ``key`` and ``State``/``Info`` split, and evosax's static ``Config`` vs
numeric ``Params``. Every algorithm module (``jaxopt_lab.dgs.dgs``,
``jaxopt_lab.basin_hopping.bhs``, ...) exports the same names::

    config = module.Config(dim=2)                    # static: shapes, counts, choices
    params = module.params(...)                      # numeric NamedTuple, documented defaults
    method = module.make(objective, config)          # Method(init, step, config, name)
    state = method.init(key, x0, params)             # ONE chain: x0 is [dim]
    state, info = method.step(key, state, params)    # pure; jit- and vmap-able
    final, trace = run(method, key, x0, params, num_steps)   # lax.scan, Info stacked

Many chains, restarts or seeds are ``jax.vmap`` (or :func:`jaxopt_lab.sweep`) around a
method. ``State`` is carried by the loop and always has ``best_x``, ``best_f`` and
``num_evals``; ``Info`` holds per-step diagnostics and is never carried. Neither holds any
benchmark ground truth (a known minimiser or minimum): success is computed from what
``Info`` reports, by the metrics functions of each family.

Deterministic solvers (:mod:`jaxopt_lab.maxent`) return a :class:`Solution`, a pytree of
arrays with an integer :class:`Result` code, after optimistix; the one-call ``minimize`` of
each family returns a :class:`MinimizeResult`.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks

__all__ = ["Method", "run", "split_run_key", "Result", "Solution", "MinimizeResult"]


class Method(NamedTuple):
    """A pair of pure functions plus the static configuration that built them.

    Attributes:
      init: ``init(key, x0, params) -> State`` for one start point ``x0`` (``[dim]``).
      step: ``step(key, state, params) -> (State, Info)``.
      config: the static ``Config`` the method was made with (hashable).
      name: the method's name in :data:`jaxopt_lab.methods`, for records and messages.
    """

    init: Callable[..., Any]
    step: Callable[..., Any]
    config: Any = None
    name: str = ""


def split_run_key(key: jax.Array, num_steps: int) -> tuple[jax.Array, jax.Array]:
    """Splits a run's key into the init key and ``[num_steps]`` step keys.

    Step ``t`` always gets ``fold_in(loop_key, t)``, so a run of ``n`` steps is a prefix of
    a run of ``m > n`` steps with the same key.
    """
    init_key, loop_key = jax.random.split(key)
    steps = jnp.arange(num_steps)
    step_keys = jax.vmap(lambda t: jax.random.fold_in(loop_key, t))(steps)
    return init_key, step_keys


def run(method: Method, key: jax.Array, x0: Any, params: Any, num_steps: int):
    """Runs ``num_steps`` steps of ``method`` from ``x0`` under ``lax.scan``.

    Args:
      method: a :class:`Method`.
      key: PRNG key of this run (``jax.random.key``).
      x0: one start point, as ``method.init`` documents (``[dim]``; a program
        ``[num_vars]`` for GradSearch).
      params: the method's numeric ``Params``.
      num_steps: number of steps; a Python int (static).

    Returns:
      ``(final_state, trace)``: ``trace`` is the step ``Info`` stacked along a new leading
      axis of length ``num_steps``.

    Raises:
      ValueError: ``method`` is not a :class:`Method` or ``num_steps`` is not an int >= 0.
    """
    if not isinstance(method, Method):
        raise ValueError(f"method must be a jaxopt_lab Method (from a module's make), "
                         f"got {type(method).__name__}")
    _checks.check_int(num_steps, "num_steps", minimum=0)
    init_key, step_keys = split_run_key(key, num_steps)
    state = method.init(init_key, x0, params)

    def body(state, step_key):
        return method.step(step_key, state, params)

    return jax.lax.scan(body, state, step_keys)


class Result(enum.IntEnum):
    """Integer result codes of deterministic solvers (:attr:`Solution.result`).

    ``Result(int(solution.result)).name`` gives the name; codes are arrays inside jit and
    ``vmap``, so one bad lane of a batch never raises for the others.
    """

    converged = 0
    max_steps = 1
    nonfinite = 2
    line_search_failed = 3
    not_integrable = 4
    inaccurate_quadrature = 5
    not_realisable = 6

    @classmethod
    def names(cls, codes) -> Any:
        """The name of every code in ``codes`` (an int or an array of ints)."""
        import numpy as np

        arr = np.asarray(codes)
        if arr.ndim == 0:
            return cls(int(arr)).name
        return np.vectorize(lambda c: cls(int(c)).name, otypes=[object])(arr).astype(str)


class Solution(NamedTuple):
    """What a deterministic solver returns: a pytree of arrays (after optimistix).

    Attributes:
      value: the answer (e.g. MaxEnt's multipliers ``[K]``).
      result: int32 :class:`Result` code, ``[]`` (``[batch]`` for a batched solve).
      stats: dict of diagnostics arrays (steps, errors, ...), documented by the solver.
      state: the solver's final state (a pytree of arrays), for warm starts.
    """

    value: Any
    result: jax.Array
    stats: dict
    state: Any


class MinimizeResult(NamedTuple):
    """What every family's one-call ``minimize`` returns: a pytree of arrays.

    Attributes:
      x: the best point found, ``[dim]`` (a program ``[num_vars]`` for GradSearch).
      f: its objective value, ``[]``.
      num_evals: objective evaluations spent, ``[]``.
      trace: per-step diagnostics (the method's ``Info``, stacked over steps and over the
        chains or restarts that ran).
      stats: dict of family-specific totals (e.g. runs and successes of BH-S chains).
    """

    x: jax.Array
    f: jax.Array
    num_evals: jax.Array
    trace: Any
    stats: dict
