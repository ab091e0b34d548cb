"""Who wrote a run record: one entry per writer in ``env.json``, checked before resuming.

A record's ``env.json`` is ``{"writers": [w_0, w_1, ...]}``; writer ``w_i`` is the
environment of one process that appended results (git commit and dirty flag, jax/jaxlib
versions, backend, device kind and count, chunk size, start time), and each row of
``metrics.csv`` carries its writer's index. Resuming under another commit, backend or
jax/jaxlib version would mix numbers that need not agree, so it is refused unless mixing is
allowed explicitly; :func:`describe_writers` then says which seeds came from which writer.
"""

from __future__ import annotations

import datetime
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["environment_info", "RecordMismatch", "IDENTITY", "RESUME_KEYS", "check_resume",
           "normalise_writer", "describe_writers", "seed_ranges"]

#: Fields that tell two writers apart in a report (anything that can change a number).
IDENTITY = ("git_commit", "git_dirty", "jax", "jaxlib", "backend", "device_kind",
            "device_count", "chunk_size_per_device")
#: Fields that must agree to resume a record without ``allow_mixed``.
RESUME_KEYS = ("git_commit", "backend", "jax", "jaxlib")


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def environment_info(**extra: Any) -> dict[str, Any]:
    """What runs the computation: versions, backend, devices, precision, commit, time."""
    import jax
    import jaxlib

    devices = jax.devices()
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    info = {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind if devices else None,
        "device_count": jax.device_count(),
        "local_device_count": jax.local_device_count(),
        "process_count": jax.process_count(),
        "process_index": jax.process_index(),
        "x64": bool(jax.config.jax_enable_x64),
        "git_commit": commit,
        "git_dirty": None if dirty is None else bool(dirty),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    info.update(extra)
    return info


def normalise_writer(writer: Mapping[str, Any]) -> dict[str, Any]:
    """An older entry (commit with a ``-dirty`` suffix, no ``git_dirty``) in today's form."""
    writer = dict(writer)
    commit = writer.get("git_commit")
    if "git_dirty" not in writer:
        dirty = isinstance(commit, str) and commit.endswith("-dirty")
        writer["git_commit"] = commit[: -len("-dirty")] if dirty else commit
        writer["git_dirty"] = dirty if commit is not None else None
    return writer


def _label(writer: Mapping[str, Any]) -> str:
    commit = writer.get("git_commit")
    commit = "no git commit" if commit is None else "commit " + str(commit)[:10]
    if writer.get("git_dirty"):
        commit += " (dirty)"
    return (f"{commit}, {writer.get('backend')} x{writer.get('device_count')} "
            f"({writer.get('device_kind')}), jax {writer.get('jax')}")


class RecordMismatch(ValueError):
    """An existing record that this run must not silently resume (config or writer differs).

    ``str(err)`` names the library's options (``overwrite=True``, ``allow_mixed=True``);
    :meth:`message` words it for other front ends (e.g. ``--fresh``, ``--allow-mixed``).
    """

    def __init__(self, path, problem: str, mixable: bool):
        self.path, self.problem, self.mixable = str(path), problem, mixable
        super().__init__(self.message())

    def message(self, fresh: str = "overwrite=True", mixed: str = "allow_mixed=True") -> str:
        text = f"out: {self.path!r} {self.problem}; use a new folder, or {fresh} to discard it"
        if self.mixable:
            text += (f", or {mixed} to keep both (the report then says which seeds came from "
                     f"which writer)")
        return text


def check_resume(path, writers: Sequence[Mapping[str, Any]], used: set[int],
                 current: Mapping[str, Any]) -> None:
    """Raises :class:`RecordMismatch` if a writer with rows (index in ``used``) differs from
    ``current`` in any of :data:`RESUME_KEYS`."""
    for i in sorted(used):
        if i >= len(writers):
            continue
        old = writers[i]
        diff = [k for k in RESUME_KEYS if old.get(k) != current.get(k)]
        if diff:
            raise RecordMismatch(
                path, f"holds results of writer {i} ({_label(old)}) and this run differs in "
                f"{diff} ({_label(current)}); resuming would mix their numbers", mixable=True)


def seed_ranges(seeds) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2, 5, 7-8"``."""
    seeds = sorted(int(s) for s in seeds)
    parts, i = [], 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        parts.append(str(seeds[i]) if i == j else f"{seeds[i]}-{seeds[j]}")
        i = j + 1
    return ", ".join(parts)


def describe_writers(writers: Sequence[Mapping[str, Any]], seeds_by_writer: Mapping[int, Any]
                     ) -> str | None:
    """One line naming each writer's seeds, or ``None`` when the seeds' writers agree in
    every :data:`IDENTITY` field (a plain resume)."""
    used = sorted(seeds_by_writer)
    identities = {tuple(writers[i].get(k) for k in IDENTITY) if i < len(writers) else None
                  for i in used}
    if len(identities) <= 1:
        return None
    return "; ".join(
        f"seeds {seed_ranges(seeds_by_writer[i])} by writer {i} "
        f"({_label(writers[i]) if i < len(writers) else 'unknown'})" for i in used)
