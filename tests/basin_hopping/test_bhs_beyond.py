"""``experiments.bhs_beyond``: its arguments, and one tiny run end to end (report and resume)."""

import pytest

from experiments import bhs_beyond
from experiments.common import main


def test_unknown_variant_and_bad_budget_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="--variants: unknown variant 'diagonal'"):
        main(bhs_beyond.EXPERIMENT, ["--variants", "paper,diagonal", "--out",
                                     str(tmp_path / "a"), "--no-progress"])
    with pytest.raises(ValueError, match="--budget must be > 0"):
        main(bhs_beyond.EXPERIMENT, ["--budget", "-1", "--out", str(tmp_path / "b"),
                                     "--no-progress"])


@pytest.mark.slow
def test_a_tiny_scan_reports_both_landscapes_and_resumes(tmp_path):
    argv = ["--dims", "3", "--variants", "paper,axes", "--budget", "0.5", "--chains", "16",
            "--out", str(tmp_path / "run"), "--no-progress"]
    main(bhs_beyond.EXPERIMENT, argv)
    report = (tmp_path / "run" / "report.md").read_text()
    for cell in ("| 3 | plain | paper |", "| 3 | rotated | paper |", "| 3 | plain | axes |",
                 "| 3 | rotated | axes |"):
        assert cell in report
    # d = 3 is easy for every variant: at least one success on the separable landscape
    assert "`axes` on plain: x* found up to d = 3" in report
    assert (tmp_path / "run" / "figures" / "beyond.png").stat().st_size > 0
    saved = {p.parent.relative_to(tmp_path / "run").as_posix()
             for p in (tmp_path / "run").glob("d03/*/*/metrics.csv")}
    assert saved == {"d03/plain/paper", "d03/rotated/paper", "d03/plain/axes",
                     "d03/rotated/axes"}
    main(bhs_beyond.EXPERIMENT, argv)  # every cell saved: the rerun only reports
    assert (tmp_path / "run" / "report.md").read_text() == report.replace(
        report.split("*Made by*")[-1], (tmp_path / "run" / "report.md").read_text()
        .split("*Made by*")[-1])
