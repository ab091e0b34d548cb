"""The experiment runner: discovery, CLI arguments, report, resume, and the sweep check."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import common, reproduce, sweep_check


def test_discover_finds_the_framework_check():
    found = common.discover()
    assert "sweep_check" in found
    assert all(isinstance(e, common.Experiment) for e in found.values())


def test_expected_best_matches_monte_carlo_and_small_n_limits():
    # n = 1: E[|x|^2] = 2/3 for x ~ U([-1, 1]^2) exactly.
    assert sweep_check.expected_best_sphere_2d(1) == pytest.approx(2.0 / 3.0, rel=1e-12)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(200_000, 8, 2))
    mc = np.min(np.sum(x**2, axis=-1), axis=1)
    se = mc.std() / math.sqrt(mc.size)
    assert abs(mc.mean() - sweep_check.expected_best_sphere_2d(8)) < 4 * se


def test_experiment_main_writes_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "sc"
    text = common.main(sweep_check.EXPERIMENT,
                       ["--seeds", "256", "--chunk-size", "32", "--out", str(out),
                        "--no-progress"])
    assert "agree" in text
    report = (out / "report.md").read_text()
    assert "python -m experiments.sweep_check" in report
    metrics = (out / "sphere_2d" / "metrics.csv").read_text()
    assert metrics.count("\n") == 257
    summary = json.loads((out / "sphere_2d" / "summary.json").read_text())
    assert summary["best_f"]["count"] == 256
    # Same command again: nothing is recomputed, the file is unchanged.
    common.main(sweep_check.EXPERIMENT, ["--seeds", "256", "--chunk-size", "32", "--out",
                                         str(out), "--no-progress"])
    assert (out / "sphere_2d" / "metrics.csv").read_text() == metrics


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "-3"], "--seeds must be >= 0"),
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--chunk-size", "0"], "--chunk-size must be >= 1"),
    (["--profile", "huge"], "invalid choice: 'huge'"),
    (["--root-seed", "4294967296"], "--root-seed must be <= 2**32 - 1"),
    (["--first-seed", "4294967296"], "--first-seed must be <= 2**32 - 1"),
    (["--first-seed", "4294967295", "--seeds", "2"], "--first-seed + --seeds - 1 must be <="),
])
def test_bad_cli_arguments_name_the_argument(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        common.main(sweep_check.EXPERIMENT, argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_non_writable_out_names_the_argument(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="--out: cannot write"):
        common.main(sweep_check.EXPERIMENT, ["--out", str(blocker / "sub")])


def test_reproduce_rejects_unknown_experiment(capsys):
    with pytest.raises(SystemExit):
        reproduce.run_all(["--only", "no_such_experiment"])
    assert "--only: unknown experiment(s) ['no_such_experiment']" in capsys.readouterr().err


def test_reproduce_builds_document(tmp_path):
    status = reproduce.run_all(["--only", "sweep_check", "--out-root", str(tmp_path / "r"),
                                "--docs", str(tmp_path / "docs"), "--no-progress"])
    assert status == 0
    doc = (tmp_path / "docs" / "reproduction.md").read_text()
    assert "Framework checks" in doc and "exact E[best]" in doc
    assert "| [sweep_check](#sweep-check) | Foundation | ok |" in doc


def test_partial_rebuild_keeps_saved_sections_and_reports_failures(tmp_path, monkeypatch):
    calls = []

    def fake_run(args, ctx):
        calls.append(ctx.out)
        return "FAKE SECTION"

    def broken_run(args, ctx):
        raise RuntimeError("boom")

    fake = common.Experiment(name="fake", paper="Foundation", title="t", order=5, run=fake_run)
    broken = common.Experiment(name="broken", paper="Foundation", title="b", order=6,
                               run=broken_run)
    monkeypatch.setattr(reproduce, "discover", lambda: {"fake": fake, "broken": broken})
    root = ["--out-root", str(tmp_path / "r"), "--docs", str(tmp_path / "docs"), "--no-progress"]
    assert reproduce.run_all(root) == 1  # broken failed, fake ran
    doc = (tmp_path / "docs" / "reproduction.md").read_text()
    assert "FAKE SECTION" in doc and "| broken | Foundation | FAILED |" in doc.replace(
        "[broken](#broken)", "broken")
    assert "RuntimeError: boom" in doc
    # Re-run only the broken one: fake is not run again, its saved section stays.
    assert reproduce.run_all(["--only", "broken", *root]) == 1
    assert len(calls) == 1
    assert "FAKE SECTION" in (tmp_path / "docs" / "reproduction.md").read_text()
    # --collect runs nothing at all, but copies the saved runs' figures into the docs.
    figure = tmp_path / "r" / "fake" / "quick" / "figures" / "plot.png"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"png")
    assert reproduce.run_all(["--collect", *root]) == 0
    assert len(calls) == 1
    assert (tmp_path / "docs" / "figures" / "fake" / "plot.png").read_bytes() == b"png"


def test_figures_reach_the_docs_only_after_every_experiment_ran(tmp_path, monkeypatch):
    """A figure copied into docs/ mid-run would leave the later records "+ local changes"."""
    docs = tmp_path / "docs"
    seen = []

    def drawing(args, ctx):
        (ctx.out / "figures").mkdir(parents=True, exist_ok=True)
        (ctx.out / "figures" / "plot.png").write_bytes(b"png")
        return "drew"

    def looking(args, ctx):
        seen.append(sorted(p.name for p in docs.rglob("*.png")))
        return "looked"

    fakes = {"first": common.Experiment(name="first", paper="Foundation", title="f", order=1,
                                        run=drawing),
             "second": common.Experiment(name="second", paper="Foundation", title="s",
                                         order=2, run=looking)}
    monkeypatch.setattr(reproduce, "discover", lambda: fakes)
    root = ["--out-root", str(tmp_path / "r"), "--docs", str(docs), "--no-progress"]
    assert reproduce.run_all(root) == 0
    assert seen == [[]]  # nothing copied while "second" ran
    assert (docs / "figures" / "first" / "plot.png").read_bytes() == b"png"
    # the same when "first" is only collected from its saved run
    assert reproduce.run_all(["--only", "second", *root]) == 0
    assert seen[-1] == ["plot.png"]  # the copy made by the previous call is still there
    (docs / "figures" / "first" / "plot.png").unlink()
    assert reproduce.run_all(["--only", "second", *root]) == 0
    assert seen[-1] == [] and (docs / "figures" / "first" / "plot.png").exists()


def test_paper_selects_that_papers_experiments_only(tmp_path, monkeypatch):
    ran = []

    def recorder(name):
        def run(args, ctx):
            ran.append(name)
            return name
        return run

    fakes = {name: common.Experiment(name=name, paper=paper, title=name, order=i,
                                     run=recorder(name))
             for i, (name, paper) in enumerate([("hop_a", "BH-S"), ("hop_b", "BH-S"),
                                                 ("smooth", "DGS")])}
    monkeypatch.setattr(reproduce, "discover", lambda: fakes)
    root = ["--out-root", str(tmp_path / "r"), "--docs", str(tmp_path / "docs"), "--no-progress"]
    assert reproduce.run_all(["--paper", "bhs", *root]) == 0  # "bhs" names "BH-S"
    assert ran == ["hop_a", "hop_b"]


def test_paper_names_cover_every_experiment():
    experiments = common.discover()
    by_paper = {p: reproduce.experiments_of_paper(experiments, p) for p in reproduce.PAPERS}
    assert sorted(n for names in by_paper.values() for n in names) == sorted(experiments)
    assert all(by_paper.values()), by_paper


def test_unknown_paper_and_paper_with_only_are_rejected(capsys):
    with pytest.raises(SystemExit):
        reproduce.run_all(["--paper", "alchemy"])
    assert "--paper: no experiment reproduces 'alchemy'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reproduce.run_all(["--paper", "dgs", "--only", "dgs_scaling"])
    assert "--paper and --only exclude each other" in capsys.readouterr().err


def test_fresh_discards_a_record_with_another_config(tmp_path):
    out = tmp_path / "sc"
    common.main(sweep_check.EXPERIMENT, ["--seeds", "8", "--out", str(out), "--no-progress"])
    config = out / "sphere_2d" / "config.json"
    config.write_text(config.read_text().replace('"num_steps": 64', '"num_steps": 63'))
    with pytest.raises(common.UsageError, match="different config.*--fresh to discard it"):
        common.main(sweep_check.EXPERIMENT, ["--seeds", "8", "--out", str(out), "--no-progress"])
    text = common.main(sweep_check.EXPERIMENT, ["--seeds", "8", "--out", str(out),
                                                "--no-progress", "--fresh"])
    assert (out / "sphere_2d" / "metrics.csv").read_text().count("\n") == 9
    assert "verdict: too few seeds (8 < 30)" in text and "agree" not in text


def test_load_targets_unknown_name():
    with pytest.raises(ValueError, match="targets: no file"):
        common.load_targets("does_not_exist")


def _cli(*argv, cwd=Path(__file__).resolve().parent.parent):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "experiments.sweep_check", *argv], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def test_cli_user_error_is_one_line_with_status_2(tmp_path):
    """On the command line a record that must not be resumed ends the run with one line
    naming the flag to pass, and status 2 (no traceback)."""
    out = tmp_path / "sc"
    (out / "sphere_2d").mkdir(parents=True)
    (out / "sphere_2d" / "config.json").write_text('{"num_steps": 63}')
    done = _cli("--seeds", "4", "--out", str(out), "--no-progress")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "different config" in lines[0] and "--fresh" in lines[0]
    assert "overwrite=True" not in lines[0]


def test_main_raises_usage_errors_or_exits_with_status_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as exc:
        common.main(sweep_check.EXPERIMENT, ["--out", str(blocker / "sub")],
                    exit_on_usage_error=True)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out: cannot write" in err[0]


def _pretend_other_commit(cell_dir):
    env_path = cell_dir / "env.json"
    env = json.loads(env_path.read_text())
    env["writers"][0]["git_commit"] = "f" * 40
    env_path.write_text(json.dumps(env))


def test_resume_under_another_commit_needs_allow_mixed_and_the_report_says_so(tmp_path):
    out = tmp_path / "sc"
    argv = ["--out", str(out), "--no-progress", "--chunk-size", "2"]
    common.main(sweep_check.EXPERIMENT, ["--seeds", "4", *argv])
    _pretend_other_commit(out / "sphere_2d")
    with pytest.raises(common.UsageError, match="git_commit.*--fresh.*--allow-mixed"):
        common.main(sweep_check.EXPERIMENT, ["--seeds", "6", *argv])
    text = common.main(sweep_check.EXPERIMENT, ["--seeds", "6", "--allow-mixed", *argv])
    assert "Mixed provenance" in text
    assert "seeds 0-3 by writer 0 (commit ffffffffff" in text
    assert "seeds 4-5 by writer 1" in text
    writers = json.loads((out / "sphere_2d" / "env.json").read_text())["writers"]
    assert len(writers) == 2 and writers[1]["git_commit"] != "f" * 40


def _traces(num_seeds, shift=0.0, seed=0):
    """Best-so-far traces of uniform random search, sampled exactly (numpy)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(num_seeds, sweep_check.NUM_STEPS * sweep_check.SAMPLES_PER_STEP,
                                 2))
    f = np.sum(x**2, axis=-1).reshape(num_seeds, sweep_check.NUM_STEPS, -1).min(axis=-1)
    return np.minimum.accumulate(f, axis=1) + shift


