"""DGS's random perturbation under vmap: one unbatched cond per run (no batched QR select)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run
from jaxopt_lab.dgs import dgs


def _spd_objective(x):
    # uses a LAPACK kernel (Cholesky), like the groundwater simulator
    a = jnp.eye(x.shape[0]) + 0.1 * jnp.outer(x, x)
    chol = jnp.linalg.cholesky(a)
    return jnp.sum(x * x) + jnp.sum(jnp.log(jnp.diagonal(chol)))


def _runner(grad_tol, steps=4, dim=12):
    method = dgs.make(_spd_objective, dgs.Config(dim=dim, perturb="grad_norm", normalize=False,
                                                 lr_schedule="constant",
                                                 radius_schedule="constant"))
    params = dgs.params(learning_rate=0.05, sigma=0.3, grad_tol=grad_tol, sigma_halfwidth=0.1)

    def fn(key):
        x0 = jax.random.normal(jax.random.fold_in(key, 1), (dim,))
        final, info = run(method, key, x0, params, steps)
        return final.x, final.directions, info.perturbed

    return fn


@pytest.mark.slow
def test_vmapped_perturbation_equals_separate_runs_and_only_where_triggered():
    keys = jnp.stack([jax.random.fold_in(jax.random.key(0), s) for s in range(3)])
    # grad_tol huge: every run perturbs at every step
    fn = _runner(grad_tol=1e9)
    xs, dirs, perturbed = jax.jit(jax.vmap(fn))(keys)
    assert bool(jnp.all(perturbed))
    for i, k in enumerate(keys):
        x1, d1, p1 = jax.jit(fn)(k)
        np.testing.assert_allclose(np.asarray(xs[i]), np.asarray(x1), rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(np.asarray(dirs[i]), np.asarray(d1), rtol=2e-5, atol=2e-6)
    # the perturbed directions stay orthogonal and differ from the identity
    q = np.asarray(dirs[0], np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(q.shape[0]), atol=1e-5)
    assert np.abs(q - np.eye(q.shape[0])).max() > 1e-2

    never = _runner(grad_tol=0.0)
    xs0, dirs0, p0 = jax.jit(jax.vmap(never))(keys)
    assert not bool(jnp.any(p0))
    np.testing.assert_array_equal(np.asarray(dirs0), np.broadcast_to(np.eye(12), dirs0.shape))
