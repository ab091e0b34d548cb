"""``basin_hopping.minimize``: the one call finds known minima and refuses bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.basin_hopping import metrics, minimize
from jaxopt_lab.problems import landscapes, success


@pytest.mark.parametrize("method,local_steps", [pytest.param("bhs", None, marks=pytest.mark.slow),
                                               pytest.param("hybrid", 2, marks=pytest.mark.slow)])
def test_finds_the_styblinski_tang_minimum(method, local_steps):
    # f* = -39.166... d, at x_i = -2.9035... (a 1-D root, checked on a grid in
    # test_landscapes); 2-D has four basins
    problem = landscapes.styblinski_tang(2)
    res = minimize(problem.fn, problem.lower, problem.upper, method=method, num_chains=16,
                   num_steps=30, key=jax.random.key(0), local_steps=local_steps)
    np.testing.assert_allclose(float(res.f), problem.f_star, rtol=1e-6)
    assert success(problem, np.asarray(res.x, np.float64), radius=1e-4)
    assert res.trace.run_ended.shape == (16, 30)
    assert int(res.num_evals) == int(res.stats["num_evals_perturb"] + res.stats[
        "num_evals_local"]) > 0
    assert float(res.f) == float(jnp.min(res.stats["best_f"]))
    s = metrics.summarize(metrics.tally_trace(res.trace, problem, radius=1e-4))
    assert s.num_runs == int(res.stats["num_runs"])


@pytest.mark.slow
def test_readme_egg_holder_example_succeeds_in_float32():
    # 256 BH-S chains of 200 steps on Egg-holder: the float32 point nearest x* lies within
    # the paper's 1e-5 ball and the chains land on it (measured: 165 of 256; float64: 163)
    egg = landscapes.get("Egg-holder")
    res = minimize(egg.fn, egg.lower, egg.upper, num_chains=256, num_steps=200, sigma=10.0,
                   key=jax.random.key(2))
    s = metrics.summarize(metrics.tally_trace(res.trace, egg))
    assert s.num_success > 100 and s.reliability > 0.2
    # the lowest float32 value need not be the point nearest x*: f rounds to ~6e-5 there
    assert success(egg, np.asarray(res.x, np.float64), np.asarray(res.f, np.float64),
                   rule="fgap")


def test_bad_input():
    fn = landscapes.get("Rosenbrock").fn
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="method must be one of"):
        minimize(fn, [-1.0, -1.0], [1.0, 1.0], method="sa", key=key)
    with pytest.raises(ValueError, match="lower must be <"):
        minimize(fn, [1.0, 1.0], [-1.0, -1.0], key=key)
    with pytest.raises(ValueError, match="dim must be given"):
        minimize(fn, -1.0, 1.0, key=key)
    with pytest.raises(ValueError, match="num_chains"):
        minimize(fn, [-1.0, -1.0], [1.0, 1.0], num_chains=0, key=key)
    with pytest.raises(ValueError, match="objective"):
        minimize(lambda x: x, [-1.0, -1.0], [1.0, 1.0], key=key)
    with pytest.raises(ValueError, match="ratio"):
        minimize(fn, [-1.0, -1.0], [1.0, 1.0], method="hybrid", ratio=0, key=key)
