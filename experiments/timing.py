"""Fair timing of NumPy/SciPy peers: one BLAS thread, process CPU time, warm vs cold.

Every NumPy/SciPy peer that the experiments and ``scripts/bench_*`` compare against runs
inside :func:`single_threaded_blas` (or is decorated with :func:`pinned_peer`), so that its
BLAS library cannot start worker threads that spend CPU time on small problems: a ratio of
successes per CPU-second is then a ratio of work, not of idle spinning. JAX's own side is
measured as it runs (XLA's CPU threading included) and its compilation is reported apart.
"""

from __future__ import annotations

import contextlib
import functools
import time
from typing import Any, Callable, Iterator

from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ["single_threaded_blas", "pinned_peer", "blas_threads", "CpuTimer"]


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Context in which every BLAS/OpenMP library loaded in the process uses one thread."""
    with threadpool_limits(limits=1):
        yield


def pinned_peer(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: ``fn`` (a NumPy/SciPy peer) always runs under :func:`single_threaded_blas`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return fn(*args, **kwargs)

    return wrapper


def blas_threads() -> int:
    """The largest thread count of the BLAS libraries loaded now (0 when none is loaded).

    Called inside a peer it shows what the peer ran with (1 under :func:`pinned_peer`).
    """
    counts = [int(p.get("num_threads", 0)) for p in threadpool_info()
              if p.get("user_api") == "blas"]
    return max(counts, default=0)


class CpuTimer:
    """Process CPU seconds (all threads) and wall seconds of a ``with`` block.

    Example::

        with CpuTimer() as t:
            work()
        t.cpu_s, t.wall_s
    """

    cpu_s: float
    wall_s: float

    def __enter__(self) -> "CpuTimer":
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        self.cpu_s = self.wall_s = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.cpu_s = time.process_time() - self._cpu0
        self.wall_s = time.perf_counter() - self._wall0

    def elapsed_cpu(self) -> float:
        """CPU seconds since the block was entered (while it runs)."""
        return time.process_time() - self._cpu0
