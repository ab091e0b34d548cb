"""Bad command-line input of the field experiments fails fast with a ValueError (no runs).

Each case starts a fresh ``python -m experiments.<name>`` (several seconds of imports), so
one case per experiment runs by default and the others are marked slow.
"""

import pytest

from tests.dgs.experiment_runs import run_experiment

SLOW = pytest.mark.slow


@pytest.mark.parametrize("name,extra,match", [
    ("dgs_groundwater", ["--methods", "dgs,simplex"], "--methods"),
    pytest.param("dgs_groundwater", ["--nx", "1"], "--nx", marks=SLOW),
    pytest.param("dgs_groundwater", ["--steps", "0"], "--steps", marks=SLOW),
    ("dgs_topology", ["--methods", "adjoint,lbfgs"], "--methods"),
    pytest.param("dgs_topology", ["--nelx", "1"], "--nelx", marks=SLOW),
    pytest.param("dgs_topology", ["--nelx", "33"], "even", marks=SLOW),
    pytest.param("dgs_topology", ["--iters", "1"], "--iters", marks=SLOW),
    pytest.param("dgs_topology", ["--dgs-radius", "0"], "--dgs-radius", marks=SLOW),
    pytest.param("dgs_topology", ["--dgs-period", "0", "--methods", "dgs"], "--dgs-period",
                 marks=SLOW),
    pytest.param("dgs_topology", ["--dgs-alpha", "-0.1", "--methods", "dgs"], "--dgs-alpha",
                 marks=SLOW),
    pytest.param("dgs_topology", ["--dgs-beta", "-1", "--methods", "dgs"], "--dgs-beta",
                 marks=SLOW),
    pytest.param("dgs_topology", ["--dgs-trigger", "sometimes"], "--dgs-trigger", marks=SLOW),
])
def test_bad_arguments_are_refused(tmp_path, name, extra, match):
    out = run_experiment(name, "--profile", "quick", "--seeds", "1", "--out", str(tmp_path),
                         *extra, check=False)
    assert out.returncode == 2  # a usage error: one line naming the argument, no traceback
    assert match in out.stderr
    assert "error:" in out.stderr and "Traceback" not in out.stderr
    assert not list(tmp_path.glob("*/metrics.csv"))  # nothing ran
