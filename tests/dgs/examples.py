"""Contract examples of the DGS family (see tests/helpers/examples.py and tests/test_contract.py).

Every method has an example. Where the plain variant ignores its key (DGS without
perturbation, DGS + optax along the axes, FD on every coordinate) the example is the
randomised variant, so that different keys give different runs (the contract test checks
it); the deterministic variants are tested in the family's own tests.
"""

import jax.numpy as jnp
import optax

from jaxopt_lab.dgs import adadgs, dgs, dgs_optax, es, fd, nesterov
from tests.helpers.examples import Example

DIM = 4
X0 = jnp.array([0.9, -0.4, 0.3, -0.7], jnp.float32)


def _rastrigin(x):
    return jnp.sum(x**2 - jnp.cos(2 * jnp.pi * x)) + x.shape[0]


def _nonscalar(x):
    return x**2


def _dgs(perturb, restart="none", accept="always"):
    config = dgs.Config(dim=DIM, perturb=perturb, chunk_size=6, restart=restart, accept=accept)
    return Example(
        module=dgs, objective=_rastrigin, config=config, x0=X0,
        params=dgs.params(2.0, DIM, horizon=10, grad_tol=10.0, perturb_every=2,
                          sigma_halfwidth=0.3),
        other_params=dgs.params(1.0, DIM, horizon=20, grad_tol=1.0, perturb_every=3,
                                sigma_halfwidth=0.2),
        nonscalar_objective=_nonscalar,
        extra_bad_inputs=(
            ("learning_rate <= 0", lambda: dgs.params(learning_rate=0.0, sigma=1.0),
             "learning_rate must be finite and > 0"),
            ("no width for the defaults", lambda: dgs.params(dim=DIM),
             "learning_rate must be given, or width and dim"),
            ("perturb_every < 1", lambda: dgs.params(2.0, DIM, perturb_every=0),
             "perturb_every"),
            ("unknown trigger", lambda: dgs.Config(dim=DIM, perturb="sometimes"), "perturb"),
            ("num_points < 2", lambda: dgs.Config(dim=DIM, num_points=1), "num_points"),
            ("unknown restart", lambda: dgs.Config(dim=DIM, restart="best"), "restart"),
            ("restart_at > 1", lambda: dgs.params(2.0, DIM, restart_at=2.0), "restart_at"),
        ))


def _adadgs(num_line_points):
    return Example(
        module=adadgs, objective=_rastrigin,
        config=adadgs.Config(dim=DIM, num_line_points=num_line_points),
        x0=X0, params=adadgs.params(2.0, DIM, reset_every=1, reset_tol=0.5),
        other_params=adadgs.params(1.0, DIM, reset_every=2, reset_tol=0.1),
        nonscalar_objective=_nonscalar,
        extra_bad_inputs=(
            ("shrink >= 1", lambda: adadgs.params(1.0, DIM, shrink=1.0), "shrink"),
            ("sigma_std < 0", lambda: adadgs.params(1.0, DIM, sigma_std=-0.1), "sigma_std"),
        ))


def _dgs_optax(directions):
    return Example(
        module=dgs_optax, objective=_rastrigin,
        config=dgs_optax.Config(dim=DIM, optimizer=optax.adam(0.05), directions=directions),
        x0=X0, params=dgs_optax.params(0.5), other_params=dgs_optax.params(1.5),
        nonscalar_objective=_nonscalar,
        extra_bad_inputs=(
            ("sigma <= 0", lambda: dgs_optax.params(0.0), "sigma must be finite and > 0"),
            ("optimizer is not optax",
             lambda: dgs_optax.Config(dim=DIM, optimizer=object()), "optimizer"),
        ))


def _es(shaping):
    return Example(
        module=es, objective=_rastrigin,
        config=es.Config(dim=DIM, num_pairs=5, fitness_shaping=shaping, chunk_size=4),
        x0=X0, params=es.params(2.0, DIM, horizon=10),
        other_params=es.params(1.0, DIM, horizon=30),
        nonscalar_objective=_nonscalar,
        extra_bad_inputs=(
            ("num_pairs < 1", lambda: es.Config(dim=DIM, num_pairs=0), "num_pairs"),
            ("sigma <= 0", lambda: es.params(sigma=-1.0, learning_rate=1.0), "sigma"),
        ))


def _nesterov():
    return Example(
        module=nesterov, objective=_rastrigin,
        config=nesterov.Config(dim=DIM, num_directions=3),
        x0=X0, params=nesterov.params(2.0), other_params=nesterov.params(1.0, horizon=20),
        nonscalar_objective=_nonscalar,
        extra_bad_inputs=(
            ("num_directions < 1", lambda: nesterov.Config(dim=DIM, num_directions=0),
             "num_directions"),
        ))


def _fd(num_coordinates):
    return Example(
        module=fd, objective=_rastrigin,
        config=fd.Config(dim=DIM, num_coordinates=num_coordinates, chunk_size=4),
        x0=X0, params=fd.params(2.0, DIM, horizon=10),
        other_params=fd.params(1.0, DIM, horizon=20),
        nonscalar_objective=_nonscalar,
        extra_bad_inputs=(
            ("num_coordinates > dim", lambda: fd.Config(dim=DIM, num_coordinates=DIM + 1),
             "num_coordinates"),
            ("h <= 0", lambda: fd.params(h=0.0, learning_rate=1.0), "h must be finite"),
        ))


EXAMPLES = {
    "dgs:perturbed_by_steps": lambda: _dgs("either"),
    "dgs:perturbed_by_grad_norm": lambda: _dgs("grad_norm"),
    "dgs:averaged_restart": lambda: _dgs("either", "average", "descent"),
    "adadgs": lambda: _adadgs(None),
    "adadgs:line_search": lambda: _adadgs(6),
    "dgs_optax:random_directions": lambda: _dgs_optax("random"),
    "es": lambda: _es("none"),
    "es:centered_rank": lambda: _es("centered_rank"),
    "nesterov": _nesterov,
    "fd:random_coordinates": lambda: _fd(2),
}
