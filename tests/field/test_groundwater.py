"""Darcy finite-volume solver of jaxopt_lab.problems.groundwater against analytic solutions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.problems import groundwater as G


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_constant_conductivity_gives_exactly_linear_heads(x64):
    aquifer = G.Aquifer(10, 4, head_left=3.0, head_right=1.0)
    h = np.asarray(G.solve_heads(aquifer, jnp.full((4, 10), 2.5)))
    x = aquifer.centres()[..., 0]
    np.testing.assert_allclose(h, 3.0 - 2.0 * x, atol=1e-12)


@pytest.mark.slow
def test_1d_variable_conductivity_matches_analytic_with_second_order_convergence(x64):
    # K = exp(x): constant flux q, h(x) = h_L - q (1 - e^{-x}), q = (h_L - h_R) / (1 - e^{-1}).
    errors = []
    for n in (8, 16, 32):
        aquifer = G.Aquifer(n, 3, head_left=2.0, head_right=0.5)
        x = aquifer.centres()[..., 0]
        h = np.asarray(G.solve_heads(aquifer, jnp.asarray(np.exp(x))))
        q = 1.5 / (1 - np.exp(-1))
        errors.append(np.abs(h - (2.0 - q * (1 - np.exp(-x)))).max())
    assert errors[-1] < 1e-3
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(rates > 1.8)


@pytest.mark.slow
def test_piecewise_constant_layers_are_exact_series_resistances(x64):
    # Two materials in series: harmonic face averaging makes the FV heads exact at centres.
    n = 8
    aquifer = G.Aquifer(n, 2, head_left=1.0, head_right=0.0)
    k = np.where(aquifer.centres()[..., 0] < 0.5, 1.0, 4.0)
    h = np.asarray(G.solve_heads(aquifer, jnp.asarray(k)))
    # resistance of [0, x]: x/1 for x <= 1/2, 1/2 + (x - 1/2)/4 beyond; total 5/8.
    x = aquifer.centres()[..., 0]
    r = np.where(x < 0.5, x, 0.5 + (x - 0.5) / 4)
    np.testing.assert_allclose(h, 1.0 - r / 0.625, atol=1e-12)


@pytest.mark.slow
def test_mass_conservation_with_wells_and_heterogeneous_field(x64):
    aquifer = G.Aquifer(12, 9, wells=G.default_wells(12, 9, rate=0.3))
    k = jnp.asarray(np.exp(np.random.default_rng(0).normal(size=(9, 12))))
    h = G.solve_heads(aquifer, k)
    np.testing.assert_allclose(G.cell_balance(aquifer, k, h), 0.0, atol=1e-11)
    left, right = G.boundary_inflow(aquifer, k, h)
    np.testing.assert_allclose(float(left + right), -aquifer.sources().sum(), atol=1e-11)
    # pumping lowers heads: the pumped cells lie below the no-well solution
    h0 = G.solve_heads(G.Aquifer(12, 9), k)
    for ix, iy, rate in aquifer.wells:
        assert (float(h[iy, ix]) - float(h0[iy, ix])) * rate > 0


def test_matches_dense_solve_of_independent_assembly(x64):
    nx, ny = 6, 5
    aquifer = G.Aquifer(nx, ny, head_left=1.0, head_right=0.2, wells=((2, 3, -0.1),))
    k = np.exp(np.random.default_rng(1).normal(size=(ny, nx)))
    a = np.zeros((nx * ny, nx * ny))
    b = aquifer.sources().reshape(-1).copy()
    idx = lambda ix, iy: iy * nx + ix  # noqa: E731
    for iy in range(ny):
        for ix in range(nx):
            for jx, jy in ((ix + 1, iy), (ix - 1, iy), (ix, iy + 1), (ix, iy - 1)):
                if 0 <= jx < nx and 0 <= jy < ny:
                    t = 2 * k[iy, ix] * k[jy, jx] / (k[iy, ix] + k[jy, jx]) * (
                        nx / ny if jx != ix else ny / nx)  # dy/dx or dx/dy
                    a[idx(ix, iy), idx(ix, iy)] += t
                    a[idx(ix, iy), idx(jx, jy)] -= t
            for edge, head in ((0, 1.0), (nx - 1, 0.2)):
                if ix == edge:
                    t = 2 * k[iy, ix] * nx / ny
                    a[idx(ix, iy), idx(ix, iy)] += t
                    b[idx(ix, iy)] += t * head
    ref = np.linalg.solve(a, b).reshape(ny, nx)
    np.testing.assert_allclose(G.solve_heads(aquifer, jnp.asarray(k)), ref, rtol=1e-10)


@pytest.mark.slow
def test_mlp_field_shapes_positive_link_and_loss_zero_at_truth(x64):
    field = G.MLPField()
    assert field.num_params == 257
    params = field.init(jax.random.key(0), jnp.float64)
    points = jnp.asarray(G.Aquifer(5, 4).centres())
    for link in G.LINKS:
        f = G.MLPField(link=link)
        huge = params * 1e3  # extreme weights: the link keeps K finite and > 0
        k = f.conductivity(huge, points)
        assert k.shape == (4, 5) and np.all(np.asarray(k) > 0) and np.all(np.isfinite(k))
    w1, b1, w2, b2 = field.unflatten(params)
    manual = np.exp(np.tanh((2 * np.asarray(points) - 1) @ np.asarray(w1) + np.asarray(b1))
                    @ np.asarray(w2) + float(b2))
    np.testing.assert_allclose(field.conductivity(params, points), manual, rtol=1e-12)
    # The loss is the MSE of heads: zero if the predicted field is the true one.
    problem = G.make_inversion(0, nx=8, ny=8, num_obs=20, dtype=np.float64)
    assert problem.obs_index.shape == (20,) and len(set(problem.obs_index)) == 20
    loss = float(G.inversion_loss(problem, params))
    k_pred = np.asarray(G.predicted_conductivity(problem, params))
    heads = np.asarray(G.solve_heads(problem.aquifer, jnp.asarray(k_pred))).reshape(-1)
    np.testing.assert_allclose(loss, np.mean((heads[problem.obs_index] - problem.obs_heads) ** 2),
                               rtol=1e-10)
    np.testing.assert_allclose(problem.true_heads.reshape(-1)[problem.obs_index],
                               problem.obs_heads)


@pytest.mark.slow
def test_loss_is_finite_under_vmap_for_wild_parameters():
    problem = G.make_inversion(0, nx=8, ny=8, num_obs=10)
    xs = jnp.asarray(np.random.default_rng(2).normal(0, 30.0, (4, 257)), jnp.float32)
    losses = jax.jit(jax.vmap(lambda p: G.inversion_loss(problem, p)))(xs)
    assert np.all(np.isfinite(np.asarray(losses))) and np.all(np.asarray(losses) >= 0)


@pytest.mark.parametrize("k,match", [
    (np.ones((3, 4)), "shape"), (-np.ones((4, 4)), "> 0"), (np.full((4, 4), np.nan), "finite"),
])
def test_bad_conductivity_raises(k, match):
    with pytest.raises(ValueError, match=match):
        G.solve_heads(G.Aquifer(4, 4), jnp.asarray(k))


def test_bad_configuration_raises():
    with pytest.raises(ValueError, match="nx"):
        G.Aquifer(1, 4)
    with pytest.raises(ValueError, match="wells"):
        G.Aquifer(4, 4, wells=((5, 0, 1.0),))
    with pytest.raises(ValueError, match="link"):
        G.MLPField(link="relu")
    with pytest.raises(ValueError, match="num_obs"):
        G.make_inversion(0, nx=4, ny=4, num_obs=17)
    with pytest.raises(ValueError, match="params"):
        G.MLPField().unflatten(jnp.ones(10))
