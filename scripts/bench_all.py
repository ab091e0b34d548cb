"""Run every benchmark script, collect its result and refresh the generated tables.

    python scripts/bench_all.py [--quick] [--only dgs,bhs,...] [--out results/bench]

Each ``scripts/bench_<name>.py`` (``name`` in :data:`BENCHMARKS`) runs in a fresh Python
process with ``--json <tmp>`` (and ``--quick``); its output streams to this terminal. The
result objects (see ``scripts/benchlib.py``) are stored in ``<out>/<UTC date>.json``::

    {"date": ..., "command": ..., "quick": bool, "run": ["dgs", ...],
     "machine": {...},                  # machine, versions, BLAS/XLA thread settings
     "benchmarks": {"dgs": {...}, ...}, # one result object per benchmark
     "failed": {"bhs": "exit status 1", ...},
     "elapsed_s": {"dgs": 95.1, ...},   # wall seconds per script
     "cpu_s": {"dgs": 80.3, ...}}       # CPU seconds per script (its threads, subprocesses)

(a second run on the same UTC day replaces the benchmarks it re-runs and keeps the others).
Each result's ``markdown`` replaces the text between ``benchlib.BEGIN`` and ``benchlib.END``
of its page, ``docs/benchmarks/<name>.md`` (``sweep``: ``docs/benchmarks.md``). A script
that fails leaves its page untouched; the others still run, and the run exits with status 1
at the end. A page without exactly one pair of markers stops the run before anything runs.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

#: The benchmarks in the order they run, with their time share in ``--quick`` (minutes on
#: two idle cores; 15 in all). On a busy machine the summary's CPU seconds of a script,
#: against twice its share, tell whether it keeps to it.
BENCHMARKS = {"dgs": 4.0, "bhs": 5.0, "gradsearch": 2.0, "maxent": 2.0, "maxent_closure": 1.0,
              "sweep": 1.0}


class PageError(Exception):
    """A page cannot take generated tables (missing file, or markers missing or repeated)."""


def page_path(root: Path, name: str) -> Path:
    """The page whose markers receive benchmark ``name``'s tables."""
    if name == "sweep":
        return root / "docs" / "benchmarks.md"
    return root / "docs" / "benchmarks" / f"{name}.md"


def replace_generated(text: str, markdown: str, page: str = "page") -> str:
    """``text`` with the part between :data:`benchlib.BEGIN` and :data:`benchlib.END`
    replaced by ``markdown``; raises :class:`PageError` naming ``page`` if the markers are
    not there exactly once each, in that order."""
    nb, ne = text.count(benchlib.BEGIN), text.count(benchlib.END)
    if nb != 1 or ne != 1:
        raise PageError(f"{page}: needs exactly one '{benchlib.BEGIN}' and one "
                        f"'{benchlib.END}' line (found {nb} and {ne})")
    head, rest = text.split(benchlib.BEGIN)
    if benchlib.END not in rest:
        raise PageError(f"{page}: '{benchlib.END}' comes before '{benchlib.BEGIN}'")
    _, tail = rest.split(benchlib.END)
    return f"{head}{benchlib.BEGIN}\n{markdown.strip()}\n{benchlib.END}{tail}"


def check_page(root: Path, name: str) -> Path:
    """The page of ``name``, after checking that it exists and has its markers."""
    path = page_path(root, name)
    rel = path.relative_to(root)
    if not path.is_file():
        raise PageError(f"{rel}: page not found")
    replace_generated(path.read_text(), "", str(rel))
    return path


