"""The one contract every iterative method in jaxopt_lab follows.

A method is a pair of pure functions, after optax's ``(init, update)``, blackjax's
explicit ``key`` and ``State``/``Info`` split, and evosax's static ``Config`` vs numeric
``Params``:

        method = some_module.make(objective, SomeConfig(...))   # Config: static, hashable
        state = method.init(key, x0, params)                    # Params: NamedTuple of arrays
        state, info = method.step(key, state, params)           # pure; jit- and vmap-able
        final, trace = run(method, key, x0, params, num_steps)  # lax.scan, Info stacked

``State`` is carried by the loop and must contain ``best_f`` (best objective value seen,
any shape the method documents) and ``num_evals`` (objective evaluations so far).
``Info`` holds per-step diagnostics and is never carried.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax

__all__ = ["Method", "run", "split_run_key"]


class Method(NamedTuple):
    """A pair of pure functions plus the static configuration that built them.

    Attributes:
        init: ``init(key, x0, params) -> State``.
        step: ``step(key, state, params) -> (State, Info)``.
        config: the static ``Config`` the method was made with (hashable).
        name: registry name, for records and error messages.
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
    steps = jax.numpy.arange(num_steps)
    step_keys = jax.vmap(lambda t: jax.random.fold_in(loop_key, t))(steps)
    return init_key, step_keys


def run(method: Method, key: jax.Array, x0: Any, params: Any, num_steps: int):
    """Runs ``num_steps`` steps of ``method`` under ``lax.scan``.

    Args:
        method: the method to run.
        key: PRNG key of this run (``jax.random.key``).
        x0: initial point, in whatever form ``method.init`` documents (e.g. ``[dim]``).
        params: the method's numeric ``Params``.
        num_steps: number of steps; a Python int (static).

    Returns:
        ``(final_state, trace)`` where ``trace`` is the step ``Info`` stacked along a new
        leading axis of length ``num_steps``.
    """
    if not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps must be a non-negative int, got {num_steps!r}")
    init_key, step_keys = split_run_key(key, num_steps)
    state = method.init(init_key, x0, params)

    def body(state, step_key):
        return method.step(step_key, state, params)

    return jax.lax.scan(body, state, step_keys)
