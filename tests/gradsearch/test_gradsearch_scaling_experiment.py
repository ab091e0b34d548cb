"""``experiments.gradsearch_scaling``: argument errors, and a tiny run end to end (report,
verified solutions of both methods, figure, resume)."""

import pytest

from experiments import gradsearch_scaling
from experiments.common import main


def test_bad_arguments_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="--variants: unknown variant 'best'"):
        main(gradsearch_scaling.EXPERIMENT, ["--variants", "soft,best", "--out",
                                             str(tmp_path / "a"), "--no-progress"])
    with pytest.raises(ValueError, match="--sizes: unknown circuit 'divider2'"):
        main(gradsearch_scaling.EXPERIMENT, ["--sizes", "divider2", "--out",
                                             str(tmp_path / "b"), "--no-progress"])
    with pytest.raises(ValueError, match="--budget must be > 0"):
        main(gradsearch_scaling.EXPERIMENT, ["--budget", "0", "--out", str(tmp_path / "c"),
                                             "--no-progress"])


@pytest.mark.slow
def test_a_tiny_study_reports_verified_solutions_and_resumes(tmp_path):
    argv = ["--sizes", "comparator1", "--variants", "checked8", "--budget", "3",
            "--restarts", "8", "--out", str(tmp_path / "run"), "--no-progress"]
    main(gradsearch_scaling.EXPERIMENT, argv)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| `checked8` |" in report
    assert "**What traps the soft variant** (after 2000 steps of 64 restarts" in report
    row = next(line for line in report.splitlines() if line.startswith("| comparator1 |"))
    assert "not solved" not in row  # a 2-gate circuit: both methods solve and verify it
    assert (tmp_path / "run" / "figures" / "scaling.png").stat().st_size > 0
    main(gradsearch_scaling.EXPERIMENT, argv)  # every cell saved: the rerun only reports
    again = (tmp_path / "run" / "report.md").read_text()
    assert again.split("*Made by*")[0].split("\n", 3)[3] == report.split("*Made by*")[0] \
        .split("\n", 3)[3]