#: argparse type for ``--only``: names from :data:`BENCHMARKS`, in run order, no duplicates.
parse_only = benchlib.comma_list(tuple(BENCHMARKS), "benchmark(s)", order_of_choices=True)


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_one(root: Path, name: str, quick: bool, tmpdir: Path,
            timeout_s: float | None = None) -> tuple[dict | None, str | None, float, float]:
    """Run ``scripts/bench_<name>.py`` in a fresh process; output streams through.

    Returns ``(result, error, elapsed_s, cpu_s)``: the result object, or ``None`` and why
    not; the wall and CPU seconds of the script (CPU: all its threads and subprocesses).
    """
    script = root / "scripts" / f"bench_{name}.py"
    out = tmpdir / f"{name}.json"
    cmd = [sys.executable, str(script), "--json", str(out)] + (["--quick"] if quick else [])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    print(f"\n=== bench_all: {name} ({'quick, ' if quick else ''}share "
          f"{BENCHMARKS[name]:g} min): python {script.relative_to(root)}"
          f"{' --quick' if quick else ''}", flush=True)
    if not script.is_file():
        return None, f"scripts/bench_{name}.py not found", 0.0, 0.0
    t0, c0 = time.perf_counter(), _children_cpu_s()
    try:
        rc = subprocess.run(cmd, cwd=root, env=env, timeout=timeout_s).returncode
    except subprocess.TimeoutExpired:
        rc = None
    elapsed, cpu = time.perf_counter() - t0, _children_cpu_s() - c0
    if rc is None:
        return None, f"timed out after {timeout_s:g} s", elapsed, cpu
    if rc != 0:
        return None, f"exit status {rc}", elapsed, cpu
    try:
        result = json.loads(out.read_text())
    except (OSError, ValueError) as exc:
        return (None, f"no readable --json result ({exc.__class__.__name__}: {exc})",
                elapsed, cpu)
    if not isinstance(result, dict) or result.get("benchmark") != name \
            or not isinstance(result.get("markdown"), str):
        return None, "result lacks 'benchmark' == name or a 'markdown' string", elapsed, cpu
    return result, None, elapsed, cpu


def store(out_dir: Path, record: dict) -> Path:
    """Merge ``record`` into ``<out_dir>/<UTC date>.json`` (same-day results of other
    benchmarks are kept) and return the file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{record['date'][:10]}.json"
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        for key in ("benchmarks", "failed", "elapsed_s", "cpu_s"):
            merged = dict(old.get(key, {}))
            for name in record["run"]:
                merged.pop(name, None)
            merged.update(record[key])
            record[key] = merged
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None, root: Path = benchlib.ROOT) -> int:
    """Run the selected benchmarks; returns the exit status (0: all succeeded)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="pass --quick to every script (about 15 min on two idle cores)")
    ap.add_argument("--only", type=parse_only, default=list(BENCHMARKS), metavar="NAMES",
                    help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    ap.add_argument("--out", type=Path, default=Path("results/bench"), metavar="DIR",
                    help="folder of the collected <UTC date>.json, relative to the repository "
                         "root unless absolute (default results/bench)")
    ap.add_argument("--timeout", type=benchlib.positive_float, default=None, metavar="MIN",
                    help="stop a script after MIN minutes (counts as a failure)")
    args = ap.parse_args(argv)
    root = Path(root)
    out_dir = args.out if args.out.is_absolute() else root / args.out

    try:
        pages = {name: check_page(root, name) for name in args.only}
    except PageError as exc:
        print(f"bench_all: error: {exc}", file=sys.stderr)
        return 2

    started = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    record = {"date": started.isoformat(),
              "command": "python scripts/bench_all.py" + (" --quick" if args.quick else "")
              + ("" if args.only == list(BENCHMARKS) else f" --only {','.join(args.only)}"),
              "quick": args.quick, "run": list(args.only), "machine": benchlib.machine_info(),
              "benchmarks": {}, "failed": {}, "elapsed_s": {}, "cpu_s": {}}
    timeout_s = None if args.timeout is None else 60.0 * args.timeout
    with tempfile.TemporaryDirectory(prefix="bench_all_") as tmp:
        for name in args.only:
            result, error, elapsed, cpu = run_one(root, name, args.quick, Path(tmp), timeout_s)
            record["elapsed_s"][name] = round(elapsed, 1)
            record["cpu_s"][name] = round(cpu, 1)
            if error is not None:
                record["failed"][name] = error
                print(f"=== bench_all: {name} FAILED ({error}); "
                      f"{pages[name].relative_to(root)} left as it was", flush=True)
                continue
            record["benchmarks"][name] = result
            try:
                pages[name].write_text(replace_generated(
                    pages[name].read_text(), result["markdown"],
                    str(pages[name].relative_to(root))))
            except PageError as exc:  # the page changed while the script ran
                record["failed"][name] = str(exc)
                continue
            print(f"=== bench_all: {name} done in {elapsed:.0f} s; "
                  f"wrote {pages[name].relative_to(root)}", flush=True)
    failed = dict(record["failed"])  # this run's failures (store merges earlier ones)
    path = store(out_dir, record)

    print("\n=== bench_all summary")
    for name in args.only:
        share = f" (share {60 * BENCHMARKS[name]:.0f} s)" if args.quick else ""
        state = f"FAILED: {failed[name]}" if name in failed else "ok"
        print(f"  {name:<11} {record['elapsed_s'][name]:7.1f} s wall, "
              f"{record['cpu_s'][name]:7.1f} s CPU{share}  {state}")
    print(f"  results: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
