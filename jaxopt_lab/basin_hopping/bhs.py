"""Basin hopping with skipping (BH-S): hop along a ray to a lower sublevel set [1].

Algorithm 2 of [1]: BH whose perturbation is a skipping chain confined to the sublevel set
of the current local minimum ``X_n``: from ``W ~ N(0, sigma^2 I)``, points ``Z_k = X_n +
Phi (R_1 + ... + R_k)`` along ``Phi = W/|W|`` are tried until ``f(Z_k) < f(X_n)`` or ``k = K``
(:func:`~.perturb.skipping_chain`); the local minimisation starts from the hit, or from
``X_n`` if there is none. Monotone by default (``T = 0``); ``K = 1`` is monotone BH. Runs,
restarts and the two step modes as in :mod:`.bh` (shared machinery: :mod:`._chain`).

Example::

    from jaxopt_lab import run
    from jaxopt_lab.basin_hopping import bhs
    method = bhs.make(f, bhs.Config(dim=2, max_skips=25))
    params = bhs.params(lower, upper, sigma=10.0)
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
class Config(_settings.SkipConfig):
    """Static configuration of one BH-S chain.

    Attributes:
      dim: number of coordinates.
      max_skips: the halting index ``K >= 1``: at most ``K`` points per skipping chain
        (the paper's default 25; choose ``K sigma > diam(D)``). Static: it sets the
        chain's shape, so changing it recompiles.
      radii: ``"equal"`` (the authors' code: ``R_k = R_1``) or ``"iid"`` (the paper's
        text).
      boundary: ``"periodic"`` (every point wrapped into the box), ``"first"`` (only
        ``Z_1``: the authors' non-periodic mode) or ``"none"``.
      skip_block: evaluate the chain in blocks of this many points, stopping at the first
        block with a hit (``None``: all ``K`` at once); results do not depend on it.
      skip_dtype: ``None`` (the chain's dtype) or a floating dtype name in which the
        skipping chain is evaluated (e.g. ``"float32"`` for float64 chains: the chain only
        tests ``f(Z_k) < f(X)``, and the found point is cast back).
      directions: ``"sphere"`` (the paper) or ``"axes"`` (a random coordinate axis per
        chain: a variant for separable landscapes, :func:`~.perturb.skipping_chain`).
      restart, local_steps, local: as in :class:`~.bh.Config`.
    """


Params = _settings.Params
State = _chain.State
Info = _chain.Info


def params(lower, upper, *, sigma=None, temperature=0.0, patience=50, tol=None,
           ftol=_settings.FTOL, gtol=_settings.GTOL, dtype=jnp.float32) -> Params:
    """Builds :class:`Params` (the fields are documented on :class:`~._settings.Params`).

    Args:
      lower: the box's lower corner.
      upper: the box's upper corner.
      sigma: standard deviation of ``W``; default 5% of the box's largest width.
      temperature: ``T`` (the paper's BH-S: 0).
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
        return _chain.skip_proposal(key, state, params.sigma, lower, upper, objective, config,
                                    active)

    return _chain.build(objective, config, propose,
                        lambda p: _settings.validate_params(p, Params, config), "bhs")


def make(objective: Callable[[jax.Array], jax.Array], config: Config):
    """Builds BH-S for ``objective(x[dim]) -> []`` (differentiable: L-BFGS uses its gradient).

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
