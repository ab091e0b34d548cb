"""Random search: the smallest method of the library, and the reference for its shape.

Two modes (``Config.mode``):
  * ``"uniform"``: each step draws ``num_samples`` points uniformly in the box
    ``[lower, upper]`` and keeps the best seen. Its expected best value after ``n``
    evaluations has closed forms (e.g. on the sphere), which the tests use as the
    independent reference for the whole sweep/records pipeline.
  * ``"local"``: Gaussian perturbations of the best point with standard deviation
    ``step_size``, clipped to the box (a (1, λ) hill climber; Rastrigin 1974).

Non-finite objective values count as ``+inf``: they never become the best point and are
counted in ``Info.num_nonfinite``.

Example::

    from jaxopt_lab import random_search, run
    method = random_search.make(f, random_search.Config(dim=8, mode="local"))
    params = random_search.params(-5.12, 5.12, step_size=0.5)
    final, trace = run(method, jax.random.key(0), x0, params, num_steps=200)
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method

__all__ = ["Config", "Params", "State", "Info", "params", "make", "MODES"]

MODES = ("uniform", "local")


@dataclasses.dataclass(frozen=True)
class Config:
    """Static configuration.

    Attributes:
      dim: number of coordinates.
      num_samples: points evaluated per step (one batched call).
      mode: ``"uniform"`` or ``"local"``.
    """

    dim: int
    num_samples: int = 16
    mode: str = "uniform"

    def __post_init__(self):
        _checks.check_int(self.dim, "dim")
        _checks.check_int(self.num_samples, "num_samples")
        _checks.check_choice(self.mode, "mode", MODES)


class Params(NamedTuple):
    """Numeric hyper-parameters (arrays: changing values never recompiles).

    Attributes:
      lower, upper: ``[]`` or ``[dim]`` the box, ``lower < upper``.
      step_size: ``[]`` standard deviation of the ``"local"`` perturbations, > 0.
    """

    lower: jax.Array
    upper: jax.Array
    step_size: jax.Array


def params(lower, upper, *, step_size=None, dtype=jnp.float32) -> Params:
    """Builds :class:`Params`; ``step_size`` defaults to 10% of the box width."""
    _checks.check_box(lower, upper)
    dtype = _checks.check_dtype(dtype)
    if step_size is None:
        step_size = 0.1 * (jnp.max(jnp.asarray(upper) - jnp.asarray(lower)))
    p = Params(*(jnp.asarray(v, dtype) for v in (lower, upper, step_size)))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    _checks.check_params(p, Params, {"step_size": dict(positive=True)})
    _checks.check_box(p.lower, p.upper, names=("params.lower", "params.upper"))


class State(NamedTuple):
    """Carried state: the best point, its value and the counters."""

    best_x: jax.Array  # [dim]
    best_f: jax.Array  # []
    num_evals: jax.Array  # [] int32
    step: jax.Array  # [] int32


class Info(NamedTuple):
    """Per-step diagnostics. The current point of random search is ``best_x``:
    ``current_nonfinite`` is True while ``best_f`` is not finite, i.e. neither ``x0`` nor any
    sample so far had a finite value (non-finite values are stored as ``+inf``)."""

    best_f: jax.Array  # [] best value after this step
    batch_min: jax.Array  # [] best value of this step's batch
    num_nonfinite: jax.Array  # [] int32 non-finite evaluations in this step
    current_nonfinite: jax.Array  # [] bool, best_f not finite (the current point is best_x)


def make(objective: Callable[[jax.Array], jax.Array], config: Config) -> Method:
    """Builds random search for ``objective(x[dim]) -> scalar``.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init(key, x0[dim], params)`` evaluates ``x0``
      (1 evaluation); each ``step`` costs ``config.num_samples`` evaluations.
    """
    _checks.check_instance(config, Config, "config")
    _checks.check_objective(objective, config.dim)
    batched = jax.vmap(objective)

    def evaluate(xs):
        fs = batched(xs)
        bad = ~jnp.isfinite(fs)
        return jnp.where(bad, jnp.inf, fs), jnp.sum(bad, dtype=jnp.int32)

    def init(key, x0, params):
        del key
        x0 = _checks.check_point(x0, "x0", config.dim)
        _validate_params(params)
        f0, _ = evaluate(x0[None])
        return State(best_x=x0, best_f=f0[0], num_evals=jnp.ones((), jnp.int32),
                     step=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        shape = (config.num_samples, config.dim)
        dtype = state.best_x.dtype
        lower = jnp.broadcast_to(params.lower, (config.dim,)).astype(dtype)
        upper = jnp.broadcast_to(params.upper, (config.dim,)).astype(dtype)
        if config.mode == "uniform":
            u = jax.random.uniform(key, shape, dtype=dtype)
            xs = lower[None, :] + u * (upper - lower)[None, :]
        else:
            noise = jax.random.normal(key, shape, dtype=dtype)
            xs = jnp.clip(state.best_x[None, :] + params.step_size.astype(dtype) * noise,
                          lower[None, :], upper[None, :])
        fs, num_bad = evaluate(xs)
        i = jnp.argmin(fs)
        better = fs[i] < state.best_f
        new = State(
            best_x=jnp.where(better, xs[i], state.best_x),
            best_f=jnp.where(better, fs[i], state.best_f),
            num_evals=state.num_evals + config.num_samples,
            step=state.step + 1,
        )
        return new, Info(best_f=new.best_f, batch_min=fs[i], num_nonfinite=num_bad,
                         current_nonfinite=~jnp.isfinite(new.best_f))

    return Method(init=init, step=step, config=config, name="random_search")
