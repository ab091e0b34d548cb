"""Table 3.1's time split: the two halves of a step compose to the step, and the split
counts every evaluation where it belongs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.basin_hopping import (BHConfig, LBFGSConfig, make_params, make_phases,
                                      restart_state, time_split)
from jaxopt_lab.basin_hopping.metrics import summarize


def _wavy(x):
    return jnp.sum(0.1 * x ** 2 + jnp.sin(3.0 * x))


def _flat(x):
    return jnp.sum(x * 0.0)


@pytest.mark.parametrize("local_steps", [None, 2])
def test_phases_compose_to_the_step_and_time_split_follows_the_same_trajectory(local_steps):
    config = BHConfig(dim=2, kind="bhs", max_skips=6, local=LBFGSConfig(max_iter=15),
                      local_steps=local_steps)
    method, phases = make_phases(_wavy, config)
    params = make_params([-4.0, -4.0], [4.0, 4.0], sigma_bh=1.0, sigma_skip=1.5, num_skips=6,
                         temperature=0.5, patience=3, ratio=2, x_star=[[-0.5, -0.5]])
    key, n, steps = jax.random.key(7), 5, 12 if local_steps is None else 40
    step = jax.jit(method.step)
    state = restart_state(n, 2)
    for i in range(steps):
        state, _ = step(jax.random.fold_in(key, i), state, params)
    split = time_split(phases, key, params, num_chains=n, num_steps=steps)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(split["state"])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    s = summarize(state)
    assert split["num_runs"] == s.num_runs > 0
    assert split["evals_perturb"] == s.num_evals_perturb > 0
    assert split["evals_local"] == s.num_evals_local > 0
    for k in ("perturb", "local", "total"):
        assert split[f"{k}_s"] > 0 and split[f"{k}_cpu_s"] >= 0
    assert split["total_s"] == pytest.approx(split["perturb_s"] + split["local_s"])


@pytest.mark.parametrize("kind,k_evals", [("bhs", 5), ("bh", 0)])
def test_evaluation_split_on_a_flat_landscape(kind, k_evals):
    # Flat f: the strict sublevel test never passes, so every skipping perturbation costs
    # exactly K evaluations and a random walk none; every local minimisation stops at its
    # start after one value+gradient. Runs take patience + 2 steps, the first a restart
    # (a uniform start, no perturbation).
    patience, steps, n = 2, 13, 3
    config = BHConfig(dim=2, kind=kind, max_skips=5,
                      local=LBFGSConfig(line_search="backtracking"))
    _, phases = make_phases(_flat, config)
    params = make_params([-1.0, -1.0], [1.0, 1.0], num_skips=5, patience=patience)
    split = time_split(phases, jax.random.key(0), params, num_chains=n, num_steps=steps)
    restarts = len(range(0, steps, patience + 2))
    assert split["evals_perturb"] == n * k_evals * (steps - restarts)
    assert split["evals_local"] == n * steps
    assert split["num_runs"] == n * (steps // (patience + 2))


def test_time_split_with_a_traced_builder_serves_several_objectives():
    fns = [_wavy, lambda x: jnp.sum((x - 1.0) ** 2)]
    config = BHConfig(dim=2, kind="bhs", max_skips=4)

    def build(index):
        return make_phases(lambda x: jax.lax.switch(index, fns, x), config)[1]

    params = make_params([-3.0, -3.0], [3.0, 3.0], num_skips=4, patience=2,
                         x_star=[[1.0, 1.0]], f_star=0.0, radius=1e-3)
    out = time_split(build, jax.random.key(1), params, num_chains=4, num_steps=8,
                     args=(jnp.int32(1),))
    # a convex bowl: every finished run ends at its minimiser
    assert out["num_runs"] > 0 and out["num_success"] == out["num_runs"]


def test_time_split_bad_input():
    _, phases = make_phases(_flat, BHConfig(dim=2))
    params = make_params([-1.0, -1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="num_steps"):
        time_split(phases, jax.random.key(0), params, num_chains=2, num_steps=0)
    with pytest.raises(ValueError, match="num_chains"):
        time_split(phases, jax.random.key(0), params, num_chains=0, num_steps=1)
    with pytest.raises(ValueError, match="phases"):
        time_split(3, jax.random.key(0), params, num_chains=1, num_steps=1)
