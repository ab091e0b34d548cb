"""Contract examples of the GradSearch family (see ``tests/helpers/examples.py``).

GradSearch runs on NAND (categorical variables; random tie-breaking makes the key matter),
Bop and STE on the parity chain (binary only). Every example's ``Config`` reads some of its
``Params``, since the contract checks that other values change the run: plain greedy reads
none, so the greedy example is epsilon-greedy. Bop, STE and the deterministic relaxation
use no randomness after their (random) start point: ``deterministic=True``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxopt_lab.gradsearch import bop, gradsearch, relaxation, ste
from jaxopt_lab.problems import circuits, programs
from tests.helpers.examples import Example

_NAND = circuits.circuit("nand")
_PARITY = programs.parity_chain(6)


def _gradsearch(config):
    x0 = _NAND.space.sample(jax.random.key(2))
    return Example(
        module=gradsearch, objective=_NAND, config=config, x0=x0,
        params=gradsearch.params(beta=0.5), num_steps=8,
        other_params=gradsearch.params(beta=0.2, epsilon=0.5, smooth=0.2, loss_eps=0.05),
        extra_bad_inputs=(
            ("x0 outside a variable's values",
             lambda: gradsearch.make(_NAND, config).init(jax.random.key(0), x0.at[0].set(7),
                                                         gradsearch.params()), r"x0\[0\] = 7"),
            ("x0 not integer", lambda: gradsearch.make(_NAND, config).init(
                jax.random.key(0), x0.astype(jnp.float32), gradsearch.params()), "integers"),
            ("epsilon > 1", lambda: gradsearch.params(epsilon=1.5), "epsilon"),
            ("task of the wrong type", lambda: gradsearch.make(jnp.sum, config), "task"),
        ))


def _bop():
    return Example(
        module=bop, objective=_PARITY, config=bop.Config(),
        x0=jnp.asarray([1, 0, 1, 1, 0], jnp.int32), params=bop.params(gamma=0.5, tau=0.1),
        other_params=bop.params(gamma=0.05, tau=1.0), deterministic=True,
        extra_bad_inputs=(
            ("gamma = 0", lambda: bop.params(gamma=0.0), "gamma"),
            ("tau < 0", lambda: bop.params(tau=-1.0), "tau"),
            ("categorical task", lambda: bop.make(_NAND, bop.Config()), "binary"),
        ))


def _ste():
    return Example(
        module=ste, objective=_PARITY, config=ste.Config(),
        x0=ste.initial_point(jax.random.key(2), _PARITY), params=ste.params(learning_rate=0.05),
        other_params=ste.params(learning_rate=0.01), num_steps=10, deterministic=True,
        best_x_shape=(_PARITY.space.num_vars,),
        extra_bad_inputs=(
            ("learning_rate <= 0", lambda: ste.params(learning_rate=0.0), "learning_rate"),
            ("categorical task", lambda: ste.make(_NAND, ste.Config()), "binary"),
        ))


def _relaxation(kind, deterministic):
    config = relaxation.Config(kind=kind, regularise=True, num_anneal_steps=4)
    return Example(
        module=relaxation, objective=_PARITY, config=config,
        x0=relaxation.initial_point(jax.random.key(3), _PARITY, config),
        params=relaxation.params(learning_rate=0.1),
        other_params=relaxation.params(learning_rate=0.05, reg=0.5, temp_start=2.0,
                                       temp_end=0.5, gumbel_temp=1.0, gumbel_decay=0.9),
        deterministic=deterministic, best_x_shape=(_PARITY.space.num_vars,),
        extra_bad_inputs=(
            ("unknown kind", lambda: relaxation.Config(kind="annealing"), "kind"),
            ("gumbel_decay > 1", lambda: relaxation.params(gumbel_decay=1.5), "gumbel_decay"),
        ))


EXAMPLES = {
    "gradsearch:greedy": lambda: _gradsearch(gradsearch.Config(epsilon_greedy=True)),
    "gradsearch:avg_grad": lambda: _gradsearch(gradsearch.Config(rule="avg_grad")),
    "gradsearch:avg_move": lambda: _gradsearch(gradsearch.Config(rule="avg_move")),
    "gradsearch:plus": lambda: _gradsearch(gradsearch.Config.plus(stall_steps=2)),
    "gradsearch:plus_soft": lambda: _gradsearch(gradsearch.Config.plus_soft(stall_steps=2)),
    "bop": _bop,
    "ste": _ste,
    "relaxation:temp_softmax": lambda: _relaxation("temp_softmax", True),
    "relaxation:gumbel": lambda: _relaxation("gumbel", False),
}
