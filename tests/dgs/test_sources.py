"""Gradient sources for an outside optimiser (jaxopt_lab.dgs.sources): DGS's perturbation
triggers, its rotation and radius redraw, the ablations, and the oracles' evaluations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.dgs import estimate, sources
from jaxopt_lab.problems import topology as T

R, BETA, GAMMA = 0.25, 0.2, 0.01  # the topology study's radius, redraw half-width, gamma


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _bridge_source(trigger, period=2, **kw):
    problem = T.bridge(8, 4, 0.3, rmin=1.5)
    f = lambda x: T.compliance(problem, x)  # noqa: E731
    source, state = sources.dgs_source(f, problem.num_design, jax.random.key(0), radius=R,
                                       radius_halfwidth=kw.pop("beta", BETA), grad_tol=GAMMA,
                                       trigger=trigger, period=period, dtype=jnp.float64, **kw)
    return problem, f, source, state


@pytest.mark.slow
def test_period_trigger_rotates_and_redraws_every_period_calls(x64):
    problem, f, source, s = _bridge_source("period", period=2)
    d = problem.num_design
    x = jnp.full(d, 0.3)
    counts = []
    for _ in range(5):
        g, n, s = source(s, x, None)
        counts.append(s.num_perturb)
        assert n == 4 * d
    assert counts == [0, 1, 1, 2, 2]
    q = np.asarray(s.directions)
    np.testing.assert_allclose(q.T @ q, np.eye(d), atol=1e-10)
    assert np.abs(q - np.eye(d)).max() > 1e-3  # rotated
    sigma = np.asarray(s.sigma)
    assert np.all((sigma >= R - BETA) & (sigma <= R + BETA)) and np.std(sigma) > 0
    # after a perturbation the source's gradient is DGS's along the new directions and radii
    g, _, _ = source(s, x, None)
    np.testing.assert_allclose(g, estimate(f, x, s.sigma, directions=s.directions).grad,
                               rtol=1e-12)


def test_printed_and_relative_triggers_follow_the_gradient_norm(x64):
    problem, _, source, s = _bridge_source("grad_norm")
    x = jnp.full(problem.num_design, 0.3)
    g, _, s = source(s, x, None)
    assert float(jnp.linalg.norm(g)) > 1e2 * GAMMA  # unscaled compliance: never fires
    assert s.num_perturb == 0
    _, _, rel_source, r = _bridge_source("relative")
    g0, _, r = rel_source(r, x, None)
    assert r.num_perturb == 0 and r.first_norm == pytest.approx(float(jnp.linalg.norm(g0)))
    # A much stiffer design has a much smaller gradient: below gamma * first -> fires.
    g1, _, r = rel_source(r, jnp.ones(problem.num_design), None)
    assert float(jnp.linalg.norm(g1)) < GAMMA * r.first_norm
    assert r.num_perturb == 1


def test_ablations_switch_off_rotation_or_radius_redraw(x64):
    problem, _, source, s = _bridge_source("period", period=1, rotation_scale=0.0)
    d = problem.num_design
    x = jnp.full(d, 0.3)
    _, _, s = source(s, x, None)
    np.testing.assert_allclose(s.directions, np.eye(d), atol=1e-12)  # not rotated
    assert np.std(np.asarray(s.sigma)) > 0  # radii redrawn
    problem, _, source, s = _bridge_source("period", period=1, beta=0.0)
    _, _, s = source(s, x, None)
    np.testing.assert_allclose(s.sigma, R)  # radii kept
    assert np.abs(np.asarray(s.directions) - np.eye(d)).max() > 1e-3


def test_random_sources_split_their_key_and_match_the_oracles():
    def f(x):
        return jnp.sum((x - 1.0) ** 2)

    x = jnp.array([0.5, -1.0, 2.0])
    es, s = sources.es_source(f, 3, jax.random.key(1), sigma=0.1, num_pairs=4)
    g, n, s2 = es(s, x, f(x))
    assert n == 8 and s2.num_calls == 1
    _, sub = jax.random.split(s.key)
    from jaxopt_lab.dgs import es_estimate

    np.testing.assert_allclose(g, es_estimate(sub, f, x, 0.1, num_pairs=4).grad, rtol=1e-6)
    g2, _, _ = es(s2, x, f(x))
    assert not np.allclose(g, g2)  # a fresh draw at every call
    fd, t = sources.fd_source(f, 3, step=1e-3)
    g, n, _ = fd(t, x, None)
    assert n == 6
    np.testing.assert_allclose(g, 2 * (x - 1.0), rtol=1e-3)  # exact for a quadratic
    nest, u = sources.nesterov_source(f, 3, jax.random.key(2), step=1e-3, num_directions=5)
    _, n, u2 = nest(u, x, f(x))
    assert n == 5 and u2.num_calls == 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(trigger="often"), "trigger"),
    (dict(trigger="period", period=0), "period"),
    (dict(rotation_scale=-1.0), "rotation_scale"),
    (dict(radius_halfwidth=-0.1), "radius_halfwidth"),
    (dict(radius=0.0), "radius"),
])
def test_bad_dgs_source_arguments_are_refused(kwargs, match):
    args = dict(radius=R) | kwargs
    with pytest.raises(ValueError, match=match):
        sources.dgs_source(lambda x: jnp.sum(x**2), 4, jax.random.key(0), **args)
