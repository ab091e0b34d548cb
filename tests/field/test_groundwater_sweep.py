"""DGS with its perturbation, on the groundwater black box, swept over seeds: vmapped seeds
equal one seed at a time (the case that deadlocked on XLA:CPU, docs/benchmarks/dgs.md §4)."""

import jax
import numpy as np
import pytest

from jaxopt_lab import sweep
from jaxopt_lab.core import run
from jaxopt_lab.dgs import dgs
from jaxopt_lab.problems import groundwater as G


@pytest.mark.slow
def test_sweep_over_seeds_equals_one_seed_at_a_time():
    # batched QR (the perturbation fires at every step) beside the simulator's batched
    # Cholesky, in one vmapped step: the custom_vmap rule keeps the QR unbatched
    problem = G.make_inversion(0, nx=6, ny=5, num_obs=12, field=G.MLPField(hidden=8))
    dim = problem.field.num_params

    def objective(params):
        return G.inversion_loss(problem, params)

    method = dgs.make(objective, dgs.Config(dim=dim, perturb="grad_norm", normalize=False,
                                            lr_schedule="exponential",
                                            radius_schedule="constant", chunk_size=132))
    params = dgs.params(learning_rate=0.1, learning_rate_final=1e-8, decay=0.99, sigma=0.1,
                        sigma_final=0.1, rotation_scale=0.1, sigma_halfwidth=0.1,
                        grad_tol=1e9)

    def run_fn(key):
        x0 = problem.field.init(jax.random.fold_in(key, 3))
        final, trace = run(method, key, x0, params, 2)
        return dict(best_f=final.best_f, num_evals=final.num_evals, trace=trace.best_f,
                    perturbed=trace.perturbed, x=final.best_x)

    seeds = [0, 1]
    swept = sweep(run_fn, seeds, chunk_size=2, devices=jax.devices()[:1], progress=False)
    np.testing.assert_array_equal(swept["seed"], seeds)
    assert np.all(swept["perturbed"])
    one = jax.jit(run_fn)
    for i, s in enumerate(seeds):
        ref = one(jax.random.fold_in(jax.random.key(0), s))
        assert swept["trace"][i].shape == (2,)
        np.testing.assert_allclose(swept["trace"][i], ref["trace"], rtol=1e-5)
        np.testing.assert_allclose(swept["x"][i], ref["x"], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(swept["num_evals"][i], ref["num_evals"])
