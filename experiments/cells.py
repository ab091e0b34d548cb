"""Per-cell verdicts: which published numbers a saved run reproduces, explains or leaves open.

An experiment that compares cells with a paper defines ``cell_verdicts(out) -> list[Cell]``:
it reads its saved run in ``out`` (``results/<name>/<profile>/``) and judges each published
cell it ran by the tolerance rule below. ``python -m experiments.reproduce`` counts the
verdicts per paper for the table at the top of ``docs/reproduction.md``.

Tolerance rule: a rate is reproduced when ours lies within 2 standard errors of the paper's
(:func:`rate_within_2se`); Table 1's cosine distances of the DGS paper within ±0.1; other
numbers as the paper states them. A cell outside the tolerance is "explained" only when
its experiment's report gives the mechanism of the discrepancy (each experiment lists those
cells by name), and "open" otherwise.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Mapping

import numpy as np

from jaxopt_lab.records import RunRecord

VERDICTS = ("reproduced", "explained", "open")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One published number: ``name`` (e.g. ``"bop K=8"``), its verdict and a short note."""

    name: str
    verdict: str
    note: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def rate_within_2se(ours_pct: float, paper_pct: float, num_runs: int) -> bool:
    """Whether two success rates (in %) agree within 2 standard errors of a rate over our runs.

    The standard error is ``sqrt(p (1 - p) / num_runs)`` at the mean ``p`` of the two rates
    (so that a rate of 0 or 100% on either side still has a spread), with ``num_runs`` our
    number of runs (the papers rarely give theirs).
    """
    if num_runs < 1:
        raise ValueError(f"num_runs must be >= 1, got {num_runs}")
    if not (math.isfinite(ours_pct) and math.isfinite(paper_pct)):
        return False
    p = (ours_pct + paper_pct) / 200.0
    se = 100.0 * math.sqrt(p * (1.0 - p) / num_runs)
    return abs(ours_pct - paper_pct) <= 2.0 * se + 1e-9


def judge(name: str, within: bool, explained: Mapping[str, str], note: str = "") -> Cell:
    """The verdict of one cell: reproduced if ``within``, else explained if the experiment's
    report names a mechanism for it (``explained[name]``), else open."""
    if within:
        return Cell(name, "reproduced", note)
    if name in explained:
        return Cell(name, "explained", explained[name])
    return Cell(name, "open", note)


def count(cells) -> dict[str, int]:
    """``{"reproduced": n, "explained": n, "open": n}`` of a list of :class:`Cell`."""
    totals = dict.fromkeys(VERDICTS, 0)
    for cell in cells:
        totals[cell.verdict] += 1
    return totals


def load_record(folder: Path) -> dict[str, np.ndarray] | None:
    """Every seed's outputs of the run record in ``folder``, or ``None`` if there is none."""
    try:
        return RunRecord.open_readonly(folder).load()
    except FileNotFoundError:
        return None
