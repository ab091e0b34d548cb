"""The BH-S benchmark's plumbing: the peer's one BLAS thread, the CLI's checks, the JSON."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import bhs_common
from jaxopt_lab.problems import landscapes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def test_scipy_peer_runs_with_one_blas_thread_whoever_calls_it():
    from threadpoolctl import threadpool_limits

    ls = landscapes.get("Modified Rosenbrock")
    with threadpool_limits(limits=2):  # a caller that lets BLAS start threads
        res = bhs_common.scipy_cell(ls, "bhs", 0.05, 0, sigma=0.4, num_skips=25, tol=1e-3,
                                    max_runs=1)
    assert res["blas_threads"] == 1
    assert res["cpu_s"] > 0 and res["runs"] <= 1


@pytest.mark.parametrize("argv, words", [
    (["--cases", "Rastrigin"], ["--cases", "Rastrigin"]),
    (["--methods", "bhs,sa"], ["--methods", "'sa'"]),
    (["--budget", "0"], ["--budget", "> 0"]),
    (["--ref-budget", "-1"], ["--ref-budget"]),
    (["--cold-budget", "nan"], ["--cold-budget"]),
    (["--chains", "1024,0"], ["--chains", "positive"]),
    (["--chains", "x"], ["--chains"]),
])
def test_cli_rejects_bad_input(argv, words, capsys):
    from scripts import bench_bhs

    with pytest.raises(SystemExit):
        bench_bhs.parser().parse_args(argv)
    err = capsys.readouterr().err
    for w in words:
        assert w in err


FIELDS = {"landscape", "method", "ours_per_cpu_s", "ref_per_cpu_s", "ratio", "ours_rho",
          "ref_rho", "ref_blas_threads", "ratio_cold", "ours_compile_cpu_s", "chains",
          "ours_runs", "ours_successes", "ref_runs", "ref_successes"}


@pytest.mark.slow
def test_json_has_the_fields(tmp_path):
    out = tmp_path / "bhs.json"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_bhs.py"), "--json", str(out),
                    "--cases", "Modified Rosenbrock", "--methods", "bhs", "--budget", "0.5",
                    "--ref-budget", "0.5", "--chains", "16"], check=True, cwd=ROOT,
                   capture_output=True)
    result = json.loads(out.read_text())
    assert result["benchmark"] == "bhs"
    (cell,) = result["cells"]
    assert FIELDS <= set(cell)
    assert cell["ref_blas_threads"] == 1
    assert cell["ours_compile_cpu_s"] > 0
    if cell["ref_successes"] < 5:
        assert cell["ratio"] == cell["ratio_cold"] == "reference too weak"
    assert "| landscape |" in result["markdown"]
