"""End-to-end tests of maxent.solve / relative_entropy_solve / fit against known answers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import maxent
from jaxopt_lab.maxent import Config, Result
from jaxopt_lab.maxent.cases import make_case, rotated_product
from jaxopt_lab.maxent.multiindex import _monomials_np, index_of, monomials
from jaxopt_lab.maxent.precondition import affine_matrix


def _name(sol):
    return Result.names(sol.result)


def _rel_err(lam, ref):
    return np.linalg.norm(lam - ref) / np.linalg.norm(ref)


def _gaussian(dim, order, mean, cov):
    """Exact multipliers and moments of N(mean, cov)."""
    table = index_of(dim, order)
    prec = np.linalg.inv(cov)
    lam = np.zeros(len(table))
    lin = prec @ mean
    for k in range(dim):
        e = [0] * dim
        e[k] = 1
        lam[table[tuple(e)]] = lin[k]
        for l in range(k, dim):
            e = [0] * dim
            e[k] += 1
            e[l] += 1
            lam[table[tuple(e)]] = -0.5 * prec[k, l] * (1 if k == l else 2)
    lam[0] = -0.5 * mean @ prec @ mean - 0.5 * np.log(np.linalg.det(2 * np.pi * cov))
    # Exact moments: x = C z + mean with z ~ N(0, I) (1-D moments (p-1)!!), mapped by the
    # polynomial change of variables (itself checked against samples in test_maxent_parts).
    chol = np.linalg.cholesky(cov)
    idx = maxent.multi_indices(dim, order)
    m_z = np.array([np.prod([0.0 if p % 2 else math.prod(range(p - 1, 0, -2)) for p in row])
                    for row in idx])
    m = affine_matrix(dim, order, chol, -np.linalg.solve(chol, mean)) @ m_z
    return lam, m


@pytest.mark.parametrize("dim,order", [(1, 6), (2, 4), (2, 6), (3, 4)])
def test_gaussian_moments_give_gaussian_multipliers(dim, order):
    rng = np.random.default_rng(dim * 10 + order)
    a = rng.standard_normal((dim, dim))
    cov = a @ a.T + 0.5 * np.eye(dim)
    mean = rng.standard_normal(dim)
    lam, m = _gaussian(dim, order, mean, cov)
    assert abs(m[0] - 1) < 1e-13
    m[0] = 1.0
    sol = maxent.solve(m, Config(dim, order, quad_points=order + 1))
    assert _name(sol) == "converged"
    np.testing.assert_allclose(sol.value, lam, rtol=0, atol=1e-10)
    degrees = maxent.multi_indices(dim, order).sum(axis=1)
    assert np.all(np.abs(sol.value[degrees > 2]) < 1e-10)
    entropy = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov))
    assert abs(sol.stats["entropy"] - entropy) < 1e-10
    assert sol.stats["moment_error"] < 1e-10


def test_recovers_known_multipliers_non_gaussian_2d4():
    case = rotated_product(2, 4, ["bimodal", "skewed"], [[1.0, 0.4], [-0.3, 0.8]], [0.5, -1.0])
    sol = maxent.solve(case.moments, Config(2, 4, quad_points=64, sigma=0.4, moment_tol=1e-9))
    assert _name(sol) == "converged"
    assert _rel_err(sol.value, case.multipliers) < 1e-7
    assert sol.stats["moment_error"] < 1e-9
    # The returned density reproduces the moments under an independent Legendre rule.
    m = maxent.moments_of_density(4, dim=2, multipliers=sol.value, lower=-8, upper=8,
                                  num_points=160)
    np.testing.assert_allclose(m, case.moments, rtol=1e-7, atol=1e-8)
    # Entropy (3.9a) equals -int rho log rho by direct quadrature.
    g = np.linspace(-8, 8, 801)
    pts = np.stack(np.meshgrid(g, g, indexing="ij"), -1)
    rho = maxent.density(sol, pts)
    logr = maxent.log_density(sol, pts)
    h = (g[1] - g[0]) ** 2
    assert abs(-np.sum(rho * logr) * h - sol.stats["entropy"]) < 1e-8


def test_newton_and_bfgs_agree_and_mgs_option():
    case = rotated_product(2, 4, ["bimodal", "gauss"], [[1.0, 0.0], [0.5, 1.0]], [0.0, 0.0])
    kw = dict(quad_points=40, sigma=0.6)
    a = maxent.solve(case.moments, Config(2, 4, method="bfgs", **kw))
    b = maxent.solve(case.moments, Config(2, 4, method="newton", **kw))
    c = maxent.solve(case.moments, Config(2, 4, reorth="mgs", passes=2, **kw))
    assert _name(a) == _name(b) == _name(c) == "converged"
    # Newton: a rebuild at every iterate (the last one only checks convergence); BFGS
    # rebuilds less often than it steps.
    assert b.stats["reorthonormalisations"] == b.stats["iterations"] + 1
    assert a.stats["reorthonormalisations"] < a.stats["iterations"]
    np.testing.assert_allclose(a.value, b.value, atol=1e-8)
    np.testing.assert_allclose(a.value, c.value, atol=1e-8)


def test_not_converged_is_reported():
    case = rotated_product(2, 4, ["bimodal", "skewed"], np.eye(2), [0.0, 0.0])
    sol = maxent.solve(case.moments, Config(2, 4, quad_points=40, sigma=0.6, max_steps=2))
    assert _name(sol) == "max_steps"
    # Too coarse a rule: the optimiser converges on its nodes, the check catches it.
    sol = maxent.solve(case.moments, Config(2, 4, quad_points=6, sigma=1.0))
    assert _name(sol) in ("inaccurate_quadrature", "not_integrable", "nonfinite",
                          "line_search_failed", "max_steps")


@pytest.mark.slow
def test_relative_entropy_exp_polynomial_prior():
    case = rotated_product(2, 4, ["bimodal", "skewed"], [[1.0, 0.3], [0.0, 1.0]], [0.1, 0.2])
    prior_lam, _ = _gaussian(2, 4, np.zeros(2), np.diag([2.0, 3.0]))
    sol = maxent.relative_entropy_solve(case.moments, Config(2, 4),
                                        prior_multipliers=prior_lam)
    assert _name(sol) == "converged"
    np.testing.assert_allclose(sol.value + prior_lam, case.multipliers, atol=1e-6)
    # (3.9b): P = sum theta m; equals int rho log(rho / Pi) by direct quadrature.
    g = np.linspace(-9, 9, 721)
    pts = np.stack(np.meshgrid(g, g, indexing="ij"), -1)
    rho = maxent.density(sol, pts)
    log_prior = _monomials_np(pts, 4) @ prior_lam
    direct = np.sum(rho * (maxent.log_density(sol, pts) - log_prior)) * (g[1] - g[0]) ** 2
    assert abs(direct - sol.stats["entropy"]) < 1e-7


@pytest.mark.slow
def test_relative_entropy_general_prior_matches_polynomial_route():
    case = rotated_product(2, 4, ["skewed", "gauss"], [[1.0, 0.2], [0.0, 1.2]], [0.0, 0.5])
    prior_lam, _ = _gaussian(2, 4, np.array([0.5, 0.0]), np.diag([1.5, 2.0]))

    def log_prior(x):
        return jnp.dot(monomials(x, 4), jnp.asarray(prior_lam))

    config = Config(2, 4)
    general = maxent.relative_entropy_solve(case.moments, config, prior_log_density=log_prior)
    poly = maxent.relative_entropy_solve(case.moments, config, prior_multipliers=prior_lam)
    assert _name(general) == "converged"
    np.testing.assert_allclose(general.value, poly.value, atol=1e-6)
    assert abs(general.stats["entropy"] - poly.stats["entropy"]) < 1e-7
    pts = np.random.default_rng(0).standard_normal((5, 2))
    np.testing.assert_allclose(maxent.log_density(general, pts, log_prior=log_prior),
                               maxent.log_density(poly, pts), atol=1e-6)
    assert not jax.config.jax_enable_x64  # nothing leaked


def test_fit_samples_gives_the_solve_of_their_moments():
    x = np.random.default_rng(1).uniform(-1, 1, (4000, 2)) @ [[1.0, 0.3], [0.0, 0.5]]
    fitted = maxent.fit(x, 4, moment_tol=1e-4)
    sol = maxent.solve(maxent.moments_from_samples(x, 4), Config(2, 4, moment_tol=1e-4))
    assert _name(fitted.solution) == "converged"
    np.testing.assert_array_equal(fitted.solution.value, sol.value)
    pts = x[:7]
    np.testing.assert_allclose(fitted.log_density(pts), maxent.log_density(sol, pts))
    np.testing.assert_allclose(fitted.density(pts), np.exp(fitted.log_density(pts)))
    with pytest.raises(ValueError, match="unknown options"):
        maxent.fit(x, 4, max_iterations=3)
    with pytest.raises(ValueError, match="samples must be"):
        maxent.fit(x[:, 0], 4)


# ------------------------------------------------------------------ bad input

def _good():
    return rotated_product(2, 4, ["gauss", "gauss"], np.eye(2), [0.0, 0.0]).moments


@pytest.mark.parametrize("kwargs,match", [
    (dict(dim=2, order=3), "order must be even"),
    (dict(dim=0, order=4), "config.dim must be"),
    (dict(dim=2, order=0), "config.order must be"),
    (dict(dim=2, order=4, quad_points=1), "config.quad_points"),
    (dict(dim=2, order=4, method="lbfgs"), "config.method"),
    (dict(dim=2, order=4, tol=-1.0), "config.tol"),
    (dict(dim=2, order=4, kappa_max=1.0), "config.kappa_max"),
    (dict(dim=2, order=4, passes=3), "config.passes"),
    (dict(dim=2, order=4, sigma=0.0), "config.sigma"),
    (dict(dim=2, order=4, check_integrability=1), "config.check_integrability"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Config(**kwargs)


def test_bad_structure_raises():
    config = Config(2, 4)
    with pytest.raises(ValueError, match="length K"):
        maxent.solve(np.ones(14), config)
    with pytest.raises(ValueError, match="numeric"):
        maxent.solve(["a"] * 15, config)
    with pytest.raises(ValueError, match="config must be"):
        maxent.solve(_good(), {"dim": 2, "order": 4})
    with pytest.raises(ValueError, match="moments must be a \\[B, K\\]"):
        maxent.solve_batch(_good(), config)
    with pytest.raises(ValueError, match="exactly one"):
        maxent.relative_entropy_solve(_good(), config)
    with pytest.raises(ValueError, match="not integrable"):
        maxent.relative_entropy_solve(_good(), config, prior_multipliers=np.zeros(15))


def test_bad_values_give_result_codes():
    m, config = _good(), Config(2, 4)
    bad = m.copy()
    bad[4] = np.nan
    sol = maxent.solve(bad, config)
    assert _name(sol) == "nonfinite" and np.all(np.isnan(sol.value))
    assert _name(maxent.solve(m * 2, config)) == "not_realisable"  # m_0 != 1
    # Covariance not positive definite: y = x exactly (rank-one second moments).
    x = np.random.default_rng(0).standard_normal(500)
    degenerate = maxent.moments_from_samples(np.stack([x, x], 1), 4)
    assert _name(maxent.solve(degenerate, config)) == "not_realisable"
    # Not realisable: fourth moment below the square of the second.
    bad = m.copy()
    bad[index_of(2, 4)[(4, 0)]] = 0.5
    sol = maxent.solve(bad, config)
    assert _name(sol) == "not_realisable" and np.all(np.isnan(sol.value))


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype")
def test_float64_unavailable_is_reported(monkeypatch):
    import importlib

    api = importlib.import_module("jaxopt_lab.maxent.api")

    class NoX64:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(api.jax, "enable_x64", lambda *_: NoX64())
    if jax.config.jax_enable_x64:
        pytest.skip("x64 enabled globally")
    with pytest.raises(ValueError, match="needs float64"):
        maxent.solve(_good(), Config(2, 4))


# ------------------------------------------------------------------ envelope (slow)

@pytest.mark.slow
@pytest.mark.parametrize("name", ["2d8_bimodal", "2d8_trimodal", "2d8_coupled", "3d6_mixed",
                                  "3d6_coupled", "3d6_trimodal", "4d4_mixed", "4d4_gauss",
                                  "3d6_gauss"])
def test_envelope_cases(name):
    case = make_case(name)
    sol = maxent.solve(case.moments, Config(case.dim, case.order))
    assert _name(sol) == "converged"
    assert sol.stats["moment_error"] <= 1e-6
    assert _rel_err(sol.value, case.multipliers) <= 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name,method", [
    # With BFGS alone, 3d8_mixed ends max_steps: its T = 40, sigma = 0.5 rung uses up the
    # reorthonormalisation cap and no usable warm start is left (see
    # docs/benchmarks/maxent.md); Newton gets through that rung and converges, and the
    # default "auto" falls back to it.
    ("3d8_mixed", "newton"),
    ("3d8_mixed", "auto"),
    ("5d4_quartic", "bfgs"),
])
def test_beyond_envelope_cases(name, method):
    """Target beyond the review's envelope: moment error <= 1e-4 (auto ladder)."""
    case = make_case(name)
    sol = maxent.solve(case.moments, Config(case.dim, case.order, moment_tol=1e-4,
                                            method=method))
    assert _name(sol) == "converged"
    assert sol.stats["moment_error"] <= 1e-4
    assert _rel_err(sol.value, case.multipliers) <= 1e-3
