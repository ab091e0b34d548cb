"""Seed sweeps: sharding, fixed per-device chunks, determinism, resume, bad arguments."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import random_search, records, run, sweeps as sweep_lib


def _rastrigin(x):
    return 10.0 * x.shape[0] + jnp.sum(x**2 - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def _run_fn(num_steps=40):
    """A chaotic run (local hill climbing on Rastrigin): any numerical difference shows."""
    config = random_search.Config(dim=6, num_samples=12, mode="local")
    method = random_search.make(_rastrigin, config)
    params = random_search.params(-5.12, 5.12, step_size=0.7)

    def run_fn(key):
        x0 = jax.random.uniform(jax.random.fold_in(key, 99), (6,), minval=-5.0, maxval=5.0)
        final, trace = run(method, key, x0, params, num_steps)
        return {"best_f": final.best_f, "steps": final.step, "trace": trace.best_f}

    return run_fn


def test_fake_devices_are_available():
    assert jax.device_count() == 8


def test_sharded_sweep_equals_single_device_bit_for_bit():
    seeds = list(range(37))  # not a multiple of the batch: exercises padding
    run_fn = _run_fn()
    one = sweep_lib.sweep(run_fn, seeds, chunk_size=3, devices=jax.devices()[:1], progress=False)
    eight = sweep_lib.sweep(run_fn, seeds, chunk_size=3, progress=False)
    assert eight["best_f"].shape == (37,) and eight["trace"].shape == (37, 40)
    np.testing.assert_array_equal(one["best_f"], eight["best_f"])
    np.testing.assert_array_equal(one["trace"], eight["trace"])
    np.testing.assert_array_equal(one["seed"], np.arange(37))


def test_sweep_output_is_sharded_over_seed_axis():
    mesh = sweep_lib.make_seed_mesh()
    assert mesh.axis_names == ("seeds",)
    assert mesh.axis_types == (jax.sharding.AxisType.Auto,)
    keys = jax.device_put(sweep_lib.seed_keys(0, np.arange(16)),
                          jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seeds")))
    out = jax.jit(jax.vmap(lambda k: jax.random.normal(k, ())))(keys)
    assert len(out.addressable_shards) == 8
    assert out.sharding.spec == jax.sharding.PartitionSpec("seeds")


def test_seed_result_matches_running_that_seed_alone():
    """Seed 17 gives the same run alone or in a batch (same per-device chunk width)."""
    run_fn = _run_fn()
    batch = sweep_lib.sweep(run_fn, range(24), chunk_size=1, progress=False)
    alone = sweep_lib.sweep(run_fn, [17], chunk_size=1, devices=jax.devices()[:1],
                            progress=False)
    np.testing.assert_array_equal(batch["trace"][17], alone["trace"][0])
    # Outside jit the numbers may differ by rounding only (different fusion).
    eager = run_fn(jax.random.fold_in(jax.random.key(0), 17))
    np.testing.assert_allclose(batch["trace"][17], np.asarray(eager["trace"]), rtol=1e-5)


def test_same_seeds_twice_identical_and_root_seed_matters():
    run_fn = _run_fn()
    a = sweep_lib.sweep(run_fn, [3, 1, 2], chunk_size=2, progress=False)
    b = sweep_lib.sweep(run_fn, [1, 2, 3], chunk_size=2, progress=False)
    c = sweep_lib.sweep(run_fn, [1, 2, 3], chunk_size=2, root_seed=1, progress=False)
    np.testing.assert_array_equal(a["trace"], b["trace"])
    assert not np.array_equal(a["trace"], c["trace"])
    assert len(np.unique(a["best_f"])) == 3  # different seeds, different runs


def test_resume_after_interruption_equals_uninterrupted(tmp_path):
    run_fn = _run_fn(num_steps=20)
    config = {"what": "resume-test"}
    full = sweep_lib.sweep(run_fn, range(20), chunk_size=1,
                           record=records.RunRecord(tmp_path / "full", config), progress=False)

    calls = {"n": 0}

    # Interrupt: the record's writer raises on the third chunk, as a kill would.
    record = records.RunRecord(tmp_path / "resumed", config)
    original = record.write_chunk

    def write_then_die(seeds, outputs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        original(seeds, outputs)

    record.write_chunk = write_then_die
    with pytest.raises(KeyboardInterrupt):
        sweep_lib.sweep(run_fn, range(20), chunk_size=1, record=record, progress=False)
    assert record.done_seeds() == set(range(16))  # two chunks of 8 seeds survived

    # A torn half-line at the end of metrics.csv (kill during a write) is ignored.
    with open(tmp_path / "resumed" / "metrics.csv", "a") as f:
        f.write("16,0.5")
    resumed_record = records.RunRecord(tmp_path / "resumed", config)
    assert resumed_record.done_seeds() == set(range(16))
    resumed = sweep_lib.sweep(run_fn, range(20), chunk_size=1, record=resumed_record,
                              progress=False)
    chex.assert_trees_all_close(resumed, full, rtol=0, atol=0)


_KILL_SEEDS = 48
_CHILD = """
import sys, time
from jaxopt_lab import records, sweeps
from tests.test_sweeps import _run_fn
record = records.RunRecord(sys.argv[1], {"what": "kill-test"})
write = record.write_chunk
def slow_write(seeds, outputs):  # stands in for a longer computation per chunk
    time.sleep(0.04)
    write(seeds, outputs)
    time.sleep(0.04)
