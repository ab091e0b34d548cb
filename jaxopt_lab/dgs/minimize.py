"""One call for the common case: ``minimize(f, x0, method="dgs", num_steps=..., key=...)``.

Built on each method's ``make`` and :func:`jaxopt_lab.run`, with ``jax.vmap`` over start
points: nothing here is a second algorithm. The hyper-parameters default to each method's
``params`` defaults for the initial domain's width (from ``width=`` or ``bounds=``), with
the schedules' horizon set to ``num_steps``.

Non-finite restarts: a run whose current value ``f_x`` is not finite (NaN or +-inf), at the
start or later, is re-initialised from a fresh point at the beginning of its next step, inside
the compiled loop (:func:`restarting`). A step whose current value is finite runs the method's
own step unchanged, so a run that never meets a non-finite current value is bit-identical to
:func:`jaxopt_lab.run` of the method.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.catalog import methods
from jaxopt_lab.core import Method, MinimizeResult, run
from jaxopt_lab.dgs import _descent

__all__ = ["minimize", "restarting", "METHODS", "MAX_TRIES"]

METHODS = ("dgs", "adadgs", "dgs_optax", "es", "nesterov", "fd")
_SCHEDULED = ("dgs", "es", "nesterov", "fd")  # their params take a horizon
MAX_TRIES = 16  # fresh points drawn per step at most, until one has a finite value
_RESTART_STREAM = 0x5EED  # the restart's draws fold this into the step's key


class RestartState(NamedTuple):
    """State of :func:`restarting`: the method's state, the origin of the Gaussian draws
    ``x0`` ``[dim]`` and the number of fresh points drawn so far ``[]`` int32."""

    inner: Any
    x0: jax.Array
    num_restarts: jax.Array


def _radius(params):
    """The method's radius (``sigma``, ``h`` or ``sigma_mean``) from its ``Params``."""
    for name in ("sigma", "h", "sigma_mean"):
        if hasattr(params, name):
            return getattr(params, name)
    raise ValueError(f"params of type {type(params).__name__} have no radius field")


def restarting(method: Method, *, bounds=None, scale=None,
               max_tries: int = MAX_TRIES) -> Method:
    """``method`` restarted from a fresh point whenever its current value is not finite.

    At the start of each step, if ``state.f_x`` is not finite, up to ``max_tries`` fresh
    points are drawn (uniform in ``bounds = (lower, upper)`` if given, else
    ``x0 + scale N(0, I)``; ``scale = None``: the method's radius ``sigma``, ``h`` or
    ``sigma_mean``) until one has a finite value; each is a new ``method.init`` (one
    evaluation) that carries over ``best_x``, ``best_f`` (a finite fresh value can become the
    best), ``num_evals`` and the schedule's ``step`` counter. Then the method's step runs
    with the step's key. The draws use ``fold_in(key, _RESTART_STREAM)``, so with no
    restart every output equals the method's own. Jit- and vmap-able.

    Returns:
      A :class:`~jaxopt_lab.core.Method` over :class:`RestartState`; its ``Info`` is the
      method's.
    """
    _checks.check_int(max_tries, "max_tries")
    if bounds is not None:
        lower = jnp.asarray(bounds[0])
        upper = jnp.asarray(bounds[1])

    def draw(key, x0, params):
        if bounds is not None:
            lo = jnp.broadcast_to(lower, x0.shape).astype(x0.dtype)
            hi = jnp.broadcast_to(upper, x0.shape).astype(x0.dtype)
            return jax.random.uniform(key, x0.shape, x0.dtype, lo, hi)
        s = _radius(params) if scale is None else scale
        return x0 + jnp.asarray(s, x0.dtype) * jax.random.normal(key, x0.shape, x0.dtype)

    def init(key, x0, params):
        inner = method.init(key, x0, params)
        return RestartState(inner=inner, x0=inner.x, num_restarts=jnp.zeros((), jnp.int32))

    def restart(key, state, params):
        def cond(carry):
            tries, inner = carry
            return (tries < max_tries) & ~jnp.isfinite(inner.f_x)

        def body(carry):
            tries, inner = carry
            k_x, k_init = jax.random.split(jax.random.fold_in(key, tries))
            fresh = method.init(k_init, draw(k_x, state.x0, params), params)
            best_f, best_x = _descent.update_best(inner.best_f, inner.best_x, fresh.best_f,
                                                  fresh.best_x)
            fresh = fresh._replace(best_x=best_x, best_f=best_f, step=inner.step,
                                   num_evals=inner.num_evals + fresh.num_evals)
            return tries + 1, fresh

        tries, inner = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), state.inner))
        return inner, tries

    def step(key, state, params):
        inner, tries = restart(jax.random.fold_in(key, _RESTART_STREAM), state, params)
        inner, info = method.step(key, inner, params)
        return RestartState(inner=inner, x0=state.x0,
                            num_restarts=state.num_restarts + tries), info

    return Method(init=init, step=step, config=method.config, name=method.name)


