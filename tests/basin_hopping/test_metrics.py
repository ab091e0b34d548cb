"""Metrics from Info: the definitions on hand-made steps, the compiled success test against
``jaxopt_lab.problems.success``, and the in-loop tally against the trace's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.basin_hopping import hybrid, metrics
from jaxopt_lab.basin_hopping._chain import Info
from jaxopt_lab.basin_hopping.local import LBFGSConfig
from jaxopt_lab.core import run
from jaxopt_lab.problems import Problem, landscapes, success


def _info(**fields):
    n = len(next(iter(fields.values())))
    base = dict(f_proposal=np.zeros(n), accepted=np.zeros(n, bool), run_started=np.zeros(n, bool),
                run_ended=np.zeros(n, bool), run_best_x=np.zeros((n, 2)),
                run_best_f=np.zeros(n), jump_length=np.zeros(n),
                halting_index=np.zeros(n, np.int32), skipped=np.zeros(n, bool),
                num_evals_perturb=np.zeros(n, np.int32), num_evals_local=np.zeros(n, np.int32),
                num_nonfinite=np.zeros(n, np.int32), current_nonfinite=np.zeros(n, bool))
    base.update({k: np.asarray(v) for k, v in fields.items()})
    return Info(**base)


BOWL = Problem("bowl", lambda x: jnp.sum(x ** 2), 2, np.full(2, -1.0), np.full(2, 1.0),
               np.zeros((1, 2)), 0.0)


def test_definitions_on_hand_made_steps():
    # four accepted moves: two of length > 0 with k = 1, one skip with k = 3, one with
    # length 0 (a skipping chain that found nothing: not a move); one rejected skip.
    # Three runs end: at (0, 0) (success), at (0.5, 0) with f = 1e-7 (f-gap success only)
    # and far away.
    info = _info(accepted=[True, True, True, True, False, False, False],
                 jump_length=[2.0, 4.0, 9.0, 0.0, 5.0, 0.0, 0.0],
                 halting_index=[1, 1, 3, 0, 4, 0, 0],
                 run_ended=[False, False, False, False, True, True, True],
                 run_best_x=[[0, 0]] * 4 + [[0, 0], [0.5, 0], [1, 1]],
                 run_best_f=[0, 0, 0, 0, 0, 1e-7, 2.0],
                 num_evals_perturb=[3] * 7, num_evals_local=[5] * 7,
                 num_nonfinite=[0, 1, 0, 0, 0, 0, 2])
    s = metrics.summarize(metrics.tally_trace(info, BOWL))
    assert (s.num_runs, s.num_success, s.num_success_f) == (3, 1, 2)
    assert s.reliability == pytest.approx(1 / 3) and s.reliability_f == pytest.approx(2 / 3)
    assert s.nu_1 == pytest.approx(3.0) and s.nu_s == pytest.approx(9.0)
    assert s.p_s == pytest.approx(100 / 3) and s.num_accepted == 4
    assert (s.num_evals, s.num_evals_perturb, s.num_evals_local) == (56, 21, 35)
    assert s.num_nonfinite == 3
    # the same steps through the compiled tally
    test = metrics.success_test(BOWL)
    tally = metrics.empty_tally(jnp.float32)
    for t in range(7):
        tally = metrics.update(tally, jax.tree.map(lambda a: jnp.asarray(a[t]), info), test)
    assert metrics.summarize(tally) == s
    empty = metrics.summarize(metrics.empty_tally())
    assert np.isnan(empty.reliability) and np.isnan(empty.nu_1) and np.isnan(empty.p_s)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_success_test_decides_as_problems_success(dtype):
    # points at and around x*, down to the float spacing: the compiled test (x* split in a
    # float pair) agrees with the float64 reference on every point the dtype can hold
    egg = landscapes.get("Egg-holder")
    carrom = landscapes.get("Carrom Table")
    leg = landscapes.get("Cross Leg Table")
    rng = np.random.default_rng(0)
    with jax.enable_x64(dtype == "float64"):
        for problem, rule in ((egg, "ball"), (carrom, "ball"), (leg, "set")):
            centre = problem.x_star[rng.integers(len(problem.x_star), size=400)]
            scale = 10.0 ** rng.uniform(-7, -3, size=(400, 1))
            x = (centre + scale * rng.standard_normal((400, 2))).astype(dtype)
            near = np.asarray(problem.x_star, dtype)  # each x* rounded to the dtype
            steps = np.stack([np.nextafter(near, near + d) for d in (1, -1)], 1).reshape(-1, 2)
            x = np.concatenate([x, near, steps.astype(dtype)])
            f = (problem.f_star + 10.0 ** rng.uniform(-9, -5, size=len(x))).astype(dtype)
            test = jax.jit(jax.vmap(metrics.success_test(problem, radius=1e-5, rule=rule)))
            ok, ok_f = test(jnp.asarray(x), jnp.asarray(f))
            want = success(problem, x.astype(np.float64), rule=rule)
            want_f = success(problem, x, f.astype(np.float64), rule="fgap")
            np.testing.assert_array_equal(np.asarray(ok), want)
            np.testing.assert_array_equal(np.asarray(ok_f), want_f)
            assert 0 < want.sum() < len(x)
    # on Egg-holder, the float32 point nearest x* lies in the 1e-5 ball, its neighbours not
    x32 = np.asarray(egg.x_star[0], np.float32)
    assert success(egg, x32.astype(np.float64))
    assert not success(egg, np.nextafter(x32, np.float32(0)).astype(np.float64))


def test_success_test_bad_input():
    with pytest.raises(ValueError, match="problem"):
        metrics.success_test("Egg-holder")
    with pytest.raises(ValueError, match="radius"):
        metrics.success_test(BOWL, radius=-1.0)
    with pytest.raises(ValueError, match="rule"):
        metrics.success_test(BOWL, rule="fgap")
    with pytest.raises(ValueError, match="trace"):
        metrics.tally_trace(("not", "info"), BOWL)
    with pytest.raises(ValueError, match="tally"):
        metrics.summarize({"num_runs": 1})


@pytest.mark.slow
def test_in_loop_tally_equals_the_trace_tally():
    def wavy(x):
        return jnp.sum(0.1 * x ** 2 + jnp.sin(3.0 * x))

    problem = Problem("wavy", wavy, 2, np.full(2, -4.0), np.full(2, 4.0),
                      np.full((1, 2), -0.5167), -0.5167 * 0.2)
    method = hybrid.make(wavy, hybrid.Config(dim=2, max_skips=6,
                                             local=LBFGSConfig(line_search="backtracking")))
    params = hybrid.params(problem.lower, problem.upper, sigma_skip=1.5, patience=2)
    keys = jax.random.split(jax.random.key(0), 8)
    x0 = jax.random.uniform(jax.random.key(1), (8, 2), minval=-4.0, maxval=4.0)
    _, trace = jax.jit(jax.vmap(lambda k, x: run(method, k, x, params, 25)))(keys, x0)
    test = metrics.success_test(problem, radius=1e-2, f_tol=1e-3)

    def tally_chain(info):
        return jax.lax.scan(lambda t, i: (metrics.update(t, i, test), None),
                            metrics.empty_tally(jnp.float32), info)[0]

    loop = metrics.summarize(jax.jit(jax.vmap(tally_chain))(trace))
    ref = metrics.summarize(metrics.tally_trace(trace, problem, radius=1e-2, f_tol=1e-3))
    assert loop.num_runs == ref.num_runs > 8 and loop.num_success == ref.num_success > 0
    assert loop._replace(nu_1=0, nu_s=0) == ref._replace(nu_1=0, nu_s=0)
    np.testing.assert_allclose([loop.nu_1, loop.nu_s], [ref.nu_1, ref.nu_s], rtol=1e-5)
