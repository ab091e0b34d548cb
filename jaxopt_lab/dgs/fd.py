"""FD: descent along central finite differences (all coordinates or a random subset).

Each step estimates ``g_i = (f(x + h e_i) - f(x - h e_i)) / 2h`` on every coordinate
(``2 dim`` evaluations, deterministic) or on ``num_coordinates`` coordinates drawn at random
(randomised coordinate descent; :func:`~jaxopt_lab.dgs.estimator.fd_estimate`), then steps
``x <- x - lr g / ||g||`` (or raw) with the learning rate and ``h`` on a schedule. The DGS
paper's FD baseline (Zhang et al., UAI 2021, Sec. 4.1) uses every coordinate.

Example::

    from jaxopt_lab import run
    from jaxopt_lab.dgs import fd
    method = fd.make(f, fd.Config(dim=100, radius_schedule="constant"))
    final, trace = run(method, key, x0, fd.params(width=10.24, dim=100), num_steps=200)
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.dgs import _descent
from jaxopt_lab.dgs.estimator import fd_estimate

__all__ = ["Config", "Params", "State", "Info", "params", "make"]

State = _descent.State
Info = _descent.Info


@dataclasses.dataclass(frozen=True)
class Config(_descent.DescentConfig):
    """Static configuration (and the fields of ``DescentConfig``: ``dim``, ``lr_schedule``,
    ``radius_schedule`` (here the schedule of ``h``), ``normalize``, ``chunk_size``,
    ``record_path``).

    Attributes:
      num_coordinates: ``None``: every coordinate each step (``2 dim`` evaluations); an int
        ``n <= dim``: a uniformly random subset of ``n`` coordinates (``2 n`` evaluations).
    """

    num_coordinates: int | None = None

    def __post_init__(self):
        super().__post_init__()
        _checks.check_int(self.num_coordinates, "num_coordinates", maximum=self.dim,
                          allow_none=True)

    @property
    def evals_per_step(self) -> int:
        """``2 n`` differences plus ``f`` at the new iterate."""
        return 2 * (self.dim if self.num_coordinates is None else self.num_coordinates) + 1


class Params(NamedTuple):
    """Numeric hyper-parameters (all ``[]`` arrays).

    Attributes:
      learning_rate: initial learning rate (a length when the step is normalised), > 0.
      learning_rate_final: its final value (quadratic) or floor (exponential), >= 0.
      h: initial difference step, > 0.
      h_final: its final value or floor, > 0.
      horizon: ``T`` of the quadratic decay, > 0.
      decay: per-step factor of the exponential decay, > 0.
    """

    learning_rate: jax.Array
    learning_rate_final: jax.Array
    h: jax.Array
    h_final: jax.Array
    horizon: jax.Array
    decay: jax.Array


def params(width=None, dim=None, *, learning_rate=None, h=None, learning_rate_final=None,
           h_final=None, horizon=200.0, decay=1.0, dtype=jnp.float32) -> Params:
    """Builds :class:`Params`; defaults from the initial domain's width ``w`` per coordinate.

    Defaults (the DGS study's FD baseline): ``learning_rate = 0.05 sqrt(dim) w`` (as DGS),
    ``h = 1e-3 w``, finals 1 % of the initial values, ``horizon = 200`` steps.

    Raises:
      ValueError: a value out of range, or a default needed without ``width``/``dim``.
    """
    dtype = _checks.check_dtype(dtype)
    learning_rate = _descent.from_domain(learning_rate, "learning_rate", width, dim, 0.05,
                                         per_sqrt_dim=True)
    h = _descent.from_domain(h, "h", width, dim, 1e-3)
    values = _descent.schedule_values(learning_rate, h, learning_rate_final, h_final, horizon,
                                      decay)
    p = Params(*(jnp.asarray(v, dtype) for v in values))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    _checks.check_params(p, Params, _descent.schedule_rules("h"))


def make(objective: Callable[[jax.Array], jax.Array], config: Config) -> Method:
    """Central-difference descent for ``objective(x[dim]) -> scalar``.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init`` evaluates ``f(x0)`` (1 evaluation); each
      ``step`` costs ``config.evals_per_step``.
    """
    _checks.check_instance(config, Config, "config")
    _checks.check_objective(objective, config.dim)

    def oracle(key, state, h):
        return fd_estimate(key, objective, state.x, h, num_coordinates=config.num_coordinates,
                           chunk_size=config.chunk_size, validate=False)

    return _descent.make_method(objective, config, "fd", oracle, _validate_params,
                                "h")
