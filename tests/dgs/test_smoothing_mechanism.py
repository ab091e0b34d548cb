"""The closed form behind docs/benchmarks/dgs.md §2.3 (scripts/dgs_smoothing_angle.py).

On rotated Rastrigin, DGS along axis e_i damps the cosine term j by
exp(-2 pi^2 sigma^2 R_ji^2); the estimator with many Gauss-Hermite nodes must converge to
that closed form, and the isotropic closed form (ES's target) must equal a brute-force
Gaussian average.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import dgs
from jaxopt_lab.problems import highdim as hd


def _axis_closed_form(rot, x, x_opt, sigma):
    z = rot @ (x - x_opt)
    damp = np.exp(-2.0 * np.pi**2 * sigma**2 * rot**2)
    return rot.T @ (2 * z) + 20 * np.pi * np.einsum("ji,ji,j->i", rot, damp,
                                                   np.sin(2 * np.pi * z))


@pytest.mark.slow
def test_dgs_converges_to_the_axis_wise_damping_closed_form():
    d, sigma = 12, 0.45
    with jax.enable_x64(True):
        inst = hd.sample_instance(jax.random.key(3), "F4", d, dtype=jnp.float64)
        f = hd.objective("F4", inst)
        rot, x_opt = np.asarray(inst.rotation), np.asarray(inst.x_opt)
        x = x_opt + np.linspace(-1.3, 2.1, d)
        exact = _axis_closed_form(rot, x, x_opt, sigma)
        errs = [np.max(np.abs(np.asarray(dgs.gradient(f, jnp.asarray(x), sigma,
                                                      num_points=m)) - exact))
                for m in (5, 15, 61)]
    scale = np.max(np.abs(exact))
    assert errs[0] > 1e-3 * scale  # M = 5 is visibly not the limit here
    assert errs[2] < 1e-8 * scale and errs[2] < errs[1] < errs[0], errs
    # and the damping really is per (axis, term): with the isotropic factor instead the
    # gradient is a different vector
    iso = rot.T @ (2 * (rot @ (x - x_opt))) + 20 * np.pi * np.exp(
        -2 * np.pi**2 * sigma**2) * rot.T @ np.sin(2 * np.pi * rot @ (x - x_opt))
    assert np.max(np.abs(iso - exact)) > 0.1 * scale


def test_isotropic_closed_form_equals_a_gaussian_average():
    # E_u[grad f(x + sigma u)], u ~ N(0, I): the gradient of the isotropically smoothed loss
    d, sigma, n = 6, 0.2, 400_000
    inst = hd.sample_instance(jax.random.key(4), "F4", d)
    rot, x_opt = np.asarray(inst.rotation, np.float64), np.asarray(inst.x_opt, np.float64)
    x = x_opt + 0.7
    u = np.random.default_rng(0).standard_normal((n, d))
    z = (x - x_opt + sigma * u) @ rot.T
    grads = (2 * z + 20 * np.pi * np.sin(2 * np.pi * z)) @ rot
    mc = grads.mean(0)
    closed = 2 * (x - x_opt) + 20 * np.pi * np.exp(-2 * np.pi**2 * sigma**2) * (
        rot.T @ np.sin(2 * np.pi * rot @ (x - x_opt)))
    se = grads.std(0) / np.sqrt(n)
    np.testing.assert_array_less(np.abs(mc - closed), 5 * se)
