"""The hybrid perturbation: skipping chains and random-walk steps alternating [1, Sec. 3.8].

Each chain keeps its own counter ``s`` (its perturbations so far + 1, never reset between
runs) and decides from it, as the authors' ``AlternatingPertubation``: ratio ``m > 0``
skips when ``s mod m != 0`` ((m-1) skips : 1 BH step), ``m < 0`` skips when
``s mod |m| == 0`` (1 skip : (|m|-1) BH steps); ``m = 1`` is pure BH, ``m = -1`` pure
BH-S, ``m = 2`` the paper's recommended 1:1. Metropolis at ``T`` throughout (1 in the
paper). Perturbations as in :mod:`.bh` and :mod:`.bhs`; shared machinery: :mod:`._chain`.

Example::

    from jaxopt_lab.basin_hopping import hybrid
    method = hybrid.make(f, hybrid.Config(dim=2, max_skips=25))
    params = hybrid.params(lower, upper, sigma_skip=10.0, ratio=2)

[1] Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021,
    arXiv:2108.05229.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.basin_hopping import _chain, _settings

__all__ = ["Config", "Params", "State", "Info", "params", "make", "make_phases",
           "uses_skip"]

State = _chain.State
Info = _chain.Info


@dataclasses.dataclass(frozen=True)
class Config(_settings.SkipConfig):
    """Static configuration of one hybrid chain.

    Attributes:
      dim: number of coordinates.
      max_skips, radii, boundary, skip_block, skip_dtype, directions: the skipping
        chain's, as in :class:`~.bhs.Config` (``max_skips`` is the halting index ``K``).
      walk_periodic: wrap the random-walk proposal into the box (the hybrid notebooks do
        with periodic boundaries).
      restart, local_steps, local: as in :class:`~.bh.Config`.
    """

    walk_periodic: bool = False

    def __post_init__(self):
        super().__post_init__()
        _checks.check_bool(self.walk_periodic, "walk_periodic")


class Params(NamedTuple):
    """Numeric hyper-parameters (arrays: changing values never recompiles).

    Attributes:
      lower: ``[dim]`` (or ``[]``) the box, ``lower < upper``.
      upper: the box's upper corner.
      sigma_walk: ``[]`` standard deviation of the random-walk step, > 0.
      sigma_skip: ``[]`` standard deviation of the skipping chain's ``W``, > 0.
      ratio: ``[]`` int32 the alternation ``m != 0`` (see the module docstring).
      temperature: ``[]`` Metropolis temperature ``T >= 0``.
      patience: ``[]`` int32, a run ends after ``patience + 1`` non-improving
        perturbations.
      ftol: ``[]`` the local minimiser's relative reduction tolerance (L-BFGS-B's meaning).
      gtol: ``[]`` its projected-gradient tolerance (L-BFGS-B's meaning).
    """

    lower: jax.Array
    upper: jax.Array
    sigma_walk: jax.Array
    sigma_skip: jax.Array
    ratio: jax.Array
    temperature: jax.Array
    patience: jax.Array
    ftol: jax.Array
    gtol: jax.Array


def params(lower, upper, *, sigma_skip=None, sigma_walk=None, ratio=2, temperature=1.0,
           patience=50, tol=None, ftol=_settings.FTOL, gtol=_settings.GTOL,
           dtype=jnp.float32) -> Params:
    """Builds :class:`Params`.

    Args:
      lower: the box's lower corner.
      upper: the box's upper corner.
      sigma_skip: the skipping chain's standard deviation; default 5% of the box's largest
        width.
      sigma_walk: the walk's standard deviation; default ``sigma_skip``. (The authors'
        hybrid used the skip's number as the walk's *variance*: pass
        ``std_from_variance(sigma_skip)`` to reproduce it.)
      ratio: ``m`` (default 2: one skip per BH step).
      temperature: ``T`` (the paper: 1).
      patience: SciPy's ``niter_success`` (the paper: 50).
      tol: sets ``ftol`` and ``gtol`` both (SciPy's ``minimize(tol=...)``).
      ftol: L-BFGS-B's default relative reduction tolerance.
      gtol: L-BFGS-B's default projected-gradient tolerance.
      dtype: floating dtype of the numbers.
    """
    common = _settings.common_params(lower, upper, temperature=temperature, patience=patience,
                                  tol=tol, ftol=ftol, gtol=gtol, dtype=dtype)
    _checks.check_int(ratio, "ratio", minimum=None)
    dtype = common["lower"].dtype
    sigma_skip = _settings.default_sigma(lower, upper) if sigma_skip is None else sigma_skip
    sigma_walk = sigma_skip if sigma_walk is None else sigma_walk
    p = Params(sigma_walk=jnp.asarray(sigma_walk, dtype), sigma_skip=jnp.asarray(sigma_skip, dtype),
               ratio=jnp.asarray(ratio, jnp.int32), **common)
    _validate(p, None)
    return p


def _validate(p, config) -> None:
    if config is None:
        _checks.check_params(p, Params, _settings.PARAM_RULES)
    else:
        _settings.validate_params(p, Params, config)
    ratio = _checks.concrete(p.ratio)
    if ratio is not None and (not np.issubdtype(ratio.dtype, np.integer) or ratio == 0):
        raise ValueError(f"params.ratio must be a non-zero integer (the hybrid's m), got "
                         f"{ratio.tolist()!r}")


def uses_skip(counter: jax.Array, ratio: jax.Array) -> jax.Array:
    """Whether the perturbation numbered ``counter`` (from 1) is a skipping chain."""
    m = jnp.abs(ratio)
    rem = jnp.mod(counter, jnp.maximum(m, 1))
    return jnp.where(ratio > 0, rem != 0, rem == 0)


def _build(objective, config):
    _checks.check_instance(config, Config, "config")

    def propose(key, state, params, lower, upper, active):
        skip = uses_skip(state.counter, params.ratio)
        chain = _chain.skip_proposal(key, state, params.sigma_skip, lower, upper, objective,
                                     config, active & skip)
        walk = _chain.walk_proposal(key, state.x, params.sigma_walk, lower, upper,
                                    periodic=config.walk_periodic)
        return jax.tree.map(lambda a, b: jnp.where(skip, a, b), chain, walk)

    return _chain.build(objective, config, propose, lambda p: _validate(p, config), "hybrid")


def make(objective: Callable[[jax.Array], jax.Array], config: Config):
    """Builds the hybrid for ``objective(x[dim]) -> []`` (differentiable).

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
