"""Run one seed's computation over many seeds: ``vmap`` in fixed per-device chunks, sharded.

``sweep(run_fn, seeds)`` (also ``jaxopt_lab.sweep``) evaluates ``run_fn(key_s)`` for every
seed ``s`` with
``key_s = fold_in(key(root_seed), s)``. Seeds are processed in chunks of
``chunk_size * num_devices``; each chunk is one ``jit(vmap(run_fn))`` call whose seed axis is
sharded over the devices of a 1-D mesh named ``"seeds"`` (``AxisType.Auto``), so every
device always computes a batch of exactly ``chunk_size`` seeds (the last chunk is padded).
XLA's numerics depend on the batch width a device sees, not on the number of devices,
so a seed's result is bit-identical whatever the
device count, for a fixed ``chunk_size``.

``run_fn`` may return any pytree of arrays (e.g. the ``(final, trace)`` of
:func:`jaxopt_lab.run`); its structure is checked with ``jax.eval_shape`` before the first
chunk runs. A flat dict of arrays comes back as a dict with a ``"seed"`` entry (its scalar
entries are the columns of a record's ``metrics.csv``); any other pytree comes back with
the same structure, every leaf stacked over the sorted seeds, and is recorded under the
leaves' path names (``"0.best_f"`` for ``final.best_f`` of a ``(final, trace)`` pair).

With a :class:`~jaxopt_lab.records.RunRecord`, each finished chunk is written at once and
seeds already on disk are skipped: re-running the same command resumes the sweep.

Multi-host: call ``jax.distributed.initialize()`` (arguments auto-detected on Cloud TPU and
SLURM) before any other JAX call, then run the same script on every host. The mesh spans
all global devices, the chunk's keys are assembled from per-host pieces with
``jax.make_array_from_callback``, outputs are gathered with ``process_allgather`` and only
process 0 writes the record.
"""

from __future__ import annotations

import collections
import sys
import time
from typing import Any, Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from jaxopt_lab import _checks

__all__ = ["sweep", "seed_keys", "make_seed_mesh", "validate_seeds", "check_root_seed",
           "output_structure", "MAX_SEED"]

#: Largest root seed and seed number. Keys are ``fold_in(key(root_seed), seed)`` with 32-bit
#: words (JAX's default, x64 off), so a larger number would alias a smaller one
#: (``key(2**32) == key(0)``); it is refused instead.
MAX_SEED = 2**32 - 1


def validate_seeds(seeds: Iterable[int], argument: str = "seeds") -> np.ndarray:
    """Checks that ``seeds`` is a non-empty list of distinct ints in ``[0, MAX_SEED]``.

    Returns the seeds as an int64 array ``[num_seeds]``.

    Raises:
      ValueError: naming ``argument`` and the broken constraint.
    """
    arr = np.asarray(list(seeds) if not isinstance(seeds, np.ndarray) else seeds)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{argument} must be a non-empty 1-D list of ints, got shape {arr.shape}")
    if arr.dtype == object and all(isinstance(s, int) and not isinstance(s, bool)
                                   for s in arr.tolist()):
        if any(s < 0 for s in arr.tolist()):
            raise ValueError(f"{argument} must be non-negative, got "
                             f"{[s for s in arr.tolist() if s < 0][:5]}")
        big = [s for s in arr.tolist() if s > MAX_SEED][:5]
        raise ValueError(f"{argument} must be <= 2**32 - 1 = {MAX_SEED} (larger seeds would "
                         f"alias smaller ones), got {big}")
    if not np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        raise ValueError(f"{argument} must be integers, got dtype {arr.dtype}")
    if (arr < 0).any():
        raise ValueError(f"{argument} must be non-negative, got {arr[arr < 0][:5].tolist()}")
    if (arr > MAX_SEED).any():
        big = arr[arr > MAX_SEED][:5].tolist()
        raise ValueError(f"{argument} must be <= 2**32 - 1 = {MAX_SEED} (larger seeds would "
                         f"alias smaller ones), got {big}")
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{argument} must be distinct")
    return arr.astype(np.int64)


def check_root_seed(root_seed, argument: str = "root_seed") -> int:
    """Checks that ``root_seed`` is an int in ``[0, MAX_SEED]``; returns it as an ``int``.

    Raises:
      ValueError: naming ``argument``; a larger root seed would alias a smaller one.
    """
    _checks.check_int(root_seed, argument, minimum=0, maximum=MAX_SEED)
    return int(root_seed)