@pytest.mark.parametrize("num_seeds", [1, 2, common.MIN_SEEDS_FOR_VERDICT - 1])
def test_sweep_check_gives_no_verdict_from_too_few_seeds(num_seeds):
    text = sweep_check.report(_traces(num_seeds), chunk_size=8)
    assert f"verdict: too few seeds ({num_seeds} < {common.MIN_SEEDS_FOR_VERDICT})" in text
    assert "agree" not in text and "DISAGREE" not in text
    if num_seeds == 1:  # no standard error nor z-score from one seed
        assert "nan" not in text.lower() and "| — | — |" in text


def test_sweep_check_verdicts_from_enough_seeds():
    assert "verdict: agree (largest |z| = " in sweep_check.report(_traces(200), chunk_size=8)
    shifted = sweep_check.report(_traces(200, shift=0.05), chunk_size=8)
    assert "verdict: DISAGREE (largest |z| = " in shifted


def test_standard_error_and_z_verdict_refuse_nan():
    assert math.isnan(common.standard_error([1.0]))
    assert math.isnan(common.standard_error([1.0, np.nan]))
    assert common.standard_error([1.0, 3.0]) == pytest.approx(1.0)  # std(ddof=1)=sqrt(2)
    assert common.z_verdict([np.nan, 0.5], num_seeds=100).startswith("no verdict")
    assert common.z_verdict([0.5, -1.5], num_seeds=100) == "agree (largest |z| = 1.50)"
    assert common.z_verdict([0.5], num_seeds=3).startswith("too few seeds")


