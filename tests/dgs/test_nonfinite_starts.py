"""Non-finite starts: ``Info.current_nonfinite`` of the DGS family and random search, and the
restarts of ``dgs.minimize``.

The objective is the sphere where ``x[0] < 1`` and NaN (or ``+-inf``) elsewhere; the
reference for the flag is that objective evaluated in NumPy at the carried current point.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import random_search, run
from jaxopt_lab.core import split_run_key
from jaxopt_lab.dgs import adadgs, dgs, dgs_optax, es, fd, minimize, nesterov
from jaxopt_lab.dgs.minimize import METHODS, restarting

DIM, STEPS = 2, 5
BAD = {"dgs": np.nan, "adadgs": np.inf, "dgs_optax": np.nan, "es": -np.inf,
       "nesterov": np.nan, "fd": np.inf, "random_search": np.nan}


def objective(bad):
    return lambda x: jnp.where(x[0] < 1.0, jnp.sum(x * x), jnp.asarray(bad, x.dtype))


def reference(bad, x):
    """``f`` at each row of ``x`` ``[n, dim]`` in NumPy float64."""
    x = np.asarray(x, np.float64)
    return np.where(x[:, 0] < 1.0, np.sum(x * x, axis=1), bad)


def build(name, f):
    """``(method, params)`` of one module on the box ``[-2, 2]^DIM`` (width 4)."""
    if name == "random_search":  # local steps too short to leave the bad region
        return (random_search.make(f, random_search.Config(DIM, num_samples=4, mode="local")),
                random_search.params(-2.0, 2.0, step_size=1e-3))
    if name == "dgs":
        return dgs.make(f, dgs.Config(DIM, num_points=3)), dgs.params(4.0, DIM)
    if name == "adadgs":
        return adadgs.make(f, adadgs.Config(DIM, num_points=3)), adadgs.params(4.0, DIM)
    if name == "dgs_optax":
        return (dgs_optax.make(f, dgs_optax.Config(DIM, num_points=3)),
                dgs_optax.params(width=4.0))
    module = {"es": es, "nesterov": nesterov, "fd": fd}[name]
    return module.make(f, module.Config(DIM)), module.params(4.0, DIM)


def states_and_trace(method, key, starts, params):
    """The trace of ``run`` from each start ``[n, dim]`` and the state after every step,
    stacked ``[n, STEPS, ...]`` (one scan per start, vmapped)."""
    init_key, step_keys = split_run_key(key, STEPS)

    def body(state, k):
        state, info = method.step(k, state, params)
        return state, (state, info)

    def one(x0):
        return jax.lax.scan(body, method.init(init_key, x0, params), step_keys)[1]

    return jax.jit(jax.vmap(one))(starts)


def _default_then_slow(names, keep):
    """The methods in ``keep`` run in the default suite, the others in the slow tier."""
    return [n if n in keep else pytest.param(n, marks=pytest.mark.slow) for n in names]


@pytest.mark.parametrize("name", _default_then_slow(sorted(BAD), keep=("dgs", "random_search")))
def test_flag_matches_value_at_current_point(name):
    bad = BAD[name]
    method, params = build(name, objective(bad))
    starts = jnp.array([[1.5, 0.5], [-1.0, 0.5]])  # in the bad region, then finite
    states, trace = states_and_trace(method, jax.random.key(0), starts, params)
    current = states.best_x if name == "random_search" else states.x
    expected = ~np.isfinite(reference(bad, np.reshape(current, (-1, DIM))))
    flag = np.asarray(trace.current_nonfinite)
    assert flag.shape == (2, STEPS) and flag.dtype == np.bool_
    assert flag[0, 0] and not flag[1, 0]  # no method leaves the bad region in one step
    np.testing.assert_array_equal(flag.reshape(-1), expected)


@pytest.mark.parametrize("name", _default_then_slow(METHODS, keep=("dgs",)))
def test_minimize_restarts_a_nonfinite_start(name):
    bad = BAD[name]
    f = objective(bad)
    starts = jnp.array([[-1.0, 0.5], [1.5, 0.5]])  # finite, then in the bad region
    # fresh points: uniform in the box, or (without bounds) x0 + width N(0, I)
    domain = dict(width=4.0) if name in ("es", "nesterov", "fd") else dict(bounds=(-2.0, 2.0))
    res = minimize(f, starts, method=name, num_steps=STEPS, key=jax.random.key(2),
                   **domain, **options(name))
    restarts = np.asarray(res.stats["num_nonfinite_restarts"])
    assert restarts.shape == (2,) and restarts[0] == 0 and restarts[1] >= 1
    assert np.all(np.isfinite(np.asarray(res.stats["best_f_per_start"])))
    assert np.isfinite(float(res.f))
    assert float(res.f) == pytest.approx(float(reference(bad, res.x[None])[0]), rel=1e-5)
    # every fresh point costs one evaluation on top of the method's own
    cfg = minimize_config(name)
    assert int(res.num_evals) == 2 * (1 + STEPS * cfg.evals_per_step) + int(restarts.sum())


def options(name):
    return {} if name in ("es", "nesterov", "fd") else {"num_points": 3}


def minimize_config(name):
    module = {"dgs": dgs, "adadgs": adadgs, "dgs_optax": dgs_optax, "es": es,
              "nesterov": nesterov, "fd": fd}[name]
    return module.Config(DIM, **options(name))


def test_restart_gives_up_after_max_tries_per_step():
    f = lambda x: jnp.asarray(jnp.nan, x.dtype) + jnp.sum(x)  # nowhere finite
    method, params = build("dgs", f)
    final, trace = run(restarting(method, bounds=(-2.0, 2.0), max_tries=3), jax.random.key(4),
                       jnp.zeros(DIM), params, STEPS)
    assert int(final.num_restarts) == 3 * STEPS
    assert np.all(np.asarray(trace.current_nonfinite))
    assert not np.isfinite(float(final.inner.best_f))
    assert int(final.inner.num_evals) == 1 + STEPS * (method.config.evals_per_step + 3)


@pytest.mark.parametrize("name", ["dgs"])
def test_finite_problem_is_bit_identical_to_run(name):
    f = lambda x: jnp.sum((x - 0.3) ** 2) + jnp.sum(jnp.cos(3.0 * x))
    x0 = jnp.array([1.0, -0.5])
    key = jax.random.key(5)
    res = minimize(f, x0, method=name, num_steps=STEPS, key=key, width=4.0, **options(name))
    assert int(res.stats["num_nonfinite_restarts"][0]) == 0
    method = {"dgs": dgs, "adadgs": adadgs, "nesterov": nesterov}[name]
    solver = method.make(f, minimize_config(name))
    params = (method.params(4.0, DIM, horizon=float(STEPS)) if name != "adadgs"
              else method.params(4.0, DIM))
    run_key = jax.random.split(key, 1)
    final, trace = jax.jit(jax.vmap(lambda k, x: run(solver, k, x, params, STEPS)))(
        run_key, x0[None])
    np.testing.assert_array_equal(np.asarray(res.x), np.asarray(final.best_x[0]))
    np.testing.assert_array_equal(np.asarray(res.f), np.asarray(final.best_f[0]))
    assert int(res.num_evals) == int(final.num_evals[0])
    for a, b in zip(jax.tree.leaves(res.trace), jax.tree.leaves(trace)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[0])
