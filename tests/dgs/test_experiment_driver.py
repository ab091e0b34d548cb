"""The benchmark driver (experiments/dgs_methods.py) through ``python -m
experiments.dgs_benchmarks``: online Eq. (9), budget accounting, --saved-only."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run
from jaxopt_lab.dgs import dgs
from jaxopt_lab.problems import highdim as hd
from jaxopt_lab.sweeps import seed_keys
from tests.dgs.experiment_runs import load_cell, run_experiment

pytest.importorskip("matplotlib")  # the report draws Figure 2 (an `experiments` extra)


def _args(out, dim, functions, methods, iters, checkpoints, *extra):
    return ("--profile", "paper", "--dim", str(dim), "--seeds", "1", "--functions", functions,
            "--methods", methods, "--iters", str(iters), "--checkpoints", str(checkpoints),
            "--out", str(out), *extra)


@pytest.mark.slow
def test_online_cosine_distance_equals_the_path_metric_and_budget_is_respected(tmp_path):
    d, fid, iters = 10, "F4", 20
    run_experiment("dgs_benchmarks", *_args(tmp_path, d, fid, "DGS", iters, 5))
    out = load_cell(tmp_path / f"{fid}_DGS_d{d}")
    # the same run by hand: seed 0's key, same instance, same keys, full path recorded
    k_inst, k_run = jax.random.split(seed_keys(0, [0])[0])
    inst = hd.sample_instance(k_inst, fid, d)
    f = hd.objective(fid, inst)
    total = iters * 4 * d  # 200 (M - 1) d with M = 5
    m = dgs.make(f, dgs.Config(dim=d, record_path=True))
    p = dgs.params(hd.width(fid), d, horizon=float(iters))
    _, trace = run(m, k_run, inst.x0, p, iters)
    path = jnp.concatenate([inst.x0[None], trace.x])
    ref, skipped = hd.cosine_distance(path, inst.x_opt)
    np.testing.assert_allclose(float(out["cos_dist"][0]), float(ref), rtol=1e-4)
    assert int(out["cos_skipped"][0]) == int(skipped)
    assert int(out["num_evals"][0]) <= total + 21
    np.testing.assert_allclose(float(out["final_f"][0]), float(f(trace.x[-1])), rtol=1e-5)
    assert np.all(np.diff(np.asarray(out["trace_best"][0])) <= 0)


@pytest.mark.slow
def test_every_jax_method_gets_the_same_budget(tmp_path):
    d, iters = 8, 10
    total = iters * 4 * d
    run_experiment("dgs_benchmarks", *_args(tmp_path, d, "F3", "DGS,AdaDGS,ES-Bpop,Nesterov,FD",
                                            iters, 1))
    for name in ("DGS", "AdaDGS", "ES-Bpop", "Nesterov", "FD"):
        used = int(load_cell(tmp_path / f"F3_{name}_d{d}")["num_evals"][0])
        # f(x0), then at most one f(x_new) per step beyond the budget (FD: 2 iters steps)
        assert total * 0.85 <= used <= total + 1 + 2 * iters, (name, used, total)


@pytest.mark.slow
def test_benchmarks_saved_only_renders_the_saved_cells_and_rejects_other_configs(tmp_path):
    # compute only F3 with DGS and FD ...
    run_experiment("dgs_benchmarks", *_args(tmp_path, 4, "F3", "DGS,FD", 3, 3))
    computed = (tmp_path / "F3_DGS_d4" / "metrics.csv").read_text()
    env = (tmp_path / "F3_DGS_d4" / "env.json").read_text()
    # ... then render F3 and F4 with three methods from what was saved: nothing is computed
    run_experiment("dgs_benchmarks", *_args(tmp_path, 4, "F3,F4", "DGS,FD,ES-Bpop", 3, 3,
                                            "--saved-only"))
    section = (tmp_path / "report.md").read_text()
    assert not (tmp_path / "F4_DGS_d4").exists() and not (tmp_path / "F3_ES-Bpop_d4").exists()
    assert (tmp_path / "F3_DGS_d4" / "env.json").read_text() == env  # untouched
    header = computed.splitlines()[0].split(",")
    best = float(computed.splitlines()[1].split(",")[header.index("best_f")])
    assert f"{best:.4g}" in section
    assert "| ES-Bpop |" not in section  # a method with no saved cell is not a row
    assert "--saved-only" in section
    assert ("rank 1 of 2" in section) != ("rank 2 of 2" in section)
    assert (tmp_path / "figures" / "figure2_loss_vs_evals_d4.png").exists()
    failed = run_experiment("dgs_benchmarks", *_args(tmp_path, 4, "F3", "DGS", 4, 3,
                                                     "--saved-only"), check=False)
    assert failed.returncode != 0 and "iters" in failed.stderr
