"""The experiment convention: ``python -m experiments.<name> --profile quick|paper ...``.

Every module ``experiments/<name>.py`` that defines ``EXPERIMENT = Experiment(...)`` is an
experiment: :func:`discover` finds it, ``python -m experiments.<name>`` runs it through
:func:`main`, and ``python -m experiments.reproduce`` runs them all. An experiment's
``run(args, ctx)`` does the work through ``ctx`` (resumable sweeps, figure paths, published
targets) and returns the Markdown section that ``docs/reproduction.md`` shows for it: the
paper's number beside ours. :func:`main` switches JAX's persistent compilation cache on
(:func:`jaxopt_lab.enable_compilation_cache`: ``<user cache dir>/jaxopt_lab/jax``; the
environment variable ``JAXOPT_LAB_COMPILATION_CACHE`` moves it, or disables it with ``off``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import pkgutil
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from jaxopt_lab.compilation_cache import enable_compilation_cache
from jaxopt_lab.provenance import describe_writers, environment_info
from jaxopt_lab.records import RecordMismatch, RunRecord, ensure_writable_dir
from jaxopt_lab.sweeps import MAX_SEED, sweep, validate_seeds

__all__ = ["Experiment", "CpuPlan", "Context", "main", "discover", "markdown_table", "load_targets",
           "build_parser", "PROFILES", "UsageError", "is_usage_error", "MIN_SEEDS_FOR_SPREAD",
           "MIN_SEEDS_FOR_VERDICT", "TOO_FEW_SEEDS", "standard_error", "z_verdict"]

PROFILES = ("quick", "paper")
#: A sample standard deviation (hence a standard error or a z-score) needs two finite values.
MIN_SEEDS_FOR_SPREAD = 2
#: Fewest seeds for a verdict from z-scores: the mean of fewer seeds is far from normal for
#: skewed outputs, and |t| > 4 is no longer rare (P ~ 0.4 % at 30 seeds, 3 % at 8).
MIN_SEEDS_FOR_VERDICT = 30
TOO_FEW_SEEDS = "too few seeds"
REPO_ROOT = Path(__file__).resolve().parent.parent
TARGETS_DIR = Path(__file__).resolve().parent / "targets"
DEFAULT_RESULTS = Path("results")


class UsageError(ValueError):
    """A mistake in how an experiment was called (arguments, a record it must not resume).

    On the command line it ends the run with a one-line message and exit status 2.
    """


@dataclasses.dataclass(frozen=True)
class Experiment:
    """An experiment: metadata plus ``run(args, ctx) -> markdown``.

    Attributes:
      name: module name (``experiments/<name>.py``) and results sub-folder.
      paper: which paper it reproduces: "DGS", "BH-S", "GradSearch", "MaxEnt" or "Foundation".
      title: what it reproduces, e.g. "Table 1 and Figure 2: ...".
      order: sort key of its section in docs/reproduction.md.
      run: ``run(args, ctx) -> str``, the Markdown section (without the heading).
      add_arguments: optional ``add_arguments(parser)`` for experiment-specific flags.
      quick_seeds / paper_seeds: default number of seeds per profile.
      cpu_plan: what of the paper profile runs on a 2-core CPU and what needs an
        accelerator (:class:`CpuPlan`); ``python -m experiments.reproduce --profile paper
        --fits cpu`` follows it.
    """

    name: str
    paper: str
    title: str
    order: int
    run: Callable[[argparse.Namespace, "Context"], str]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    quick_seeds: int = 3
    paper_seeds: int = 20
    cpu_plan: "CpuPlan | None" = None


@dataclasses.dataclass(frozen=True)
class CpuPlan:
    """How much of an experiment's paper profile fits on a 2-core CPU.

    Attributes:
      args: extra arguments of ``python -m experiments.<name> --profile paper`` that select
        the part that fits (``()``: the whole paper profile); ``None``: nothing fits.
      minutes: the process CPU minutes (user + system) of that part on a 2-core CPU,
        measured (or, where ``note`` says so, estimated): an upper bound on its wall minutes
        on an idle machine, and unlike wall time meaningful on a shared one.
      rest: what is left for an accelerator and its cost (evaluations, memory, expected GPU
        and CPU time); ``""`` when the CPU part is the whole paper profile.
      rest_args: the arguments of the accelerator command for the rest (after
        ``--profile paper``).
      note: where the minutes come from, or what the CPU part leaves out and why.
    """

    args: tuple[str, ...] | None
    minutes: float | None = None
    rest: str = ""
    rest_args: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self):
        if self.args is None and not self.rest:
            raise ValueError("CpuPlan: args=None (nothing fits on a CPU) needs rest, the cost "
                             "of the accelerator run")

    def fits(self) -> bool:
        """Whether any of the paper profile runs on the CPU."""
        return self.args is not None

    def cpu_command(self, name: str) -> str | None:
        if self.args is None:
            return None
        return shlex.join(["python", "-m", f"experiments.{name}", "--profile", "paper",
                           *self.args])

    def accelerator_command(self, name: str) -> str | None:
        if not self.rest:
            return None
        return shlex.join(["python", "-m", f"experiments.{name}", "--profile", "paper",
                           *self.rest_args])


@dataclasses.dataclass
class Context:
    """What an experiment's ``run`` gets besides its parsed arguments."""

    experiment: Experiment
    profile: str
    seeds: list[int]
    root_seed: int
    chunk_size: int
    out: Path
    progress: bool
    command: str
    fresh: bool = False
    allow_mixed: bool = False
    opened: dict = dataclasses.field(default_factory=dict)  # cell -> RunRecord

    def _open(self, cell: str, config: Mapping[str, Any], env_extra=None) -> RunRecord:
        try:
            record = RunRecord(self.out / cell, config, overwrite=self.fresh,
                               allow_mixed=self.allow_mixed, env_extra=env_extra)
        except RecordMismatch as err:
            raise UsageError(err.message("--fresh", "--allow-mixed")) from None
        self.opened[cell] = record
        return record

    def provenance(self) -> str | None:
        """Which seeds came from which writer, for every record whose seeds were written in
        different environments (possible with ``--allow-mixed``); ``None`` if none was."""
        notes = []
        for cell, record in sorted(self.opened.items()):
            seeds = set(self.seeds) & record.done_seeds()
            line = describe_writers(record.writers, record.seeds_by_writer(seeds))
            if line:
                notes.append(f"`{cell}`: {line}")
        if not notes:
            return None
        return ("**Mixed provenance** (resumed with `--allow-mixed`): " + ". ".join(notes)
                + ".")

    def sweep(self, run_fn, config: Mapping[str, Any], cell: str = "main", seeds=None,
              desc: str | None = None, devices=None,
              chunk_size: int | None = None) -> dict[str, np.ndarray]:
        """Resumable sweep of ``run_fn(key) -> dict`` over the seeds, recorded in ``out/cell``.

        ``devices`` (default: all local devices) and ``chunk_size`` (default: ``--chunk-size``,
        seeds per device per compiled call) are passed to :func:`jaxopt_lab.sweeps.sweep`;
        the chunk size goes into the record's config, since a seed's result depends on it.
        """
        seeds = self.seeds if seeds is None else list(seeds)
        chunk = self.chunk_size if chunk_size is None else int(chunk_size)
        config = {"experiment": self.experiment.name, "profile": self.profile, "cell": cell,
                  "root_seed": self.root_seed, "chunk_size": chunk, **dict(config)}
        env_extra = {"chunk_size_per_device": chunk}
        if devices is not None:
            env_extra["num_devices"] = len(devices)
        record = self._open(cell, config, env_extra)
        return sweep(run_fn, seeds, root_seed=self.root_seed, chunk_size=chunk,
                     devices=devices, record=record, progress=self.progress,
                     desc=desc or f"{self.experiment.name}:{cell}")

    def record(self, cell: str, config: Mapping[str, Any]) -> RunRecord:
        """A run record in ``out/cell`` for results that are not produced by :meth:`sweep`."""
        return self._open(cell, {"experiment": self.experiment.name, "profile": self.profile,
                                 "cell": cell, **dict(config)})

    def figure(self, name: str) -> Path:
        """Where to save a figure (PNG); reproduce copies it to docs/figures/<experiment>/."""
        folder = self.out / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / (name if name.endswith(".png") else name + ".png")

    def figure_markdown(self, name: str, caption: str) -> str:
        """Markdown that shows figure ``name`` from the profile's reproduction document
        (:func:`figures_folder`)."""
        file = self.figure(name).name
        return f"![{caption}]({figures_folder(self.profile)}/{self.experiment.name}/{file})"

    def targets(self, name: str) -> dict:
        """The published numbers in ``experiments/targets/<name>.json``."""
        return load_targets(name)


