"""Runs every experiment in a profile and rebuilds docs/reproduction.md.

    python -m experiments.reproduce --profile quick            # everything, minutes on a CPU
    python -m experiments.reproduce --profile paper --paper bhs   # one paper's experiments
    python -m experiments.reproduce --profile paper --only dgs_benchmarks,bhs_landscapes
    python -m experiments.reproduce --profile paper --fits cpu  # what fits on 2 CPU cores

The quick profile's document is ``docs/reproduction.md``; the paper profile's is
``docs/reproduction-paper.md``. With ``--fits cpu``, each experiment runs the part of its
paper profile that fits on a 2-core CPU (its :class:`~experiments.common.CpuPlan`), and the
command prints, and the document lists, the cost and the accelerator command of the rest.

Each experiment writes its results under ``<out-root>/<name>/<profile>/`` (resumable: a
re-run skips finished seeds) and returns a Markdown section; this script assembles the
sections, grouped by paper, with the paper's numbers beside ours, and copies the figures
to ``docs/figures/`` (``docs/figures/paper/`` for the paper profile). The document opens with a count per paper of the published cells
reproduced within tolerance, explained and open (:func:`tally_cells`). With ``--only``,
just those experiments run and the document shows the latest saved run of every other one.
An experiment that fails is reported in the document and makes the command exit with
status 1 after the others have run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

from experiments.cells import VERDICTS, count
from experiments.common import (PROFILES, REPO_ROOT, copy_figures, discover, is_usage_error,
                                main, reproduction_document)

PAPERS = {
    "Foundation": "Framework checks",
    "DGS": "DGS — Zhang, Tran, Lu & Zhang, *Enabling long-range exploration in minimization of "
           "multimodal functions*, UAI 2021",
    "BH-S": "BH-S — Goodridge, Moriarty, Vogrinc & Zocca, *Hopping between distant basins*, 2021",
    "GradSearch": "GradSearch — Lu, *Mitigating the failures of gradient-based program "
                  "synthesis*, 2021",
    "MaxEnt": "MaxEnt — Abramov, multidimensional moment-constrained maximum entropy (review)",
}


def _paper_key(name: str) -> str:
    """``"BH-S"``, ``"bhs"`` and ``"bh_s"`` all name the same paper."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def experiments_of_paper(experiments: dict, paper: str) -> list[str]:
    """Names of the experiments that reproduce ``paper`` (case and punctuation ignored)."""
    wanted = _paper_key(paper)
    return [name for name, exp in experiments.items() if _paper_key(exp.paper) == wanted]


def paper_anchor(paper: str) -> str:
    """The id of a paper's section in docs/reproduction.md, e.g. ``paper-bhs``."""
    return "paper-" + _paper_key(paper)


def tally_cells(experiments: dict, out_root: Path, profile: str) -> dict[str, dict]:
    """Per paper, the verdicts of the published cells in the experiments' saved runs.

    Each experiment whose module defines ``cell_verdicts(out)`` is judged on its saved run in
    ``out_root/<name>/<profile>/`` (one with a ``report.json``). Returns ``{paper: {
    "reproduced": n, "explained": n, "open": n, "counted": [names], "no_run": [names],
    "no_verdicts": [names]}}`` in report order; the counts are ``None`` when no experiment
    of the paper was counted.
    """
    papers: dict[str, dict] = {}
    for name, exp in experiments.items():
        row = papers.setdefault(exp.paper, {"cells": [], "counted": [], "no_run": [],
                                            "no_verdicts": []})
        # discover() imported experiments/<name>.py; an experiment made elsewhere (a test's)
        # is looked up where its run function is defined.
        module = sys.modules.get(f"experiments.{name}") or sys.modules.get(exp.run.__module__)
        verdicts = getattr(module, "cell_verdicts", None)
        out = out_root / name / profile
        if verdicts is None:
            row["no_verdicts"].append(name)
        elif not (out / "report.json").exists():
            row["no_run"].append(name)
        else:
            row["cells"] += verdicts(out)
            row["counted"].append(name)
    for row in papers.values():
        totals = count(row.pop("cells"))
        row.update(totals if row["counted"] else dict.fromkeys(VERDICTS))
    return papers


