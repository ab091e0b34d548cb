"""BH / BH-S / hybrid chains: Metropolis statistics, run protocol, vmap == loop, search."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import registry
from jaxopt_lab.basin_hopping import (BHConfig, LBFGSConfig, make, make_params,
                                      metropolis_accept, run_budget, run_to_completion,
                                      summarize, uniform_starts)
from jaxopt_lab.core import run
from jaxopt_lab.problems import landscapes


@pytest.mark.parametrize("delta,temperature", [(1.0, 2.0), (0.3, 0.1), (-0.5, 1.0)])
def test_metropolis_acceptance_rate(delta, temperature):
    n = 40000
    accept = jax.jit(metropolis_accept)(jax.random.key(0), jnp.full((n,), delta),
                                        jnp.zeros((n,)), jnp.float32(temperature))
    p = min(1.0, np.exp(-delta / temperature))
    rate = float(np.mean(np.asarray(accept)))
    assert abs(rate - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-9


def test_metropolis_zero_temperature_ties_and_inf():
    f_new = jnp.asarray([0.0, 1.0, -1.0, jnp.inf, 1e-6])
    acc = metropolis_accept(jax.random.key(1), f_new, jnp.zeros(5), jnp.float32(0.0))
    assert np.asarray(acc).tolist() == [True, False, True, False, False]
    acc = metropolis_accept(jax.random.key(1), jnp.full((1000,), jnp.inf), jnp.zeros(1000),
                            jnp.float32(1e6))
    assert not bool(jnp.any(acc))


# Chain-logic tests whose outcome does not depend on the local minimiser use the cheaper
# backtracking line search (it compiles faster); the default Moré-Thuente one runs in the
# registered examples (contract and determinism tests) and the non-finite tests here.
CHEAP = LBFGSConfig(line_search="backtracking")


def _flat(x):
    return jnp.sum(x * 0.0)


@pytest.mark.parametrize("restart,local_steps", [(True, None), (False, None), (True, 2)])
def test_run_ends_after_patience_plus_one_nonimproving_perturbations(restart, local_steps):
    # On a flat landscape no perturbation ever improves: a run ends after exactly
    # patience + 1 perturbations (SciPy: niter_success); with restart, the next step starts
    # a new run, so runs take patience + 2 steps each.
    patience, steps = 3, 17
    # (asynchronous mode: the local step converges at once here, so a tick is an iteration)
    method = make(_flat, BHConfig(dim=2, kind="bh", restart=restart, local_steps=local_steps,
                                  local=CHEAP))
    params = make_params([-1.0, -1.0], [1.0, 1.0], patience=patience, temperature=0.0)
    x0 = jnp.zeros((2, 2))
    final, trace = jax.jit(lambda k: run(method, k, x0, params, steps))(jax.random.key(0))
    ended = np.asarray(trace.run_ended[:, 0])
    if restart:
        expected = [(t + 1 - (patience + 1)) % (patience + 2) == 0 and t + 1 >= patience + 1
                    for t in range(steps)]
        assert ended.tolist() == expected
        assert int(final.num_runs[0]) == sum(expected)
    else:
        assert ended.tolist() == [t + 1 == patience + 1 for t in range(steps)]
        assert bool(final.finished[0]) and int(final.num_runs[0]) == 1
        assert int(final.stall[0]) == patience + 1


def test_hybrid_schedule_follows_the_authors_counter():
    ex = registry.get("bh_hybrid")
    go = jax.jit(lambda k, p: run(ex.method, k, ex.x0, p, 9)[1].skipped)
    s = np.arange(1, 10)
    for m in (3, -3, 1, -1, 2):
        skipped = np.asarray(go(jax.random.key(0), ex.params._replace(ratio=jnp.int32(m))))
        expected = (s % abs(m) != 0) if m > 0 else (s % abs(m) == 0)
        assert skipped.tolist() == expected.tolist(), m


@pytest.mark.parametrize("name", ["bh_hybrid", "bh_hybrid_async"])
def test_each_chain_is_independent_of_the_others_and_runs_are_deterministic(name):
    # vmap over chains == a loop over chains: chain i's path depends only on (key, i, x0[i]),
    # so replacing the other chains' starts leaves it bit-identical.
    ex = registry.get(name)
    go = jax.jit(lambda k, x0: run(ex.method, k, x0, ex.params, 6)[0])
    key = jax.random.key(3)
    batch = go(key, ex.x0)
    again = go(key, ex.x0)
    for a, b in zip(jax.tree.leaves(batch), jax.tree.leaves(again)):
        np.testing.assert_array_equal(a, b)
    for i in range(ex.x0.shape[0]):
        others = jnp.roll(ex.x0, 1, axis=0).at[i].set(ex.x0[i])
        alone = go(key, others)
        np.testing.assert_allclose(alone.best_x[i], batch.best_x[i], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(alone.best_f[i], batch.best_f[i], rtol=1e-6, atol=1e-6)
        assert int(alone.num_evals[i]) == int(batch.num_evals[i])
    different = go(jax.random.key(4), ex.x0)
    assert not np.array_equal(np.asarray(different.x), np.asarray(batch.x))


def test_random_walk_jump_statistic_is_the_rayleigh_mean():
    # At a huge temperature every move is accepted; nu_1 is then E|W| = sqrt(sigma) sqrt(pi/2)
    # for the variance convention in 2-D, whatever the landscape.
    def bowl(x):
        return 1e-3 * jnp.sum(x ** 2)

    method = make(bowl, BHConfig(dim=2, kind="bh",
                                 local=LBFGSConfig(max_iter=5, line_search="backtracking")))
    params = make_params([-100.0, -100.0], [100.0, 100.0], sigma_bh=4.0, temperature=1e9,
                         patience=1000)
    x0 = uniform_starts(jax.random.key(0), params.lower, params.upper, 256)
    final, _ = jax.jit(lambda k: run(method, k, x0, params, 20))(jax.random.key(1))
    s = summarize(final)
    np.testing.assert_allclose(s.nu_1, 2.0 * np.sqrt(np.pi / 2), rtol=0.03)
    assert s.p_s == 0.0 and np.isnan(s.nu_s)


@pytest.mark.parametrize("local_steps", [pytest.param(None, marks=pytest.mark.slow), 2])
def test_bhs_finds_schwefel_global_minimum(local_steps):
    ls = landscapes.schwefel07(2)
    common = dict(x_star=ls.x_star, f_star=ls.f_star, radius=1e-2, f_tol=1e-4, patience=50)
    bhs = make(ls.fn, BHConfig(dim=2, kind="bhs", max_skips=25, restart=False,
                               local_steps=local_steps))
    p = make_params(ls.lower, ls.upper, sigma_skip=7.0, num_skips=25, temperature=0.0, **common)
    x0 = uniform_starts(jax.random.key(0), ls.lower, ls.upper, 64)
    final = run_to_completion(bhs, jax.random.key(1), x0, p, max_steps=2000)
    assert bool(jnp.all(final.finished))
    found = np.asarray(final.run_best_f) <= 1e-4  # the f-gap rule with f_tol = 1e-4
    # paper Table 5.1: rho_s = 61.9% for BH-S and 4.1% for BH
    assert found.mean() >= 0.35
    assert int(jnp.sum(final.num_success_f)) == int(found.sum())
    # T = 0: each chain's current value never went up, so its best is its current value
    np.testing.assert_array_equal(np.asarray(final.fx), np.asarray(final.run_best_f))


def test_nonfinite_objective_is_counted_and_never_accepted():
    def holey(x):
        return jnp.where(x[0] > 2.0, jnp.nan, jnp.sum((x - 1.0) ** 2) + jnp.sin(5 * x[1]))

    method = make(holey, BHConfig(dim=2, kind="bhs", max_skips=10))
    params = make_params([-4.0, -4.0], [4.0, 4.0], sigma_skip=2.0, num_skips=10,
                         temperature=1.0)
    x0 = uniform_starts(jax.random.key(2), [-4.0, -4.0], [2.0, 4.0], 16)
    init = jax.jit(method.init)(jax.random.key(0), x0, params)
    final, trace = jax.jit(lambda k: run(method, k, x0, params, 8))(jax.random.key(3))
    assert int(jnp.sum(final.num_nonfinite)) > 0
    # Info.num_nonfinite of every step adds up to the state's count (init's included)
    assert int(jnp.sum(final.num_nonfinite)) == int(jnp.sum(init.num_nonfinite)) + int(
        jnp.sum(trace.num_nonfinite))
    assert bool(jnp.all(jnp.isfinite(final.fx))) and bool(jnp.all(jnp.isfinite(final.x)))
    assert bool(jnp.all(final.x[:, 0] <= 2.0))


def test_budget_run_counts_only_finished_runs():
    method = make(_flat, BHConfig(dim=2, kind="bhs", max_skips=4, restart=True, local=CHEAP))
    params = make_params([-1.0, -1.0], [1.0, 1.0], num_skips=4, patience=2)
    res = run_budget(method, jax.random.key(0), params, num_chains=3, budget_s=1e6,
                     steps_per_call=8, max_calls=2)
    # step 1 starts every chain's run; runs take patience + 2 = 4 steps: end at 4, 8, 12, 16
    assert res.num_steps == 16 and res.summary.num_runs == 3 * 4
    assert res.wall_s > 0 and res.cpu_s > 0


def test_bad_input_raises_before_tracing():
    ls = landscapes.get("Eggcrate")
    method = make(ls.fn, BHConfig(dim=2, kind="hybrid", max_skips=5))
    good = make_params(ls.lower, ls.upper, num_skips=5)
    x0 = jnp.zeros((2, 2))
    key = jax.random.key(0)
    cases = {
        "lower": good._replace(lower=jnp.asarray([5.0, -5.0])),
        "shape": good._replace(lower=jnp.zeros(3), upper=jnp.ones(3)),
        "sigma_bh": good._replace(sigma_bh=jnp.float32(0.0)),
        "sigma_skip": good._replace(sigma_skip=jnp.float32(-1.0)),
        "num_skips": good._replace(num_skips=jnp.int32(0)),
        "temperature": good._replace(temperature=jnp.float32(-1.0)),
        "ratio": good._replace(ratio=jnp.int32(0)),
        "params.lower": good._replace(lower=jnp.asarray([jnp.nan, -5.0])),
        "params.sigma_skip": good._replace(sigma_skip=jnp.float32(jnp.nan)),
        "params.gtol": good._replace(gtol=jnp.float32(-1e-5)),
        "params.ftol": good._replace(ftol=jnp.float32(jnp.inf)),
        "params.radius": good._replace(radius=jnp.float32(-1.0)),
        "params.x_star": good._replace(x_star=jnp.zeros((2, 3))),
    }
    for match, params in cases.items():
        with pytest.raises(ValueError, match=match):
            method.init(key, x0, params)
    with pytest.raises(ValueError, match="num_skips"):
        method.init(key, x0, good._replace(num_skips=jnp.int32(6)))
    with pytest.raises(ValueError, match="inside"):
        method.init(key, jnp.full((2, 2), 7.0), good)
    with pytest.raises(ValueError, match="x0"):
        method.init(key, jnp.zeros((2, 3)), good)
    with pytest.raises(ValueError, match="max_skips"):
        BHConfig(dim=2, max_skips=0)
    with pytest.raises(ValueError, match="kind"):
        BHConfig(dim=2, kind="sa")
    with pytest.raises(ValueError, match="skip_radii"):
        BHConfig(dim=2, skip_radii="mixed")


def test_nonfinite_values_are_counted_in_info_async():
    # (the synchronous step is checked in the test above)
    def holey(x):
        return jnp.where(x[0] > 1.0, jnp.inf, jnp.sum((x - 0.5) ** 2) + jnp.cos(4 * x[1]))

    params = make_params([-3.0, -3.0], [3.0, 3.0], sigma_skip=1.5, num_skips=6)
    x0 = uniform_starts(jax.random.key(5), [-3.0, -3.0], [1.0, 3.0], 8)
    method = make(holey, BHConfig(dim=2, kind="bhs", max_skips=6, local_steps=2))
    init = jax.jit(method.init)(jax.random.key(0), x0, params)
    final, trace = jax.jit(lambda k: run(method, k, x0, params, 10))(jax.random.key(6))
    per_step = int(jnp.sum(trace.num_nonfinite))
    assert per_step > 0
    assert int(jnp.sum(final.num_nonfinite)) == int(jnp.sum(init.num_nonfinite)) + per_step
    assert bool(jnp.all(jnp.isfinite(final.fx))) and bool(jnp.all(final.x[:, 0] <= 1.0))


def test_run_budget_bad_input():
    method = make(_flat, BHConfig(dim=2, kind="bhs", max_skips=4, restart=True, local=CHEAP))
    params = make_params([-1.0, -1.0], [1.0, 1.0], num_skips=4)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="budget_s"):
        run_budget(method, key, params, num_chains=2, budget_s=0.0)
    with pytest.raises(ValueError, match="clock"):
        run_budget(method, key, params, num_chains=2, budget_s=1.0, clock="gpu")
    with pytest.raises(ValueError, match="num_chains"):
        run_budget(method, key, params, num_chains=0, budget_s=1.0)
    frozen = make(_flat, BHConfig(dim=2, kind="bhs", max_skips=4, restart=False))
    with pytest.raises(ValueError, match="restart"):
        run_budget(frozen, key, params, num_chains=2, budget_s=1.0)
    with pytest.raises(ValueError, match="restart"):
        run_to_completion(method, key, jnp.zeros((2, 2)), params, max_steps=3)
    with pytest.raises(ValueError, match="skip_dtype"):
        BHConfig(dim=2, skip_dtype="int32")
