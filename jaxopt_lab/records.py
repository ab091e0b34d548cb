"""Run records: what a sweep wrote, written as it goes, so an interrupted run resumes.

A record is a folder::

    config.json    the run's configuration (a re-run must match it to resume)
    env.json       ``{"writers": [...]}``: each process that appended results (git commit and
                   dirty flag, jax/jaxlib versions, backend, device kind and count, chunk
                   size, time); see :mod:`jaxopt_lab.provenance`
    metrics.csv    one row per finished seed: ``seed``, ``writer`` (index into the writers),
                   then every scalar output
    arrays/        ``chunk_<first>_<last>.npz``: the non-scalar outputs of one chunk of seeds
    summary.json   aggregate statistics, rewritten after every chunk

Rows and arrays are appended once per finished chunk, with the CSV rows written in one
``write`` and flushed to disk; a crash loses at most the chunk in flight. A partially
written last line (no trailing newline) is ignored on reading and cut off when the record
is reopened; its seeds run again.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from jaxopt_lab.provenance import (RecordMismatch, check_resume, environment_info,
                                   normalise_writer)

__all__ = ["RunRecord", "RecordMismatch", "environment_info", "ensure_writable_dir",
           "summarise_columns"]

_METRICS = "metrics.csv"
_ARRAYS = "arrays"
_ENV = "env.json"
WRITER = "writer"  # metrics.csv column: index of the row's writer in env.json


def ensure_writable_dir(path, argument: str = "out") -> Path:
    """Creates ``path`` (and parents) and checks that files can be written in it.

    Raises:
      ValueError: naming ``argument`` when the folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"{argument}: cannot write to folder {str(path)!r} ({err})") from err
    return path


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no inf/nan; keep them readable
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


#: Fewest finite values for a spread (sample std, standard error) in a summary.
MIN_SEEDS_FOR_SPREAD = 2