def test_fits_cpu_runs_the_cpu_part_and_lists_the_rest(tmp_path, monkeypatch, capsys):
    seen = {}

    def add_arguments(parser):
        parser.add_argument("--size", type=int, default=100)

    def part_run(args, ctx):
        seen["part"] = (ctx.profile, args.size, len(ctx.seeds))
        ctx.figure("plot").write_bytes(b"png")
        return "PART " + ctx.figure_markdown("plot", "a plot")

    def whole_run(args, ctx):
        seen["whole"] = ctx.profile
        return "WHOLE"

    def never_run(args, ctx):
        raise AssertionError("an experiment whose plan fits nothing must not run")

    part = common.Experiment(
        name="part", paper="Foundation", title="p", order=1, run=part_run,
        add_arguments=add_arguments, paper_seeds=20,
        cpu_plan=common.CpuPlan(("--size", "7", "--seeds", "3"), minutes=2.0,
                                rest="17 more seeds: 3 GPU-min", rest_args=("--size", "100")))
    whole = common.Experiment(name="whole", paper="Foundation", title="w", order=2,
                              run=whole_run, cpu_plan=common.CpuPlan((), minutes=1.0))
    never = common.Experiment(
        name="never", paper="Foundation", title="n", order=3, run=never_run,
        cpu_plan=common.CpuPlan(None, rest="1e15 evaluations: 2 GPU-hours"))
    monkeypatch.setattr(reproduce, "discover",
                        lambda: {"part": part, "whole": whole, "never": never})
    root = ["--out-root", str(tmp_path / "r"), "--docs", str(tmp_path / "docs"), "--no-progress"]
    assert reproduce.run_all(["--profile", "paper", "--fits", "cpu", *root]) == 0
    assert seen == {"part": ("paper", 7, 3), "whole": "paper"}
    err = capsys.readouterr().err
    assert "17 more seeds: 3 GPU-min" in err and "1e15 evaluations: 2 GPU-hours" in err
    assert "python -m experiments.part --profile paper --size 100" in err
    assert "python -m experiments.never --profile paper" in err
    assert not (tmp_path / "docs" / "reproduction.md").exists()
    doc = (tmp_path / "docs" / "reproduction-paper.md").read_text()
    assert "PART ![a plot](figures/paper/part/plot.png)" in doc
    assert (tmp_path / "docs" / "figures" / "paper" / "part" / "plot.png").exists()
    assert "| [never](#never) | Foundation | not run |" in doc
    assert "| `part` | `python -m experiments.part --profile paper --size 7 --seeds 3` | 2 |" in doc
    # the quick profile refuses --fits, naming it
    with pytest.raises(SystemExit):
        reproduce.run_all(["--fits", "cpu", *root])
    assert "--fits: only with --profile paper" in capsys.readouterr().err


def test_cpu_plan_without_a_cpu_part_needs_the_cost_of_the_rest():
    with pytest.raises(ValueError, match="needs rest"):
        common.CpuPlan(None)


def test_every_experiment_has_a_cpu_plan_whose_arguments_parse():
    for name, exp in common.discover().items():
        assert exp.cpu_plan is not None, f"{name} has no cpu_plan"
        parser = common.build_parser(exp)
        for args in (exp.cpu_plan.args, exp.cpu_plan.rest_args):
            if args is not None:
                parser.parse_args(["--profile", "paper", *args])
