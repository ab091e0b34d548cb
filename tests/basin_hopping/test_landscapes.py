"""Landscapes: f(x*) = f*, no sampled point beats f*, JAX and NumPy formulas agree."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

from jaxopt_lab.problems import landscapes as L

NAMES = L.names()


def test_table_has_19_landscapes():
    assert len(NAMES) == 19 and len(set(NAMES)) == 19


@pytest.mark.parametrize("name", NAMES)
def test_minimisers_attain_f_star(name):
    ls = L.get(name)
    assert ls.x_star.shape[1] == ls.dim and ls.lower.shape == (ls.dim,)
    assert np.all(ls.x_star >= ls.lower) and np.all(ls.x_star <= ls.upper)
    for x in ls.x_star:
        assert abs(ls.np_fn(x) - ls.f_star) <= 1e-9 * max(1.0, abs(ls.f_star))


@pytest.mark.parametrize("name", NAMES)
def test_no_sampled_point_beats_f_star(name):
    ls = L.get(name)
    rng = np.random.default_rng(0)
    u = rng.uniform(ls.lower, ls.upper, size=(3000, ls.dim))
    near = ls.x_star[rng.integers(len(ls.x_star), size=1500)] + rng.normal(
        scale=1e-3 * (ls.upper - ls.lower), size=(1500, ls.dim))
    near = np.clip(near, ls.lower, ls.upper)
    points = np.concatenate([u, near])
    values = np.array([ls.np_fn(x) for x in points])
    tol = 1e-9 * max(1.0, abs(ls.f_star))
    assert values.min() >= ls.f_star - tol
    # local refinement from the best samples never goes below f* either
    starts = points[np.argsort(values)[:5]]
    for x0 in starts:
        res = minimize(ls.np_fn, x0, method="L-BFGS-B", bounds=list(zip(ls.lower, ls.upper)))
        assert res.fun >= ls.f_star - tol


@pytest.mark.parametrize("name", NAMES)
def test_jax_and_numpy_formulas_agree(name):
    ls = L.get(name)
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(ls.lower, ls.upper, size=(64, ls.dim)), ls.x_star])
    ref = np.array([ls.np_fn(p) for p in x])
    got = np.asarray(jax.jit(jax.vmap(ls.fn))(jnp.asarray(x, jnp.float32)), dtype=np.float64)
    scale = np.maximum(1.0, np.abs(ref))
    assert np.all(np.abs(got - ref) <= 2e-3 * scale)
    grads = np.asarray(jax.jit(jax.vmap(jax.grad(ls.fn)))(jnp.asarray(x, jnp.float32)))
    assert np.all(np.isfinite(grads))


@pytest.mark.parametrize("dim", [1, 3, 11, 20])
def test_schwefel_any_dimension(dim):
    ls = L.schwefel07(dim)
    assert abs(ls.np_fn(ls.x_star[0])) < 1e-9 * dim
    rng = np.random.default_rng(dim)
    u = rng.uniform(-500, 500, size=(2000, dim))
    assert min(ls.np_fn(x) for x in u) > 0


def test_schwefel_one_dimensional_grid():
    # separable: the 1-D minimum over a fine grid is at x* (independent check of x*, f*)
    grid = np.linspace(-500, 500, 1_000_001)
    one_d = L.SCHWEFEL_CONST - grid * np.sin(np.sqrt(np.abs(grid)))
    assert abs(grid[np.argmin(one_d)] - L.SCHWEFEL_XSTAR) < 1e-3
    assert one_d.min() >= -1e-9


def test_styblinski_any_dimension():
    ls = L.styblinski_tang(5)
    assert abs(ls.np_fn(ls.x_star[0]) - ls.f_star) < 1e-9
    grid = np.linspace(-5, 5, 1_000_001)
    one_d = 0.5 * (grid ** 4 - 16 * grid ** 2 + 5 * grid)
    assert abs(one_d.min() * 5 - ls.f_star) < 1e-8


def test_success_rules():
    ls = L.get("Carrom Table")
    pts = ls.x_star + np.array([[0, 5e-6], [0, 2e-5], [0, 0], [1.0, 0]])
    assert L.success(ls, pts).tolist() == [True, False, True, False]
    leg = L.get("Cross Leg Table")
    on_axis = np.array([[0.0, 7.0], [3.0, 2e-6], [1.0, 1.0]])
    assert L.success(leg, on_axis, rule="set").tolist() == [True, True, False]
    assert L.success(leg, on_axis).tolist() == [False, False, False]
    f = np.array([leg.f_star, leg.f_star + 1e-3])
    assert L.success(leg, on_axis[:2], f, rule="fgap").tolist() == [True, False]


def test_bad_input():
    with pytest.raises(ValueError, match="name"):
        L.get("Nope")
    with pytest.raises(ValueError, match="dim"):
        L.get("Egg-holder", dim=3)
    with pytest.raises(ValueError, match="dim"):
        L.schwefel07(0)
    with pytest.raises(ValueError, match="rule"):
        L.success(L.get("Rosenbrock"), np.zeros(2), rule="bogus")


def test_paper_readings():
    keane = L.get("Keane", reading="paper")
    assert keane.x_star.shape == (1, 2)
    assert abs(keane.np_fn(keane.x_star[0]) - keane.f_star) <= 1e-12
    # the other minimiser is as good but no longer counts
    other = L.get("Keane").x_star[1]
    assert L.success(keane, other[None]).tolist() == [False]
    whitley = L.get("Whitley", reading="paper")
    c = whitley.x_star[0]
    assert 3e-4 < np.linalg.norm(c - 1.0) < 5e-4 and whitley.np_fn(c) < 1e-6
    assert L.get("Rosenbrock", reading="paper").x_star.tolist() == [[1.0, 1.0]]
    with pytest.raises(ValueError, match="reading"):
        L.get("Keane", reading="authors")
