"""Smoke runs of the field experiments' quick profiles (slow: minutes on 2 CPU cores)."""

import pytest

from experiments.common import main


@pytest.mark.slow
@pytest.mark.parametrize("name,extra", [
    ("dgs_groundwater", ["--steps", "3"]),
    ("dgs_topology", ["--iters", "3", "--methods", "adjoint,dgs,fd,es,nesterov,cmaes"]),
])
def test_quick_profile_runs_and_writes_report(tmp_path, name, extra):
    import importlib

    experiment = importlib.import_module(f"experiments.{name}").EXPERIMENT
    section = main(experiment, ["--profile", "quick", "--seeds", "1", "--out", str(tmp_path),
                                "--no-progress", *extra])
    assert "Paper's claim" in section
    assert (tmp_path / "report.md").exists()
    assert len(list((tmp_path / "figures").glob("*.png"))) == 2