def summarise_columns(columns: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Count, finite count, mean, min, median and max of each numeric scalar column (NaNs
    ignored); the sample std (``ddof=1``) and standard error of the mean only with at least
    :data:`MIN_SEEDS_FOR_SPREAD` finite values, else ``"spread": "too few seeds"``."""
    summary = {}
    for name, values in columns.items():
        values = np.asarray(values)
        if name == "seed" or values.ndim != 1 or not np.issubdtype(values.dtype, np.number):
            continue
        v = values.astype(np.float64)
        finite = v[np.isfinite(v)]
        stats = {"count": int(v.size), "finite": int(finite.size)}
        if finite.size:
            stats.update(mean=float(finite.mean()), min=float(finite.min()),
                         median=float(np.median(finite)), max=float(finite.max()))
        if finite.size >= MIN_SEEDS_FOR_SPREAD:
            std = float(finite.std(ddof=1))
            stats.update(std=std, stderr=std / math.sqrt(finite.size))
        else:
            stats["spread"] = "too few seeds"
        summary[name] = stats
    return summary


class RunRecord:
    """A results folder for one sweep; appends per chunk and resumes.

    Args:
      out_dir: folder of this record (created).
      config: JSON-serialisable configuration. If the folder already holds a record with a
        different configuration, a :class:`RecordMismatch` (a ``ValueError``) is raised
        rather than mixing results; pass ``overwrite=True`` to start afresh.
      overwrite: delete an existing record's metrics, arrays and writers first.
      allow_mixed: resume even if the record's results were written under another git
        commit, backend or jax/jaxlib version (refused otherwise); every row keeps its
        writer, see :meth:`seeds_by_writer`.
      env_extra: extra fields for this writer's entry in ``env.json`` (e.g. the per-device
        chunk size).

    This process is added to ``env.json``'s writers when it writes its first chunk.
    """

    def __init__(self, out_dir, config: Mapping[str, Any], *, overwrite: bool = False,
                 allow_mixed: bool = False, env_extra: Mapping[str, Any] | None = None):
        self.path = ensure_writable_dir(out_dir)
        self.config = _jsonable(dict(config))
        config_path = self.path / "config.json"
        if config_path.exists() and not overwrite:
            previous = json.loads(config_path.read_text())
            if previous != self.config:
                diff = sorted(k for k in set(previous) | set(self.config)
                              if previous.get(k) != self.config.get(k))
                raise RecordMismatch(self.path, f"holds a run with a different config "
                                     f"(differences in keys {diff})", mixable=False)
        if overwrite:
            for name in (_METRICS, "summary.json", _ENV):
                (self.path / name).unlink(missing_ok=True)
            if (self.path / _ARRAYS).exists():
                for f in (self.path / _ARRAYS).glob("*.npz"):
                    f.unlink()
        self.writers = self._read_writers()
        self._current = _jsonable(environment_info(**dict(env_extra or {})))
        self._writer_index: int | None = None
        self._cut_torn_line()
        self._add_writer_column()
        if not allow_mixed:
            check_resume(self.path, self.writers, set(self.seeds_by_writer()), self._current)
        _write_json(config_path, self.config)

    @classmethod
    def open_readonly(cls, out_dir) -> "RunRecord":
        """An existing record, for :meth:`load` and :meth:`done_seeds` only; writes nothing.

        Unlike the constructor it neither rewrites ``config.json`` nor ``env.json`` (the
        environment the run was made in) nor trims a torn last row.

        Raises:
          FileNotFoundError: ``out_dir`` holds no ``config.json``.
        """
        path = Path(out_dir)
        config_path = path / "config.json"
        if not config_path.exists():
            raise FileNotFoundError(f"out_dir: {str(path)!r} holds no record (no config.json)")
        self = cls.__new__(cls)
        self.path = path
        self.config = json.loads(config_path.read_text())
        self.writers = self._read_writers()
        return self

    def _read_writers(self) -> list[dict[str, Any]]:
        path = self.path / _ENV
        if not path.exists():
            return []
        env = json.loads(path.read_text())
        writers = env["writers"] if isinstance(env, dict) and "writers" in env else [env]
        return [normalise_writer(w) for w in writers]

    def _add_writer_column(self) -> None:
        """A record from before writers were tracked: its rows are writer 0's."""
        header, rows = self._read_rows()
        if not header or (len(header) > 1 and header[1] == WRITER):
            return
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow([header[0], WRITER, *header[1:]])
        out.writerows([r[0], 0, *r[1:]] for r in rows if r)
        tmp = self.path / (_METRICS + ".tmp")
        tmp.write_text(buf.getvalue())
        os.replace(tmp, self.path / _METRICS)

    def _cut_torn_line(self) -> None:
        """Drops a partially written last row (a kill during a write) before appending."""
        path = self.path / _METRICS
        if not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)

    # -- reading -------------------------------------------------------------------------
    def _read_rows(self) -> tuple[list[str], list[list[str]]]:
        path = self.path / _METRICS
        if not path.exists():
            return [], []
        text = path.read_text()
        if not text.endswith("\n"):  # a torn last line from an interrupted write
            text = text[: text.rfind("\n") + 1]
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return [], []
        return rows[0], rows[1:]

    def seeds_by_writer(self, seeds=None) -> dict[int, list[int]]:
        """``{writer index: sorted seeds}`` of the finished seeds (or of ``seeds``)."""
        header, rows = self._read_rows()
        column = 1 if len(header) > 1 and header[1] == WRITER else None
        wanted = None if seeds is None else {int(s) for s in seeds}
        out: dict[int, list[int]] = {}
        for r in rows:
            if r and (wanted is None or int(r[0]) in wanted):
                out.setdefault(0 if column is None else int(r[column]), []).append(int(r[0]))
        return {w: sorted(v) for w, v in sorted(out.items())}

    def done_seeds(self) -> set[int]:
        """Seeds whose rows (and arrays) are complete on disk."""
        header, rows = self._read_rows()
        done = {int(r[0]) for r in rows if r}
        has_arrays = (self.path / _ARRAYS).exists() and any((self.path / _ARRAYS).iterdir())
        if has_arrays:
            done &= set(self._array_index())
        return done

    def _array_index(self) -> dict[int, tuple[Path, int]]:
        index = {}
        folder = self.path / _ARRAYS
        if not folder.exists():
            return index
        for f in sorted(folder.glob("chunk_*.npz")):
            try:
                with np.load(f) as data:
                    seeds = data["seed"]
            except (OSError, ValueError, KeyError, EOFError):
                continue  # torn file: its seeds are redone
            for i, s in enumerate(seeds.tolist()):
                index[int(s)] = (f, i)
        return index

    def load(self, seeds=None) -> dict[str, np.ndarray]:
        """All finished seeds (or the given ones), sorted by seed, as column arrays."""
        header, rows = self._read_rows()
        by_seed = {int(r[0]): r for r in rows if r}
        index = self._array_index()
        if seeds is None:
            wanted = sorted(self.done_seeds())
        else:
            wanted = sorted(int(s) for s in seeds)
            missing = [s for s in wanted if s not in by_seed]
            if missing:
                raise KeyError(f"seeds not in record {str(self.path)!r}: {missing[:10]}")
        columns: dict[str, np.ndarray] = {"seed": np.asarray(wanted, dtype=np.int64)}
        for j, name in enumerate(header[1:], start=1):
            if name != WRITER or j != 1:
                columns[name] = np.asarray([_parse(by_seed[s][j]) for s in wanted])
        if index and wanted:
            cache: dict[Path, Any] = {}
            first_file, _ = index[wanted[0]]
            with np.load(first_file) as data:
                names = [k for k in data.files if k != "seed"]
            for name in names:
                parts = []
                for s in wanted:
                    f, i = index[s]
                    if f not in cache:
                        with np.load(f) as data:
                            cache[f] = {k: data[k] for k in data.files}
                    parts.append(cache[f][name][i])
                columns[name] = np.stack(parts)
        return columns

    # -- writing -------------------------------------------------------------------------
    def write_chunk(self, seeds, outputs: Mapping[str, np.ndarray]) -> None:
        """Appends one finished chunk: scalars to metrics.csv, the rest to arrays/."""
        seeds = np.asarray(seeds, dtype=np.int64)
        scalars = {k: np.asarray(v) for k, v in outputs.items() if np.ndim(v) == 1}
        arrays = {k: np.asarray(v) for k, v in outputs.items() if np.ndim(v) > 1}
        if WRITER in outputs:
            raise ValueError(f"outputs must not have an entry named {WRITER!r} (the record's "
                             f"column of each row's writer)")
        for k, v in {**scalars, **arrays}.items():
            if v.shape[0] != seeds.shape[0]:
                raise ValueError(f"output {k!r} has leading size {v.shape[0]}, expected "
                                 f"{seeds.shape[0]} (one per seed)")
        if arrays:
            folder = self.path / _ARRAYS
            folder.mkdir(exist_ok=True)
            target = folder / f"chunk_{seeds.min():08d}_{seeds.max():08d}.npz"
            tmp = folder / (target.name + ".tmp.npz")
            np.savez(tmp, seed=seeds, **arrays)
            os.replace(tmp, target)
        path = self.path / _METRICS
        header, _ = self._read_rows()
        names = sorted(scalars)
        if header and header[2:] != names:
            raise ValueError(f"metrics columns changed: {header[2:]} vs {names}")
        if self._writer_index is None:  # first chunk of this process: it joins the writers
            self.writers.append(self._current)
            self._writer_index = len(self.writers) - 1
            _write_json(self.path / _ENV, {"writers": self.writers})
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if not header:
            writer.writerow(["seed", WRITER, *names])
        for i, s in enumerate(seeds.tolist()):
            writer.writerow([s, self._writer_index, *(_format(scalars[k][i]) for k in names)])
        with open(path, "a") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())

    def write_summary(self, summary: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Writes ``summary.json``: the given dict, or column statistics of all seeds."""
        if summary is None:
            summary = summarise_columns(self.load())
        _write_json(self.path / "summary.json", summary)
        return dict(summary)


def _format(value) -> str:
    value = np.asarray(value).item()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _parse(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text
