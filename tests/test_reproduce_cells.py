"""The at-a-glance table of docs/reproduction.md: per-cell verdicts counted from saved runs.

Small synthetic saved runs (the files the experiments write) stand in for real ones; the
expected verdicts are worked out by hand from the papers' numbers in experiments/targets/.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from experiments import reproduce
from experiments.cells import Cell, count, judge, rate_within_2se
from experiments.common import discover
from jaxopt_lab.records import RunRecord


def saved_report(out):
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({"status": "ok", "seconds": 1.0,
                                                 "section": "text"}))


def parity_cell(out, method, k, solved):
    record = RunRecord(out / f"{method}_K{k}", {"method": method, "K": k})
    solved = np.asarray(solved, bool)
    record.write_chunk(list(range(solved.size)), {"solved": solved,
                                                  "steps": np.where(solved, 10, -1)})


def landscape_cell(out, landscape, method, rho, runs):
    record = RunRecord(out / landscape.replace(" ", "_") / method,
                       {"landscape": landscape, "method": method})
    record.write_chunk([0], {"rho": np.array([rho]), "runs": np.array([float(runs)])})


@pytest.fixture
def saved_runs(tmp_path):
    root = tmp_path / "results"
    # GradSearch, Table 1: Bop K=8 is 100% in the paper; GradSearch K=64 is 88%.
    out = root / "parity_chain" / "quick"
    saved_report(out)
    parity_cell(out, "bop", 8, [True] * 16)                    # 100% vs 100%: reproduced
    parity_cell(out, "gradsearch", 64, [True] * 8 + [False] * 8)   # 50% vs 88%: open
    parity_cell(out, "gradsearch", 99, [True] * 4)             # K not in the table: no cell
    # BH-S, Table 5.1: Carrom Table rho_c 99.8%; Cross Leg Table rho_c 15.5% (explained).
    out = root / "bhs_landscapes" / "quick"
    saved_report(out)
    landscape_cell(out, "Carrom Table", "bh", 100.0, 250)
    landscape_cell(out, "Cross Leg Table", "bh", 0.0, 400)
    landscape_cell(out, "Damavandi", "bhs", 14.4, 188)         # paper 32.9%: open
    # MaxEnt, section 10: two envelope cases (one misses), one case beyond the review.
    out = root / "maxent_envelope" / "quick"
    saved_report(out)
    rows = [{"case": "2d8_a", "dim": 2, "order": 8, "meets_target": True},
            {"case": "3d6_b", "dim": 3, "order": 6, "meets_target": False},
            {"case": "5d4_c", "dim": 5, "order": 4, "meets_target": False}]
    for row in rows:
        row.update(result="converged", moment_error=1e-9)
    (out / "table").mkdir()
    (out / "table" / "summary.json").write_text(json.dumps({"rows": rows}))
    # DGS: dgs_cosine's cell data without its report.json: a run that never finished.
    (root / "dgs_cosine" / "quick").mkdir(parents=True)
    (root / "dgs_cosine" / "quick" / "readings.json").write_text(
        json.dumps({"paper/F1/eq9": [0.17, 0.01], "paper/F1/diverged": [0.0, 0.0]}))
    return root


def test_counts_per_paper_from_saved_runs(saved_runs):
    papers = reproduce.tally_cells(discover(), saved_runs, "quick")
    assert {k: papers["GradSearch"][k] for k in ("reproduced", "explained", "open")} == {
        "reproduced": 1, "explained": 0, "open": 1}
    assert {k: papers["BH-S"][k] for k in ("reproduced", "explained", "open")} == {
        "reproduced": 1, "explained": 1, "open": 1}
    assert {k: papers["MaxEnt"][k] for k in ("reproduced", "explained", "open")} == {
        "reproduced": 1, "explained": 0, "open": 1}
    assert papers["GradSearch"]["counted"] == ["parity_chain"]
    assert "circuits" in papers["GradSearch"]["no_run"]
    assert "svg_program" in papers["GradSearch"]["no_verdicts"]


def test_a_paper_without_a_saved_run_says_so_instead_of_zero(saved_runs):
    papers = reproduce.tally_cells(discover(), saved_runs, "quick")
    for paper, name in (("Foundation", "sweep_check"), ("DGS", "dgs_cosine")):
        assert papers[paper]["counted"] == []
        assert name in papers[paper]["no_run"]
        assert papers[paper]["reproduced"] is None
    lines = reproduce.glance_table(papers)
    dgs = next(line for line in lines if line.startswith("| [DGS](#paper-dgs)"))
    assert dgs.split(" | ")[1:4] == ["—", "—", "—"]
    assert "`dgs_cosine` (no saved run)" in dgs
    assert "no saved run" in dgs.split(" | ")[4]
    bhs = next(line for line in lines if line.startswith("| [BH-S](#paper-bhs)"))
    assert bhs.split(" | ")[1:4] == ["1", "1", "1"]


def test_document_opens_with_the_table_and_links_each_paper_section(saved_runs):
    experiments = discover()
    papers = reproduce.tally_cells(experiments, saved_runs, "quick")
    sections = [(exp, "ok", 1.0, "text") for exp in experiments.values()]
    doc = reproduce.build_document("quick", sections, papers)
    head = doc.split("\n")[:12]
    assert head[2].startswith("Tolerance: a rate is reproduced when ours lies within 2 "
                              "standard errors")
    assert head[4] == "| paper | reproduced | explained | open | counted from | not counted |"
    for paper in ("Foundation", "DGS", "BH-S", "GradSearch", "MaxEnt"):
        assert f'<a id="{reproduce.paper_anchor(paper)}"></a>' in doc
        assert f"[{paper}](#{reproduce.paper_anchor(paper)})" in "\n".join(head)


def test_rate_tolerance_two_standard_errors_by_hand():
    # 50% vs 88% over 16 runs: p = 0.69, 2 se = 200 sqrt(0.69 * 0.31 / 16) = 23.1 < 38.
    assert 2 * 100 * math.sqrt(0.69 * 0.31 / 16) == pytest.approx(23.13, abs=0.01)
    assert rate_within_2se(50.0, 88.0, 16) is False
    assert rate_within_2se(70.0, 88.0, 16) is True            # p = 0.79: 2 se = 20.4 > 18
    assert rate_within_2se(70.0, 80.0, 100) is False          # p = 0.75: 2 se = 8.66 < 10
    assert rate_within_2se(75.0, 80.0, 100) is True           # p = 0.775: 2 se = 8.35 > 5
    assert rate_within_2se(100.0, 100.0, 16) is True
    assert rate_within_2se(94.0, 100.0, 16) is True           # p = 0.97: 2 se = 8.5 > 6
    assert rate_within_2se(0.0, 15.5, 400) is False           # 2 se = 2.7 < 15.5
    assert rate_within_2se(float("nan"), 50.0, 10) is False
    with pytest.raises(ValueError, match="num_runs"):
        rate_within_2se(50.0, 50.0, 0)


def test_judge_and_count():
    cells = [judge("a", True, {"a": "why"}), judge("b", False, {"b": "why"}),
             judge("c", False, {"a": "why"})]
    assert [c.verdict for c in cells] == ["reproduced", "explained", "open"]
    assert count(cells + [Cell("d", "open")]) == {"reproduced": 1, "explained": 1, "open": 2}
    with pytest.raises(ValueError, match="verdict"):
        Cell("e", "maybe")
