"""Random search: the smallest method that follows the contract, used to test the framework.

Two modes (``RandomSearchConfig.mode``):
  * ``"uniform"``: each step draws ``num_samples`` points uniformly in the box
    ``[lower, upper]`` and keeps the best seen. Its expected best value after ``n``
    evaluations has closed forms (e.g. on the sphere), which the tests use as the
    independent reference for the whole sweep/results pipeline.
  * ``"local"``: Gaussian perturbations of the best point with standard deviation
    ``step_size``, clipped to the box (a (1, λ) hill climber; Rastrigin 1974).

Non-finite objective values count as ``+inf``: they never become the best point and are
counted in ``Info.num_nonfinite``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import registry
from jaxopt_lab.core import Method

__all__ = ["RandomSearchConfig", "RandomSearchParams", "RandomSearchState",
           "RandomSearchInfo", "make"]

_MODES = ("uniform", "local")


@dataclasses.dataclass(frozen=True)
class RandomSearchConfig:
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
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be an int >= 1, got {self.dim!r}")
        if not isinstance(self.num_samples, int) or self.num_samples < 1:
            raise ValueError(f"num_samples must be an int >= 1, got {self.num_samples!r}")
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {self.mode!r}")


class RandomSearchParams(NamedTuple):
    """Numeric hyper-parameters: box ``[lower, upper]`` (``[dim]`` or scalar), step size."""

    lower: jax.Array
    upper: jax.Array
    step_size: jax.Array


class RandomSearchState(NamedTuple):
    best_x: jax.Array  # [dim]
    best_f: jax.Array  # []
    num_evals: jax.Array  # [] int32
    step: jax.Array  # [] int32


class RandomSearchInfo(NamedTuple):
    best_f: jax.Array  # [] best value after this step
    batch_min: jax.Array  # [] best value of this step's batch
    num_nonfinite: jax.Array  # [] int32 non-finite evaluations in this step


def make(objective: Callable[[jax.Array], jax.Array], config: RandomSearchConfig) -> Method:
    """Builds random search for ``objective(x[dim]) -> scalar``."""
    if not isinstance(config, RandomSearchConfig):
        raise ValueError(f"config must be a RandomSearchConfig, got {type(config).__name__}")
    batched = jax.vmap(objective)

    def evaluate(xs):
        fs = batched(xs)
        bad = ~jnp.isfinite(fs)
        return jnp.where(bad, jnp.inf, fs), jnp.sum(bad, dtype=jnp.int32)

    def init(key, x0, params):
        del key
        x0 = jnp.asarray(x0)
        f0, _ = evaluate(x0[None])
        return RandomSearchState(best_x=x0, best_f=f0[0], num_evals=jnp.ones((), jnp.int32),
                                 step=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        shape = (config.num_samples, config.dim)
        lower = jnp.broadcast_to(params.lower, (config.dim,))
        upper = jnp.broadcast_to(params.upper, (config.dim,))
        if config.mode == "uniform":
            u = jax.random.uniform(key, shape, dtype=state.best_x.dtype)
            xs = lower[None, :] + u * (upper - lower)[None, :]
        else:
            noise = jax.random.normal(key, shape, dtype=state.best_x.dtype)
            xs = jnp.clip(state.best_x[None, :] + params.step_size * noise,
                          lower[None, :], upper[None, :])
        fs, num_bad = evaluate(xs)
        i = jnp.argmin(fs)
        better = fs[i] < state.best_f
        new = RandomSearchState(
            best_x=jnp.where(better, xs[i], state.best_x),
            best_f=jnp.where(better, fs[i], state.best_f),
            num_evals=state.num_evals + config.num_samples,
            step=state.step + 1,
        )
        return new, RandomSearchInfo(best_f=new.best_f, batch_min=fs[i], num_nonfinite=num_bad)

    return Method(init=init, step=step, config=config, name=f"random_search_{config.mode}")


def _example(mode: str) -> registry.Example:
    def sphere(x):
        return jnp.sum(x**2)

    method = make(sphere, RandomSearchConfig(dim=3, num_samples=8, mode=mode))
    params = RandomSearchParams(jnp.float32(-1.0), jnp.float32(1.0), jnp.float32(0.3))
    other = RandomSearchParams(jnp.float32(-2.0), jnp.float32(2.0), jnp.float32(0.1))
    return registry.Example(method=method, x0=jnp.full((3,), 0.9, jnp.float32),
                            params=params, other_params=other, num_steps=5)


registry.register("random_search_uniform", lambda: _example("uniform"))
registry.register("random_search_local", lambda: _example("local"))