def seed_keys(root_seed: int, seeds) -> jax.Array:
    """Typed PRNG keys ``fold_in(key(root_seed), s)`` for each seed, ``[num_seeds]``."""
    root = jax.random.key(root_seed)
    return jax.vmap(lambda s: jax.random.fold_in(root, s))(jnp.asarray(seeds, dtype=jnp.uint32))


def make_seed_mesh(devices=None) -> jax.sharding.Mesh:
    """A 1-D mesh ``("seeds",)`` with an Auto axis over ``devices`` (default: all devices)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must be a non-empty list")
    return jax.sharding.Mesh(
        np.asarray(devices), ("seeds",), axis_types=(jax.sharding.AxisType.Auto,)
    )


class _Progress:
    """tqdm when installed (the ``experiments`` extra), plain lines on stderr otherwise."""

    def __init__(self, total: int, desc: str, enabled: bool):
        self.total, self.done, self.desc, self.enabled = total, 0, desc, enabled
        self.start = time.perf_counter()
        self.bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=desc, unit="seed", leave=False)
            except ImportError:
                pass

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled:
            elapsed = time.perf_counter() - self.start
            print(f"[{self.desc}] {self.done}/{self.total} seeds, {elapsed:.1f} s",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def sweep(
    run_fn: Callable[[jax.Array], Any],
    seeds: Iterable[int],
    *,
    root_seed: int = 0,
    chunk_size: int = 8,
    devices=None,
    record=None,
    progress: bool = True,
    desc: str | None = None,
) -> dict[str, np.ndarray]:
    """Runs ``run_fn`` for every seed, sharded over devices, optionally into a record.

    The compiled chunk program is kept for the last few ``run_fn`` objects: sweeping the
    same function again (more seeds, a resumed record) compiles nothing new.

    Args:
      run_fn: ``run_fn(key) -> pytree of arrays``, the computation of one seed (pure).
        Scalar outputs become columns of ``metrics.csv``; others are stored as arrays.
      seeds: distinct ints in ``[0, 2**32 - 1]`` (larger ones are refused: with 32-bit key
        words they would alias smaller ones).
      root_seed: the root of every seed's key, an int in ``[0, 2**32 - 1]`` (refused
        beyond, for the same reason).
      chunk_size: seeds per device per call (fixes the numerics; see module docstring).
      devices: devices to shard over (default: all).
      record: a :class:`~jaxopt_lab.records.RunRecord`; finished seeds are skipped and
        every chunk is written as soon as it finishes.
      progress: show a progress bar over chunks.
      desc: label of the progress bar.

    Returns:
      For a flat dict output: a dict of numpy arrays stacked over ``sorted(seeds)``, with a
      ``"seed"`` entry. Otherwise: the output's pytree, every leaf a numpy array stacked
      over ``sorted(seeds)``.

    Raises:
      ValueError: bad seeds, chunk size or root seed, or a ``run_fn`` whose output is not
        a pytree of arrays (found by ``jax.eval_shape`` before anything runs).
    """
    seeds = np.sort(validate_seeds(seeds))
    _checks.check_int(chunk_size, "chunk_size")
    root_seed = check_root_seed(root_seed)
    if not callable(run_fn):
        raise ValueError(f"run_fn must be callable run_fn(key) -> pytree of arrays, "
                         f"got {type(run_fn).__name__}")
    names, treedef = output_structure(run_fn, root_seed)
    if record is not None and "writer" in names:
        raise ValueError("run_fn must not return an entry named 'writer' when recording (the "
                         "record's column of each row's writer)")
    mesh = make_seed_mesh(devices)
    num_devices = mesh.devices.size
    batch = int(chunk_size) * num_devices
    sharding = NamedSharding(mesh, PartitionSpec("seeds"))
    compiled = _chunk_program(run_fn, names if treedef is not None else None, sharding)

    done = record.done_seeds() if record is not None else set()
    todo = np.asarray([s for s in seeds.tolist() if s not in done], dtype=np.int64)
    computed: dict[int, dict[str, np.ndarray]] = {}
    bar = _Progress(len(todo), desc or getattr(run_fn, "__name__", "sweep"),
                    progress and len(todo) > 0)
    try:
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            padded = np.concatenate([chunk, np.full(batch - len(chunk), chunk[-1])])
            keys = _put_keys(root_seed, padded, sharding)
            outputs = compiled(keys)
            outputs = _gather(outputs)
            outputs = {k: np.asarray(v)[: len(chunk)] for k, v in dict(outputs).items()}
            if record is not None and jax.process_index() == 0:
                record.write_chunk(chunk, outputs)
            for i, s in enumerate(chunk.tolist()):
                computed[s] = {k: v[i] for k, v in outputs.items()}
            bar.update(len(chunk))
    finally:
        bar.close()

    if record is not None and jax.process_index() == 0:
        record.write_summary()
        columns = record.load(seeds)
    else:
        columns = _stack(seeds, computed)
    if treedef is None:
        return columns
    return jax.tree.unflatten(treedef, [columns[name] for name in names])


def _path_name(path) -> str:
    parts = []
    for entry in path:
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                parts.append(str(getattr(entry, attr)))
                break
    return ".".join(parts)


def output_structure(run_fn, root_seed: int = 0):
    """Column names of ``run_fn``'s outputs, and their treedef (``None`` for a flat dict).

    Traces ``run_fn`` once with ``jax.eval_shape`` (nothing runs).

    Raises:
      ValueError: naming ``run_fn`` if it fails to trace or returns anything but a pytree
        of arrays.
    """
    key = seed_keys(root_seed, np.zeros(1, np.int64))[0]
    try:
        shapes = jax.eval_shape(run_fn, key)
    except TypeError as err:
        raise ValueError(f"run_fn must return a pytree of arrays: {err}") from err
    _checks.check_arrays_tree(shapes, "run_fn")
    if isinstance(shapes, Mapping) and all(
            isinstance(k, str) and isinstance(v, jax.ShapeDtypeStruct) for k, v in shapes.items()):
        if "seed" in shapes:
            raise ValueError("run_fn must not return an entry named 'seed' (sweep adds it)")
        return list(shapes), None
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    names = [_path_name(path) or "value" for path, _ in leaves]
    if len(set(names)) != len(names) or "seed" in names:
        raise ValueError(f"run_fn's output leaves need distinct path names other than "
                         f"'seed', got {names}")
    return names, treedef


# The last few chunk programs, jit(vmap(run_fn)) per run_fn object, so that sweeping the same
# function again (more seeds, a resumed record) reuses its compiled program instead of
# tracing and compiling anew. Bounded: each entry keeps its run_fn and executables alive.
_PROGRAMS: "collections.OrderedDict[tuple, tuple]" = collections.OrderedDict()
_MAX_PROGRAMS = 4


def _chunk_program(run_fn, flat_names, sharding):
    """``jit(vmap(run_fn))`` with outputs sharded over seeds, reused for the same ``run_fn``
    object (and output layout and sharding) among the last :data:`_MAX_PROGRAMS` ones.

    ``flat_names``: None when ``run_fn`` returns a flat dict, else the column names its
    pytree output is flattened to.
    """
    cache_key = (id(run_fn), None if flat_names is None else tuple(flat_names), sharding)
    hit = _PROGRAMS.get(cache_key)
    if hit is not None and hit[0] is run_fn:
        _PROGRAMS.move_to_end(cache_key)
        return hit[1]
    fn = run_fn if flat_names is None else _flat_outputs(run_fn, flat_names)
    program = jax.jit(jax.vmap(fn), out_shardings=sharding)
    _PROGRAMS[cache_key] = (run_fn, program)  # keeps run_fn alive, so its id stays unique
    while len(_PROGRAMS) > _MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return program


def _flat_outputs(run_fn, names):
    """``run_fn`` with its output flattened to ``{name: leaf}`` (the record's columns)."""

    def flat(key):
        return dict(zip(names, jax.tree.leaves(run_fn(key))))

    return flat


def _put_keys(root_seed, padded, sharding):
    if jax.process_count() == 1:
        return jax.device_put(seed_keys(root_seed, padded), sharding)
    data = np.asarray(jax.random.key_data(seed_keys(root_seed, padded)))
    raw = jax.make_array_from_callback(data.shape, NamedSharding(sharding.mesh,
                                       PartitionSpec("seeds", None)), lambda idx: data[idx])
    return jax.random.wrap_key_data(raw)


def _gather(outputs):
    if jax.process_count() == 1:
        return jax.device_get(outputs)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(outputs, tiled=True)


def _stack(seeds, computed) -> dict[str, np.ndarray]:
    if not computed:
        return {"seed": np.asarray(seeds)}
    names = next(iter(computed.values())).keys()
    out = {"seed": np.asarray(seeds)}
    for name in names:
        out[name] = np.stack([computed[int(s)][name] for s in seeds])
    return out
