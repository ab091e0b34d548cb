"""Run records: files written, config mismatch refused, environment recorded."""

import json
import os
import sys

import numpy as np
import pytest

from jaxopt_lab import records


def test_record_writes_all_files_and_loads_back(tmp_path):
    rec = records.RunRecord(tmp_path / "run", {"alpha": 0.5, "name": "x", "inf": float("inf")})
    rec.write_chunk([4, 2], {"f": np.array([1.5, -2.0]), "ok": np.array([True, False]),
                             "trace": np.arange(6.0).reshape(2, 3)})
    rec.write_chunk([7], {"f": np.array([3.25]), "ok": np.array([True]),
                          "trace": np.ones((1, 3))})
    summary = rec.write_summary()
    for name in ("config.json", "env.json", "metrics.csv", "summary.json"):
        assert (tmp_path / "run" / name).exists()
    loaded = rec.load()
    np.testing.assert_array_equal(loaded["seed"], [2, 4, 7])
    np.testing.assert_array_equal(loaded["f"], [-2.0, 1.5, 3.25])
    np.testing.assert_array_equal(loaded["ok"], [False, True, True])
    np.testing.assert_array_equal(loaded["trace"], [[3, 4, 5], [0, 1, 2], [1, 1, 1]])
    assert summary["f"]["mean"] == pytest.approx((1.5 - 2.0 + 3.25) / 3)
    assert summary["f"]["count"] == 3
    f = np.array([1.5, -2.0, 3.25])
    assert summary["f"]["std"] == pytest.approx(f.std(ddof=1))
    assert summary["f"]["stderr"] == pytest.approx(f.std(ddof=1) / np.sqrt(3))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["inf"] == "inf"


def test_env_json_records_what_ran(tmp_path):
    rec = records.RunRecord(tmp_path, {}, env_extra={"chunk_size_per_device": 4})
    assert not (tmp_path / "env.json").exists()  # nothing written yet, no writer
    rec.write_chunk([0], {"f": np.array([1.0])})
    env = json.loads((tmp_path / "env.json").read_text())
    import jax

    assert len(env["writers"]) == 1
    writer = env["writers"][0]
    assert writer["jax"] == jax.__version__
    assert writer["device_count"] == jax.device_count()
    assert writer["backend"] == "cpu"
    assert writer["x64"] == bool(jax.config.jax_enable_x64)
    assert writer["chunk_size_per_device"] == 4
    for key in ("jaxlib", "device_kind", "process_count", "git_commit", "git_dirty", "time"):
        assert key in writer
    assert rec.seeds_by_writer() == {0: [0]}


def _pretend_written_elsewhere(path, **changes):
    env = json.loads((path / "env.json").read_text())
    env["writers"][-1].update(changes)
    (path / "env.json").write_text(json.dumps(env))


def test_resume_keeps_every_writer_and_tags_each_row(tmp_path):
    rec = records.RunRecord(tmp_path, {"a": 1}, env_extra={"chunk_size_per_device": 2})
    rec.write_chunk([0, 1], {"f": np.array([1.0, 2.0])})
    rec.write_chunk([2], {"f": np.array([3.0])})  # same process: same writer
    again = records.RunRecord(tmp_path, {"a": 1}, env_extra={"chunk_size_per_device": 1})
    assert json.loads((tmp_path / "env.json").read_text())["writers"][0][
        "chunk_size_per_device"] == 2  # opening alone rewrites nothing
    again.write_chunk([3], {"f": np.array([4.0])})
    writers = json.loads((tmp_path / "env.json").read_text())["writers"]
    assert [w["chunk_size_per_device"] for w in writers] == [2, 1]
    assert again.seeds_by_writer() == {0: [0, 1, 2], 1: [3]}
    assert again.seeds_by_writer([1, 3]) == {0: [1], 1: [3]}
    np.testing.assert_array_equal(again.load()["f"], [1.0, 2.0, 3.0, 4.0])
    assert "writer" not in again.load()


@pytest.mark.parametrize("changes, field", [
    ({"git_commit": "0" * 40}, "git_commit"),
    ({"backend": "gpu"}, "backend"),
    ({"jaxlib": "0.0.1"}, "jaxlib"),
])
def test_resume_under_another_commit_or_backend_is_refused_unless_mixing_is_allowed(
        tmp_path, changes, field):
    rec = records.RunRecord(tmp_path, {"a": 1})
    rec.write_chunk([0, 1], {"f": np.array([1.0, 2.0])})
    _pretend_written_elsewhere(tmp_path, **changes)
    with pytest.raises(records.RecordMismatch, match=field) as err:
        records.RunRecord(tmp_path, {"a": 1})
    assert "overwrite=True" in str(err.value) and "allow_mixed=True" in str(err.value)
    cli = err.value.message("--fresh", "--allow-mixed")
    assert "--fresh" in cli and "--allow-mixed" in cli and "\n" not in cli
    mixed = records.RunRecord(tmp_path, {"a": 1}, allow_mixed=True)
    mixed.write_chunk([2], {"f": np.array([3.0])})
    assert mixed.seeds_by_writer() == {0: [0, 1], 1: [2]}
    writers = json.loads((tmp_path / "env.json").read_text())["writers"]
    assert writers[0][field] == changes[field] and writers[1][field] != changes[field]
    fresh = records.RunRecord(tmp_path, {"a": 1}, overwrite=True)
    assert fresh.done_seeds() == set() and not (tmp_path / "env.json").exists()


