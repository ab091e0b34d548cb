"""Tensor-product quadrature pass and the triangular inverse, against independent references."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import maxent
from jaxopt_lab.maxent import basis, rules, tensor
from jaxopt_lab.maxent.multiindex import _monomials_np


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _reference(lam, nodes, weights, dim, order, out_order, extra_fn=None):
    """Point-by-point NumPy sum over the materialised grid (no separability used)."""
    idx = np.indices((len(nodes),) * dim).reshape(dim, -1).T
    pts = nodes[idx]
    w = np.prod(weights[idx], axis=1)
    f = _monomials_np(pts, order) @ lam
    if extra_fn is not None:
        f = f + extra_fn(pts)
    return (w * np.exp(f)) @ _monomials_np(pts, out_order)


def test_dense_positions_match_multi_indices():
    idx = maxent.multi_indices(3, 4)
    pos = tensor.dense_positions(3, 4)
    assert np.array_equal(np.stack(np.unravel_index(pos, (5, 5, 5)), 1), idx)
    pos = tensor.dense_positions(2, 3, width=7)
    assert np.array_equal(np.stack(np.unravel_index(pos, (7, 7)), 1), maxent.multi_indices(2, 3))


@pytest.mark.parametrize("dim,order,t,out_order,max_points", [
    (2, 4, 12, 8, 1 << 16),
    (3, 4, 7, 8, 100),    # blocks of 2 rows of 49 points: 4 blocks, one padded row
    (4, 2, 5, 4, 1),      # one row per block
    (3, 2, 6, 0, 1 << 16),  # mass only (the line-search pass)
])
def test_tensor_pass_equals_pointwise_sum(x64, dim, order, t, out_order, max_points):
    rng = np.random.default_rng(dim * 100 + t)
    nodes, weights = rules.alpha_rule(t, 1.8, 0.7)
    lam = 0.2 * rng.standard_normal(math.comb(order + dim, dim))
    lam[0] = -1.0
    tp = tensor.make_pass(dim, order, out_order, t, max_points)
    got = np.asarray(jax.jit(tp.__call__)(jnp.asarray(lam), jnp.asarray(nodes),
                                          jnp.asarray(weights)))
    ref = _reference(lam, nodes, weights, dim, order, out_order)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    if max_points < t ** dim:
        assert tp.num_blocks > 1


def test_tensor_pass_with_extra_term_and_vmap(x64):
    dim, order, t = 2, 4, 9
    nodes, weights = rules.alpha_rule(t, 1.8, 0.8)
    rng = np.random.default_rng(3)
    lams = 0.1 * rng.standard_normal((3, 15))

    def log_prior(x):
        return -0.3 * jnp.sum(x**2) + jnp.sin(x[0])

    extra = tensor.grid_values(log_prior, jnp.asarray(nodes), dim)
    assert extra.shape == (t, t)
    tp = tensor.make_pass(dim, order, 2 * order, t, 20)
    got = np.asarray(jax.vmap(tp, in_axes=(0, None, None, None))(
        jnp.asarray(lams), jnp.asarray(nodes), jnp.asarray(weights), extra))

    def extra_np(pts):
        return -0.3 * np.sum(pts**2, axis=1) + np.sin(pts[:, 0])

    for lam, row in zip(lams, got):
        ref = _reference(lam, nodes, weights, dim, order, 2 * order, extra_np)
        np.testing.assert_allclose(row, ref, rtol=1e-12, atol=1e-14)


def test_tensor_pass_clips_the_exponent(x64):
    nodes, weights = rules.alpha_rule(8, 1.0, 1.0)
    lam = jnp.asarray([0.0, 0.0, 400.0])  # exp(400 x^2) overflows without the clip
    mu = tensor.make_pass(1, 2, 2, 8)(lam, jnp.asarray(nodes), jnp.asarray(weights))
    assert np.all(np.isfinite(np.asarray(mu)))


@pytest.mark.parametrize("num", [1, 7, 45])
def test_lower_triangular_inverse(x64, num):
    rng = np.random.default_rng(num)
    a = rng.standard_normal((num, num))
    chol = np.linalg.cholesky(a @ a.T + num * np.eye(num))
    inv = np.asarray(jax.jit(basis.lower_triangular_inverse)(jnp.asarray(chol)))
    np.testing.assert_allclose(inv, np.linalg.inv(chol), rtol=1e-12, atol=1e-14)
    assert np.all(np.triu(inv, 1) == 0)
