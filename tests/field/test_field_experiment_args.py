"""Bad command-line input of the field experiments fails fast with a ValueError (no runs)."""

import pytest

from experiments.common import main


@pytest.mark.parametrize("name,extra,match", [
    ("dgs_groundwater", ["--methods", "dgs,simplex"], "--methods"),
    ("dgs_groundwater", ["--nx", "1"], "--nx"),
    ("dgs_groundwater", ["--steps", "0"], "--steps"),
    ("dgs_topology", ["--methods", "adjoint,lbfgs"], "--methods"),
    ("dgs_topology", ["--nelx", "1"], "--nelx"),
    ("dgs_topology", ["--nelx", "33"], "even"),
    ("dgs_topology", ["--iters", "1"], "--iters"),
    ("dgs_topology", ["--dgs-radius", "0"], "--dgs-radius"),
    ("dgs_topology", ["--dgs-period", "0", "--methods", "dgs"], "--dgs-period"),
    ("dgs_topology", ["--dgs-alpha", "-0.1", "--methods", "dgs"], "--dgs-alpha"),
    ("dgs_topology", ["--dgs-beta", "-1", "--methods", "dgs"], "--dgs-beta"),
])
def test_bad_arguments_raise(tmp_path, name, extra, match):
    import importlib

    experiment = importlib.import_module(f"experiments.{name}").EXPERIMENT
    with pytest.raises(ValueError, match=match):
        main(experiment, ["--profile", "quick", "--seeds", "1", "--out", str(tmp_path),
                          "--no-progress", *extra])


def test_unknown_dgs_trigger_is_rejected_by_the_parser(tmp_path):
    from experiments.dgs_topology import EXPERIMENT

    with pytest.raises(SystemExit):
        main(EXPERIMENT, ["--out", str(tmp_path), "--dgs-trigger", "sometimes"])