def glance_table(papers: dict[str, dict], profile: str = "quick") -> list[str]:
    """Markdown lines: the tolerance rule and one row of counts per paper."""
    lines = [
        "Tolerance: a rate is reproduced when ours lies within 2 standard errors of the "
        "paper's; the cosine distances of the DGS paper's Table 1 within ±0.1; other "
        "numbers as the paper states them. A cell outside the tolerance is *explained* when "
        "its section gives the mechanism of the discrepancy, *open* otherwise. Counts are "
        "computed from the saved runs by each experiment's `cell_verdicts`"
        + ("; with the quick profile's reduced sizes, many cells are not expected to match."
           if profile == "quick" else "; an experiment not run here is not counted."),
        "",
        "| paper | reproduced | explained | open | counted from | not counted |",
        "|---|---|---|---|---|---|",
    ]
    for paper, row in papers.items():
        link = f"[{paper}](#{paper_anchor(paper)})"
        nums = ["—" if row[v] is None else str(row[v]) for v in VERDICTS]
        missing = ([f"`{n}` (no saved run)" for n in row["no_run"]]
                   + [f"`{n}` (no per-cell verdicts)" for n in row["no_verdicts"]])
        counted = ", ".join(f"`{n}`" for n in row["counted"]) or "no saved run"
        lines.append(f"| {link} | {' | '.join(nums)} | {counted} | "
                     f"{', '.join(missing) or '—'} |")
    return lines


def plan_table(experiments: dict) -> list[str]:
    """Markdown lines: per experiment, the part of the paper profile that runs on a 2-core
    CPU, its time, and the cost and command of the rest."""
    lines = ["| experiment | on a 2-core CPU | CPU minutes | left for an accelerator |",
             "|---|---|---|---|"]
    for name, exp in experiments.items():
        plan = exp.cpu_plan
        if plan is None:
            lines.append(f"| `{name}` | not assessed | — | — |")
            continue
        cpu = plan.cpu_command(name)
        cpu = "nothing" if cpu is None else f"`{cpu}`"
        if plan.note:
            cpu += f" ({plan.note})"
        minutes = ("—" if plan.minutes is None else f"{plan.minutes:.0f}"
                   if plan.minutes >= 10 else f"{plan.minutes:.2g}")
        rest = (f"{plan.rest}: `{plan.accelerator_command(name)}`" if plan.rest else "nothing")
        lines.append(f"| `{name}` | {cpu} | {minutes} | {rest} |")
    return lines


def build_document(profile: str, sections: list[tuple], papers: dict | None = None,
                   experiments: dict | None = None) -> str:
    """``sections``: ``(experiment, status, seconds, markdown)`` in report order;
    ``experiments`` (paper profile): adds the table of what fits on a CPU."""
    total = sum(seconds for _, _, seconds, _ in sections if seconds)
    if profile == "quick":
        title = "# Reproduction: the papers' numbers beside ours"
        about = ("The quick profile uses reduced sizes and seeds so that everything runs in "
                 "minutes on a 2-core CPU: it shows that everything runs, not that the papers' "
                 "numbers are reproduced; that is [reproduction-paper.md]"
                 "(reproduction-paper.md), made by the `paper` profile at the papers' sizes.")
    else:
        title = f"# Reproduction at the papers' scale (`{profile}` profile)"
        about = (f"The `{profile}` profile uses the papers' sizes and numbers of runs. The "
                 "parts that fit on a 2-core CPU ran here (`python -m experiments.reproduce "
                 f"--profile {profile} --fits cpu`); the table at the end says what each "
                 "experiment left for an accelerator, its cost and the command. The quick "
                 "profile's document is [reproduction.md](reproduction.md).")
    lines = [
        title,
        "",
        *(glance_table(papers, profile) + [""] if papers else []),
        f"Built by `python -m experiments.reproduce --profile {profile}` from each "
        f"experiment's latest run (sum of wall times {total / 60:.1f} min on the machine that "
        "ran them" + ("" if profile == "quick" else ", shared with other work: the last table "
                      "gives each part's CPU minutes")
        + "). Each section names the command that made it, and the commit where it was "
        "recorded; results and "
        "run records (config.json, env.json, metrics.csv, summary.json) are under "
        f"`results/<experiment>/{profile}/`, outside git"
        + ("" if profile == "quick" else
           " but for the d = 2000 trials of `dgs_benchmarks` (several CPU-hours, kept so "
           "that the run resumes on any machine)") + ". " + about,
        "",
        "| experiment | paper | status | wall time |",
        "|---|---|---|---|",
    ]
    for exp, status, seconds, _ in sections:
        wall = "—" if seconds is None else f"{seconds:.0f} s"
        lines.append(f"| [{exp.name}](#{exp.name.replace('_', '-')}) | {exp.paper} | {status} "
                     f"| {wall} |")
    current = None
    for exp, status, seconds, text in sections:
        if exp.paper != current:
            current = exp.paper
            lines += ["", f"<a id=\"{paper_anchor(exp.paper)}\"></a>",
                      f"## {PAPERS.get(exp.paper, exp.paper)}"]
        lines += ["", f"<a id=\"{exp.name.replace('_', '-')}\"></a>",
                  f"### {exp.title} (`{exp.name}`)", "", text.rstrip()]
    if experiments is not None:
        lines += ["", "<a id=\"fits-cpu\"></a>", "## What runs on a 2-core CPU, and the rest",
                  "", "What `--fits cpu` runs of each experiment's paper profile, its wall "
                  "process CPU minutes on a 2-core CPU (an upper bound on its wall time on an "
                  "idle machine), and what is left for an accelerator with its "
                  "cost and command (run records resume: the accelerator command skips the "
                  "seeds already done).", "", *plan_table(experiments)]
    return "\n".join(lines) + "\n"