record.write_chunk = slow_write
sweeps.sweep(_run_fn(20), range(int(sys.argv[2])), chunk_size=1, record=record,
             progress=False)
"""


@pytest.mark.slow
def test_sweep_killed_with_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
    """A recording sweep in another process is SIGKILLed at a random moment after some
    seeds are on disk; resuming it gives, bit for bit, the run that was never interrupted."""
    out = tmp_path / "killed"
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "JAX_NUM_CPU_DEVICES": "2", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": str(root)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(out), str(_KILL_SEEDS)],
                             cwd=root, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        metrics = out / "metrics.csv"
        while not (metrics.exists() and metrics.read_text().count("\n") > 4):
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child wrote no rows"
            time.sleep(0.01)
        delay = random.uniform(0.0, 0.8)
        time.sleep(delay)
        assert child.poll() is None, f"the child finished before the kill ({delay:.2f} s)"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()

    config = {"what": "kill-test"}
    record = records.RunRecord(out, config)
    done = record.done_seeds()
    assert 4 <= len(done) < _KILL_SEEDS, (len(done), delay)
    run_fn = _run_fn(20)
    resumed = sweep_lib.sweep(run_fn, range(_KILL_SEEDS), chunk_size=1, record=record,
                              progress=False)
    whole = sweep_lib.sweep(run_fn, range(_KILL_SEEDS), chunk_size=1, progress=False)
    chex.assert_trees_all_close(resumed, whole, rtol=0, atol=0)
    assert records.RunRecord.open_readonly(out).done_seeds() == set(range(_KILL_SEEDS))


def test_resume_skips_finished_seeds(tmp_path):
    def run_fn(key):
        return {"x": jax.random.uniform(key)}

    record = records.RunRecord(tmp_path, {"a": 1})
    sweep_lib.sweep(run_fn, range(8), chunk_size=1, record=record, progress=False)
    before = (tmp_path / "metrics.csv").read_text()
    out = sweep_lib.sweep(run_fn, range(8), chunk_size=1,
                          record=records.RunRecord(tmp_path, {"a": 1}), progress=False)
    assert (tmp_path / "metrics.csv").read_text() == before  # nothing recomputed or appended
    assert out["x"].shape == (8,)


@pytest.mark.parametrize("seeds, match", [
    ([-1, 2], "seeds must be non-negative"),
    ([], "seeds must be a non-empty"),
    ([1, 1], "seeds must be distinct"),
    ([0.5], "seeds must be integers"),
    ([True], "seeds must be integers"),
    ([2**32], r"seeds must be <= 2\*\*32 - 1"),
    ([0, 2**64 + 3], r"seeds must be <= 2\*\*32 - 1"),
    (np.array([2**32 + 1], np.uint64), r"seeds must be <= 2\*\*32 - 1"),
])
def test_bad_seeds(seeds, match):
    with pytest.raises(ValueError, match=match):
        sweep_lib.sweep(lambda k: {"x": jax.random.uniform(k)}, seeds, progress=False)


@pytest.mark.parametrize("root_seed", [2**32, 2**32 + 7, 2**64, -1, True, 1.0])
def test_root_seed_beyond_32_bits_is_refused_not_aliased(root_seed):
    """``key(2**32)`` would equal ``key(0)``: a root seed that large is an error."""
    with pytest.raises(ValueError, match=r"root_seed must be an int >= 0 and <= 4294967295"):
        sweep_lib.sweep(lambda k: {"x": jax.random.uniform(k)}, [0], root_seed=root_seed,
                        progress=False)


def test_largest_seed_and_root_seed_are_usable_and_distinct():
    run_fn = lambda k: {"x": jax.random.uniform(k)}  # noqa: E731
    top = sweep_lib.MAX_SEED
    a = sweep_lib.sweep(run_fn, [0, top], root_seed=top, chunk_size=1, progress=False)
    b = sweep_lib.sweep(run_fn, [0, top], root_seed=0, chunk_size=1, progress=False)
    assert a["x"][0] != a["x"][1] and a["x"][0] != b["x"][0]


@pytest.mark.parametrize("chunk", [0, -2, 1.5])
def test_bad_chunk_size(chunk):
    with pytest.raises(ValueError, match="chunk_size must be an int >= 1"):
        sweep_lib.sweep(lambda k: {"x": jax.random.uniform(k)}, [0], chunk_size=chunk,
                        progress=False)


@pytest.mark.slow
def test_a_run_pair_sweeps_as_a_pytree_and_matches_a_loop(tmp_path):
    """``sweep(lambda key: run(...))``: the (final, trace) pair comes back with its
    structure, every leaf stacked over seeds, equal to running each seed alone; recorded
    under path names and resumed from the record with the same structure."""
    config = random_search.Config(dim=3, num_samples=4, mode="local")
    method = random_search.make(_rastrigin, config)
    params = random_search.params(-5.12, 5.12, step_size=0.5)
    x0 = jnp.full((3,), 2.0)

    def run_fn(key):
        return run(method, key, x0, params, 7)

    final, trace = sweep_lib.sweep(run_fn, range(5), chunk_size=2, devices=jax.devices()[:1],
                                   progress=False)
    assert isinstance(final, random_search.State) and final.best_x.shape == (5, 3)
    assert trace.best_f.shape == (5, 7)
    one_seed = jax.jit(run_fn)
    for s in range(5):
        alone = one_seed(sweep_lib.seed_keys(0, [s])[0])
        chex.assert_trees_all_close(jax.tree.map(lambda leaf: leaf[s], (final, trace)), alone,
                                    rtol=0, atol=0)  # every leaf of the pair, bit for bit
    record = records.RunRecord(tmp_path, {"a": 1})
    sweep_lib.sweep(run_fn, range(5), chunk_size=2, record=record, progress=False)
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "0.best_f" in header and "0.num_evals" in header
    again = sweep_lib.sweep(run_fn, range(5), chunk_size=2,
                            record=records.RunRecord(tmp_path, {"a": 1}), progress=False)
    chex.assert_trees_all_close(again, (final, trace), rtol=0, atol=0)


@pytest.mark.parametrize("run_fn, match", [
    (lambda k: "not an array", "run_fn must return a pytree of arrays"),
    (lambda k: {}, "run_fn must return a pytree of arrays, got no arrays"),
    (lambda k: {"seed": jax.random.uniform(k)}, "named 'seed'"),
    ("not callable", "run_fn must be callable"),
])
def test_run_fn_output_is_checked_before_anything_runs(run_fn, match):
    with pytest.raises(ValueError, match=match):
        sweep_lib.sweep(run_fn, [0], progress=False)


def test_sweeping_the_same_function_again_compiles_nothing_new():
    def run_fn(key):
        x = jax.random.normal(key, (3,))
        return {"f": jnp.sum(jnp.sin(x) ** 2)}

    compiles = []
    listener = lambda name, duration, **kw: compiles.append(name)  # noqa: E731
    devices = jax.devices()[:1]
    first = sweep_lib.sweep(run_fn, range(4), chunk_size=4, devices=devices, progress=False)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        again = sweep_lib.sweep(run_fn, range(4, 8), chunk_size=4, devices=devices,
                                progress=False)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert [n for n in compiles if n.endswith("backend_compile_duration")] == []
    # the reused program still computes each seed's own result
    alone = sweep_lib.sweep(lambda key: run_fn(key), [5], chunk_size=4, devices=devices,
                            progress=False)
    np.testing.assert_array_equal(again["f"][1], alone["f"][0])
    assert not np.array_equal(first["f"], again["f"])
