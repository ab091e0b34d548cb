"""Pieces of experiments/dgs_topology.py: DGS's trigger readings and the KKT residual."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import dgs_topology as E
from jaxopt_lab.problems import topology as T


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _estimators(trigger, period=2):
    problem = T.bridge(8, 4, 0.3, rmin=1.5)
    return problem, E.Estimators(problem, 64, jax.random.key(0), trigger=trigger, period=period)


def test_period_trigger_perturbs_every_period_calls(x64):
    problem, est = _estimators("period", period=2)
    x = jnp.full(problem.num_design, 0.3)
    counts = []
    for _ in range(5):
        g, n = est.dgs(x)
        counts.append(est.num_perturb)
        assert n == 4 * problem.num_design
    assert counts == [0, 1, 1, 2, 2]
    q = np.asarray(est.directions)
    np.testing.assert_allclose(q.T @ q, np.eye(problem.num_design), atol=1e-10)
    assert np.abs(q - np.eye(problem.num_design)).max() > 1e-3  # rotated
    r, beta = E.DGS["r"], E.DGS["beta"]
    sigma = np.asarray(est.sigma)
    assert np.all((sigma >= r - beta) & (sigma <= r + beta)) and np.std(sigma) > 0


def test_printed_and_relative_triggers_follow_the_gradient_norm(x64):
    problem, est = _estimators("grad_norm")
    x = jnp.full(problem.num_design, 0.3)
    g, _ = est.dgs(x)
    assert float(jnp.linalg.norm(g)) > 1e2 * E.DGS["gamma"]  # unscaled compliance
    assert est.num_perturb == 0
    _, rel = _estimators("relative")
    rel.dgs(x)
    assert rel.num_perturb == 0 and rel.first_norm == pytest.approx(float(jnp.linalg.norm(g)))
    # A much stiffer design has a much smaller gradient: below gamma * first -> fires.
    rel.dgs(jnp.ones(problem.num_design))
    assert rel.grad_norms[1] < E.DGS["gamma"] * rel.grad_norms[0]
    assert rel.num_perturb == 1


def test_bad_trigger_or_period_raise():
    problem = T.bridge(8, 4, 0.3)
    with pytest.raises(ValueError, match="trigger"):
        E.Estimators(problem, 64, jax.random.key(0), trigger="often")
    with pytest.raises(ValueError, match="period"):
        E.Estimators(problem, 64, jax.random.key(0), trigger="period", period=0)


def test_kkt_residual_is_zero_at_a_constructed_kkt_point_and_not_elsewhere():
    rng = np.random.default_rng(0)
    d = 12
    a = rng.uniform(0.5, 1.5, d) / d
    x = np.concatenate([np.zeros(4), rng.uniform(0.2, 0.8, 5), np.ones(3)])
    lam = 7.0
    g = -lam * a
    g[:4] += rng.uniform(0.1, 1.0, 4) * np.abs(g[:4])   # lower bound: g + lam a >= 0
    g[-3:] -= rng.uniform(0.1, 1.0, 3) * np.abs(g[-3:])  # upper bound: g + lam a <= 0
    assert E.kkt_residual(g, x, a) < 1e-6
    g_bad = g.copy()
    g_bad[5] *= 3.0  # an interior coordinate off the multiplier's line
    expected = 2.0 * abs(g[5]) / np.linalg.norm(g_bad)  # best lam stays 7: only [5] misfits
    assert E.kkt_residual(g_bad, x, a) == pytest.approx(expected, rel=0.2)
    assert E.kkt_residual(g_bad, x, a) > 0.05


def test_run_mma_reraises_a_failure_of_its_own_callbacks(x64, monkeypatch):
    pytest.importorskip("nlopt")
    problem = T.bridge(8, 4, 0.3)

    def broken(self, x):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(E.Estimators, "adjoint", broken)
    x0 = np.full(problem.num_design, 0.3)
    with pytest.raises(RuntimeError, match="simulated"):
        E.run_mma(problem, "adjoint", x0, 3, 64, jax.random.key(0))


def test_ablation_overrides_switch_off_rotation_or_radius_redraw(x64):
    problem = T.bridge(8, 4, 0.3, rmin=1.5)
    x = jnp.full(problem.num_design, 0.3)
    keep_dirs = E.Estimators(problem, 64, jax.random.key(1), trigger="period", period=1,
                             alpha=0.0)
    keep_dirs.dgs(x)
    np.testing.assert_allclose(keep_dirs.directions, np.eye(problem.num_design), atol=1e-12)
    assert np.std(np.asarray(keep_dirs.sigma)) > 0  # radii redrawn
    keep_sigma = E.Estimators(problem, 64, jax.random.key(1), trigger="period", period=1,
                              beta=0.0)
    keep_sigma.dgs(x)
    np.testing.assert_allclose(keep_sigma.sigma, E.DGS["r"])
    assert np.abs(np.asarray(keep_sigma.directions) - np.eye(problem.num_design)).max() > 1e-3
    with pytest.raises(ValueError, match="alpha"):
        E.Estimators(problem, 64, jax.random.key(1), alpha=-1.0)
