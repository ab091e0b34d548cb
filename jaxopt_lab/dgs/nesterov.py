"""Nesterov-Spokoiny random search: descent along Gaussian forward differences.

Each step draws ``num_directions`` Gaussian directions ``u_b`` and estimates the gradient of
the Gaussian smoothing of ``f`` as ``(1/B) sum_b (f(x + sigma u_b) - f(x)) / sigma u_b``
(:func:`~jaxopt_lab.dgs.estimator.nesterov_estimate`; ``f(x)`` is carried in the state, not
re-evaluated), then steps ``x <- x - lr g / ||g||`` (or raw) with the learning rate and
``sigma`` (the paper's ``mu``) on a schedule. Y. Nesterov, V. Spokoiny, "Random
gradient-free minimization of convex functions", Found. Comput. Math. 17 (2017) 527-566.

Example::

    from jaxopt_lab import run
    from jaxopt_lab.dgs import nesterov
    method = nesterov.make(f, nesterov.Config(dim=100, num_directions=4))
    final, trace = run(method, key, x0, nesterov.params(width=10.24), num_steps=1000)
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.dgs import _descent
from jaxopt_lab.dgs.estimator import nesterov_estimate

__all__ = ["Config", "Params", "State", "Info", "params", "make"]

State = _descent.State
Info = _descent.Info


@dataclasses.dataclass(frozen=True)
class Config(_descent.DescentConfig):
    """Static configuration (and the fields of ``DescentConfig``: ``dim``, ``lr_schedule``,
    ``radius_schedule``, ``normalize``, ``chunk_size``, ``record_path``).

    Attributes:
      num_directions: random directions per step, one forward difference each.
    """

    num_directions: int = 1

    def __post_init__(self):
        super().__post_init__()
        _checks.check_int(self.num_directions, "num_directions")

    @property
    def evals_per_step(self) -> int:
        """``num_directions`` plus ``f`` at the new iterate."""
        return self.num_directions + 1


class Params(NamedTuple):
    """Numeric hyper-parameters (all ``[]`` arrays).

    Attributes:
      learning_rate: initial learning rate (a length when the step is normalised), > 0.
      learning_rate_final: its final value (quadratic) or floor (exponential), >= 0.
      sigma: initial standard deviation of the Gaussian step (the paper's ``mu``), > 0.
      sigma_final: its final value or floor, > 0.
      horizon: ``T`` of the quadratic decay, > 0.
      decay: per-step factor of the exponential decay, > 0.
    """

    learning_rate: jax.Array
    learning_rate_final: jax.Array
    sigma: jax.Array
    sigma_final: jax.Array
    horizon: jax.Array
    decay: jax.Array


def params(width=None, dim=None, *, learning_rate=None, sigma=None, learning_rate_final=None,
           sigma_final=None, horizon=200.0, decay=1.0, dtype=jnp.float32) -> Params:
    """Builds :class:`Params`; defaults from the initial domain's width ``w`` per coordinate.

    Defaults (the DGS study's Nesterov baseline): ``learning_rate = 0.05 w`` (one random
    direction per step: steps shorter than DGS's by ``sqrt(dim)``; ``dim`` is not needed),
    ``sigma = 1e-3 w``, finals 1 % of the initial values, ``horizon = 200`` steps.

    Raises:
      ValueError: a value out of range, or a default needed without ``width``.
    """
    del dim  # the defaults do not depend on it; accepted for a uniform signature
    dtype = _checks.check_dtype(dtype)
    learning_rate = _descent.from_domain(learning_rate, "learning_rate", width, None, 0.05)
    sigma = _descent.from_domain(sigma, "sigma", width, None, 1e-3)
    values = _descent.schedule_values(learning_rate, sigma, learning_rate_final, sigma_final,
                                      horizon, decay)
    p = Params(*(jnp.asarray(v, dtype) for v in values))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    _checks.check_params(p, Params, _descent.schedule_rules("sigma"))


def make(objective: Callable[[jax.Array], jax.Array], config: Config) -> Method:
    """Nesterov-Spokoiny random search for ``objective(x[dim]) -> scalar``.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init`` evaluates ``f(x0)`` (1 evaluation); each
      ``step`` costs ``config.evals_per_step``.
    """
    _checks.check_instance(config, Config, "config")
    _checks.check_objective(objective, config.dim)

    def oracle(key, state, sigma):
        return nesterov_estimate(key, objective, state.x, sigma,
                                 num_directions=config.num_directions, f_x=state.f_x,
                                 chunk_size=config.chunk_size, validate=False)

    return _descent.make_method(objective, config, "nesterov", oracle, _validate_params,
                                "sigma")
