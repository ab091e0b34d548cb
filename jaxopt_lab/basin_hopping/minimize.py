"""One call for the common case: many BH / BH-S / hybrid chains on a box.

``minimize`` draws ``num_chains`` start points uniformly in the box, runs one chain from
each for ``num_steps`` steps (``jax.vmap`` of :func:`jaxopt_lab.run` over the chains' keys
and starts; a chain's first step minimises its start, and its runs follow back to back)
and returns the best minimum found. A chain whose current local minimum is not finite after
a step (``Info.current_nonfinite``: a start in a region where the objective is NaN or
infinite, which no acceptance ever leaves when every proposal near it is non-finite too) is
restarted at once from a fresh uniform point of the box, inside the compiled loop, keeping
its best minimum and its evaluation counts; ``stats["num_nonfinite_restarts"]`` counts these
restarts. Where every current value stays finite the chains are exactly :func:`jaxopt_lab.run`.
To judge success on a benchmark, pass ``result.trace`` with the problem to
:func:`~.metrics.tally_trace` and :func:`~.metrics.summarize`.

Precision: float32 by default. Success is judged in float64 against the exact minimisers
(:mod:`.metrics`); a float32 chain can only succeed where a float32 point lies within the
success radius of the minimiser. It does on Egg-holder at the paper's 1e-5 (the nearest
float32 point to ``x*`` is 6.5e-6 away; of 256 chains of 200 BH-S steps, 165 land on it,
against 163 within the ball in float64). Pass ``dtype=jnp.float64`` (with x64 enabled)
where none does. The returned ``x`` is the point of lowest value; in float32, values near
``x*`` round alike (to ~6e-5 at ``|f| = 960``), so it need not be the point nearest ``x*``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.basin_hopping import bh, bhs, hybrid
from jaxopt_lab.core import Method, MinimizeResult, run

__all__ = ["minimize", "METHODS"]

METHODS = {"bh": bh, "bhs": bhs, "hybrid": hybrid}

# fold_in(step key, _RESTART_STREAM) draws a restart's start: a stream the step never uses.
_RESTART_STREAM = 0x5EED


def restarting(chain: Method, lower: jax.Array, upper: jax.Array) -> Method:
    """``chain`` with its non-finite chains restarted (pure; jit- and vmap-able).

    After each step of ``chain``, where ``Info.current_nonfinite``, the state becomes
    ``chain.init`` at a uniform point of ``[lower, upper]`` (drawn from
    ``fold_in(step_key, _RESTART_STREAM)``) but keeps ``best_x``, ``best_f``, the
    evaluation counts and the hybrid's counter; elsewhere it is the step's, bit for bit.

    Args:
      chain: a BH-family :class:`~jaxopt_lab.core.Method`.
      lower: ``[dim]`` the box's lower corner, in the chain's dtype.
      upper: ``[dim]`` its upper corner, ``lower < upper``.

    Returns:
      A :class:`~jaxopt_lab.core.Method` whose ``step`` returns ``(State, (Info,
      restarted))``, ``restarted`` a bool ``[]``.
    """

    def step(key, state, params):
        new, info = chain.step(key, state, params)
        bad = info.current_nonfinite
        u = jax.random.uniform(jax.random.fold_in(key, _RESTART_STREAM), lower.shape,
                               lower.dtype)
        fresh = chain.init(key, lower + u * (upper - lower), params)._replace(
            best_x=new.best_x, best_f=new.best_f, num_evals=new.num_evals,
            num_evals_perturb=new.num_evals_perturb, num_evals_local=new.num_evals_local,
            counter=new.counter)
        new = jax.tree.map(lambda a, b: jnp.where(bad, a, b), fresh, new)
        return new, (info, bad)

    return chain._replace(step=step)


def minimize(objective: Callable[[jax.Array], jax.Array], lower, upper, *,
             method: str = "bhs", num_chains: int = 1024, num_steps: int = 200,
             key: jax.Array, sigma=None, max_skips: int = 25, ratio: int = 2,
             temperature=None, patience: int = 50, tol=None, local_steps: int | None = None,
             dim: int | None = None, dtype=jnp.float32) -> MinimizeResult:
    """Minimises ``objective`` over the box ``[lower, upper]`` with basin-hopping chains.

    Args:
      objective: ``f(x[dim]) -> []``, differentiable (the local minimiser's gradient).
      lower: ``[dim]`` the box (scalars with ``dim``).
      upper: the box's upper corner.
      method: ``"bh"``, ``"bhs"`` (default) or ``"hybrid"``.
      num_chains: chains, each from a uniform start.
      num_steps: steps per chain (a step is one perturbation and local minimisation; a
        tick of ``local_steps`` local-minimiser steps in the asynchronous mode).
      key: PRNG key (start points and every chain).
      sigma: standard deviation of the perturbation (the hybrid's walk and skip alike);
        default 5% of the box's largest width.
      max_skips: the halting index ``K`` (BH-S and hybrid).
      ratio: the hybrid's ``m`` (default 2: one skip per BH step).
      temperature: Metropolis ``T``; default the method's (BH and hybrid 1, BH-S 0).
      patience: a run ends after ``patience + 1`` non-improving perturbations.
      tol: the local minimiser's ``ftol`` and ``gtol`` (default L-BFGS-B's).
      local_steps: ``None`` (synchronous) or the asynchronous mode's steps per tick.
      dim: the dimension, where ``lower`` and ``upper`` are scalars.
      dtype: floating dtype of the chains.

    Returns:
      :class:`~jaxopt_lab.core.MinimizeResult`: the best point over all chains and runs,
      its value, the evaluations of all chains, the trace (``Info`` with leading axes
      ``[num_chains, num_steps]``) and ``stats``: ``num_runs`` (finished),
      ``num_runs_started``, ``num_accepted``, ``num_evals_perturb``, ``num_evals_local``,
      ``num_nonfinite``, ``best_f`` (``[num_chains]``, each chain's best) and
      ``num_nonfinite_restarts`` (``[num_chains]`` int32, the chain's restarts from a
      non-finite current minimum).
    """
    _checks.check_choice(method, "method", tuple(METHODS))
    lower, upper = (v if hasattr(v, "shape") else np.asarray(v) for v in (lower, upper))
    _checks.check_int(dim, "dim", allow_none=True)
    shapes = [jnp.shape(v) for v in (lower, upper) if jnp.ndim(v) == 1]
    dim = dim if dim is not None else (shapes[0][0] if shapes else None)
    if dim is None:
        raise ValueError("dim must be given when lower and upper are scalars")
    _checks.check_box(lower, upper, dim)
    _checks.check_int(num_chains, "num_chains")
    _checks.check_int(num_steps, "num_steps")
    dtype = _checks.check_dtype(dtype)
    module = METHODS[method]
    kw = dict(patience=patience, tol=tol, dtype=dtype)
    if temperature is not None:
        kw["temperature"] = temperature
    if method == "hybrid":
        config = hybrid.Config(dim=dim, max_skips=max_skips, local_steps=local_steps)
        params = hybrid.params(lower, upper, sigma_skip=sigma, sigma_walk=sigma, ratio=ratio,
                               **kw)
    else:
        extra = {} if method == "bh" else dict(max_skips=max_skips)
        config = module.Config(dim=dim, local_steps=local_steps, **extra)
        params = module.params(lower, upper, sigma=sigma, **kw)
    chain = module.make(objective, config)
    start_key, run_key = jax.random.split(key)
    lo = jnp.broadcast_to(jnp.asarray(lower, dtype), (dim,))
    hi = jnp.broadcast_to(jnp.asarray(upper, dtype), (dim,))
    x0 = lo[None, :] + jax.random.uniform(start_key, (num_chains, dim), dtype) * (hi - lo)[None, :]
    keys = jax.vmap(lambda c: jax.random.fold_in(run_key, c))(jnp.arange(num_chains))
    chain = restarting(chain, lo, hi)
    final, (trace, restarted) = jax.jit(jax.vmap(
        lambda k, x: run(chain, k, x, params, num_steps)))(keys, x0)
    best = jnp.argmin(final.best_f)
    stats = {"num_runs": jnp.sum(trace.run_ended), "num_accepted": jnp.sum(trace.accepted),
             "num_runs_started": jnp.sum(trace.run_started),
             "num_evals_perturb": jnp.sum(final.num_evals_perturb),
             "num_evals_local": jnp.sum(final.num_evals_local),
             "num_nonfinite": jnp.sum(trace.num_nonfinite), "best_f": final.best_f,
             "num_nonfinite_restarts": jnp.sum(restarted, axis=-1, dtype=jnp.int32)}
    return MinimizeResult(x=final.best_x[best], f=final.best_f[best],
                          num_evals=jnp.sum(final.num_evals), trace=trace, stats=stats)
