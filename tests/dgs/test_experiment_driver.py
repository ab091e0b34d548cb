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


def test_benchmarks_saved_only_renders_the_saved_cells_and_rejects_other_configs(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")  # the report draws Figure 2 (an `experiments` extra)
    from experiments import dgs_benchmarks as db
    from experiments.common import main

    def argv(functions, methods, iters=3, *extra):
        return ["--profile", "paper", "--dim", "4", "--seeds", "1", "--functions", functions,
                "--methods", methods, "--iters", str(iters), "--checkpoints", "3",
                "--out", str(tmp_path), "--no-progress", *extra]

    # compute only F3 with DGS and FD ...
    main(db.EXPERIMENT, argv("F3", "DGS,FD"))
    computed = (tmp_path / "F3_DGS_d4" / "metrics.csv").read_text()
    env = (tmp_path / "F3_DGS_d4" / "env.json").read_text()
    # ... then render F3 and F4 with three methods from what was saved: nothing is computed
    section = main(db.EXPERIMENT, argv("F3,F4", "DGS,FD,ES-Bpop", 3, "--saved-only"))
    assert not (tmp_path / "F4_DGS_d4").exists() and not (tmp_path / "F3_ES-Bpop_d4").exists()
    assert (tmp_path / "F3_DGS_d4" / "env.json").read_text() == env  # untouched
    header = computed.splitlines()[0].split(",")
    best = float(computed.splitlines()[1].split(",")[header.index("best_f")])
    assert f"{best:.4g}" in section
    assert "| ES-Bpop |" not in section  # a method with no saved cell is not a row
    assert "--saved-only" in section
    assert ("rank 1 of 2" in section) != ("rank 2 of 2" in section)
    assert (tmp_path / "figures" / "figure2_loss_vs_evals_d4.png").exists()
    with pytest.raises(ValueError, match="iters"):
        main(db.EXPERIMENT, argv("F3", "DGS", 4, "--saved-only"))
