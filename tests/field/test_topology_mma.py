"""MMA on the bridge (jaxopt_lab.problems.topology_mma) and the DGS gradient source of
``python -m experiments.dgs_topology``: trigger readings, the KKT residual."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.problems import topology as T
from jaxopt_lab.problems.topology_mma import kkt_residual, mma
from tests.dgs.experiment_runs import load_cell, run_experiment


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_kkt_residual_is_zero_at_a_constructed_kkt_point_and_not_elsewhere():
    rng = np.random.default_rng(0)
    d = 12
    a = rng.uniform(0.5, 1.5, d) / d
    x = np.concatenate([np.zeros(4), rng.uniform(0.2, 0.8, 5), np.ones(3)])
    lam = 7.0
    g = -lam * a
    g[:4] += rng.uniform(0.1, 1.0, 4) * np.abs(g[:4])   # lower bound: g + lam a >= 0
    g[-3:] -= rng.uniform(0.1, 1.0, 3) * np.abs(g[-3:])  # upper bound: g + lam a <= 0
    assert kkt_residual(g, x, a) < 1e-6
    g_bad = g.copy()
    g_bad[5] *= 3.0  # an interior coordinate off the multiplier's line
    expected = 2.0 * abs(g[5]) / np.linalg.norm(g_bad)  # best lam stays 7: only [5] misfits
    assert kkt_residual(g_bad, x, a) == pytest.approx(expected, rel=0.2)
    assert kkt_residual(g_bad, x, a) > 0.05


def _adjoint_source(problem):
    grad = jax.jit(lambda x: T.compliance_and_grad(problem, x)[1])

    def source(calls, x, c):
        return grad(x), 0, calls + 1

    return source


def test_mma_with_the_adjoint_lowers_compliance_and_threads_the_source_state(x64):
    pytest.importorskip("nlopt")
    problem = T.bridge(8, 4, 0.3)
    x0 = np.full(problem.num_design, 0.3)
    out = mma(problem, _adjoint_source(problem), x0, 8, state=0)
    assert out["trace"].shape == (8,) and out["best_c"] < out["trace"][0]
    assert out["state"] == len(out["grad_norms"]) > 0  # one source call per gradient
    np.testing.assert_allclose(float(T.compliance(problem, jnp.asarray(out["x"]))),
                               out["best_c"], rtol=1e-10)
    assert float(T.volume(problem, jnp.asarray(out["x"]))) <= problem.volfrac * (1 + 1e-3)


def test_mma_reraises_a_failure_of_its_own_callbacks(x64):
    pytest.importorskip("nlopt")
    problem = T.bridge(8, 4, 0.3)

    def broken(state, x, c):
        raise RuntimeError("out of memory (simulated)")

    with pytest.raises(RuntimeError, match="simulated"):
        mma(problem, broken, np.full(problem.num_design, 0.3), 3)
    with pytest.raises(ValueError, match="x0"):
        mma(problem, broken, np.full(problem.num_design + 1, 0.3), 3)


@pytest.mark.slow
def test_dgs_trigger_readings_of_the_experiment(tmp_path):
    pytest.importorskip("nlopt")
    pytest.importorskip("matplotlib")
    common = ("--profile", "quick", "--nelx", "8", "--nely", "4", "--iters", "6", "--seeds",
              "1", "--methods", "dgs")
    # the printed rule ||g|| < gamma = 0.01 never fires on the unscaled compliance
    run_experiment("dgs_topology", *common, "--out", str(tmp_path / "printed"))
    assert int(load_cell(tmp_path / "printed" / "dgs")["num_perturb"][0]) == 0
    # the period reading fires at every 2nd gradient call
    run_experiment("dgs_topology", *common, "--dgs-trigger", "period", "--dgs-period", "2",
                   "--out", str(tmp_path / "period"))
    cell = load_cell(tmp_path / "period" / "dgs")
    increments = np.diff(np.concatenate([[0.0], cell["evals"][0]]))
    calls = int(np.sum(increments > 1))  # an evaluation with a gradient costs (M - 1) d more
    assert calls >= 2 and int(cell["num_perturb"][0]) == calls // 2
