"""GradSearch: gradient-approximated discrete local search for program synthesis.

Lu, "Mitigating the failures of gradient-based program synthesis" (2021). Modules:
  * :mod:`~jaxopt_lab.gradsearch.moves`: Taylor estimates of single-variable moves;
  * :mod:`~jaxopt_lab.gradsearch.optimizers`: GradSearch (greedy), running average (both
    readings), GradSearch+, Bop and STE as threshold rules, as ``init``/``step`` methods;
  * :mod:`~jaxopt_lab.gradsearch.relaxations`: continuous relaxation baselines (FMGD,
    regularised, temperature softmax, Gumbel-softmax, neural reparameterisation, STE).
The tasks live in :mod:`jaxopt_lab.problems.programs`.
"""

import jax.numpy as jnp

from jaxopt_lab import registry
from jaxopt_lab.gradsearch import moves, optimizers, relaxations
from jaxopt_lab.gradsearch.optimizers import (
    GradSearchConfig, GradSearchInfo, GradSearchParams, GradSearchState, bop, gradsearch,
    RestartResult, gradsearch_avg, gradsearch_plus, make, make_params, solve_with_restarts,
    ste_discrete)
from jaxopt_lab.gradsearch.relaxations import (
    RelaxationConfig, RelaxationInfo, RelaxationParams, RelaxationState, initial_latent)

__all__ = ["moves", "optimizers", "relaxations", "GradSearchConfig", "GradSearchParams",
           "GradSearchState", "GradSearchInfo", "make", "make_params", "gradsearch",
           "gradsearch_avg", "gradsearch_plus", "bop", "ste_discrete", "RestartResult",
           "solve_with_restarts", "RelaxationConfig",
           "RelaxationParams", "RelaxationState", "RelaxationInfo", "initial_latent"]


def _discrete_example(config, params, other):
    from jaxopt_lab.problems import programs

    task = programs.circuit("nand")
    method = optimizers.make(task, config)
    x0 = jnp.asarray([0, 3, 1, 2, 0, 2, 1, 0], jnp.int32)  # a wrong NAND program
    return registry.Example(method=method, x0=x0, params=params, other_params=other,
                            num_steps=6)


def _parity_example(config, params, other):
    from jaxopt_lab.problems import programs

    task = programs.parity_chain(12)
    method = optimizers.make(task, config)
    x0 = jnp.asarray([1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0], jnp.int32)
    return registry.Example(method=method, x0=x0, params=params, other_params=other,
                            num_steps=6)


def _gumbel_example():
    import jax

    from jaxopt_lab.problems import programs

    task = programs.parity_chain(8)
    config = RelaxationConfig("gumbel")
    method = relaxations.make(task, config)
    x0 = initial_latent(jax.random.key(0), task.space, config)
    return registry.Example(method=method, x0=x0, params=relaxations.make_params(),
                            other_params=relaxations.make_params(learning_rate=1e-2),
                            num_steps=6)


# Every example has epsilon > 0 (or random tie-breaking on ties), so different keys give
# different runs; ``other_params`` changes values only.
registry.register("gradsearch_greedy", lambda: _parity_example(
    GradSearchConfig("greedy"), make_params(epsilon=0.5), make_params(epsilon=1.0)))
registry.register("gradsearch_avg_grad", lambda: _parity_example(
    GradSearchConfig("avg_grad"), make_params(beta=0.1, epsilon=0.5),
    make_params(beta=0.5, epsilon=0.3)))
registry.register("gradsearch_avg_move", lambda: _parity_example(
    GradSearchConfig("avg_move"), make_params(beta=0.1, epsilon=0.5),
    make_params(beta=0.5, epsilon=0.3)))
registry.register("gradsearch_plus", lambda: _discrete_example(
    GradSearchConfig("greedy", smoothing="sum_to_one", loss_scaling=True, stall_steps=2),
    make_params(epsilon=0.5), make_params(epsilon=1.0, smooth=0.05)))
registry.register("gradsearch_bop", lambda: _parity_example(
    GradSearchConfig("threshold"), make_params(beta=1e-5, threshold=1e-3, epsilon=0.5),
    make_params(beta=1e-4, threshold=1e-2, epsilon=0.3)))
registry.register("gradsearch_relax_gumbel", _gumbel_example)
