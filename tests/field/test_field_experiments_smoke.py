"""Smoke runs of the field experiments' quick profiles (slow: minutes on 2 CPU cores)."""

import pytest

from tests.dgs.experiment_runs import run_experiment


@pytest.mark.slow
@pytest.mark.parametrize("name,extra", [
    ("dgs_groundwater", ["--steps", "3"]),
    ("dgs_topology", ["--iters", "3", "--methods", "adjoint,dgs,fd,es,nesterov,cmaes"]),
])
def test_quick_profile_runs_and_writes_report(tmp_path, name, extra):
    pytest.importorskip("matplotlib")
    run_experiment(name, "--profile", "quick", "--seeds", "1", "--out", str(tmp_path), *extra)
    assert "Paper's claim" in (tmp_path / "report.md").read_text()
    assert len(list((tmp_path / "figures").glob("*.png"))) == 2
