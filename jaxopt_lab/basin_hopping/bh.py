"""Basin hopping (BH): a Gaussian random walk between local minima, one chain per init.

Algorithm 1 of [1]: perturb the current local minimum ``X_n`` by ``W ~ N(0, sigma^2 I)``,
minimise locally from ``Y_n = X_n + W`` (projected L-BFGS, :mod:`.local`) and accept the
minimum ``U_n`` by Metropolis at temperature ``T``. A run returns its lowest minimum and ends
after ``patience + 1`` perturbations without a strictly lower one (SciPy's
``niter_success``); with ``Config.restart`` a new run starts at once from a uniform point
of the box (the paper's back-to-back runs). Shared machinery: :mod:`._chain`.

Example::

    from jaxopt_lab import run
    from jaxopt_lab.basin_hopping import bh, std_from_variance
    method = bh.make(f, bh.Config(dim=2))
    params = bh.params(lower, upper, sigma=std_from_variance(100.0))  # Table 5.1's BH
    final, trace = run(method, key, x0, params, num_steps=200)

[1] Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021,
    arXiv:2108.05229.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.basin_hopping import _chain, _settings

__all__ = ["Config", "Params", "State", "Info", "params", "make", "make_phases"]


@dataclasses.dataclass(frozen=True)
class Config(_settings.ChainConfig):
    """Static configuration of one BH chain.

    Attributes:
      dim: number of coordinates.
      restart: start a new run from a uniform point when a run ends (else the chain
        freezes).
      local_steps: ``None``: synchronous steps (each runs the local minimisation to its
        end); an int ``m``: asynchronous ticks of ``m`` local-minimiser steps (see
        :mod:`._chain`).
      local: the projected L-BFGS's settings (:class:`~.local.LBFGSConfig`).
      periodic: wrap the proposal into the box (Table 5.1's BH does not: L-BFGS projects).
    """

    periodic: bool = False

    def __post_init__(self):
        super().__post_init__()
        _checks.check_bool(self.periodic, "periodic")


Params = _settings.Params
State = _chain.State
Info = _chain.Info


def params(lower, upper, *, sigma=None, temperature=1.0, patience=50, tol=None,
           ftol=_settings.FTOL, gtol=_settings.GTOL, dtype=jnp.float32) -> Params:
    """Builds :class:`Params` (the fields are documented on :class:`~._settings.Params`).

    Args:
      lower: the box's lower corner.
      upper: the box's upper corner.
      sigma: the walk's standard deviation; default 5% of the box's largest width. (For
        the authors' BH runs, whose published sigma is a variance, pass
        :func:`~.perturb.std_from_variance` of it.)
      temperature: ``T`` (the paper's BH: 1).
      patience: SciPy's ``niter_success`` (the paper: 50).
      tol: sets ``ftol`` and ``gtol`` both (SciPy's ``minimize(tol=...)``).
      ftol: L-BFGS-B's default relative reduction tolerance.
      gtol: L-BFGS-B's default projected-gradient tolerance.
      dtype: floating dtype of the numbers.
    """
    return _settings.make_params(lower, upper, sigma=sigma, temperature=temperature,
                              patience=patience, tol=tol, ftol=ftol, gtol=gtol, dtype=dtype)


def _build(objective, config):
    _checks.check_instance(config, Config, "config")

    def propose(key, state, params, lower, upper, active):
        del active  # the walk evaluates nothing
        return _chain.walk_proposal(key, state.x, params.sigma, lower, upper,
                                    periodic=config.periodic)

    return _chain.build(objective, config, propose,
                        lambda p: _settings.validate_params(p, Params, config), "bh")


def make(objective: Callable[[jax.Array], jax.Array], config: Config):
    """Builds BH for ``objective(x[dim]) -> []`` (differentiable: L-BFGS uses its gradient).

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init(key, x0[dim], params)`` minimises ``x0``
      (projected into the box) and starts a run there; ``step(key, state, params) ->
      (State, Info)``.
    """
    return _build(objective, config).method


def make_phases(objective: Callable[[jax.Array], jax.Array], config: Config):
    """The step of :func:`make` in its two halves (:class:`~._chain.Phases`), for
    :func:`~.budget.time_split`."""
    return _build(objective, config).phases
