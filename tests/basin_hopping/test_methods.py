"""BH / BH-S / hybrid chains: Metropolis statistics, the run protocol, the hybrid's
per-chain schedule, vmap == separate runs, the search itself, non-finite values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.basin_hopping import bh, bhs, hybrid, metrics
from jaxopt_lab.basin_hopping._chain import MINIMISING_START, STARTING, metropolis_accept
from jaxopt_lab.basin_hopping.local import LBFGSConfig
from jaxopt_lab.core import run
from jaxopt_lab.problems import Problem, landscapes

# Chain-logic tests whose outcome does not depend on the local minimiser use the cheaper
# backtracking line search (it compiles faster); the default Moré-Thuente one runs in the
# Schwefel search and the non-finite tests here, and in tests/basin_hopping/test_local.py.
CHEAP = LBFGSConfig(line_search="backtracking")
BOX = ([-1.0, -1.0], [1.0, 1.0])


def _uniform(key, lower, upper, n):
    lower, upper = jnp.asarray(lower), jnp.asarray(upper)
    return lower[None, :] + jax.random.uniform(key, (n, lower.shape[0])) * (upper - lower)[None, :]


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


def _flat(x):
    return jnp.sum(x * 0.0)


def test_init_evaluates_nothing_and_the_first_step_minimises_the_start():
    method = bh.make(lambda x: jnp.sum((x - 0.25) ** 2), bh.Config(dim=2, local=CHEAP))
    params = bh.params(*BOX, sigma=0.1)
    state = method.init(jax.random.key(0), jnp.asarray([0.9, -0.9]), params)
    assert int(state.num_evals) == 0 and int(state.phase) == STARTING
    assert float(state.best_f) == np.inf
    state, info = jax.jit(method.step)(jax.random.key(1), state, params)
    assert bool(info.run_started) and not bool(info.accepted)
    np.testing.assert_allclose(np.asarray(state.x), [0.25, 0.25], atol=1e-4)
    assert int(state.num_evals) == int(info.num_evals_local) > 0
    assert int(info.num_evals_perturb) == 0 and int(state.counter) == 1


@pytest.mark.parametrize("restart,local_steps", [(True, None), (False, None), (True, 2)])
def test_run_ends_after_patience_plus_one_nonimproving_perturbations(restart, local_steps):
    # On a flat landscape no perturbation ever improves: after its start (the first step),
    # a run ends after exactly patience + 1 perturbations (SciPy: niter_success); with
    # restart, the next step starts a new run, so runs take patience + 2 steps each.
    # (Asynchronous mode: the local step converges at once here, so a tick is a step.)
    patience, steps = 3, 17
    method = bh.make(_flat, bh.Config(dim=2, restart=restart, local_steps=local_steps,
                                      local=CHEAP))
    params = bh.params(*BOX, patience=patience, temperature=0.0)
    final, trace = jax.jit(lambda k: run(method, k, jnp.zeros(2), params, steps))(
        jax.random.key(0))
    ended = np.asarray(trace.run_ended)
    started = np.asarray(trace.run_started)
    if restart:
        expected = [(t + 1) % (patience + 2) == 0 for t in range(steps)]
        assert ended.tolist() == expected
        assert started.tolist() == [t % (patience + 2) == 0 for t in range(steps)]
    else:
        assert ended.tolist() == [t + 1 == patience + 2 for t in range(steps)]
        assert bool(final.finished) and int(final.stall) == patience + 1
        assert started.tolist() == [t == 0 for t in range(steps)]


def test_hybrid_schedule_follows_the_authors_counter():
    # one chain: perturbation s (from 1) skips iff s mod m != 0 (m > 0), s mod |m| == 0
    # (m < 0); the first step is the run's start, not a perturbation
    method = hybrid.make(_flat, hybrid.Config(dim=2, max_skips=3, local=CHEAP))
    go = jax.jit(lambda p: run(method, jax.random.key(0), jnp.zeros(2), p, 10)[1].skipped)
    s = np.arange(1, 10)
    for m in (3, -3, 1, -1, 2):
        skipped = np.asarray(go(hybrid.params(*BOX, ratio=m, patience=100)))
        expected = (s % abs(m) != 0) if m > 0 else (s % abs(m) == 0)
        assert not skipped[0] and skipped[1:].tolist() == expected.tolist(), m


@pytest.mark.slow
@pytest.mark.parametrize("local_steps", [None, 2])
def test_hybrid_decides_per_chain_from_its_own_counter(local_steps):
    method = hybrid.make(_flat, hybrid.Config(dim=2, max_skips=3, local=CHEAP,
                                              local_steps=local_steps))
    params = hybrid.params(*BOX, ratio=3)
    state = method.init(jax.random.key(0), jnp.zeros(2), params)
    state, _ = method.step(jax.random.key(1), state, params)  # the run's start
    counters = jnp.arange(1, 7, dtype=jnp.int32)
    states = jax.tree.map(lambda a: jnp.broadcast_to(a, (6,) + a.shape), state)
    states = states._replace(counter=counters)
    keys = jax.random.split(jax.random.key(2), 6)
    _, info = jax.jit(jax.vmap(method.step, in_axes=(0, 0, None)))(keys, states, params)
    assert np.asarray(info.skipped).tolist() == (np.arange(1, 7) % 3 != 0).tolist()
    assert np.asarray(hybrid.uses_skip(counters, jnp.int32(3))).tolist() == \
        np.asarray(info.skipped).tolist()


@pytest.mark.parametrize("module,config", [
    pytest.param(hybrid, hybrid.Config(dim=2, max_skips=6, local_steps=2, local=CHEAP),
                 marks=pytest.mark.slow),
    (bhs, bhs.Config(dim=2, max_skips=6, local=CHEAP))])
@pytest.mark.slow
def test_vmap_over_chains_equals_separate_runs(module, config):
    # a chain's path depends only on its own key and start, not on the batch
    def wavy(x):
        return jnp.sum(0.1 * x ** 2 + jnp.sin(3.0 * x))

    method = module.make(wavy, config)
    params = module.params([-4.0, -4.0], [4.0, 4.0], patience=2)
    x0 = _uniform(jax.random.key(1), [-4.0, -4.0], [4.0, 4.0], 4)
    keys = jax.random.split(jax.random.key(3), 4)
    one = jax.jit(lambda k, x: run(method, k, x, params, 8)[0])
    batch = jax.jit(jax.vmap(lambda k, x: run(method, k, x, params, 8)[0]))(keys, x0)
    for i in range(4):
        alone = one(keys[i], x0[i])
        np.testing.assert_allclose(alone.best_x, batch.best_x[i], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(alone.best_f, batch.best_f[i], rtol=1e-6, atol=1e-6)
        assert int(alone.num_evals) == int(batch.num_evals[i])


@pytest.mark.slow
def test_random_walk_jump_statistic_is_the_rayleigh_mean():
    # At a huge temperature every move is accepted; nu_1 is then E|W| = sigma sqrt(pi/2)
    # in 2-D, whatever the landscape.
    def bowl(x):
        return 1e-3 * jnp.sum(x ** 2)

    problem = Problem("bowl", bowl, 2, np.full(2, -100.0), np.full(2, 100.0),
                      np.zeros((1, 2)), 0.0)
    method = bh.make(bowl, bh.Config(dim=2, local=LBFGSConfig(max_iter=5,
                                                               line_search="backtracking")))
    params = bh.params(problem.lower, problem.upper, sigma=2.0, temperature=1e9,
                       patience=1000)
    x0 = _uniform(jax.random.key(0), problem.lower, problem.upper, 256)
    keys = jax.random.split(jax.random.key(1), 256)
    _, trace = jax.jit(jax.vmap(lambda k, x: run(method, k, x, params, 21)))(keys, x0)
    s = metrics.summarize(metrics.tally_trace(trace, problem))
    np.testing.assert_allclose(s.nu_1, 2.0 * np.sqrt(np.pi / 2), rtol=0.03)
    assert s.p_s == 0.0 and np.isnan(s.nu_s) and s.num_accepted == 256 * 20


def _until_finished(method, key, x0, params, max_steps):
    keys = jax.random.split(key, x0.shape[0])
    step = jax.vmap(method.step, in_axes=(0, 0, None))

    @jax.jit
    def go():
        states = jax.vmap(method.init, in_axes=(0, 0, None))(keys, x0, params)

        def body(carry):
            i, s = carry
            return i + 1, step(jax.vmap(lambda k: jax.random.fold_in(k, i))(keys), s,
                               params)[0]

        return jax.lax.while_loop(lambda c: (c[0] < max_steps) & ~jnp.all(c[1].finished),
                                  body, (jnp.zeros((), jnp.int32), states))[1]

    return go()


@pytest.mark.slow
@pytest.mark.parametrize("local_steps", [None, 2])
def test_bhs_finds_schwefel_global_minimum(local_steps):
    problem = landscapes.schwefel07(2)
    method = bhs.make(problem.fn, bhs.Config(dim=2, max_skips=25, restart=False,
                                             local_steps=local_steps))
    params = bhs.params(problem.lower, problem.upper, sigma=7.0, temperature=0.0)
    x0 = _uniform(jax.random.key(0), problem.lower, problem.upper, 64)
    final = _until_finished(method, jax.random.key(1), x0, params, max_steps=2000)
    assert bool(jnp.all(final.finished))
    found = np.asarray(final.run_best_f) <= 1e-4  # the f-gap rule with f_tol = 1e-4
    # paper Table 5.1: rho_s = 61.9% for BH-S and 4.1% for BH
    assert found.mean() >= 0.35
    # T = 0: each chain's current value never went up, so its best is its current value
    np.testing.assert_array_equal(np.asarray(final.fx), np.asarray(final.run_best_f))


@pytest.mark.slow
def test_axis_directions_pay_off_only_where_the_landscape_separates():
    # one run per chain (restart=False), the paper's Fig. 3.4 settings (sigma^2 = 20, K = 200)
    def found(problem, directions, num_runs):
        config = bhs.Config(dim=problem.dim, max_skips=200, radii="iid", boundary="first",
                            restart=False, skip_block=50, directions=directions)
        method = bhs.make(problem.fn, config)
        params = bhs.params(problem.lower, problem.upper, sigma=float(np.sqrt(20.0)),
                            temperature=0.0)
        x0 = _uniform(jax.random.key(0), problem.lower, problem.upper, num_runs)
        final = _until_finished(method, jax.random.key(1), x0, params, max_steps=400)
        assert bool(jnp.all(final.finished))
        return int(np.sum(np.asarray(final.run_best_f) <= 1e-4))

    # separable (d = 6): the axes find x* in nearly every run, well above the sphere
    plain = landscapes.schwefel07(6)
    axes_plain, sphere_plain = found(plain, "axes", 48), found(plain, "sphere", 48)
    assert axes_plain >= 40 and axes_plain >= 1.5 * sphere_plain
    # rotated (d = 4, where the sphere still succeeds): the axes fall behind the sphere
    rotated = landscapes.schwefel07_rotated(4, jax.random.key(7))
    axes_rot, sphere_rot = found(rotated, "axes", 192), found(rotated, "sphere", 192)
    assert sphere_rot >= 8 and axes_rot <= sphere_rot // 2


@pytest.mark.slow
@pytest.mark.parametrize("local_steps", [None, 2])
def test_nonfinite_objective_is_counted_and_never_accepted(local_steps):
    def holey(x):
        return jnp.where(x[0] > 1.0, jnp.nan, jnp.sum((x - 0.5) ** 2) + jnp.sin(5 * x[1]))

    method = bhs.make(holey, bhs.Config(dim=2, max_skips=8, local_steps=local_steps))
    params = bhs.params([-4.0, -4.0], [4.0, 4.0], sigma=2.0, temperature=1.0)
    x0 = _uniform(jax.random.key(2), [-4.0, -4.0], [1.0, 4.0], 16)
    keys = jax.random.split(jax.random.key(3), 16)
    final, trace = jax.jit(jax.vmap(lambda k, x: run(method, k, x, params, 30)))(keys, x0)
    assert int(jnp.sum(trace.num_nonfinite)) > 0
    accepted_f = np.asarray(trace.f_proposal)[np.asarray(trace.accepted)]
    assert np.all(np.isfinite(accepted_f)) and accepted_f.size > 0
    # best_f is +inf only while the first run's start is still being minimised (ticks)
    first = np.asarray(final.phase) == MINIMISING_START
    assert np.all(np.isfinite(np.asarray(final.best_f)) | first)
    assert bool(jnp.all(final.x[:, 0] <= 1.0))


def test_bad_input_is_refused_before_tracing():
    problem = landscapes.get("Eggcrate")
    method = hybrid.make(problem.fn, hybrid.Config(dim=2, max_skips=5))
    good = hybrid.params(problem.lower, problem.upper)
    key = jax.random.key(0)
    cases = {
        "params.lower must be < params.upper": good._replace(lower=jnp.asarray([5.0, -5.0])),
        "params.lower must be a scalar or have shape": good._replace(lower=jnp.zeros(3),
                                                                     upper=jnp.ones(3)),
        "params.sigma_walk must be finite and > 0": good._replace(sigma_walk=jnp.float32(0.0)),
        "params.sigma_skip": good._replace(sigma_skip=jnp.float32(-1.0)),
        "params.temperature": good._replace(temperature=jnp.float32(-1.0)),
        "params.ratio": good._replace(ratio=jnp.int32(0)),
        "params.gtol": good._replace(gtol=jnp.float32(-1e-5)),
        "params.ftol": good._replace(ftol=jnp.float32(jnp.inf)),
        "params.patience": good._replace(patience=jnp.int32(-1)),
    }
    for match, params in cases.items():
        with pytest.raises(ValueError, match=match):
            method.init(key, jnp.zeros(2), params)
    with pytest.raises(ValueError, match="x0"):
        method.init(key, jnp.zeros(3), good)
    with pytest.raises(ValueError, match="config must be a bh.Config"):
        bh.make(problem.fn, bhs.Config(dim=2))
    with pytest.raises(ValueError, match="max_skips"):
        bhs.Config(dim=2, max_skips=0)
    with pytest.raises(ValueError, match="local must be a local.LBFGSConfig"):
        bhs.Config(dim=2, local=None)
