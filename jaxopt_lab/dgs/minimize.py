"""One call for the common case: ``minimize(f, x0, method="dgs", num_steps=..., key=...)``.

Built on each method's ``make`` and :func:`jaxopt_lab.run`, with ``jax.vmap`` over start
points: nothing here is a second algorithm. The hyper-parameters default to each method's
``params`` defaults for the initial domain's width (from ``width=`` or ``bounds=``), with
the schedules' horizon set to ``num_steps``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.catalog import methods
from jaxopt_lab.core import MinimizeResult, run

__all__ = ["minimize", "METHODS"]

METHODS = ("dgs", "adadgs", "dgs_optax", "es", "nesterov", "fd")
_SCHEDULED = ("dgs", "es", "nesterov", "fd")  # their params take a horizon


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
        largest ``upper - lower``). The methods do not confine their iterates to it.
      config: the method's ``Config``; default ``Config(dim=dim, **options)``.
      params: the method's ``Params``; default ``module.params`` from ``width``.
      **options: ``Config`` fields (e.g. ``num_points=7``, ``perturb="grad_norm"``).

    Returns:
      :class:`~jaxopt_lab.core.MinimizeResult`: the best point over the starts, its value,
      the evaluations of every start together, ``trace`` the methods' ``Info``
      (``[num_steps]`` per leaf for one start, ``[num_starts, num_steps]`` for several) and
      ``stats`` with ``best_f_per_start`` ``[num_starts]`` and ``best_start`` ``[]``.

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
    keys = jax.random.split(key, starts.shape[0])
    final, trace = jax.jit(jax.vmap(lambda k, x: run(solver, k, x, params, num_steps)))(
        keys, starts)
    best = jnp.argmin(jnp.where(jnp.isfinite(final.best_f), final.best_f, jnp.inf))
    if single:
        trace = jax.tree.map(lambda a: a[0], trace)
    return MinimizeResult(x=final.best_x[best], f=final.best_f[best],
                          num_evals=jnp.sum(final.num_evals), trace=trace,
                          stats={"best_f_per_start": final.best_f,
                                 "best_start": best.astype(jnp.int32)})
