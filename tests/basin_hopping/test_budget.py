"""Budgeted runs and Table 3.1's time split: the same chains as ``jaxopt_lab.run``, only
finished runs counted, the two halves composing to the step, every evaluation where it
belongs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.basin_hopping import bh, bhs, budget, metrics
from jaxopt_lab.basin_hopping.local import LBFGSConfig
from jaxopt_lab.core import run
from jaxopt_lab.problems import Problem

CHEAP = LBFGSConfig(line_search="backtracking")
BOX = ([-1.0, -1.0], [1.0, 1.0])


def _flat(x):
    return jnp.sum(x * 0.0)


def _wavy(x):
    return jnp.sum(0.1 * x ** 2 + jnp.sin(3.0 * x))


def _problem(fn, lo, hi, x_star, f_star):
    return Problem("p", fn, 2, np.full(2, lo), np.full(2, hi), np.asarray([x_star], float),
                   f_star)


FLAT = _problem(_flat, -1.0, 1.0, [0.0, 0.0], 0.0)


@pytest.mark.slow
def test_budget_run_counts_only_finished_runs():
    method = bhs.make(_flat, bhs.Config(dim=2, max_skips=4, local=CHEAP))
    params = bhs.params(*BOX, patience=2)
    res = budget.run_budget(method, metrics.success_test(FLAT, radius=10.0), jax.random.key(0),
                            params, num_chains=3, budget_s=1e6, steps_per_call=8, max_calls=2)
    # step 1 starts every chain's run; runs take patience + 2 = 4 steps: end at 4, 8, 12, 16
    assert res.num_steps == 16 and res.summary.num_runs == 3 * 4
    assert res.summary.num_success == 12  # the whole box is within radius 10
    assert res.wall_s > 0 and res.cpu_s > 0 and res.compile_s >= 0
    assert res.tally.num_runs.shape == (3,) and res.state.x.shape == (3, 2)


@pytest.mark.slow
def test_run_count_stop_counts_each_chains_first_runs():
    # Reference: the same program without the stop, one step per call, read after every
    # step; each chain's tally is taken at the step its n-th run ended.
    config = bhs.Config(dim=2, max_skips=6, local=LBFGSConfig(max_iter=15))
    method = bhs.make(_wavy, config)
    params = bhs.params([-4.0, -4.0], [4.0, 4.0], sigma=1.5, temperature=0.5, patience=2)
    problem = _problem(_wavy, -4.0, 4.0, [-0.5167, -0.5167], -0.1033)
    test = metrics.success_test(problem, radius=1e-2, f_tol=1e-2)
    key, n_chains, n_runs = jax.random.key(3), 6, 3

    def go(**kw):
        return budget.run_budget(method, test, key, params, num_chains=n_chains,
                                 budget_s=1e6, steps_per_call=1, **kw)

    res = go(runs_per_chain=n_runs)
    assert res.complete and np.all(np.asarray(res.tally.num_runs) == n_runs)
    tallies = [go(max_calls=k).tally for k in range(1, res.num_steps + 1)]
    runs = np.stack([np.asarray(t.num_runs) for t in tallies])  # [steps, chains]
    # the stop waits for the slowest chain: the others finish more runs meanwhile
    assert runs[-1].min() == n_runs and runs[-1].max() > n_runs
    for c in range(n_chains):
        ref = jax.tree.map(lambda a: a[c], tallies[np.flatnonzero(runs[:, c] == n_runs)[0]])
        got = jax.tree.map(lambda a: a[c], res.tally)
        for name, a, b in zip(metrics.Tally._fields, got, ref):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)


@pytest.mark.slow
def test_run_count_stop_is_capped_by_the_budget():
    method = bhs.make(_flat, bhs.Config(dim=2, max_skips=4, local=CHEAP))
    params = bhs.params(*BOX, patience=2)
    res = budget.run_budget(method, metrics.success_test(FLAT), jax.random.key(0), params,
                            num_chains=2, budget_s=1e6, steps_per_call=4, max_calls=2,
                            runs_per_chain=100)
    # runs take patience + 2 = 4 steps: 2 runs per chain in 8 steps, far from 100
    assert not res.complete and res.summary.num_runs == 4 and res.num_steps == 8


@pytest.mark.parametrize("local_steps", [None, 2])
@pytest.mark.slow
def test_time_split_follows_the_chains_of_run(local_steps):
    # the halves compose to the step: chain c is run(method, fold_in(key, c), x0_c, ...)
    config = bhs.Config(dim=2, max_skips=6, local=LBFGSConfig(max_iter=15),
                        local_steps=local_steps)
    phases = bhs.make_phases(_wavy, config)
    method = bhs.make(_wavy, config)
    params = bhs.params([-4.0, -4.0], [4.0, 4.0], sigma=1.5, temperature=0.5, patience=3)
    problem = _problem(_wavy, -4.0, 4.0, [-0.5167, -0.5167], -0.1033)
    test = metrics.success_test(problem, radius=1e-2, f_tol=1e-2)
    key, n, steps = jax.random.key(7), 5, 12 if local_steps is None else 40
    split = budget.time_split(phases, test, key, params, num_chains=n, num_steps=steps)
    _, states = budget.start(method, key, params, n)
    keys = jax.vmap(lambda c: jax.random.fold_in(key, c))(jnp.arange(n))
    final, trace = jax.jit(jax.vmap(lambda k, x: run(method, k, x, params, steps)))(
        keys, states.x)
    # (two compiled programs round the L-BFGS memory differently in the last bits)
    for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(split["state"])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    s = metrics.summarize(metrics.tally_trace(trace, problem, radius=1e-2, f_tol=1e-2))
    assert split["num_runs"] == s.num_runs > 0
    assert split["num_success"] == s.num_success
    assert split["evals_perturb"] == s.num_evals_perturb > 0
    assert split["evals_local"] == s.num_evals_local > 0
    for k in ("perturb", "local", "total"):
        assert split[f"{k}_s"] > 0 and split[f"{k}_cpu_s"] >= 0
    assert split["total_s"] == pytest.approx(split["perturb_s"] + split["local_s"])


@pytest.mark.parametrize("module,k_evals", [(bhs, 5), (bh, 0)])
def test_evaluation_split_on_a_flat_landscape(module, k_evals):
    # Flat f: the strict sublevel test never passes, so every skipping perturbation costs
    # exactly K evaluations and a random walk none; every local minimisation stops at its
    # start after one value+gradient. Runs take patience + 2 steps, the first a run's start
    # (no perturbation).
    patience, steps, n = 2, 13, 3
    extra = dict(max_skips=5) if module is bhs else {}
    phases = module.make_phases(_flat, module.Config(dim=2, local=CHEAP, **extra))
    params = module.params(*BOX, patience=patience)
    split = budget.time_split(phases, metrics.success_test(FLAT), jax.random.key(0), params,
                              num_chains=n, num_steps=steps)
    starts = len(range(0, steps, patience + 2))
    assert split["evals_perturb"] == n * k_evals * (steps - starts)
    assert split["evals_local"] == n * steps
    assert split["num_runs"] == n * (steps // (patience + 2))


@pytest.mark.slow
def test_budget_functions_of_traced_args_serve_several_objectives():
    fns = [_wavy, lambda x: jnp.sum((x - 1.0) ** 2)]
    bowl = _problem(fns[1], -3.0, 3.0, [1.0, 1.0], 0.0)
    config = bhs.Config(dim=2, max_skips=4, local=CHEAP)

    def build(index):
        return bhs.make_phases(lambda x: jax.lax.switch(index, fns, x), config)

    def build_test(index):
        return metrics.success_test(bowl, radius=1e-3)

    params = bhs.params([-3.0, -3.0], [3.0, 3.0], patience=2)
    out = budget.time_split(build, build_test, jax.random.key(1), params, num_chains=4,
                            num_steps=8, args=(jnp.int32(1),))
    # a convex bowl: every finished run ends at its minimiser
    assert out["num_runs"] > 0 and out["num_success"] == out["num_runs"]
    res = budget.run_budget(lambda i: bhs.make(lambda x: jax.lax.switch(i, fns, x), config),
                            build_test, jax.random.key(1), params, num_chains=4, budget_s=1e6,
                            steps_per_call=8, max_calls=1, args=(jnp.int32(1),))
    assert res.summary.num_runs == out["num_runs"]
    assert res.summary.num_success == out["num_success"]


def test_budget_bad_input():
    method = bhs.make(_flat, bhs.Config(dim=2, max_skips=4, local=CHEAP))
    params = bhs.params(*BOX)
    test = metrics.success_test(FLAT)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="budget_s"):
        budget.run_budget(method, test, key, params, num_chains=2, budget_s=0.0)
    with pytest.raises(ValueError, match="clock"):
        budget.run_budget(method, test, key, params, num_chains=2, budget_s=1.0, clock="gpu")
    with pytest.raises(ValueError, match="num_chains"):
        budget.run_budget(method, test, key, params, num_chains=0, budget_s=1.0)
    with pytest.raises(ValueError, match="params.sigma"):
        budget.run_budget(method, test, key, params._replace(sigma=jnp.float32(-1.0)),
                          num_chains=2, budget_s=1.0)
    with pytest.raises(ValueError, match="runs_per_chain"):
        budget.run_budget(method, test, key, params, num_chains=2, budget_s=1.0,
                          runs_per_chain=0)
    frozen = bhs.make(_flat, bhs.Config(dim=2, max_skips=4, restart=False))
    with pytest.raises(ValueError, match="restart"):
        budget.run_budget(frozen, test, key, params, num_chains=2, budget_s=1.0)
    phases = bhs.make_phases(_flat, bhs.Config(dim=2))
    with pytest.raises(ValueError, match="num_steps"):
        budget.time_split(phases, test, key, params, num_chains=2, num_steps=0)
    with pytest.raises(ValueError, match="phases"):
        budget.time_split(method, test, key, params, num_chains=1, num_steps=1)
