"""F1-F6 of the DGS study against independent NumPy formulas; instances; Eq. (9)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.linalg import haar_orthogonal
from jaxopt_lab.problems import Problem, highdim as hd


def _np_reference(name, z):
    d = z.size
    if name == "ellipsoidal":
        return sum(10 ** (6 * i / (d - 1)) * z[i] ** 2 for i in range(d))
    if name == "sharp_ridge":
        return z[0] ** 2 + 100 * math.sqrt(sum(v * v for v in z[1:]))
    if name == "ackley":
        return (-20 * math.exp(-0.2 * math.sqrt(np.mean(z**2)))
                - math.exp(np.mean(np.cos(2 * np.pi * z))) + 20 + math.e)
    if name == "rastrigin":
        return 10 * d + sum(v * v - 10 * math.cos(2 * math.pi * v) for v in z)
    if name == "schaffer_f7":
        tot = 0.0
        for i in range(d - 1):
            s = math.hypot(z[i], z[i + 1])
            tot += math.sqrt(s) * (1 + math.sin(50 * s**0.2) ** 2)
        return tot**2 / (d - 1)
    y = z + 420.968746
    c = np.clip(y, -500, 500)
    pen = sum(max(0.0, abs(v) - 500) ** 2 for v in y)
    return 418.9828872724338 * d - sum(v * math.sin(math.sqrt(abs(v))) for v in c) + pen


@pytest.mark.parametrize("name", sorted(hd.FUNCTIONS))
def test_functions_match_numpy_and_vanish_at_the_optimum(name):
    z = np.random.default_rng(0).uniform(-3, 3, size=7)
    if name == "schwefel":
        z = z * 300.0  # reach the penalised region beyond 500
    with jax.enable_x64(True):
        val = float(hd.standard(name)(jnp.asarray(z)))
        zero = float(hd.standard(name)(jnp.zeros(7)))
    np.testing.assert_allclose(val, _np_reference(name, z), rtol=1e-10)
    assert abs(zero) < 1e-4  # Schwefel's 420.9687 is a rounded minimiser


@pytest.mark.parametrize("fid", ["F1", "F2", "F3", "F4", "F5", "F6"])
def test_instances_rotation_shift_and_start(fid):
    d = 16
    inst = hd.sample_instance(jax.random.key(3), fid, d)
    name = hd.IDS[fid]
    lo, hi = hd.DOMAINS[name]
    w = hi - lo
    r = np.asarray(inst.rotation, np.float64)
    np.testing.assert_allclose(r @ r.T, np.eye(d), atol=1e-5)
    xo = np.asarray(inst.x_opt)
    assert np.all(xo >= lo + 0.1 * w - 1e-5) and np.all(xo <= hi - 0.1 * w + 1e-5)
    x0 = np.asarray(inst.x0)
    assert np.all((x0 >= lo) & (x0 <= hi))
    loss = hd.objective(fid, inst)
    assert abs(float(loss(inst.x_opt))) < 1e-2 * max(1.0, abs(float(loss(inst.x0))))
    # loss(x) = f(R (x - x_opt)) by direct NumPy evaluation
    z = r @ (x0 - xo)
    np.testing.assert_allclose(float(loss(inst.x0)), _np_reference(name, z), rtol=1e-3)


@pytest.mark.slow
def test_instances_are_deterministic_per_key_and_differ_across_keys():
    a = hd.sample_instance(jax.random.key(1), "rastrigin", 8)
    b = hd.sample_instance(jax.random.key(1), "rastrigin", 8)
    c = hd.sample_instance(jax.random.key(2), "rastrigin", 8)
    for u, v, w in zip(a, b, c):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
        assert not np.array_equal(np.asarray(u), np.asarray(w))
    batch = jax.vmap(lambda k: hd.sample_instance(k, "ackley", 8))(
        jax.random.split(jax.random.key(0), 3))
    assert batch.rotation.shape == (3, 8, 8)


def test_haar_rotation_statistics():
    # For Haar O(d), E[R_11^2] = 1/d; check over many draws.
    d, n = 5, 400
    rs = jax.vmap(lambda k: haar_orthogonal(k, d))(jax.random.split(jax.random.key(0), n))
    m = float(np.mean(np.asarray(rs[:, 0, 0]) ** 2))
    assert abs(m - 1 / d) < 4 * math.sqrt(2 / (d * d * n))


def test_cosine_distance_matches_loop_and_skips_zero_steps():
    rng = np.random.default_rng(0)
    path = rng.normal(size=(6, 4))
    path[3] = path[2]  # a rejected move
    x_opt = rng.normal(size=4)
    vals = []
    for t in range(1, 6):
        s, o = path[t] - path[t - 1], x_opt - path[t - 1]
        if np.linalg.norm(s) > 0:
            vals.append(1 - s @ o / (np.linalg.norm(s) * np.linalg.norm(o)))
    mean, skipped = hd.cosine_distance(jnp.asarray(path), jnp.asarray(x_opt))
    np.testing.assert_allclose(float(mean), np.mean(vals), rtol=1e-5)
    assert int(skipped) == 1
    straight = np.linspace(0, 1, 5)[:, None] * x_opt[None, :]
    assert float(hd.cosine_distance(jnp.asarray(straight), jnp.asarray(x_opt))[0]) < 1e-5


def test_bad_names_and_dims():
    with pytest.raises(ValueError, match="name"):
        hd.sample_instance(jax.random.key(0), "sphere", 4)
    with pytest.raises(ValueError, match="dim"):
        hd.sample_instance(jax.random.key(0), "F1", 1)


@pytest.mark.parametrize("fid", ["F2", "F5", "F6"])
def test_instances_as_problems(fid):
    problem, x0 = hd.sample(jax.random.key(9), fid, 6)
    inst = hd.sample_instance(jax.random.key(9), fid, 6)
    assert isinstance(problem, Problem) and problem.name == fid and problem.dim == 6
    np.testing.assert_array_equal(np.asarray(x0), np.asarray(inst.x0))
    np.testing.assert_array_equal(problem.x_star, np.asarray(inst.x_opt)[None])
    lo, hi = hd.domain(fid)
    assert np.all(problem.lower == lo) and np.all(problem.upper == hi)
    assert problem.f_star == 0.0
    # the JAX and NumPy losses agree, and vanish at the minimiser
    np.testing.assert_allclose(float(problem.fn(x0)), problem.np_fn(np.asarray(x0)), rtol=1e-4)
    assert abs(problem.np_fn(problem.x_star[0])) < 1e-3
    z = np.random.default_rng(1).uniform(-2, 2, 6)
    np.testing.assert_allclose(hd.standard_numpy(fid)(z), _np_reference(hd.IDS[fid], z),
                               rtol=1e-12)


def test_readings_on_hand_made_paths():
    x_opt = np.array([4.0, 0.0])
    straight = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    r, _ = hd.cosine_readings(straight, x_opt)
    for name in hd.READINGS:
        assert r[name] == pytest.approx(0.0, abs=1e-12), name
    # first step orthogonal (distance 1), second points from (0, 1) straight at x_opt (0)
    bent = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 0.0]])
    r, per_step = hd.cosine_readings(bent, x_opt)
    assert r["eq9"] == pytest.approx(0.5)
    assert r["eq9_first_10"] == pytest.approx(0.5)
    # reference x_opt - x_0 = (4, 0): steps (0, 1) -> 1, (4, -1) -> 1 - 4/sqrt(17)
    assert r["eq9_from_start"] == pytest.approx(0.5 * (1 + 1 - 4 / math.sqrt(17)))
    # displacements (0, 1) -> 1 and (4, 0) -> 0
    assert r["displacement"] == pytest.approx(0.5)
    # closest approach at t = 2 (the end): both steps count
    assert r["eq9_approach"] == pytest.approx(0.5)
    np.testing.assert_allclose(per_step["eq9_terms"], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(per_step["dist"], [4.0, math.sqrt(17), 0.0])


@pytest.mark.parametrize("fid", ["F1", "F3", "F5", "F6"])
def test_along_axes_equals_the_stencil_evaluated_point_by_point(fid):
    with jax.enable_x64(True):
        inst = hd.sample_instance(jax.random.key(4), fid, 12, dtype=jnp.float64)
        f = hd.objective(fid, inst)
        steps = jnp.asarray(np.random.default_rng(1).uniform(0.1, 2.0, (3, 12)))
        got = np.asarray(f.along_axes(inst.x0, steps))
        rot, x_opt = np.asarray(inst.rotation), np.asarray(inst.x_opt)
        name = hd.IDS[fid]
        for k in range(3):
            for i in range(12):
                for side, sign in enumerate((1.0, -1.0)):
                    x = np.asarray(inst.x0).copy()
                    x[i] += sign * float(steps[k, i])
                    want = _np_reference(name, rot @ (x - x_opt))
                    assert got[side, k, i] == pytest.approx(want, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("fid", ["F2", "F4"])
def test_axis_fast_path_gives_the_same_dgs_and_fd_gradients(fid):
    from jaxopt_lab.dgs.estimator import estimate, fd_estimate

    with jax.enable_x64(True):
        inst = hd.sample_instance(jax.random.key(5), fid, 40, dtype=jnp.float64)
        fast = hd.objective(fid, inst)
        plain = lambda x: fast(x)  # noqa: E731  (no along_axes: point by point)
        sigma = jnp.linspace(0.2, 3.0, 40)
        a, b = estimate(fast, inst.x0, sigma), estimate(plain, inst.x0, sigma)
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-9, atol=1e-9)
        assert float(a.best_f) == pytest.approx(float(b.best_f), rel=1e-12)
        np.testing.assert_allclose(a.best_x, b.best_x)
        h = jnp.asarray(1e-3)
        c = fd_estimate(jax.random.key(0), fast, inst.x0, h)
        e = fd_estimate(jax.random.key(0), plain, inst.x0, h)
        np.testing.assert_allclose(c.grad, e.grad, rtol=1e-6, atol=1e-6)