def _width(width, bounds):
    if bounds is not None:
        if width is not None:
            raise ValueError("give width or bounds, not both")
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
            raise ValueError("bounds must be a pair (lower, upper)")
        _checks.check_box(*bounds, names=("bounds[0]", "bounds[1]"))
        return float(np.max(np.asarray(bounds[1], np.float64) - np.asarray(bounds[0])))
    if width is not None:
        _checks.check_number(width, "width", positive=True)
    return width


def minimize(objective: Callable[[jax.Array], jax.Array], x0, *, method: str = "dgs",
             num_steps: int = 200, key: jax.Array, width=None, bounds=None, config=None,
             params=None, **options) -> MinimizeResult:
    """Minimises ``objective`` with one method of the DGS family from one or more starts.

    Args:
      objective: black box ``f(x[dim]) -> scalar``.
      x0: ``[dim]`` one start, or ``[num_starts, dim]`` (each run gets its own key).
      method: one of :data:`METHODS` (``"dgs"``: Algorithm 1).
      num_steps: steps per start (a Python int).
      key: PRNG key.
      width: width ``w`` of the initial domain per coordinate; sets the default step sizes
        and radii (e.g. DGS: ``0.05 sqrt(d) w`` and ``5 w``).
      bounds: ``(lower, upper)`` of the initial domain, instead of ``width`` (``w`` is the
        largest ``upper - lower``). The methods do not confine their iterates to it; the
        non-finite restarts draw uniformly in it.
      config: the method's ``Config``; default ``Config(dim=dim, **options)``.
      params: the method's ``Params``; default ``module.params`` from ``width``.
      **options: ``Config`` fields (e.g. ``num_points=7``, ``perturb="grad_norm"``).

    Returns:
      :class:`~jaxopt_lab.core.MinimizeResult`: the best point over the starts, its value,
      the evaluations of every start together, ``trace`` the methods' ``Info``
      (``[num_steps]`` per leaf for one start, ``[num_starts, num_steps]`` for several) and
      ``stats`` with ``best_f_per_start`` ``[num_starts]``, ``best_start`` ``[]`` and
      ``num_nonfinite_restarts`` ``[num_starts]`` int32: the fresh points drawn because the
      current value was not finite (see :func:`restarting`: uniform in ``bounds``, else
      ``x0 + w N(0, I)`` with ``w`` the width, or the method's radius when only ``params``
      are given; at most :data:`MAX_TRIES` draws per step, every draw counted).

    Raises:
      ValueError: an unknown method, bad shapes or values, or neither ``width``, ``bounds``
        nor ``params`` given.

    Example:
      >>> res = minimize(f, x0, method="dgs", num_steps=100, width=10.24,
      ...                key=jax.random.key(0))
    """
    _checks.check_choice(method, "method", METHODS)
    _checks.check_int(num_steps, "num_steps")
    starts = jnp.asarray(x0)
    single = starts.ndim == 1
    if starts.ndim not in (1, 2) or starts.shape[-1] == 0:
        raise ValueError(f"x0 must have shape [dim] or [num_starts, dim], got {starts.shape}")
    starts = jnp.atleast_2d(starts)
    if not jnp.issubdtype(starts.dtype, jnp.floating):
        starts = starts.astype(jnp.float32)
    _checks.check_array(starts, "x0")
    dim = starts.shape[1]
    module = methods[method]
    if config is None:
        config = module.Config(dim=dim, **options)
    elif options:
        raise ValueError(f"give config or Config options, not both (got {sorted(options)})")
    width = _width(width, bounds)
    if params is None:
        if width is None:
            raise ValueError("give width, bounds or params: the default step sizes and "
                             "radii depend on the width of the initial domain")
        dtype = starts.dtype
        if method == "dgs_optax":
            params = module.params(width=width, dtype=dtype)
        elif method in _SCHEDULED:
            params = module.params(width, dim, horizon=float(num_steps), dtype=dtype)
        else:
            params = module.params(width, dim, dtype=dtype)
    solver = module.make(objective, config)
    solver.init(key, starts[0], params)  # refuses bad input before tracing
    solver = restarting(solver, bounds=bounds, scale=width)
    keys = jax.random.split(key, starts.shape[0])
    final, trace = jax.jit(jax.vmap(lambda k, x: run(solver, k, x, params, num_steps)))(
        keys, starts)
    restarts, final = final.num_restarts, final.inner
    best = jnp.argmin(jnp.where(jnp.isfinite(final.best_f), final.best_f, jnp.inf))
    if single:
        trace = jax.tree.map(lambda a: a[0], trace)
    return MinimizeResult(x=final.best_x[best], f=final.best_f[best],
                          num_evals=jnp.sum(final.num_evals), trace=trace,
                          stats={"best_f_per_start": final.best_f,
                                 "best_start": best.astype(jnp.int32),
                                 "num_nonfinite_restarts": restarts})
