"""Contract examples of the basin-hopping family: BH, BH-S and the hybrid, each in the
synchronous mode, and BH-S and the hybrid in the asynchronous mode (``local_steps``).

BH runs the default local minimiser (L-BFGS with the Moré-Thuente search); the others the
backtracking search, which compiles in half the time (the contract does not depend on it).
"""

import jax.numpy as jnp

from jaxopt_lab.basin_hopping import LBFGSConfig, bh, bhs, hybrid, std_from_variance
from tests.helpers.examples import Example

LOWER, UPPER = [-4.0, -4.0], [4.0, 4.0]
CHEAP = LBFGSConfig(line_search="backtracking")


def _wavy(x):
    return jnp.sum(0.1 * x ** 2 + jnp.sin(3.0 * x))


def _example(module, config, params, other_params, extra_bad_inputs=()):
    return Example(
        module=module, objective=_wavy, config=config, x0=jnp.asarray([1.5, -2.0], jnp.float32),
        params=params, other_params=other_params, num_steps=6,
        nonscalar_objective=lambda x: x ** 2,
        extra_bad_inputs=(
            ("lower >= upper", lambda: module.params([1.0, 1.0], [-1.0, -1.0]),
             "lower must be <"),
            ("negative patience", lambda: module.params(LOWER, UPPER, patience=-1),
             "patience must be an int >= 0"),
            ("negative temperature", lambda: module.params(LOWER, UPPER, temperature=-1.0),
             "params.temperature must be finite and >= 0"),
            ("local_steps = 0", lambda: type(config)(dim=2, local_steps=0), "local_steps"),
        ) + tuple(extra_bad_inputs))


def _bh():
    return _example(
        bh, bh.Config(dim=2), bh.params(LOWER, UPPER, sigma=1.0, patience=2),
        bh.params(LOWER, UPPER, sigma=2.0, temperature=0.3, patience=3),
        (("sigma <= 0", lambda: bh.params(LOWER, UPPER, sigma=0.0),
          "params.sigma must be finite and > 0"),
         ("variance <= 0", lambda: std_from_variance(-1.0), "variance must be finite and > 0"),
         ("periodic not a bool", lambda: bh.Config(dim=2, periodic="yes"), "periodic")))


def _bhs(local_steps):
    return _example(
        bhs, bhs.Config(dim=2, max_skips=6, local_steps=local_steps, local=CHEAP),
        bhs.params(LOWER, UPPER, sigma=1.5, patience=2),
        bhs.params(LOWER, UPPER, sigma=0.7, temperature=0.5, patience=3),
        (("max_skips = 0", lambda: bhs.Config(dim=2, max_skips=0), "max_skips"),
         ("radii", lambda: bhs.Config(dim=2, radii="mixed"), "radii"),
         ("boundary", lambda: bhs.Config(dim=2, boundary="reflect"), "boundary"),
         ("skip_dtype", lambda: bhs.Config(dim=2, skip_dtype="int32"), "skip_dtype")))


def _hybrid(local_steps):
    return _example(
        hybrid, hybrid.Config(dim=2, max_skips=6, local_steps=local_steps, local=CHEAP),
        hybrid.params(LOWER, UPPER, sigma_skip=1.5, sigma_walk=0.8, ratio=2, patience=2),
        hybrid.params(LOWER, UPPER, sigma_skip=0.9, sigma_walk=1.4, ratio=-3, patience=3),
        (("ratio = 0", lambda: hybrid.params(LOWER, UPPER, ratio=0),
          "params.ratio must be a non-zero integer"),
         ("ratio not an int", lambda: hybrid.params(LOWER, UPPER, ratio=1.5), "ratio")))


EXAMPLES = {
    "bh:sync": _bh,
    "bhs:sync": lambda: _bhs(None),
    "bhs:async": lambda: _bhs(2),
    "hybrid:sync": lambda: _hybrid(None),
    "hybrid:async": lambda: _hybrid(2),
}
