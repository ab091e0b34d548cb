"""Basin-hopping chains that start where the objective is NaN or infinite.

``Info.current_nonfinite`` flags a chain whose current local minimum has no finite value;
``minimize`` restarts such a chain from a fresh uniform point and counts the restarts.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.basin_hopping import _chain, bh, bhs, hybrid, minimize
from jaxopt_lab.core import run, split_run_key

LOWER, UPPER = np.full(2, -1.0, np.float32), np.full(2, 1.0, np.float32)


def bowl(x):
    return jnp.sum((x + 0.5) ** 2)


def holed(x):
    """The bowl, NaN where ``x0 > 0.25`` and ``+inf`` where ``x0 <= 0.25, x1 > 0.5``."""
    return jnp.where(x[0] > 0.25, jnp.nan, jnp.where(x[1] > 0.5, jnp.inf, bowl(x)))


# a finite start, a NaN start and an infinite start; the walk's sigma is far too small to
# leave a non-finite region, so those chains stay there (patience keeps the run going)
STARTS = jnp.asarray([[-0.2, 0.1], [0.8, 0.0], [-0.5, 0.9]], jnp.float32)
SIGMA = 0.005


def _method(name, patience, local_steps=None):
    if name == "bh":
        cfg, p = bh.Config(dim=2, local_steps=local_steps), bh.params(
            LOWER, UPPER, sigma=SIGMA, patience=patience)
        return bh.make(holed, cfg), p
    if name == "bhs":
        cfg = bhs.Config(dim=2, max_skips=4, local_steps=local_steps)
        return bhs.make(holed, cfg), bhs.params(LOWER, UPPER, sigma=SIGMA, patience=patience)
    cfg = hybrid.Config(dim=2, max_skips=4, local_steps=local_steps)
    return hybrid.make(holed, cfg), hybrid.params(LOWER, UPPER, sigma_skip=SIGMA,
                                                  patience=patience)


@functools.lru_cache(maxsize=None)
def _compiled(name, local_steps=None, num_steps=5):
    """``params -> (info, x, fx, phase)`` of the three chains after every step (compiled once
    per method: the patience is a number of ``params``)."""
    method, _ = _method(name, 0, local_steps)

    def one(key, x0, params):
        init_key, step_keys = split_run_key(key, num_steps)

        def body(state, k):
            state, info = method.step(k, state, params)
            return state, (info, state.x, state.fx, state.phase)

        return jax.lax.scan(body, method.init(init_key, x0, params), step_keys)[1]

    keys = jax.random.split(jax.random.key(0), STARTS.shape[0])
    return jax.jit(lambda p: jax.vmap(one, in_axes=(0, 0, None))(keys, STARTS, p))


def _steps(name, patience, local_steps=None):
    out = _compiled(name, local_steps)(_method(name, patience, local_steps)[1])
    return jax.tree.map(np.asarray, out)


@pytest.mark.parametrize("name", [pytest.param("bh", marks=pytest.mark.slow), "bhs",
                                  pytest.param("hybrid", marks=pytest.mark.slow)])
def test_flag_matches_the_objective_at_the_current_minimum(name):
    info, x, fx, phase = _steps(name, patience=100)
    flag = info.current_nonfinite
    assert flag.dtype == bool and flag.shape == (3, 5)
    # an independent evaluation at the chain's current point after every step
    expected = ~np.isfinite(np.asarray(jax.vmap(jax.vmap(holed))(x)))
    np.testing.assert_array_equal(flag, expected)
    assert (phase == _chain.PERTURBING).all()  # every step's current point has a value
    np.testing.assert_array_equal(flag, [[False] * 5, [True] * 5, [True] * 5])
    assert (fx[1:] == np.inf).all() and np.isfinite(fx[0]).all()


@pytest.mark.slow
def test_flag_is_false_before_a_start_is_minimised():
    # patience 0: the stuck chains' runs end after one perturbation and the next run's
    # start (fx = +inf, not yet evaluated) is not reported as non-finite
    info, x, fx, phase = _steps("bh", patience=0)
    starting = phase == _chain.STARTING
    assert starting[1:].any()
    assert not info.current_nonfinite[starting].any() and (fx[starting] == np.inf).all()
    has_value = ~starting
    expected = ~np.isfinite(np.asarray(jax.vmap(jax.vmap(holed))(x)))
    np.testing.assert_array_equal(info.current_nonfinite[has_value], expected[has_value])
    # asynchronous mode: while the finite start's minimisation runs, no value yet
    info, x, fx, phase = _steps("bh", patience=100, local_steps=1)
    busy = phase == _chain.MINIMISING_START
    assert busy[0, 0] and not info.current_nonfinite[busy].any()
    assert info.current_nonfinite[1:].all()  # a non-finite start ends its minimisation at once


def _old_minimize(objective, key, num_chains, num_steps):
    """``minimize(method="bh")``'s chains as plain :func:`run` (no restarts)."""
    config = bh.Config(dim=2)
    params = bh.params(LOWER, UPPER, sigma=SIGMA, patience=50)
    chain = bh.make(objective, config)
    start_key, run_key = jax.random.split(key)
    lo, hi = jnp.asarray(LOWER), jnp.asarray(UPPER)
    x0 = lo[None] + jax.random.uniform(start_key, (num_chains, 2), jnp.float32) * (hi - lo)[None]
    keys = jax.vmap(lambda c: jax.random.fold_in(run_key, c))(jnp.arange(num_chains))
    return jax.jit(jax.vmap(lambda k, x: run(chain, k, x, params, num_steps)))(keys, x0)


def test_minimize_restarts_nonfinite_chains():
    key = jax.random.key(3)
    res = minimize(holed, LOWER, UPPER, method="bh", num_chains=6, num_steps=8, key=key,
                   sigma=SIGMA)
    restarts = np.asarray(res.stats["num_nonfinite_restarts"])
    flags = np.asarray(res.trace.current_nonfinite)
    assert restarts.shape == (6,) and restarts.dtype == np.int32
    assert restarts.sum() >= 1
    # every non-finite report restarted its chain, whose next step minimises a fresh start
    np.testing.assert_array_equal(restarts, flags.sum(axis=1))
    assert np.asarray(res.trace.run_started)[:, 1:][flags[:, :-1]].all()
    assert np.isfinite(float(res.f)) and float(res.f) == float(holed(res.x))
    # a chain restarts at its first non-finite report: until then it is the plain chain
    # (test_flag_matches_the_objective_at_the_current_minimum: without restarts such a
    # chain stays on its non-finite start)
    assert (flags[:, 0] == (restarts >= 1)).any()


@pytest.mark.slow
def test_minimize_on_a_finite_problem_is_plain_run():
    key = jax.random.key(4)
    res = minimize(bowl, LOWER, UPPER, method="bh", num_chains=4, num_steps=6, key=key,
                   sigma=SIGMA)
    assert (np.asarray(res.stats["num_nonfinite_restarts"]) == 0).all()
    final, trace = _old_minimize(bowl, key, 4, 6)
    for got, want in zip(jax.tree.leaves(res.trace), jax.tree.leaves(trace)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    np.testing.assert_array_equal(np.asarray(res.stats["best_f"]), np.asarray(final.best_f))
    assert int(res.num_evals) == int(jnp.sum(final.num_evals))
    best = int(jnp.argmin(final.best_f))
    np.testing.assert_array_equal(np.asarray(res.x), np.asarray(final.best_x[best]))
