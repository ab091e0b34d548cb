"""scripts/bench_maxent_closure.py: its arguments and a tiny run's result object.

No timing is asserted; the rates themselves are measured by the script, not here.
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxopt_lab import maxent
from tests.helpers.scripts import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_maxent_closure")


@pytest.mark.parametrize("argv, word", [
    (["--batch", "0"], "--batch"), (["--repeats", "-1"], "--repeats"),
    (["--peer-problems", "0"], "--peer-problems"), (["--samples", "x"], "--samples")])
def test_bad_arguments_are_rejected_by_name(bench, capsys, argv, word):
    with pytest.raises(SystemExit) as exit_info:
        bench.build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert word in capsys.readouterr().err


def test_problems_are_realisable_sample_moments(bench):
    m = bench.problems(3, 500)
    assert m.shape == (3, 35) and np.allclose(m[:, 0], 1.0)
    assert bench.closure_config().rules == maxent.CLOSURE_RULES


@pytest.mark.slow
def test_a_tiny_run_solves_every_problem_and_scores_the_peer(bench, tmp_path):
    cells = bench.main(["--batch", "4", "--repeats", "1", "--peer-problems", "1",
                        "--samples", "2000", "--json", str(tmp_path / "r.json")])
    rows = {c["row"]: c for c in cells}
    assert set(rows) == {"closure", "ladder", "peer"}
    assert rows["closure"]["converged"] == 4 and rows["closure"]["moment_error"] <= 1e-8
    assert rows["peer"]["blas_threads"] == 1 and rows["peer"]["moment_error"] < 1e-6
    assert "| closure | 4 |" in (tmp_path / "r.json").read_text()
