"""ES-Bpop: descent along the OpenAI-ES (antithetic Gaussian-smoothing) gradient.

Each step estimates the gradient of the Gaussian smoothing of ``f`` (standard deviation
``sigma``) from ``num_pairs`` antithetic pairs, optionally with centred-rank fitness
shaping (:func:`~jaxopt_lab.dgs.estimator.es_estimate`), and steps
``x <- x - lr g / ||g||`` (or raw), with the learning rate and ``sigma`` on a schedule. The
DGS paper's ES-Bpop baseline spends as many evaluations as DGS: ``num_pairs = (M - 1) d / 2``
(Zhang et al., UAI 2021, Sec. 4.1; OpenAI-ES: Salimans et al., arXiv:1703.03864, 2017).

Example::

    from jaxopt_lab import run
    from jaxopt_lab.dgs import es
    method = es.make(f, es.Config(dim=100, num_pairs=200, fitness_shaping="centered_rank"))
    final, trace = run(method, key, x0, es.params(width=10.24, dim=100), num_steps=200)
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.dgs import _descent
from jaxopt_lab.dgs.estimator import FITNESS_SHAPINGS, es_estimate

__all__ = ["Config", "Params", "State", "Info", "params", "make"]

State = _descent.State
Info = _descent.Info


@dataclasses.dataclass(frozen=True)
class Config(_descent.DescentConfig):
    """Static configuration (and the fields of ``DescentConfig``: ``dim``, ``lr_schedule``,
    ``radius_schedule``, ``normalize``, ``chunk_size``, ``record_path``).

    Attributes:
      num_pairs: antithetic pairs per step (``2 num_pairs`` evaluations).
      fitness_shaping: ``"none"`` (raw differences) or ``"centered_rank"``.
    """

    num_pairs: int = 8
    fitness_shaping: str = "none"

    def __post_init__(self):
        super().__post_init__()
        _checks.check_int(self.num_pairs, "num_pairs")
        _checks.check_choice(self.fitness_shaping, "fitness_shaping", FITNESS_SHAPINGS)

    @property
    def evals_per_step(self) -> int:
        """``2 num_pairs`` plus ``f`` at the new iterate."""
        return 2 * self.num_pairs + 1


class Params(NamedTuple):
    """Numeric hyper-parameters (all ``[]`` arrays).

    Attributes:
      learning_rate: initial learning rate (a length when the step is normalised), > 0.
      learning_rate_final: its final value (quadratic) or floor (exponential), >= 0.
      sigma: initial standard deviation of the Gaussian perturbations, > 0.
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

    Defaults (the DGS study's ES-Bpop): ``learning_rate = 0.05 sqrt(dim) w`` (as DGS),
    ``sigma = 0.1 w``, finals 1 % of the initial values, ``horizon = 200`` steps.

    Raises:
      ValueError: a value out of range, or a default needed without ``width``/``dim``.
    """
    dtype = _checks.check_dtype(dtype)
    learning_rate = _descent.from_domain(learning_rate, "learning_rate", width, dim, 0.05,
                                         per_sqrt_dim=True)
    sigma = _descent.from_domain(sigma, "sigma", width, dim, 0.1)
    values = _descent.schedule_values(learning_rate, sigma, learning_rate_final, sigma_final,
                                      horizon, decay)
    p = Params(*(jnp.asarray(v, dtype) for v in values))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    _checks.check_params(p, Params, _descent.schedule_rules("sigma"))


def make(objective: Callable[[jax.Array], jax.Array], config: Config) -> Method:
    """ES-Bpop for ``objective(x[dim]) -> scalar``.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init`` evaluates ``f(x0)`` (1 evaluation); each
      ``step`` costs ``config.evals_per_step``.
    """
    _checks.check_instance(config, Config, "config")
    _checks.check_objective(objective, config.dim)

    def oracle(key, state, sigma):
        return es_estimate(key, objective, state.x, sigma, num_pairs=config.num_pairs,
                           fitness_shaping=config.fitness_shaping,
                           chunk_size=config.chunk_size, validate=False)

    return _descent.make_method(objective, config, "es", oracle, _validate_params,
                                "sigma")
