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
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["inf"] == "inf"


def test_env_json_records_what_ran(tmp_path):
    records.RunRecord(tmp_path, {}, env_extra={"chunk_size_per_device": 4})
    env = json.loads((tmp_path / "env.json").read_text())
    import jax

    assert env["jax"] == jax.__version__
    assert env["device_count"] == jax.device_count()
    assert env["backend"] == "cpu"
    assert env["x64"] == bool(jax.config.jax_enable_x64)
    assert env["chunk_size_per_device"] == 4
    for key in ("jaxlib", "device_kind", "process_count", "git_commit"):
        assert key in env


def test_config_mismatch_is_refused_then_overwrite_allowed(tmp_path):
    rec = records.RunRecord(tmp_path, {"a": 1})
    rec.write_chunk([0], {"f": np.array([1.0])})
    with pytest.raises(ValueError, match="different config"):
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
