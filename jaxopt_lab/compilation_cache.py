"""JAX's persistent compilation cache, switched on in one line.

Compiling a solver (e.g. one program per quadrature shape of :func:`jaxopt_lab.maxent.solve`)
takes seconds on a CPU while running it takes milliseconds. With the cache on, XLA's compiled
programs are written to a directory, and a later process that traces the same program loads
it instead of compiling it again::

    import jaxopt_lab
    jaxopt_lab.enable_compilation_cache()     # before the first solve

The directory is, in order: the ``path`` argument; the environment variable
:data:`ENV_VAR` (a directory; or ``off``, ``0``, ``false``, ``no``, ``none`` or empty to leave
the cache off); ``<user cache dir>/jaxopt_lab/jax`` (``$XDG_CACHE_HOME`` or ``~/.cache`` on
Linux, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows). The experiments
(``python -m experiments.<name>``) switch it on by default.

The cache is trusted code: like JAX's own, it must not live where others can write.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["ENV_VAR", "enable_compilation_cache", "default_cache_dir", "cache_dir_from_env"]

#: Environment variable that moves (a directory) or disables (``off``) the cache.
ENV_VAR = "JAXOPT_LAB_COMPILATION_CACHE"
_OFF = ("", "0", "off", "false", "no", "none")


def default_cache_dir() -> Path:
    """``<user cache dir>/jaxopt_lab/jax``."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "jaxopt_lab" / "jax"


def cache_dir_from_env() -> Path | None:
    """The directory :data:`ENV_VAR` names, the default one if it is unset, None if it
    disables the cache."""
    value = os.environ.get(ENV_VAR)
    if value is None:
        return default_cache_dir()
    if value.strip().lower() in _OFF:
        return None
    return Path(value).expanduser()


def enable_compilation_cache(path: str | os.PathLike | None = None, *,
                             min_compile_time_s: float = 0.0) -> Path | None:
    """Switches JAX's persistent compilation cache on; returns its directory (None: off).

    Args:
      path: the cache directory (created if missing). None: :func:`cache_dir_from_env`.
      min_compile_time_s: programs that compiled faster than this are not stored (JAX's
        default is 1 s; 0 stores every program, so a solve's small programs are reused too).

    Every program compiled after the call is looked up in and written to the directory
    (entries of any size). Calling it again with another directory moves the cache.
    """
    target = cache_dir_from_env() if path is None else Path(path).expanduser()
    if target is None:
        return None
    target.mkdir(parents=True, exist_ok=True)
    import jax

    previous = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(target))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    if previous is not None and previous != str(target):
        # JAX opens its cache once per process; a new directory needs a reset.
        from jax.experimental.compilation_cache import compilation_cache

        compilation_cache.reset_cache()
    return target
