"""GradSearch-family methods that start on a program whose loss is NaN.

``Info.current_nonfinite`` flags a non-finite loss of the current program; ``minimize``
starts such a restart again from a fresh random start and counts it.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run, split_run_key
from jaxopt_lab.gradsearch import bop, gradsearch, minimize, relaxation, ste
from jaxopt_lab.gradsearch.minimize import random_start
from jaxopt_lab.problems import programs

SPACE = programs.DiscreteSpace((("a", (3,), 2),))
INPUTS, TARGETS = np.zeros((1, 1), np.float32), np.asarray([[0.0, 1.0, 1.0]], np.float32)


def _task(holed):
    """Three output bits copying three binary parameters (solution ``a = (0, 1, 1)``);
    with ``holed``, every output is NaN where ``a[0]`` is more likely 1 than 0."""

    def predict(probs):
        p = probs["a"][:, 1]
        if holed:
            p = jnp.where(p[0] > 0.5, jnp.nan, p)
        return p[None, :]

    return programs.bce_task("holed" if holed else "copy", SPACE, predict, INPUTS, TARGETS)


HOLED, FINITE = _task(True), _task(False)
NUM_STEPS = 4

# per method: Config, Params, a start on a NaN program, a start on a finite one
CASES = {
    "gradsearch": (gradsearch.Config(), gradsearch.params(), [1, 0, 0], [0, 0, 0]),
    "bop": (bop.Config(), bop.params(), [1, 0, 0], [0, 0, 0]),
    "ste": (ste.Config(), ste.params(), [0.9, 0.2, 0.2], [0.2, 0.2, 0.2]),
    "relaxation": (relaxation.Config(), relaxation.params(),
                   [-1.0, 1.0, 1.0, -1.0, 1.0, -1.0], [1.0, -1.0, 1.0, -1.0, 1.0, -1.0]),
}
MODULES = {"gradsearch": gradsearch, "bop": bop, "ste": ste, "relaxation": relaxation}


@functools.lru_cache(maxsize=None)
def _steps(name):
    """Per step of both starts: ``(info, program before, program after)``."""
    config, params, bad, good = CASES[name]
    method = MODULES[name].make(HOLED, config)
    dtype = jnp.int32 if name in ("gradsearch", "bop") else jnp.float32
    starts = jnp.asarray([bad, good], dtype)

    def one(key, x0):
        init_key, step_keys = split_run_key(key, NUM_STEPS)

        def body(state, k):
            new, info = method.step(k, state, params)
            return new, (info, state.program, new.program)

        return jax.lax.scan(body, method.init(init_key, x0, params), step_keys)[1]

    keys = jax.random.split(jax.random.key(0), 2)
    return jax.tree.map(np.asarray, jax.jit(jax.vmap(one))(keys, starts))


# The first method runs in the default suite, the others in the slow tier.
DEFAULT_THEN_SLOW = [name if i == 0 else pytest.param(name, marks=pytest.mark.slow)
                     for i, name in enumerate(CASES)]


@pytest.mark.parametrize("name", DEFAULT_THEN_SLOW)
def test_flag_matches_the_loss_of_the_current_program(name):
    info, before, after = _steps(name)
    flag = info.current_nonfinite
    assert flag.dtype == bool and flag.shape == (2, NUM_STEPS)
    # GradSearch and Bop evaluate the program they start the step on; STE and the
    # relaxation the program of the updated latent point
    current = before if name in ("gradsearch", "bop") else after
    loss = np.asarray(jax.vmap(jax.vmap(HOLED.program_loss))(jnp.asarray(current)))
    np.testing.assert_array_equal(flag, ~np.isfinite(loss))
    assert flag[0, 0] and not flag[1].any()  # the NaN start, then the finite one
    if name != "gradsearch":  # the others never leave a NaN program by themselves
        assert flag[0].all()


def _old_minimize(task, name, key, num_restarts, max_steps):
    """``minimize``'s restarts as plain :func:`run` (no fresh starts)."""
    config, params = MODULES[name].Config(), MODULES[name].params()
    solver, start = MODULES[name].make(task, config), random_start(task, name, config)

    def one(k):
        return run(solver, k, start(jax.random.split(k)[0]), params, max_steps)

    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num_restarts))
    return jax.jit(jax.vmap(one))(keys)


@pytest.mark.parametrize("name", DEFAULT_THEN_SLOW)
def test_minimize_restarts_nonfinite_programs(name):
    res = minimize(HOLED, key=jax.random.key(1), method=name, num_restarts=6,
                   max_steps=NUM_STEPS)
    restarts = np.asarray(res.stats["num_nonfinite_restarts"])
    flags = np.asarray(res.trace.current_nonfinite)
    assert restarts.shape == (6,) and restarts.dtype == np.int32
    assert restarts.sum() >= 1
    np.testing.assert_array_equal(restarts, flags.sum(axis=1))  # every report restarted
    assert np.isfinite(float(res.f)) and float(res.f) == float(HOLED.program_loss(res.x))
    assert np.isfinite(np.asarray(res.stats["best_f"])).any()


@pytest.mark.parametrize("name", DEFAULT_THEN_SLOW)
def test_minimize_on_a_finite_task_is_plain_run(name):
    key = jax.random.key(2)
    res = minimize(FINITE, key=key, method=name, num_restarts=4, max_steps=NUM_STEPS)
    assert (np.asarray(res.stats["num_nonfinite_restarts"]) == 0).all()
    final, trace = _old_minimize(FINITE, name, key, 4, NUM_STEPS)
    for got, want in zip(jax.tree.leaves(res.trace), jax.tree.leaves(trace)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    np.testing.assert_array_equal(np.asarray(res.stats["best_f"]), np.asarray(final.best_f))
    assert int(res.num_evals) == int(jnp.sum(final.num_evals))
