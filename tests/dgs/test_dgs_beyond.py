"""``experiments.dgs_beyond``: its arguments, the budget of a DGS-avg cell, and the baselines
read from saved ``dgs_benchmarks`` cells."""

import numpy as np
import pytest

from experiments import dgs_beyond
from experiments.common import main
from tests.dgs.experiment_runs import load_cell, run_experiment


def test_bad_arguments_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="--functions: unknown id 'F6'"):
        main(dgs_beyond.EXPERIMENT, ["--functions", "F4,F6", "--out", str(tmp_path / "a"),
                                     "--no-progress"])
    with pytest.raises(ValueError, match="--iters must be >= 2"):
        main(dgs_beyond.EXPERIMENT, ["--iters", "1", "--out", str(tmp_path / "b"),
                                     "--no-progress"])


def test_verdicts_compare_with_the_right_methods():
    res = {("F4", "DGS-avg"): {"best_f": np.array([9.0, 11.0])},
           ("F4", "ES-Bpop"): {"best_f": np.array([12.0])},
           ("F4", "DGS"): {"best_f": np.array([1.0])},  # not a rival on F3-F5
           ("F2", "DGS-avg"): {"best_f": np.array([0.5])},
           ("F2", "Sep-CMA-ES"): {"best_f": np.array([0.2])}}  # but counts on F1, F2
    lines = dgs_beyond.verdicts(res, ["F2", "F4"])
    assert "best Sep-CMA-ES 0.2, ratio 2.5): **not met**" in lines[0]
    assert "best ES-Bpop 12, ratio 0.833): **met**" in lines[1]


@pytest.mark.slow
def test_paper_profile_reads_saved_baselines_and_keeps_the_budget(tmp_path):
    d, iters = 6, 4
    bench = tmp_path / "bench"
    run_experiment("dgs_benchmarks", "--profile", "paper", "--dim", str(d), "--seeds", "1",
                   "--functions", "F4", "--methods", "DGS,FD", "--iters", str(iters),
                   "--out", str(bench))
    out = tmp_path / "beyond"
    run_experiment("dgs_beyond", "--profile", "paper", "--dim", str(d), "--seeds", "1",
                   "--functions", "F4", "--iters", str(iters), "--baselines-from", str(bench),
                   "--out", str(out))
    ours = load_cell(out / f"F4_DGS-avg_d{d}_descent0.5")
    # iters - 1 steps of (M - 1) d, the mean's evaluation: within the budget iters (M - 1) d
    assert int(ours["cos_steps"][0]) + int(ours["cos_skipped"][0]) == iters - 1
    counted = (iters - 1) * 4 * d + 1
    assert counted <= iters * 4 * d
    assert int(ours["num_evals"][0]) == counted + (iters - 1) + 1  # + f(x_t) and f(x0)
    report = (out / "report.md").read_text()
    fd = float(load_cell(bench / f"F4_FD_d{d}")["best_f"][0])
    assert f"{fd:.4g}" in report and "| FD |" in report
    assert "F4: DGS-avg" in report and ("**met**" in report or "**not met**" in report)
    assert not (out / f"F4_FD_d{d}").exists()  # read, not computed
