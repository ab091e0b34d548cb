"""The settings BH, BH-S and the hybrid share: their Config bases and their Params.

``sigma`` is a standard deviation in every Params (:func:`~.perturb.std_from_variance`
converts the authors' variance reading); counts (``patience``, the halting index
``max_skips``) are set in one place each.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.basin_hopping import perturb
from jaxopt_lab.basin_hopping.local import LBFGSConfig

FTOL, GTOL = 2.2e-9, 1e-5  # L-BFGS-B's defaults (SciPy)
SKIP_DTYPES = ("float16", "bfloat16", "float32", "float64")

#: check_array rules of every Params field of the three methods.
PARAM_RULES = {name: dict(positive=True) for name in ("sigma", "sigma_walk", "sigma_skip")}
PARAM_RULES.update({name: dict(non_negative=True)
                    for name in ("temperature", "patience", "ftol", "gtol")})


@dataclasses.dataclass(frozen=True)
class ChainConfig:
    """The static settings every basin-hopping method has (see each module's Config)."""

    dim: int
    restart: bool = True
    local_steps: int | None = None
    local: LBFGSConfig = LBFGSConfig()

    def __post_init__(self):
        _checks.check_int(self.dim, "dim")
        _checks.check_bool(self.restart, "restart")
        _checks.check_int(self.local_steps, "local_steps", allow_none=True)
        _checks.check_instance(self.local, LBFGSConfig, "local")


@dataclasses.dataclass(frozen=True)
class SkipConfig(ChainConfig):
    """:class:`ChainConfig` plus the skipping chain's settings (BH-S and the hybrid)."""

    max_skips: int = 25
    radii: str = "equal"
    boundary: str = "periodic"
    skip_block: int | None = 16
    skip_dtype: str | None = None
    directions: str = "sphere"

    def __post_init__(self):
        super().__post_init__()
        _checks.check_int(self.max_skips, "max_skips")
        _checks.check_choice(self.directions, "directions", perturb.DIRECTIONS)
        _checks.check_choice(self.radii, "radii", perturb.RADII)
        _checks.check_choice(self.boundary, "boundary", perturb.BOUNDARIES)
        _checks.check_int(self.skip_block, "skip_block", allow_none=True)
        _checks.check_choice(self.skip_dtype, "skip_dtype", (None,) + SKIP_DTYPES)


class Params(NamedTuple):
    """Numeric hyper-parameters of BH and BH-S (arrays: changing values never recompiles).

    Attributes:
      lower, upper: ``[dim]`` (or ``[]``) the box, ``lower < upper``.
      sigma: ``[]`` standard deviation of the perturbation's Gaussian ``W``, > 0 (BH: the
        step ``Y = X + W``; BH-S: the skipping chain's direction and first radius).
      temperature: ``[]`` Metropolis temperature ``T >= 0`` (0: monotone).
      patience: ``[]`` int32, a run ends after ``patience + 1`` non-improving
        perturbations.
      ftol, gtol: ``[]`` the local minimiser's tolerances (L-BFGS-B's meaning).
    """

    lower: jax.Array
    upper: jax.Array
    sigma: jax.Array
    temperature: jax.Array
    patience: jax.Array
    ftol: jax.Array
    gtol: jax.Array


def default_sigma(lower, upper) -> jax.Array:
    """5% of the box's largest width: the paper's rule ``K sigma > diam(D)`` at its
    default ``K = 25`` up to a factor ``sqrt(d) / 1.25``."""
    return 0.05 * jnp.max(jnp.asarray(upper) - jnp.asarray(lower))


def common_params(lower, upper, *, temperature, patience, tol, ftol, gtol, dtype) -> dict:
    """The fields every method's Params has, checked and cast (``tol`` sets ``ftol`` and
    ``gtol``, as SciPy's ``minimize(tol=...)``)."""
    lower, upper = (v if hasattr(v, "shape") else np.asarray(v) for v in (lower, upper))
    _checks.check_box(lower, upper)
    dtype = _checks.check_dtype(dtype)
    _checks.check_int(patience, "patience", minimum=0)
    if tol is not None:
        ftol = gtol = tol
    values = dict(lower=lower, upper=upper, temperature=temperature, ftol=ftol, gtol=gtol)
    out = {k: jnp.asarray(v, dtype) for k, v in values.items()}
    return dict(out, patience=jnp.asarray(patience, jnp.int32))


def make_params(lower, upper, *, sigma, temperature, patience, tol, ftol, gtol,
                dtype) -> Params:
    """:class:`Params` of BH and BH-S (``sigma=None``: :func:`default_sigma`)."""
    common = common_params(lower, upper, temperature=temperature, patience=patience,
                           tol=tol, ftol=ftol, gtol=gtol, dtype=dtype)
    sigma = default_sigma(lower, upper) if sigma is None else sigma
    p = Params(sigma=jnp.asarray(sigma, common["lower"].dtype), **common)
    _checks.check_params(p, Params, PARAM_RULES)
    return p


def validate_params(params, cls, config: ChainConfig) -> None:
    """``params`` is a ``cls`` with valid values (where concrete); errors name the field."""
    _checks.check_params(params, cls, PARAM_RULES)
    _checks.check_box(params.lower, params.upper, config.dim,
                      names=("params.lower", "params.upper"))
