"""Landscapes: f(x*) = f*, no sampled point beats f*, JAX and NumPy formulas agree, values
bit-identical to the recorded ones, success through ``jaxopt_lab.problems.success``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

from jaxopt_lab.problems import Problem, success
from jaxopt_lab.problems import landscapes as L

NAMES = L.names()


def test_table_has_19_landscapes():
    assert len(NAMES) == 19 and len(set(NAMES)) == 19
    assert all(isinstance(L.get(n), Problem) for n in NAMES)


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


def test_rotated_schwefel_keeps_its_minimum_and_stops_separating():
    dim = 6
    rot = L.schwefel07_rotated(dim, jax.random.key(3))
    plain = L.schwefel07(dim)
    x_star = rot.x_star[0]
    assert abs(rot.np_fn(x_star)) < 1e-9 and rot.f_star == 0.0
    rng = np.random.default_rng(0)
    u = rng.uniform(-500, 500, size=(3000, dim))
    near = np.clip(x_star + rng.normal(scale=30.0, size=(3000, dim)), -500, 500)
    values = np.array([rot.np_fn(x) for x in np.concatenate([u, near])])
    assert values.min() > 0  # nothing in the box beats x*, not even near the box's edge
    np.testing.assert_allclose(np.asarray(jax.vmap(rot.fn)(jnp.asarray(u[:50], jnp.float32))),
                               values[:50], rtol=1e-4, atol=0.05)
    # the same key gives the same landscape, another key another one
    again = L.schwefel07_rotated(dim, jax.random.key(3))
    other = L.schwefel07_rotated(dim, jax.random.key(4))
    assert again.np_fn(u[0]) == rot.np_fn(u[0]) and other.np_fn(u[0]) != rot.np_fn(u[0])

    # separability: changing coordinate 0 changes f by an amount independent of coordinate
    # 1 for Schwefel-07, not for its rotation (a mixed second difference)
    def mixed(f, a):
        e0, e1 = np.eye(dim)[0] * 37.0, np.eye(dim)[1] * 53.0
        return f(a + e0 + e1) - f(a + e0) - f(a + e1) + f(a)

    a = rng.uniform(-300, 300, size=(20, dim))
    assert max(abs(mixed(plain.np_fn, p)) for p in a) < 1e-9
    assert max(abs(mixed(rot.np_fn, p)) for p in a) > 10.0


def test_styblinski_any_dimension():
    ls = L.styblinski_tang(5)
    assert abs(ls.np_fn(ls.x_star[0]) - ls.f_star) < 1e-9
    grid = np.linspace(-5, 5, 1_000_001)
    one_d = 0.5 * (grid ** 4 - 16 * grid ** 2 + 5 * grid)
    assert abs(one_d.min() * 5 - ls.f_star) < 1e-8


def test_success_rules():
    ls = L.get("Carrom Table")
    pts = ls.x_star + np.array([[0, 5e-6], [0, 2e-5], [0, 0], [1.0, 0]])
    assert success(ls, pts).tolist() == [True, False, True, False]
    leg = L.get("Cross Leg Table")
    on_axis = np.array([[0.0, 7.0], [3.0, 2e-6], [1.0, 1.0]])
    assert success(leg, on_axis, rule="set").tolist() == [True, True, False]
    assert success(leg, on_axis).tolist() == [False, False, False]
    f = np.array([leg.f_star, leg.f_star + 1e-3])
    assert success(leg, on_axis[:2], f, rule="fgap").tolist() == [True, False]
    # the continuum's distance also takes JAX arrays (traced, for compiled success tests)
    got = jax.jit(leg.set_distance)(jnp.asarray(on_axis, jnp.float32))
    np.testing.assert_allclose(np.asarray(got), [0.0, 2e-6, 1.0], rtol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="name"):
        L.get("Nope")
    with pytest.raises(ValueError, match="dim"):
        L.get("Egg-holder", dim=3)
    with pytest.raises(ValueError, match="dim"):
        L.schwefel07(0)
    with pytest.raises(ValueError, match="rule"):
        success(L.get("Rosenbrock"), np.zeros(2), rule="bogus")


def test_paper_readings():
    keane = L.get("Keane", reading="paper")
    assert keane.x_star.shape == (1, 2)
    assert abs(keane.np_fn(keane.x_star[0]) - keane.f_star) <= 1e-12
    # the other minimiser is as good but no longer counts
    other = L.get("Keane").x_star[1]
    assert success(keane, other[None]).tolist() == [False]
    whitley = L.get("Whitley", reading="paper")
    c = whitley.x_star[0]
    assert 3e-4 < np.linalg.norm(c - 1.0) < 5e-4 and whitley.np_fn(c) < 1e-6
    assert L.get("Rosenbrock", reading="paper").x_star.tolist() == [[1.0, 1.0]]
    with pytest.raises(ValueError, match="reading"):
        L.get("Keane", reading="authors")


# f at three points scaled to each box, float32, recorded from the implementation before
# the landscapes became Problems (the formulas are unchanged, bit for bit).
RECORDED = {
    "Carrom Table": [-0.08993583917617798, -0.23887024819850922, -0.381085067987442],
    "Cross in Tray": [-1.8500992059707642, -1.4370067119598389, -1.3935705423355103],
    "Cross Leg Table": [-5.40511537110433e-05, -6.958909216336906e-05, -7.175811333581805e-05],
    "Damavandi": [154.25279235839844, 9.526398658752441, 353.5455627441406],
    "Eggcrate": [3.3000426292419434, 37.31598663330078, 45.0615234375],
    "Egg-holder": [-32.232421875, -402.68804931640625, -276.11492919921875],
    "El Attar Vidyasagar Dutta": [1550.0, 38533681152.0, 86628999168.0],
    "Freudenstein-Roth": [630.7332763671875, 17187.060546875, 51420.4921875],
    "Holder Table": [-1.1237506866455078, -0.7075657248497009, -9.378622055053711],
    "Keane": [-0.03875593841075897, -0.003371413331478834, -0.05897805467247963],
    "Mishra-03": [0.8686447739601135, 1.0432045459747314, 0.6565818786621094],
    "Modified Rosenbrock": [75.66553497314453, 122.76698303222656, 268.550048828125],
    "Price 02": [1.4110157489776611, 1.281156301498413, 1.982032060623169],
    "Rana": [-16.914045333862305, 148.14793395996094, 222.43954467773438],
    "Rosenbrock": [57.92000198364258, 3323.52001953125, 367805.5625],
    "Schwefel-07": [840.18505859375, 1041.696533203125, 1450.361328125],
    "Styblinski-Tang": [-0.7851500511169434, -39.359901428222656, -23.015907287597656],
    "Whitley": [4.530588150024414, 4424429.0, 165340976.0],
    "Zirilli": [-0.0076000019907951355, 44.78840255737305, 1117.6444091796875],
}


def test_values_are_bit_identical_to_the_recorded_ones():
    pts = np.asarray([[0.3, -0.2], [1.7, 2.9], [-4.1, 3.3]], np.float32)
    for name in NAMES:
        ls = L.get(name)
        x = jnp.asarray(pts * (ls.upper[0] / 5.0), jnp.float32)
        got = np.asarray(jax.vmap(ls.fn)(x))
        np.testing.assert_array_equal(got, np.asarray(RECORDED[name], np.float32), err_msg=name)
