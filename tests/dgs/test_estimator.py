"""The DGS gradient estimator against analytic gradients, NumPy references and its invariances."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import dgs
from jaxopt_lab.dgs.estimator import estimate, positive_nodes


def _orth(seed, d):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))[None, :]


def _quadratic(seed, d):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d))
    a = a + a.T
    b = rng.normal(size=d)

    def f(x):
        return 0.5 * x @ jnp.asarray(a, x.dtype) @ x + jnp.asarray(b, x.dtype) @ x - 1.5

    return f, a, b


@pytest.mark.parametrize("num_points", [2, 3, 5, 6])
@pytest.mark.parametrize("chunk_size", [None, 7])
def test_exact_for_quadratics_any_sigma_and_directions(num_points, chunk_size):
    d = 9
    f, a, b = _quadratic(0, d)
    x = np.random.default_rng(1).normal(size=d)
    sigma = np.linspace(0.1, 30.0, d)  # per-direction radii, some huge
    q = _orth(2, d)
    with jax.enable_x64(True):
        g = dgs.gradient(f, jnp.asarray(x), jnp.asarray(sigma), directions=jnp.asarray(q),
                         num_points=num_points, chunk_size=chunk_size)
        np.testing.assert_allclose(np.asarray(g), a @ x + b, rtol=1e-9, atol=1e-9)
    g32 = dgs.gradient(f, jnp.asarray(x, jnp.float32), 2.0, num_points=num_points,
                       chunk_size=chunk_size)
    assert g32.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(g32), a @ x + b, rtol=1e-4, atol=1e-4)


def test_exact_for_linear_with_huge_sigma():
    c = np.arange(1.0, 6.0)
    f = lambda x: jnp.asarray(c, x.dtype) @ x + 7.0  # noqa: E731
    with jax.enable_x64(True):
        g = dgs.gradient(f, jnp.zeros(5), 1e4)
    np.testing.assert_allclose(np.asarray(g), c, rtol=1e-10)


def test_converges_with_num_points_to_analytic_smoothed_derivative():
    # F(x) = sum_i sin(a x_i): the smoothed directional derivative along e_i is
    # a cos(a x_i) exp(-a^2 sigma^2 / 2) (Gaussian characteristic function).
    a, sigma = 1.7, 0.8
    x = np.array([0.3, -1.2, 2.5])
    exact = a * np.cos(a * x) * np.exp(-(a * sigma) ** 2 / 2)
    f = lambda z: jnp.sum(jnp.sin(a * z))  # noqa: E731
    errs = []
    with jax.enable_x64(True):
        for m in (3, 5, 9, 15, 25):
            g = dgs.gradient(f, jnp.asarray(x), sigma, num_points=m)
            errs.append(np.max(np.abs(np.asarray(g) - exact)))
    assert all(e2 < e1 for e1, e2 in zip(errs, errs[1:])), errs
    assert errs[-1] < 1e-12 and errs[0] > 1e-3


def _numpy_dgs(f_batch, x, sigma, xi, m):
    """The paper's formula literally: physicists' rule, all M*d points, x + sqrt2 sigma v xi."""
    v, w = np.polynomial.hermite.hermgauss(m)
    d = x.size
    pts = x[None, None, :] + np.sqrt(2) * sigma * v[:, None, None] * xi.T[None, :, :]
    vals = f_batch(pts.reshape(-1, d)).reshape(m, d)
    dd = (w * np.sqrt(2) * v) @ vals / (np.sqrt(np.pi) * sigma)
    return xi @ dd


def test_matches_numpy_reference_on_rotated_rastrigin():
    d = 12
    rot = _orth(3, d)
    shift = np.random.default_rng(4).uniform(-2, 2, size=d)

    def f_np(xs):
        z = (xs - shift) @ rot.T
        return 10 * d + np.sum(z**2 - 10 * np.cos(2 * np.pi * z), axis=-1)

    def f(x):
        z = jnp.asarray(rot, x.dtype) @ (x - jnp.asarray(shift, x.dtype))
        return 10 * d + jnp.sum(z**2 - 10 * jnp.cos(2 * jnp.pi * z))

    x = np.random.default_rng(5).uniform(-5, 5, size=d)
    xi = _orth(6, d)
    ref = _numpy_dgs(f_np, x, 1.3, xi, 5)
    with jax.enable_x64(True):
        g = dgs.gradient(f, jnp.asarray(x), 1.3, directions=jnp.asarray(xi), chunk_size=10)
    np.testing.assert_allclose(np.asarray(g), ref, rtol=1e-9, atol=1e-9)
    g32 = dgs.gradient(f, jnp.asarray(x, jnp.float32), 1.3, directions=jnp.asarray(xi))
    np.testing.assert_allclose(np.asarray(g32), ref, rtol=1e-3, atol=1e-2)


def test_central_differences_are_the_two_point_rule():
    # M = 2 (nodes +-1 in N(0,1) units) and sigma = h gives (f(x+h e_i)-f(x-h e_i)) / 2h.
    f = lambda x: jnp.sum(jnp.exp(x) * jnp.cos(3 * x))  # noqa: E731
    x, h = np.array([0.1, -0.4, 0.9]), 0.05
    fn = lambda z: np.sum(np.exp(z) * np.cos(3 * z))  # noqa: E731
    ref = np.array([(fn(x + h * e) - fn(x - h * e)) / (2 * h) for e in np.eye(3)])
    with jax.enable_x64(True):
        g = dgs.gradient(f, jnp.asarray(x), h, num_points=2)
    np.testing.assert_allclose(np.asarray(g), ref, rtol=1e-12)


def test_rotation_equivariance_and_linearity_in_f():
    d = 6
    q = _orth(7, d)
    xi = _orth(8, d)
    f = lambda z: jnp.sum(jnp.cos(z) * z**2)  # noqa: E731
    h = lambda z: jnp.sum(jnp.sin(2 * z))  # noqa: E731
    x = np.random.default_rng(9).normal(size=d)
    with jax.enable_x64(True):
        fq = lambda z: f(jnp.asarray(q) @ z)  # noqa: E731
        g1 = dgs.gradient(fq, jnp.asarray(x), 0.7, directions=jnp.asarray(xi))
        g2 = dgs.gradient(f, jnp.asarray(q @ x), 0.7, directions=jnp.asarray(q @ xi))
        np.testing.assert_allclose(np.asarray(g1), q.T @ np.asarray(g2), atol=1e-10)
        comb = lambda z: 2.0 * f(z) - 3.0 * h(z) + 4.0  # noqa: E731
        gc = dgs.gradient(comb, jnp.asarray(x), 0.7, directions=jnp.asarray(xi))
        gf = dgs.gradient(f, jnp.asarray(x), 0.7, directions=jnp.asarray(xi))
        gh = dgs.gradient(h, jnp.asarray(x), 0.7, directions=jnp.asarray(xi))
        np.testing.assert_allclose(np.asarray(gc), 2 * np.asarray(gf) - 3 * np.asarray(gh),
                                   atol=1e-10)


def test_chunking_does_not_change_the_result_and_jit_vmap_work():
    d = 11
    f = lambda z: jnp.sum(z**4 - 3 * z**2) + z[0] * z[1]  # noqa: E731
    xs = jax.random.normal(jax.random.key(0), (3, d))
    full = jax.vmap(lambda x: dgs.gradient(f, x, 0.9))(xs)
    for chunk in (1, 4, 17, 1000):
        part = jax.jit(jax.vmap(lambda x: dgs.gradient(f, x, 0.9, chunk_size=chunk)))(xs)
        np.testing.assert_allclose(np.asarray(part), np.asarray(full), rtol=1e-5, atol=1e-5)
    loop = np.stack([np.asarray(dgs.gradient(f, x, 0.9)) for x in xs])
    np.testing.assert_allclose(np.asarray(full), loop, rtol=1e-6, atol=1e-6)


def test_evaluation_count_and_best_point():
    f = lambda z: jnp.sum((z - 0.3) ** 2)  # noqa: E731

    e = estimate(f, jnp.zeros(4), 0.5, num_points=5)
    assert dgs.num_evaluations(4, 5) == 16 and dgs.num_evaluations(4, 4) == 16
    np.testing.assert_allclose(float(f(e.best_x)), float(e.best_f), rtol=1e-6)
    # brute force over the (M-1) d = 16 points x +- 0.5 u_k e_i (the centre node is skipped)
    u, _ = positive_nodes(5)
    pts = [s * 0.5 * uk * ei for s in (1, -1) for uk in u for ei in np.eye(4)]
    np.testing.assert_allclose(float(e.best_f), min(np.sum((p - 0.3) ** 2) for p in pts),
                               rtol=1e-6)
    assert len(pts) == 16


def test_nonfinite_pairs_are_dropped_and_counted():
    # f is NaN for x_0 > 1: only the +node pairs along e_0 reaching past 1 are affected.
    def f(z):
        return jnp.where(z[0] > 1.0, jnp.nan, jnp.sum(z**2))

    e = estimate(f, jnp.zeros(3), 0.5, num_points=5)  # nodes +-0.5*{0.9586*sqrt2, 2.02*sqrt2}
    # u = 1.3556, 2.857 -> sigma u = 0.678, 1.43: only the outer + point on e_0 is NaN.
    assert int(e.num_nonfinite) == 1
    assert np.all(np.isfinite(np.asarray(e.grad)))
    # along e_0 only the inner pair is used: (1/sigma) p1 u1 (f+ - f-) = 0 for x = 0
    np.testing.assert_allclose(np.asarray(e.grad), 0.0, atol=1e-6)
    assert np.isfinite(float(e.best_f))


@pytest.mark.parametrize("kwargs,match", [
    (dict(sigma=0.0), "sigma"),
    (dict(sigma=-1.0), "sigma"),
    (dict(sigma=jnp.ones(4)), "sigma"),
    (dict(sigma=jnp.array([1.0, 0.0, 2.0])), "sigma"),
    (dict(sigma=jnp.inf), "sigma"),
    (dict(num_points=1), "num_points"),
    (dict(num_points=2.5), "num_points"),
    (dict(directions=jnp.ones((3, 3))), "directions"),
    (dict(directions=jnp.eye(4)), "directions"),
    (dict(chunk_size=0), "chunk_size"),
])
def test_bad_input_raises_naming_the_argument(kwargs, match):
    args = dict(sigma=1.0)
    args.update(kwargs)
    sigma = args.pop("sigma")
    with pytest.raises(ValueError, match=match):
        dgs.gradient(lambda z: jnp.sum(z), jnp.zeros(3), sigma, **args)


def test_bad_x_shape_raises():
    with pytest.raises(ValueError, match="x must have shape"):
        dgs.gradient(lambda z: jnp.sum(z), jnp.zeros((2, 3)), 1.0)