def load_targets(name: str) -> dict:
    path = TARGETS_DIR / f"{name}.json"
    if not path.exists():
        raise ValueError(f"targets: no file {path.name!r} in {TARGETS_DIR}")
    return json.loads(path.read_text())


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; floats are shown with 4 significant digits."""

    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "—" if np.isnan(v) else f"{v:.4g}"
        return "—" if v is None else str(v)

    lines = ["| " + " | ".join(map(str, headers)) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def standard_error(values) -> float:
    """Standard error of the mean of the finite ``values`` ``[num_seeds]`` (sample std,
    ``ddof=1``); NaN with fewer than :data:`MIN_SEEDS_FOR_SPREAD` finite values."""
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < MIN_SEEDS_FOR_SPREAD:
        return float("nan")
    return float(v.std(ddof=1) / np.sqrt(v.size))


def z_verdict(z_scores, num_seeds: int, threshold: float = 4.0,
              min_seeds: int = MIN_SEEDS_FOR_VERDICT) -> str:
    """``"agree (largest |z| = 1.23)"``, ``"DISAGREE (...)"`` or ``"too few seeds (...)"``.

    Agreement needs every z-score finite, ``|z| < threshold`` and ``num_seeds >= min_seeds``;
    a NaN z-score (a standard error of zero or of one seed) never counts as agreement.
    """
    z = np.abs(np.asarray(z_scores, np.float64).ravel())
    if num_seeds < min_seeds:
        return f"{TOO_FEW_SEEDS} ({num_seeds} < {min_seeds}) for a verdict"
    if z.size == 0 or not np.isfinite(z).all():
        return f"no verdict: {int((~np.isfinite(z)).sum())} z-score(s) are not finite"
    word = "agree" if z.max() < threshold else "DISAGREE"
    return f"{word} (largest |z| = {z.max():.2f})"


def _non_negative_int(name, maximum=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}")
        if value < 0:
            raise argparse.ArgumentTypeError(f"{name} must be >= 0, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(
                f"{name} must be <= 2**32 - 1 = {maximum} (a larger seed would alias a "
                f"smaller one), got {value}")
        return value

    return parse


def _positive_int(name):
    def parse(text):
        value = _non_negative_int(name)(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be >= 1, got {value}")
        return value

    return parse


def build_parser(experiment: Experiment) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m experiments.{experiment.name}",
        description=f"{experiment.paper}: {experiment.title}",
    )
    parser.add_argument("--profile", choices=PROFILES, default="quick",
                        help="quick: minutes on a 2-core CPU; paper: the paper's sizes (GPU)")
    parser.add_argument("--seeds", type=_positive_int("--seeds"), default=None,
                        help="number of seeds (trials); default depends on the profile")
    parser.add_argument("--first-seed", type=_non_negative_int("--first-seed", MAX_SEED),
                        default=0, help="seeds are first_seed, ..., first_seed + seeds - 1, "
                                        "all <= 2**32 - 1")
    parser.add_argument("--root-seed", type=_non_negative_int("--root-seed", MAX_SEED),
                        default=0, help="root of every seed's key, 0 .. 2**32 - 1")
    parser.add_argument("--chunk-size", type=_positive_int("--chunk-size"), default=8,
                        help="seeds per device per compiled call (fixes the numerics)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: results/<name>/<profile>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--fresh", action="store_true",
                        help="discard records in --out instead of resuming them (needed when "
                             "the configuration changed since they were written)")
    parser.add_argument("--allow-mixed", action="store_true",
                        help="resume records written under another git commit, backend or "
                             "jax version; the report says which seeds came from which")
    if experiment.add_arguments is not None:
        experiment.add_arguments(parser)
    return parser


def main(experiment: Experiment, argv: Sequence[str] | None = None, *,
         exit_on_usage_error: bool | None = None) -> str:
    """Parses ``argv``, runs ``experiment`` and writes ``report.md``; returns the section.

    A usage error (:func:`is_usage_error`: bad arguments, a record that must not be resumed)
    is raised, or, with ``exit_on_usage_error`` (default: when ``argv`` is ``None``, i.e. on
    the command line), printed as one line on stderr, ending the process with status 2.
    """
    if exit_on_usage_error is None:
        exit_on_usage_error = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(experiment)
    try:
        return _main(experiment, parser, argv)
    except ValueError as err:
        if not exit_on_usage_error or not is_usage_error(err):
            raise
        parser.exit(2, f"{parser.prog}: error: {' '.join(str(err).split())}\n")


def is_usage_error(err: BaseException) -> bool:
    """A :class:`UsageError`, or a ``ValueError`` whose message starts with the option it
    blames (``"--steps must be >= 1"``: how experiments check their own arguments)."""
    return isinstance(err, UsageError) or (isinstance(err, ValueError)
                                           and str(err).startswith("--"))


def _main(experiment: Experiment, parser: argparse.ArgumentParser, argv: list[str]) -> str:
    args = parser.parse_args(argv)
    num_seeds = args.seeds or (experiment.quick_seeds if args.profile == "quick"
                               else experiment.paper_seeds)
    if args.first_seed + num_seeds - 1 > MAX_SEED:
        parser.error(f"--first-seed + --seeds - 1 must be <= 2**32 - 1 = {MAX_SEED} (larger "
                     f"seeds would alias smaller ones), got {args.first_seed + num_seeds - 1}")
    seeds = validate_seeds(range(args.first_seed, args.first_seed + num_seeds)).tolist()
    out = args.out or DEFAULT_RESULTS / experiment.name / args.profile
    try:
        out = ensure_writable_dir(out, argument="--out")
    except ValueError as err:
        raise UsageError(str(err)) from None
    command = "python -m experiments." + experiment.name + (
        " " + shlex.join(argv) if argv else "")
    ctx = Context(experiment=experiment, profile=args.profile, seeds=seeds,
                  root_seed=args.root_seed, chunk_size=args.chunk_size, out=out,
                  progress=not args.no_progress, command=command, fresh=args.fresh,
                  allow_mixed=args.allow_mixed)
    enable_compilation_cache()  # later runs load the compiled programs instead
    start = time.perf_counter()
    section = experiment.run(args, ctx)
    elapsed = time.perf_counter() - start
    provenance = ctx.provenance()
    if provenance:
        section = section.rstrip() + "\n\n" + provenance
    section = section.rstrip() + (f"\n\n*Made by* `{command}` *in {elapsed:.0f} s"
                                  f"{_at_commit()}.*\n")
    (out / "report.md").write_text(f"## {experiment.paper}: {experiment.title}\n\n{section}")
    (out / "report.json").write_text(json.dumps(
        {"name": experiment.name, "status": "ok", "seconds": elapsed, "command": command,
         "section": section}, indent=2) + "\n")
    print(f"{experiment.name}: wrote {out / 'report.md'} ({elapsed:.1f} s)", file=sys.stderr)
    return section


def _at_commit() -> str:
    """`` at commit 0123456789`` (``+ local changes`` if the tree was dirty), or ``""``."""
    info = environment_info()
    if not info["git_commit"]:
        return ""
    return f" at commit {info['git_commit'][:10]}" + (
        " + local changes" if info["git_dirty"] else "")


def discover() -> dict[str, Experiment]:
    """All experiments in this package, by name, in report order."""
    import experiments

    found = {}
    for info in pkgutil.iter_modules(experiments.__path__):
        if info.name in ("common", "reproduce") or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"experiments.{info.name}")
        exp = getattr(module, "EXPERIMENT", None)
        if isinstance(exp, Experiment):
            if exp.name != info.name:
                raise ValueError(f"experiments/{info.name}.py declares name {exp.name!r}")
            found[exp.name] = exp
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def figures_folder(profile: str) -> str:
    """The docs folder of a profile's figures: ``figures`` (quick), ``figures/paper``."""
    return "figures" if profile == "quick" else f"figures/{profile}"


def reproduction_document(profile: str) -> str:
    """The file name of a profile's reproduction document in docs/."""
    return "reproduction.md" if profile == "quick" else f"reproduction-{profile}.md"


def copy_figures(out: Path, name: str, docs_dir: Path, profile: str = "quick") -> list[Path]:
    """Copies ``out/figures/*.png`` to ``docs_dir/<figures_folder(profile)>/<name>/``;
    returns the new paths."""
    src = out / "figures"
    if not src.exists():
        return []
    dst = docs_dir / figures_folder(profile) / name
    dst.mkdir(parents=True, exist_ok=True)
    copied = []
    for f in sorted(src.glob("*.png")):
        shutil.copy2(f, dst / f.name)
        copied.append(dst / f.name)
    return copied
