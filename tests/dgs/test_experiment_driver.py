"""The benchmark driver (experiments/dgs_methods.py): online Eq. (9) and budget accounting."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from experiments import dgs_methods as dm
from jaxopt_lab import dgs
from jaxopt_lab.core import run
from jaxopt_lab.problems import highdim as hd


def test_online_cosine_distance_equals_the_path_metric_and_budget_is_respected():
    d, fid = 10, "F4"
    total = dm.budget(d, 20)
    key = jax.random.key(5)
    out = jax.jit(dm.run_fn("DGS", fid, d, total, 5))(key)
    # the same run by hand: same instance, same keys, full path recorded
    k_inst, k_run = jax.random.split(key)
    inst = hd.sample_instance(k_inst, fid, d)
    f = hd.objective(fid, inst)
    w = hd.width(fid)
    m = dgs.make_dgs(f, dgs.DGSConfig(dim=d, record_path=True))
    p = dgs.dgs_params(0.05 * math.sqrt(d) * w, 5 * w, horizon=20.0)
    _, trace = run(m, k_run, inst.x0, p, 20)
    path = jnp.concatenate([inst.x0[None], trace.x])
    ref, skipped = hd.cosine_distance(path, inst.x_opt)
    np.testing.assert_allclose(float(out["cos_dist"]), float(ref), rtol=1e-4)
    assert int(out["cos_skipped"]) == int(skipped)
    assert int(out["num_evals"]) <= total + 21
    np.testing.assert_allclose(float(out["final_f"]), float(f(trace.x[-1])), rtol=1e-5)
    assert np.all(np.diff(np.asarray(out["trace_best"])) <= 0)


def test_every_jax_baseline_gets_the_same_budget():
    d = 8
    total = dm.budget(d, 10)
    inst = hd.sample_instance(jax.random.key(0), "F3", d)
    for name in ("DGS", "AdaDGS", "ES-Bpop", "Nesterov", "FD"):
        adapter, steps = dm.make_adapter(name, "F3", d, inst, total)
        used = steps * adapter.evals_per_step
        assert total * 0.85 <= used <= total + steps, (name, used, total)
