"""MaxEnt on the Smolyak sparse rule (Config(rule="sparse")) and the block-product cases."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import maxent
from jaxopt_lab.core import Result
from jaxopt_lab.maxent import cases, pointset
from jaxopt_lab.maxent.fixed_rule import moment_error
from jaxopt_lab.maxent.precondition import alpha, forward_moments, precondition


def test_sparse_rule_exact_for_a_gaussian_answer():
    # sigma = 1: the rule times the Gaussian weight is exact to degree 9 >= 2M, so the
    # discrete answer is the exact one.
    c = cases.make_case("4d4_gauss")
    sol = maxent.solve(c.moments, maxent.Config(4, 4, rule="sparse", level=4, sigma=1.0))
    assert Result.names(sol.result) == "converged"
    assert sol.stats["quad_points"] == 681
    np.testing.assert_allclose(sol.value, c.multipliers, atol=1e-9)


def test_sparse_check_tracks_the_true_error_2d():
    # A non-Gaussian 2-D case: the check-rule error falls with the level, and it matches
    # the error against the exact moments of the discrete answer's density.
    c = cases.rotated_product(2, 4, ["bimodal", "skewed"], cases._rotation(2, 3, [1.0, 1.4]),
                              [0.2, -0.3])
    errs = []
    for level in (12, 16):
        sol = maxent.solve(c.moments, maxent.Config(2, 4, rule="sparse", level=level))
        assert Result.names(sol.result) == "inaccurate_quadrature"
        errs.append(float(sol.stats["moment_error"]))
        # the true moments of the answer, by a dense tensor Legendre rule (original frame)
        true = maxent.moments_of_density(4, dim=2, multipliers=sol.value, lower=[-9, -9],
                                         upper=[9, 9], num_points=160)
        pre = precondition(c.moments[None], 2, 4)
        true_err = float(moment_error(forward_moments(pre, true[None])[0],
                                      forward_moments(pre, c.moments[None])[0], 2, 4))
        assert 0.2 < errs[-1] / true_err < 5.0
    assert errs[1] < errs[0] / 2


def test_point_moments_against_tensor_pass():
    # The point-set pass on a full tensor grid equals the tensor rule's moments.
    from jaxopt_lab.maxent.rules import alpha_rule, grid_moments
    c = cases.rotated_product(2, 4, ["bimodal", "skewed"], cases._rotation(2, 3, [1.0, 1.4]),
                              [0.0, 0.0])
    lam = c.multipliers
    nodes, weights = alpha_rule(30, alpha(4), 0.6)
    grid = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(-1, 2)
    w2 = np.outer(weights, weights).reshape(-1)
    got = pointset.point_moments(lam, grid, w2, 4, chunk=128)
    with maxent.api.float64():
        want = np.asarray(grid_moments(jnp.asarray(lam), jnp.asarray(nodes),
                                       jnp.asarray(weights), 2, 4, 4))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kwargs,match", [
    (dict(level=3), "level"),
    (dict(rule="sparse"), "level"),
    (dict(rule="sparse", level=2, quad_points=10), "quad_points"),
    (dict(rule="cubature", level=2), "rule"),
    (dict(rule="sparse", level=-1), "level")])
def test_config_rule_family_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        maxent.Config(4, 4, **kwargs)


def test_default_rule_unchanged():
    assert maxent.Config(3, 4).rule == "tensor" and maxent.Config(3, 4).level is None


def test_block_product_moments_against_direct_quadrature():
    # a 1-D block and a 2-D coupled block mixed by a dense map in 3-D: the moments built
    # from block moments equal a direct tensor Legendre quadrature of the exact density.
    blocks = [cases.block(4, "skewed"), cases.block(4, lam_terms=cases.BLOCKS_2D["tilted"])]
    c = cases.block_product(4, blocks, cases._dense_map(3, 5), [0.3, -0.2, 0.1])
    direct = maxent.moments_of_density(4, dim=3, multipliers=c.multipliers,
                                       lower=[-9] * 3, upper=[9] * 3, num_points=120)
    assert direct[0] == pytest.approx(1.0, abs=1e-9)  # exact multipliers normalise
    np.testing.assert_allclose(c.moments, direct, rtol=1e-8, atol=1e-9)


def test_block_product_multipliers_by_the_tensor_solver():
    # two 1-D blocks in 2-D: the tensor solver recovers the composed multipliers.
    c = cases.block_product(4, [cases.block(4, "bimodal"), cases.block(4, "skewed")],
                            cases._dense_map(2, 7), [0.5, -0.5])
    sol = maxent.solve(c.moments, maxent.Config(2, 4))
    assert Result.names(sol.result) == "converged"
    np.testing.assert_allclose(sol.value, c.multipliers, atol=1e-7)


@pytest.mark.slow
def test_adapted_rule_is_exact_for_a_block_product_8d():
    # Four coupled 2-D blocks mixed densely in 8-D: the cumulant frame finds the pairs, and
    # the adapted level-3 grid integrates the exact answer's moments to round-off.
    from jaxopt_lab.maxent import adapted
    from jaxopt_lab.maxent.fixed_rule import _white_scale
    from jaxopt_lab.maxent.precondition import forward_multipliers
    c = cases.make_case("8d4_blocks2")
    pre = precondition(c.moments[None], 8, 4)
    target = forward_moments(pre, c.moments[None])[0]
    lam = forward_multipliers(pre, c.multipliers[None])[0]
    pts, wts, frame = adapted.adapted_rule(target * _white_scale(8, 4), 8, 4, 3)
    assert sorted(len(g) for g in frame[1]) == [2, 2, 2, 2]
    mu = pointset.point_moments(lam, pts, wts, 4)
    assert float(moment_error(mu, target, 8, 4)) < 1e-9
    # and the product of the marginals is the exact answer
    np.testing.assert_allclose(adapted.product_start(8, 4, frame), lam, atol=1e-8)


def test_adapted_solve_4d_against_exact_multipliers():
    c = cases.make_case("4d4_mixed")
    sol = maxent.solve(c.moments, maxent.Config(4, 4, rule="adapted", level=3))
    assert Result.names(sol.result) == "converged"
    assert sol.stats["moment_error"] < 1e-9
    np.testing.assert_allclose(sol.value, c.multipliers, atol=1e-9)


def test_jade_recovers_a_known_rotation():
    # cumulants of independent components rotated by a known V: jade_rotation undoes it up
    # to signs and order of the axes.
    from jaxopt_lab.maxent import adapted
    rng = np.random.default_rng(0)
    dim = 4
    kurt = np.array([-1.2, 2.0, 0.5, -0.6])
    diag = np.zeros((dim,) * 4)
    for i in range(dim):
        diag[i, i, i, i] = kurt[i]
    v, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    cum = np.einsum("abcd,ia,jb,kc,ld->ijkl", diag, v, v, v, v)
    got = adapted.jade_rotation(cum)
    overlap = np.abs(got.T @ v)
    np.testing.assert_allclose(np.sort(overlap.max(axis=1)), np.ones(dim), atol=1e-8)


def test_positive_rule_and_gauss_from_measure():
    from jaxopt_lab.sparse_grid import gauss_from_measure, positive_rule
    x, w = np.polynomial.legendre.leggauss(200)
    x = 10 * x
    w = 10 * w * np.exp(-x**2 / 2)
    nodes, weights = gauss_from_measure(x, w, 5)
    ref = np.polynomial.hermite_e.hermegauss(5)
    np.testing.assert_allclose(nodes, ref[0], atol=1e-10)
    np.testing.assert_allclose(weights, ref[1], rtol=1e-10)
    grid = np.stack([g.reshape(-1) for g in np.meshgrid(x[::4], x[::4], indexing="ij")], -1)
    gw = np.outer(w[::4], w[::4]).reshape(-1)
    pts, pw = positive_rule(grid, gw, 5)
    assert np.all(pw > 0) and len(pw) <= 21
    for e in [(0, 0), (2, 0), (2, 2), (4, 1), (0, 5)]:
        want = np.sum(gw * grid[:, 0] ** e[0] * grid[:, 1] ** e[1])
        got = np.sum(pw * pts[:, 0] ** e[0] * pts[:, 1] ** e[1])
        assert got == pytest.approx(want, rel=1e-8, abs=1e-8)


def test_components_split_independent_axes_and_keep_coupled_pairs():
    from jaxopt_lab.maxent import adapted
    cum = np.zeros((3,) * 4)
    for i in range(3):
        cum[i, i, i, i] = -1.0 + 0.5 * i
    cum[0, 0, 1, 1] = cum[1, 1, 0, 0] = cum[0, 1, 0, 1] = cum[1, 0, 1, 0] = 0.3
    cum[0, 1, 1, 0] = cum[1, 0, 0, 1] = 0.3
    assert adapted.components(cum) == ((0, 1), (2,))
    diag = np.zeros((2,) * 4)
    diag[0, 0, 0, 0], diag[1, 1, 1, 1] = -1.0, 0.7
    diag[0, 1, 0, 1] = 1e-15  # round-off is not coupling
    assert adapted.components(diag) == ((0,), (1,))
