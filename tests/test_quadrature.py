"""Quadrature rules against analytic moments and numpy's rules where those are accurate."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import quadrature


def _double_factorial_odd(k):
    return math.prod(range(k - 1, 0, -2)) if k > 0 else 1


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 64])
def test_hermite_matches_numpy_physicists(n):
    rule = quadrature.gauss_hermite(n, "physicists")
    x, w = np.polynomial.hermite.hermgauss(n)
    np.testing.assert_allclose(rule.nodes, x, rtol=0, atol=1e-13 * max(1, abs(x).max()))
    np.testing.assert_allclose(rule.weights, w, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("n", [1, 4, 11, 40])
def test_hermite_matches_numpy_probabilists(n):
    rule = quadrature.gauss_hermite(n, "probabilists")
    x, w = np.polynomial.hermite_e.hermegauss(n)
    np.testing.assert_allclose(rule.nodes, x, atol=1e-12 * max(1, abs(x).max()))
    np.testing.assert_allclose(rule.weights, w, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("n", [5, 100, 300, 1000])
def test_hermite_gaussian_moments_exact(n):
    """E[z^k] = (k-1)!! for z ~ N(0, 1) and even k <= 2n - 1; odd moments vanish."""
    rule = quadrature.gauss_hermite(n, "probabilists", normalized=True)
    for k in range(0, min(2 * n - 1, 12) + 1):
        exact = 0.0 if k % 2 else float(_double_factorial_odd(k))
        got = np.sum(rule.weights * rule.nodes**k)
        assert got == pytest.approx(exact, rel=1e-12, abs=1e-12), (n, k)


def test_hermite_high_order_log_weights_finite_and_consistent():
    """At n = 1000 the smallest weights underflow float64; the log weights must not."""
    rule = quadrature.gauss_hermite(1000, "physicists")
    assert np.all(np.isfinite(rule.log_weights))
    assert rule.log_weights.min() < np.log(np.finfo(np.float64).tiny)  # really underflows
    total = np.logaddexp.reduce(rule.log_weights)
    assert total == pytest.approx(0.5 * math.log(math.pi), rel=1e-13)
    assert np.all(np.diff(rule.nodes) > 0)
    np.testing.assert_allclose(rule.nodes, -rule.nodes[::-1], atol=0)


def test_hermite_gaussian_expectation_of_cosine():
    """E[cos(a z)] = exp(-a^2/2): a non-polynomial integrand, converged at high order."""
    rule = quadrature.gauss_hermite(200, normalized=True)
    for a in (0.5, 3.0, 8.0):
        got = np.sum(rule.weights * np.cos(a * rule.nodes))
        assert got == pytest.approx(math.exp(-a * a / 2), abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 33])
def test_legendre_matches_numpy_and_integrates_polynomials(n):
    rule = quadrature.gauss_legendre(n)
    x, w = np.polynomial.legendre.leggauss(n)
    np.testing.assert_allclose(rule.nodes, x, atol=1e-13)
    np.testing.assert_allclose(rule.weights, w, rtol=1e-12)
    shifted = quadrature.gauss_legendre(n, 1.0, 3.0)
    for k in range(2 * n):
        exact = (3.0 ** (k + 1) - 1.0) / (k + 1)
        assert np.sum(shifted.weights * shifted.nodes**k) == pytest.approx(exact, rel=1e-12)


@pytest.mark.slow
def test_tensor_grid_and_chunked_integral_agree_with_analytic_moments():
    rule = quadrature.gauss_hermite(5, normalized=True)
    points, weights = quadrature.tensor_grid(rule, 3)
    assert points.shape == (125, 3) and weights.shape == (125,)
    assert np.sum(weights) == pytest.approx(1.0, rel=1e-14)

    def monomials(x):  # E[x0^2 x1^2] = 1, E[x2^4] = 3, E[x0 x1] = 0, E[x0^2 x2^6] = 15
        return jnp.stack([x[0] ** 2 * x[1] ** 2, x[2] ** 4, x[0] * x[1], x[0] ** 2 * x[2] ** 6])

    dense = np.einsum("p,pk->k", weights, np.stack([
        points[:, 0] ** 2 * points[:, 1] ** 2, points[:, 2] ** 4,
        points[:, 0] * points[:, 1], points[:, 0] ** 2 * points[:, 2] ** 6], axis=1))
    np.testing.assert_allclose(dense, [1, 3, 0, 15], atol=1e-12)
    for chunk in (1, 7, 125, 1000):  # padding, exact fit, larger than the grid
        got = quadrature.integrate_tensor(monomials, jnp.asarray(rule.nodes, jnp.float32),
                                          jnp.asarray(rule.weights, jnp.float32), 3,
                                          chunk_size=chunk)
        np.testing.assert_allclose(got, [1, 3, 0, 15], rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_orders_name_the_argument(bad):
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        quadrature.gauss_hermite(bad)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        quadrature.gauss_legendre(bad)


def test_bad_convention_and_interval():
    with pytest.raises(ValueError, match="convention"):
        quadrature.gauss_hermite(4, "engineers")
    with pytest.raises(ValueError, match="lower < upper"):
        quadrature.gauss_legendre(4, 1.0, 1.0)
