"""Tiny instances of every DGS-family method, registered for the shared contract tests."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from jaxopt_lab import registry
from jaxopt_lab.dgs import baselines as bl
from jaxopt_lab.dgs import optimizer as opt

_DIM = 4
_X0 = jnp.array([1.5, -0.5, 2.0, 0.25], jnp.float32)


def _objective(x):
    """A small multimodal test function (Rastrigin-like), minimum 0 at 0."""
    return jnp.sum(x**2 - jnp.cos(2.0 * jnp.pi * x) + 1.0)


def _dgs(perturb):
    cfg = opt.DGSConfig(dim=_DIM, perturb=perturb)
    p = opt.dgs_params(0.5, 1.0, horizon=5.0, rotation_scale=0.1, sigma_halfwidth=0.2,
                       perturb_every=2)
    q = opt.dgs_params(0.3, 2.0, horizon=7.0, rotation_scale=0.2, sigma_halfwidth=0.1,
                       perturb_every=3)
    return registry.Example(opt.make_dgs(_objective, cfg), _X0, p, q, 5)


def _adadgs():
    cfg = opt.AdaDGSConfig(dim=_DIM)
    return registry.Example(opt.make_adadgs(_objective, cfg), _X0,
                            opt.adadgs_params(2.0, _DIM), opt.adadgs_params(3.0, _DIM), 5)


def _dgs_adam():
    cfg = opt.OptaxDGSConfig(dim=_DIM, directions="random")
    method = opt.make_optax(_objective, optax.adam(0.1), cfg)
    return registry.Example(method, _X0, opt.OptaxDGSParams(jnp.float32(1.0)),
                            opt.OptaxDGSParams(jnp.float32(0.5)), 5)


def _descent(kind):
    p = bl.descent_params(0.5, 0.5, horizon=5.0)
    q = bl.descent_params(0.2, 0.1, horizon=8.0)
    if kind == "es":
        method = bl.make_es(_objective, bl.ESConfig(dim=_DIM, num_pairs=6, chunk_size=4))
    elif kind == "nesterov":
        method = bl.make_nesterov(_objective, bl.NesterovConfig(dim=_DIM, num_directions=3))
    else:
        method = bl.make_finite_differences(_objective,
                                            bl.FDConfig(dim=_DIM, num_coordinates=2))
    return registry.Example(method, _X0, p, q, 5)


# Plain DGS without perturbation and full-coordinate FD are deterministic (no key is used),
# so the contract's "different keys differ" check needs their randomised variants here.
registry.register("dgs", lambda: _dgs("either"))
registry.register("adadgs", _adadgs)
registry.register("dgs_adam", _dgs_adam)
registry.register("es", lambda: _descent("es"))
registry.register("nesterov", lambda: _descent("nesterov"))
registry.register("fd_random", lambda: _descent("fd"))
