"""scripts/bench_maxent.py: its arguments, its peer's BLAS threads and its result object.

No timing is asserted; the measurements themselves are not run here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.maxent import fixed_rule
from jaxopt_lab.maxent.cases import make_case
from jaxopt_lab.maxent.precondition import forward_moments, precondition
from jaxopt_lab.maxent.rules import alpha_rule
from tests.helpers.scripts import load_script



@pytest.fixture(scope="module")
def bench():
    return load_script("bench_maxent")


@pytest.mark.parametrize("argv, word", [
    (["--cases", "2d8_bimodal,nope"], "--cases"),
    (["--repeats", "0"], "--repeats"),
    (["--batch", "-3"], "--batch"),
    (["--peer-budget", "0"], "--peer-budget"),
    (["--peers", "tensor,lapack"], "--peers"),
])
def test_bad_arguments_are_rejected_by_name(bench, capsys, argv, word):
    with pytest.raises(SystemExit) as exit_info:
        bench.build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert word in capsys.readouterr().err


def test_quick_and_json_options_parse(bench):
    args = bench.build_parser().parse_args(["--quick", "--json", "out.json",
                                            "--cases", "2d8_bimodal,3d6_mixed"])
    assert args.quick and args.json == Path("out.json")
    assert args.cases == ["2d8_bimodal", "3d6_mixed"]


def test_peer_runs_with_one_blas_thread_and_solves_the_dual(bench):
    case = make_case("2d8_gauss")
    pre = precondition(case.moments, case.dim, case.order)
    target = forward_moments(pre, case.moments)
    nodes, weights = alpha_rule(20, pre.alpha, 1.0)
    lam0 = fixed_rule.gaussian_start(case.dim, case.order)
    x, wall, evals, threads = bench.run_peer("tensor", "trust-exact", target, case.dim,
                                             case.order, nodes, weights, lam0)
    assert threads <= 1 and evals >= 1 and wall >= 0
    err = bench.moment_error(x, pre, target, case.dim, case.order, 20, 1.0)
    assert np.isfinite(err) and err < 1e-6


def test_markdown_has_every_table_and_the_json_has_the_fields(bench, tmp_path):
    common = {"case": "2d8_bimodal", "K": 45, "T": 64, "sigma": 0.29, "ours_cold_s": 2.0,
              "ours_warm_s": 0.01, "ours_moment_error": 7e-11, "ours_iterations": 41}
    cells = [
        {"kind": "ladder", "method": "auto", "ours_result": "converged", **common},
        {"kind": "fixed_rule", "method": "newton", "peer": "tensor/trust-exact",
         "peer_s": 0.02, "peer_moment_error": 7e-11, "ratio_warm": 2.0, "ratio_cold": 0.01,
         **common},
        {"kind": "fixed_rule", "method": "newton", "peer": "monomial/trust-exact",
         "peer_s": None, "peer_moment_error": None, "ratio_warm": None, "ratio_cold": None,
         "peer_skipped": "grid too large", **common},
        {"kind": "process", "case": "2d8_bimodal", "method": "auto", "process": 2,
         "import_s": 1.0, "solve_s": 0.5, "process_wall_s": 2.0, "cache_hits": 2,
         "cache_misses": 0, "cache_entries": 2, "result": "converged", "load_average": 1.0},
        {"kind": "batch", "case": "2d4_random", "method": "newton", "batch": 10,
         "ours_cold_s": 1.0, "ours_warm_s": 0.1, "solves_per_s": 100.0, "converged": 1.0,
         "ours_moment_error": 1e-9, "max_iterations": 9},
    ]
    text = bench.markdown(cells)
    assert text.count("\n|---") == 4 and "grid too large" in text
    path = tmp_path / "maxent.json"
    bench.benchlib.write_result(path, bench.BENCHMARK, cells, text,
                                argv=["scripts/bench_maxent.py", "--quick"])
    result = json.loads(path.read_text())
    assert result["benchmark"] == "maxent" and result["cells"] == cells
    assert result["markdown"].endswith(text) and "--quick" in result["command"]
