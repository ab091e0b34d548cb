"""Unit tests of the MaxEnt building blocks against independent references."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import maxent
from jaxopt_lab.maxent import basis, precondition, rules
from jaxopt_lab.maxent.multiindex import index_of, monomials
from jaxopt_lab.quadrature import gauss_hermite


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _brute_indices(dim, order):
    rows = [c for c in itertools.product(range(order + 1), repeat=dim) if sum(c) <= order]
    return sorted(rows, key=lambda c: (sum(c), tuple(-v for v in c)))


@pytest.mark.parametrize("dim,order", [(1, 5), (2, 8), (3, 6), (4, 4), (5, 4)])
def test_multi_indices_graded_order(dim, order):
    idx = maxent.multi_indices(dim, order)
    assert idx.shape == (math.comb(order + dim, dim), dim)
    assert [tuple(r) for r in idx] == _brute_indices(dim, order)


def test_multi_indices_2d_degree2_and_constraint_counts():
    assert maxent.multi_indices(2, 2)[3:].tolist() == [[2, 0], [1, 1], [0, 2]]
    # The review's constraint counts (K - 1): 44, 83, 69.
    assert [maxent.num_multi_indices(d, m) - 1 for d, m in ((2, 8), (3, 6), (4, 4))] == [44, 83, 69]


def test_monomials_and_sample_moments(x64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((257, 3))
    idx = maxent.multi_indices(3, 5)
    direct = np.prod(x[:, None, :] ** idx[None], axis=2)
    np.testing.assert_allclose(np.asarray(monomials(jnp.asarray(x), 5)), direct, rtol=1e-13)
    np.testing.assert_allclose(maxent.moments_from_samples(x, 5, chunk_size=50),
                               direct.mean(axis=0), rtol=1e-12, atol=1e-14)


def _samples(dim, n=400, seed=1):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((dim, dim)) + 2 * np.eye(dim)
    return rng.standard_normal((n, dim)) ** 3 @ a + rng.standard_normal(dim)


@pytest.mark.parametrize("dim,order", [(2, 6), (3, 4)])
def test_shift_rotation_alpha_forward_maps_match_transformed_samples(dim, order):
    x = _samples(dim)
    m = maxent.moments_from_samples(x, order)
    mean = x.mean(axis=0)
    # (4.2): shift.
    s = precondition.shift_matrix(dim, order, mean)
    np.testing.assert_allclose(s @ m, maxent.moments_from_samples(x - mean, order),
                               rtol=1e-10, atol=1e-10)
    # (4.6): rotation and stretch gives identity covariance.
    cov = np.cov((x - mean).T, bias=True)
    a, log_det = precondition.whitening(cov)
    np.testing.assert_allclose(log_det, -0.5 * np.log(np.linalg.det(cov)), rtol=1e-12)
    y = (x - mean) @ a.T
    r = precondition.linear_matrix(dim, order, a)
    np.testing.assert_allclose(r @ (s @ m), maxent.moments_from_samples(y, order),
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.cov(y.T, bias=True), np.eye(dim), atol=1e-12)
    # (4.10): alpha scaling.
    al = precondition.alpha(order)
    d = precondition.alpha_matrix(dim, order, al)
    np.testing.assert_allclose(d @ r @ s @ m, maxent.moments_from_samples(y / al, order),
                               rtol=1e-9, atol=1e-9)
    # Composition equals the single preconditioner.
    pre = precondition.precondition(m, dim, order)
    np.testing.assert_allclose(pre.transform, d @ r @ s, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dim,order", [(2, 8), (3, 4)])
def test_backward_maps_preserve_lambda_dot_m(dim, order):
    """Each forward/backward pair preserves sum_i lambda_i m_i (plus ln|det A|)."""
    rng = np.random.default_rng(2)
    x = _samples(dim, seed=3)
    m = maxent.moments_from_samples(x, order)
    lam_new = rng.standard_normal(len(m))
    s = precondition.shift_matrix(dim, order, x.mean(axis=0))
    np.testing.assert_allclose((s.T @ lam_new) @ m, lam_new @ (s @ m), rtol=1e-11)
    a = rng.standard_normal((dim, dim)) + 3 * np.eye(dim)
    r = precondition.linear_matrix(dim, order, a)
    lam_back = r.T @ lam_new
    lam_back[0] += np.log(abs(np.linalg.det(a)))
    np.testing.assert_allclose(lam_back @ m, lam_new @ (r @ m) + np.log(abs(np.linalg.det(a))),
                               rtol=1e-11)
    pre = precondition.precondition(m, dim, order)
    lhs = precondition.backward_multipliers(pre, lam_new) @ m
    rhs = lam_new @ precondition.forward_moments(pre, m) + pre.log_det
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_backward_map_pointwise_exponent_identity():
    """exp(sum lam_x x^i) = |det A| exp(sum lam_z z^i) at z = A (x - b) (4.3, 4.8, 4.13)."""
    dim, order = 2, 6
    m = maxent.moments_from_samples(_samples(dim, seed=4), order)
    pre = precondition.precondition(m, dim, order)
    lam_z = np.random.default_rng(5).standard_normal(len(m))
    lam_x = precondition.backward_multipliers(pre, lam_z)
    pts = np.random.default_rng(6).standard_normal((50, dim))
    z = (pts - pre.mean) @ pre.matrix.T
    from jaxopt_lab.maxent.multiindex import _monomials_np
    lhs = _monomials_np(pts, order) @ lam_x
    rhs = _monomials_np(z, order) @ lam_z + pre.log_det
    np.testing.assert_allclose(lhs, rhs, rtol=1e-11, atol=1e-11)


def test_alpha_published_values():
    # Spec section 2.3 numbers.
    for order, val in ((4, 1.78916), (6, 2.16140), (8, 2.47844)):
        assert abs(precondition.alpha(order) - val) < 1e-5


def test_alpha_rule_gaussian_moments_exact(x64):
    """Spec section 6: scaled Gaussian moments 1, .3124, .2928, .4573, 1 (orders 0..8, M=4)."""
    al = precondition.alpha(4)
    nodes, weights = rules.alpha_rule(5, al, 1.0)
    lam = jnp.asarray([0.5 * math.log(al**2 / (2 * math.pi)), 0.0, -0.5 * al**2, 0.0, 0.0])
    mu = np.asarray(rules.grid_moments(lam, jnp.asarray(nodes), jnp.asarray(weights), 1, 4, 8))
    expected = [al ** (-k) * (math.prod(range(k - 1, 0, -2)) if k % 2 == 0 else 0)
                for k in range(9)]
    np.testing.assert_allclose(mu, expected, atol=1e-14)
    np.testing.assert_allclose(mu[[0, 2, 4, 6, 8]], [1, 0.3124, 0.2928, 0.4573, 1], atol=6e-5)


@pytest.mark.slow
def test_tensor_rule_integrates_polynomial_times_gaussian(x64):
    """Contracted rule, 3-D: int x^i N(0, s^2 I) dx exact for |i| <= 2T - 1."""
    dim, order, t, sigma = 3, 2, 6, 0.7
    al = 2.0
    nodes, weights = rules.alpha_rule(t, al, sigma)
    s2 = (sigma / al) ** 2
    table = index_of(dim, order)
    lam = np.zeros(len(table))
    lam[0] = -0.5 * dim * math.log(2 * math.pi * s2)
    for k in range(dim):
        e = [0] * dim
        e[k] = 2
        lam[table[tuple(e)]] = -0.5 / s2
    mu = np.asarray(rules.grid_moments(jnp.asarray(lam), jnp.asarray(nodes),
                                       jnp.asarray(weights), dim, order, 10, chunk_size=37))
    idx = maxent.multi_indices(dim, 10)

    def gauss_1d(p):
        return 0.0 if p % 2 else s2 ** (p / 2) * math.prod(range(p - 1, 0, -2))

    expected = [np.prod([gauss_1d(p) for p in row]) for row in idx]
    np.testing.assert_allclose(mu, expected, rtol=1e-12, atol=1e-15)


def _gram_setup(dim=2, order=4, t=12):
    al = precondition.alpha(order)
    nodes, weights = rules.alpha_rule(t, al, 0.8)
    rng = np.random.default_rng(7)
    lam = np.zeros(maxent.num_multi_indices(dim, order))
    lam[0] = -1.0
    table = index_of(dim, order)
    lam[table[(2, 0)]] = -0.5 * al**2 + 1.0
    lam[table[(0, 2)]] = -0.5 * al**2
    lam[table[(4, 0)]] = -2.0
    lam[table[(0, 4)]] = -1.0
    lam[table[(1, 1)]] = 0.3
    lam[table[(2, 1)]] = 0.2 * rng.standard_normal()
    pts = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(-1, 2)
    w = np.outer(weights, weights).reshape(-1)
    from jaxopt_lab.maxent.multiindex import _monomials_np
    vand = _monomials_np(pts, order)
    r = w * np.exp(vand @ lam)
    return al, nodes, weights, lam, vand, r


@pytest.mark.parametrize("passes", [1, 2])
def test_mgs_nodes_gives_orthonormal_basis(x64, passes):
    al, _, _, _, vand, r = _gram_setup()
    c0 = np.eye(vand.shape[1])
    values, coeffs = basis.mgs_nodes(jnp.asarray(vand), jnp.asarray(r), jnp.asarray(c0), passes)
    values, coeffs = np.asarray(values), np.asarray(coeffs)
    # Coefficients and node values stay consistent; Q(p_k p_l) = delta_kl.
    np.testing.assert_allclose(vand @ coeffs, values, atol=1e-9)
    gram = values.T @ (r[:, None] * values)
    np.testing.assert_allclose(gram, np.eye(len(c0)), atol=1e-9 if passes == 1 else 1e-12)
    # Gram-Schmidt on monomials gives an upper-triangular coefficient matrix (span kept).
    np.testing.assert_allclose(np.tril(coeffs, -1), 0, atol=1e-14)


@pytest.mark.parametrize("method", [pytest.param("mgs", marks=pytest.mark.slow), "cholesky"])
def test_gram_orthonormalisations_agree_with_node_mgs(x64, method):
    dim, order = 2, 4
    al, nodes, weights, lam, vand, r = _gram_setup(dim, order)
    mu2 = rules.grid_moments(jnp.asarray(lam), jnp.asarray(nodes), jnp.asarray(weights),
                             dim, order, 2 * order)
    gram = basis.gram_matrix(mu2, dim, order)
    np.testing.assert_allclose(np.asarray(gram), vand.T @ (r[:, None] * vand),
                               rtol=1e-10, atol=1e-15)
    c0 = jnp.asarray(basis.hermite_basis(dim, order, al))
    c = (basis.mgs_gram(gram, c0, 2) if method == "mgs"
         else basis.cholesky_orthonormalise(gram, c0, 2))
    c = np.asarray(c)
    phi = vand @ c
    np.testing.assert_allclose(phi.T @ (r[:, None] * phi), np.eye(len(c)), atol=1e-11)
    _, c_ref = basis.mgs_nodes(jnp.asarray(vand @ np.asarray(c0)), jnp.asarray(r), c0, 2)
    np.testing.assert_allclose(c, np.asarray(c_ref), rtol=1e-8, atol=1e-9)


def test_hermite_basis_orthonormal_for_starting_gaussian(x64):
    dim, order = 2, 6
    al = precondition.alpha(order)
    c = basis.hermite_basis(dim, order, al)
    rule = gauss_hermite(order + 1, normalized=True)
    pts = np.stack(np.meshgrid(rule.nodes, rule.nodes, indexing="ij"), -1).reshape(-1, 2) / al
    w = np.outer(rule.weights, rule.weights).reshape(-1)
    from jaxopt_lab.maxent.multiindex import _monomials_np
    phi = _monomials_np(pts, order) @ c
    np.testing.assert_allclose(phi.T @ (w[:, None] * phi), np.eye(len(c)), atol=1e-12)


def test_integrability_diagnostic():
    dim, order = 2, 4
    table = index_of(dim, order)
    lam = np.zeros(len(table))
    lam[table[(4, 0)]] = -1.0
    lam[table[(0, 4)]] = -1.0
    assert maxent.top_form_max(lam, dim, order) < 0
    lam[table[(2, 2)]] = 3.0  # x^4 + y^4 - 3 x^2 y^2 is indefinite: positive on the diagonal
    assert maxent.top_form_max(lam, dim, order) > 0
    assert abs(maxent.top_form_max(lam, dim, order) - 0.25) < 1e-3  # (-1 - 1 + 3) / 4


def test_moments_of_density_grid_form_matches_function_form():
    dim, order = 2, 4
    table = index_of(dim, order)
    lam = np.zeros(len(table))
    lam[table[(2, 0)]] = -0.5
    lam[table[(0, 2)]] = -1.0
    lam[table[(1, 1)]] = 0.3
    lam[table[(1, 0)]] = 0.2
    ref = maxent.moments_of_density(order, dim=dim, multipliers=lam, lower=-12, upper=12,
                                    num_points=80, normalize=True)
    g = np.linspace(-12, 12, 401)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    from jaxopt_lab.maxent.multiindex import _monomials_np
    vals = np.exp(_monomials_np(np.stack([xx, yy], -1), order) @ lam)
    grid = maxent.moments_of_density(order, grid=[g, g], values=vals, normalize=True)
    np.testing.assert_allclose(grid, ref, rtol=1e-10, atol=1e-12)
    # Gaussian check: mean and covariance of the quadratic form.
    prec = np.array([[1.0, -0.3], [-0.3, 2.0]])
    cov = np.linalg.inv(prec)
    mean = cov @ np.array([0.2, 0.0])
    np.testing.assert_allclose(ref[1:3], mean, rtol=1e-12)
    np.testing.assert_allclose(ref[3] - mean[0] ** 2, cov[0, 0], rtol=1e-12)
