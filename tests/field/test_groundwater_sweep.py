"""The groundwater experiment's seeds run vmapped through the shared sweep, equal to a loop."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments import dgs_groundwater as E
from experiments.common import Context
from jaxopt_lab.problems import groundwater as G


def test_sweep_over_seeds_equals_one_seed_at_a_time(tmp_path, name="dgs"):
    # DGS with its perturbation on: the case that deadlocked on XLA:CPU when vmapped
    # (batched QR beside the simulator's batched Cholesky), docs/benchmarks/dgs.md §4.
    cfg = dict(E.PROFILES["quick"], chunk=132)
    problem = G.make_inversion(0, nx=6, ny=5, num_obs=12, field=G.MLPField(hidden=8))
    run_fn, num_steps = E.make_run_fn(name, problem, cfg, num_dgs_steps=2)
    seeds = [0, 1]
    ctx = Context(experiment=E.EXPERIMENT, profile="quick", seeds=seeds, root_seed=0,
                  chunk_size=1, out=tmp_path, progress=False, command="test")
    swept = E._sweep(ctx, run_fn, dict(method=name, num_steps=num_steps), cell=name)
    np.testing.assert_array_equal(swept["seed"], seeds)
    one = jax.jit(run_fn)
    for i, s in enumerate(seeds):
        ref = one(jax.random.fold_in(jax.random.key(0), s))
        assert swept["trace"][i].shape == (num_steps,)
        np.testing.assert_allclose(swept["trace"][i], ref["trace"], rtol=1e-5)
        np.testing.assert_allclose(swept["x"][i], ref["x"], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(swept["num_evals"][i], ref["num_evals"])
        assert float(ref["best_f"]) < float(ref["f0"])  # the runs made progress
    assert not np.allclose(swept["trace"][0], swept["trace"][1])  # seeds differ
    # The record resumes: a second call reads the same numbers back without running.
    again = E._sweep(ctx, lambda key: 1 / 0, dict(method=name, num_steps=num_steps), cell=name)
    np.testing.assert_array_equal(again["trace"], swept["trace"])