def _saved_section(out: Path):
    """The section an earlier run left in ``out/report.json``, if any."""
    path = out / "report.json"
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    return saved["status"], saved["seconds"], saved["section"]


def run_all(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.reproduce",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--only", default=None,
                        help="comma-separated experiment names to run (default: all); the "
                             "document still shows every experiment's latest saved run")
    parser.add_argument("--paper", default=None,
                        help="run only the experiments of one paper: "
                             + ", ".join(PAPERS) + " (case and punctuation ignored)")
    parser.add_argument("--out-root", type=Path, default=Path("results"))
    parser.add_argument("--docs", type=Path, default=REPO_ROOT / "docs",
                        help="folder of reproduction.md and figures/")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--fresh", action="store_true",
                        help="discard earlier records of the experiments that run")
    parser.add_argument("--allow-mixed", action="store_true",
                        help="resume records written under another git commit, backend or "
                             "jax version (each report says which seeds came from which)")
    parser.add_argument("--fits", choices=("cpu",), default=None,
                        help="paper profile: run only what fits on a 2-core CPU (each "
                             "experiment's CpuPlan); print the cost and the command of the rest")
    parser.add_argument("--collect", action="store_true",
                        help="run nothing: rebuild the document (and copy the figures) from the saved reports")
    args = parser.parse_args(argv)

    experiments = discover()
    to_run = list(experiments)
    if args.only:
        to_run = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in to_run if n not in experiments]
        if unknown:
            parser.error(f"--only: unknown experiment(s) {unknown}; known: {sorted(experiments)}")
    if args.paper:
        if args.only:
            parser.error("--paper and --only exclude each other")
        to_run = experiments_of_paper(experiments, args.paper)
        if not to_run:
            known = sorted({exp.paper for exp in experiments.values()})
            parser.error(f"--paper: no experiment reproduces {args.paper!r}; known: {known}")
    if args.fits and args.profile == "quick":
        parser.error("--fits: only with --profile paper (the quick profile fits everywhere)")
    if args.collect:
        to_run = []
    left_over = []

    sections = []
    failed = []
    # copied into docs/ only once every experiment has run: a copy made earlier would leave
    # the work tree modified, and the later experiments' records marked "+ local changes"
    figures = []
    for name, exp in experiments.items():
        out = args.out_root / name / args.profile
        plan = exp.cpu_plan if args.fits else None
        if name in to_run and plan is not None and (plan.rest or not plan.fits()):
            left_over.append((name, plan))
        if name in to_run and args.fits and (plan is None or not plan.fits()):
            to_run = [n for n in to_run if n != name]  # nothing of it fits
        if name not in to_run:
            saved = _saved_section(out)
            if saved is None:
                sections.append((exp, "not run", None,
                                 f"Not run yet: `python -m experiments.{name} --profile "
                                 f"{args.profile}`."))
            else:
                sections.append((exp, *saved))
                figures.append((out, name))  # the figures of the run the section shows
            continue
        argv_exp = ["--profile", args.profile, *(plan.args if plan is not None else ()),
                    "--out", str(out)]
        if args.no_progress:
            argv_exp.append("--no-progress")
        if args.fresh:
            argv_exp.append("--fresh")
        if args.allow_mixed:
            argv_exp.append("--allow-mixed")
        print(f"== {name} ({exp.paper}: {exp.title})", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            text = main(exp, argv_exp)
            status = "ok"
            figures.append((out, name))
        except Exception as err:  # report, go on with the others
            failed.append(name)
            status = "FAILED"
            if is_usage_error(err):  # the message says what to do; no traceback
                text = f"This experiment refused to run: {err}\n"
                print(f"{name}: error: {err}", file=sys.stderr)
            else:
                text = ("This experiment failed:\n\n```\n" + traceback.format_exc()[-3000:]
                        + "```\n")
                traceback.print_exc()
        sections.append((exp, status, time.perf_counter() - t0, text))

    args.docs.mkdir(parents=True, exist_ok=True)
    for out, name in figures:
        copy_figures(out, name, args.docs, args.profile)
    target = args.docs / reproduction_document(args.profile)
    papers = tally_cells(experiments, args.out_root, args.profile)
    target.write_text(build_document(args.profile, sections, papers,
                                     experiments if args.profile != "quick" else None))
    print(f"wrote {target}", file=sys.stderr)
    if left_over:
        print("\nLeft for an accelerator (cost, then the command):", file=sys.stderr)
        for name, plan in left_over:
            print(f"- {name}: {plan.rest}\n    {plan.accelerator_command(name)}",
                  file=sys.stderr)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_all())