def test_summary_gives_no_spread_from_one_seed():
    summary = records.summarise_columns({"seed": np.array([0, 1]),
                                         "f": np.array([2.0, np.nan]), "g": np.array([1, 3])})
    assert summary["f"] == {"count": 2, "finite": 1, "mean": 2.0, "min": 2.0, "median": 2.0,
                            "max": 2.0, "spread": "too few seeds"}
    assert "spread" not in summary["g"] and summary["g"]["std"] == pytest.approx(np.sqrt(2))


def test_describe_writers_names_seeds_only_when_writers_differ():
    from jaxopt_lab import provenance

    same = {"git_commit": "a" * 40, "backend": "cpu", "device_count": 8, "time": "t0"}
    later = {**same, "time": "t1"}  # a plain resume: only the time differs
    assert provenance.describe_writers([same, later], {0: [0, 1, 2], 1: [3]}) is None
    other = {**same, "git_commit": "b" * 40}
    text = provenance.describe_writers([same, other], {0: [0, 1, 2, 7], 1: [3, 4]})
    assert text.startswith("seeds 0-2, 7 by writer 0 (commit aaaaaaaaaa")
    assert "; seeds 3-4 by writer 1 (commit bbbbbbbbbb" in text


def test_a_record_from_before_writers_were_kept_resumes_as_writer_zero(tmp_path):
    import jax

    (tmp_path / "config.json").write_text(json.dumps({"a": 1}))
    (tmp_path / "env.json").write_text(json.dumps(
        {"git_commit": "abc-dirty", "backend": jax.default_backend(), "jax": jax.__version__}))
    (tmp_path / "metrics.csv").write_text("seed,f\n0,1.5\n1,2.5\n")
    with pytest.raises(records.RecordMismatch, match="git_commit"):
        records.RunRecord(tmp_path, {"a": 1})
    rec = records.RunRecord(tmp_path, {"a": 1}, allow_mixed=True)
    assert rec.writers[0]["git_commit"] == "abc" and rec.writers[0]["git_dirty"] is True
    rec.write_chunk([2], {"f": np.array([3.5])})
    assert rec.seeds_by_writer() == {0: [0, 1], 1: [2]}
    np.testing.assert_array_equal(rec.load()["f"], [1.5, 2.5, 3.5])


def test_config_mismatch_is_refused_then_overwrite_allowed(tmp_path):
    rec = records.RunRecord(tmp_path, {"a": 1})
    rec.write_chunk([0], {"f": np.array([1.0])})
    with pytest.raises(ValueError, match="different config.*overwrite=True"):
        records.RunRecord(tmp_path, {"a": 2})
    fresh = records.RunRecord(tmp_path, {"a": 2}, overwrite=True)
    assert fresh.done_seeds() == set()


def test_changed_columns_are_refused(tmp_path):
    rec = records.RunRecord(tmp_path, {})
    rec.write_chunk([0], {"f": np.array([1.0])})
    with pytest.raises(ValueError, match="metrics columns changed"):
        rec.write_chunk([1], {"g": np.array([1.0])})


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="root can write anywhere; read-only folders need a normal user")
def test_non_writable_folder_names_the_argument(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(ValueError, match="out: cannot write"):
        records.RunRecord(locked / "run", {})


def test_unwritable_path_names_the_argument(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="out: cannot write"):
        records.RunRecord(blocker / "run", {})


def test_open_readonly_loads_and_writes_nothing(tmp_path):
    rec = records.RunRecord(tmp_path / "run", {"a": 1})
    rec.write_chunk([0, 2], {"f": np.array([1.0, 3.0]), "trace": np.ones((2, 4))})
    files = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    ro = records.RunRecord.open_readonly(tmp_path / "run")
    assert ro.config == {"a": 1}
    assert ro.done_seeds() == {0, 2}
    loaded = ro.load([2])
    np.testing.assert_array_equal(loaded["f"], [3.0])
    assert loaded["trace"].shape == (1, 4)
    after = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert after == files
    with pytest.raises(FileNotFoundError, match="out_dir"):
        records.RunRecord.open_readonly(tmp_path / "missing")
