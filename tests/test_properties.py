"""Property tests (hypothesis): Gauss–Hermite exactness, the DGS gradient on quadratics,
the skipping chain's line. Each property compiles its JAX function once and reuses it."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings, strategies as st

from jaxopt_lab import dgs, quadrature
from jaxopt_lab.basin_hopping import perturb

FAST = settings(max_examples=25, deadline=None, derandomize=True)


def _normal_moment(k: int) -> float:
    """``E[X^k]`` for ``X ~ N(0, 1)``: 0 for odd ``k``, ``(k - 1)!!`` for even ``k``."""
    return 0.0 if k % 2 else float(math.prod(range(k - 1, 0, -2)))


@FAST
@given(n=st.integers(1, 24), data=st.data())
def test_gauss_hermite_is_exact_up_to_degree_2n_minus_1(n, data):
    degree = data.draw(st.integers(0, 2 * n - 1), label="degree")
    coeffs = np.asarray(data.draw(st.lists(st.floats(-1, 1), min_size=degree + 1,
                                           max_size=degree + 1), label="coeffs"))
    rule = quadrature.gauss_hermite(n, "probabilists", normalized=True)
    quad = np.sum(rule.weights * np.polynomial.polynomial.polyval(rule.nodes, coeffs))
    moments = np.array([_normal_moment(k) for k in range(degree + 1)])
    scale = np.sum(np.abs(coeffs) * np.array([_normal_moment(2 * (k // 2 + k % 2))
                                              for k in range(degree + 1)]))
    assert abs(quad - coeffs @ moments) <= 1e-11 * max(scale, 1.0)


DIM = 4


@jax.jit
def _dgs_gradient_of_quadratic(a, b, x, sigma):
    return dgs.gradient(lambda y: 0.5 * y @ (a @ y) + b @ y, x, sigma)


@FAST
@given(seed=st.integers(0, 2**31 - 1), sigma=st.floats(0.05, 5.0))
def test_dgs_gradient_is_exact_on_quadratics(seed, sigma):
    """Gaussian smoothing adds a constant to a quadratic, so the smoothed gradient is
    ``A x + b`` whatever the radius (Zhang et al. 2021, Sec. 3; Gauss-Hermite with M >= 2
    integrates the quadratic exactly)."""
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(DIM, DIM))
    a = (m + m.T).astype(np.float32)
    b = rng.normal(size=DIM).astype(np.float32)
    x = rng.uniform(-3, 3, size=DIM).astype(np.float32)
    got = np.asarray(_dgs_gradient_of_quadratic(a, b, x, np.float32(sigma)))
    want = a.astype(np.float64) @ x + b
    scale = np.abs(a).sum(1) * np.abs(x).max() + np.abs(b) + 1.0
    np.testing.assert_allclose(got, want, atol=2e-5 * scale.max() * max(1.0, sigma), rtol=0)


K = 8


@jax.jit
def _chain(key, x, threshold):
    """Hits only farther than ``threshold`` from ``x`` (``f = -1`` there, ``f(x) = 0``)."""
    def objective(z):
        return jnp.where(jnp.sqrt(jnp.sum((z - x) ** 2)) > threshold, -1.0, 1.0)

    lower, upper = jnp.full((3,), -10.0), jnp.full((3,), 10.0)
    return perturb.skipping_chain(key, x, jnp.float32(0.0), objective, jnp.float32(0.7),
                                  lower, upper, max_skips=K, boundary="none")


@FAST
@given(seed=st.integers(0, 2**31 - 1), threshold=st.floats(0.0, 6.0))
def test_skipping_chain_stays_on_its_line(seed, threshold):
    """With ``boundary="none"`` the chain's k-th point is ``x + k R_1 phi`` (equal radii),
    and it stops at the first point farther than the threshold (BH-S, Algorithm 2)."""
    key = jax.random.key(seed)
    x = jax.random.uniform(jax.random.fold_in(key, 1), (3,), minval=-5.0, maxval=5.0)
    res = _chain(key, x, jnp.float32(threshold))
    x, points, r1 = np.asarray(x, np.float64), np.asarray(res.points, np.float64), \
        float(res.first_radius)
    offsets = points - x  # [K, 3]
    phi = offsets[0] / np.linalg.norm(offsets[0])
    steps = np.arange(1, K + 1)
    np.testing.assert_allclose(offsets, steps[:, None] * r1 * phi[None, :], atol=1e-4 * K * r1)
    first = int(np.argmax(steps * r1 > threshold)) if (steps * r1 > threshold).any() else None
    if first is None:
        assert not bool(res.found) and int(res.num_steps) == K
        np.testing.assert_array_equal(np.asarray(res.y), x.astype(np.float32))
        return
    if abs(steps[first] * r1 - threshold) < 1e-4 * K * r1:
        return  # a tie within rounding: only the line is checked
    assert bool(res.found) and int(res.num_steps) == first + 1
    np.testing.assert_allclose(np.asarray(res.y), points[first], atol=1e-5)
    np.testing.assert_allclose(float(res.path_length), (first + 1) * r1, rtol=1e-5)
