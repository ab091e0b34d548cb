"""scripts/accelerator_check: argument checks, the MaxEnt problem recipe, the tiny CPU run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scripts import accelerator_check as ac

ROOT = Path(__file__).resolve().parent.parent
# What the script must run without (optax is a dependency of jaxopt_lab.dgs and .gradsearch):
# a sitecustomize that refuses these imports. SciPy is a dependency of JAX itself (jaxlib's
# CPU LAPACK kernels come from it), so only imports made from jaxlib may load it.
NOT_NEEDED = ("scipy", "threadpoolctl", "evosax", "z3", "matplotlib")
BLOCKER = f"""
import sys

def _from_jaxlib():
    frame = sys._getframe(1)
    while frame is not None:
        if "jaxlib" in frame.f_code.co_filename.replace("\\\\", "/").split("/"):
            return True
        frame = frame.f_back
    return False

class _Refuse:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in {NOT_NEEDED!r} and not (top == "scipy" and _from_jaxlib()):
            raise ModuleNotFoundError(f"No module named {{name!r}} (refused for the check)",
                                      name=name)
        return None

sys.meta_path.insert(0, _Refuse())
"""


def test_bad_slices_is_an_argparse_error_naming_the_argument(capsys):
    with pytest.raises(SystemExit) as exc:
        ac.parse_args(["--out", "somewhere", "--slices", "dgs,nope"])
    assert exc.value.code == 2
    assert "--slices" in capsys.readouterr().err


def test_full_sizes_on_cpu_without_out_refuses_to_overwrite_the_page(capsys):
    if ac.jax.default_backend() != "cpu":
        pytest.skip("an accelerator is present")
    with pytest.raises(SystemExit) as exc:
        ac.parse_args([])
    assert exc.value.code == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.slow  # rotated_product's 1500-node Legendre rule costs seconds
def test_maxent_problems_match_rotated_product():
    from jaxopt_lab.maxent.cases import rotated_product

    got = ac.maxent_problems(6, seed=3)
    rng = np.random.default_rng(3)  # the draws of maxent_problems, in its order
    a = np.eye(2) + 0.3 * rng.standard_normal((6, 2, 2))
    b = rng.standard_normal((6, 2))
    pick = rng.integers(0, 3, (6, 2))
    names = ("gauss", "bimodal", "skewed")
    want = np.stack([rotated_product(2, 4, [names[p] for p in pick[i]], a[i], b[i]).moments
                     for i in range(6)])
    assert got.shape == (6, 15)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_tiny_run_writes_the_page_into_out_with_every_table(tmp_path):
    committed = (ROOT / "docs" / "benchmarks" / "accelerator.md").read_text()
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    out = tmp_path / "page"
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHON=sys.executable,
               PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "accelerator_check.sh"), "--tiny",
                           "--out", str(out), "--json", str(tmp_path / "r.json")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ac.SLICES:
        assert f"[{name}]" in proc.stdout  # per-slice time printed
    assert "skipped" not in proc.stdout
    page = (out / "accelerator.md").read_text()
    assert "Device (`jax.devices()`): cpu:0" in page
    assert "not figures" in page
    for name in ac.SLICES:
        title = f"### {ac.TITLES[name]}"
        assert title in page
        after = page.split(title, 1)[1]
        assert "\n| " in after.split("###", 1)[0]  # a table under the title
    result = json.loads((tmp_path / "r.json").read_text())
    assert {"benchmark", "command", "date", "machine", "cells", "markdown"} <= set(result)
    # where the page and the JSON went is not part of the command (no machine paths)
    assert result["command"] == "PYTHONPATH=. bash scripts/accelerator_check.sh --tiny"
    assert {c["slice"] for c in result["cells"]} == set(ac.SLICES)
    dgs = [c for c in result["cells"] if c["slice"] == "dgs"]
    assert len(dgs) == len(ac.DGS_FUNCTIONS) * len(ac.DGS_METHODS)
    assert all(len(c["best_f"]) == ac.TINY.dgs_trials for c in dgs)
    assert all(np.isfinite(c["best_f"]).all() for c in dgs)
    maxent = next(c for c in result["cells"] if c["slice"] == "maxent")
    assert maxent["problems"] == ac.TINY.maxent_problems and maxent["converged"] > 0.9
    closure = next(c for c in result["cells"] if c["slice"] == "maxent_closure")
    assert closure["problems"] == ac.TINY.closure_problems and closure["converged"] == 1.0
    assert closure["max_moment_error"] <= 1e-8
    # the committed page is left alone
    assert (ROOT / "docs" / "benchmarks" / "accelerator.md").read_text() == committed
