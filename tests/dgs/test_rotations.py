"""Random orthogonal matrices (jaxopt_lab.linalg) used by DGS's perturbation and the benchmarks."""

import jax
import numpy as np

from jaxopt_lab.linalg import haar_orthogonal, perturb_orthogonal


def test_perturbation_is_a_small_random_rotation():
    q = np.asarray(haar_orthogonal(jax.random.key(0), 7), np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(7), atol=1e-5)
    small = np.asarray(perturb_orthogonal(jax.random.key(1), jax.numpy.asarray(q), 0.05),
                       np.float64)
    np.testing.assert_allclose(small.T @ small, np.eye(7), atol=1e-5)
    assert 1e-3 < np.abs(small - q).max() < 0.3
    # scale 0: the matrix itself (the QR's sign fix keeps the columns' signs)
    same = perturb_orthogonal(jax.random.key(1), jax.numpy.eye(7), 0.0)
    np.testing.assert_allclose(np.asarray(same), np.eye(7), atol=1e-6)
    other = perturb_orthogonal(jax.random.key(2), jax.numpy.asarray(q), 0.05)
    assert not np.allclose(np.asarray(other), small)
