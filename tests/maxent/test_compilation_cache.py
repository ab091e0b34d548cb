"""The persistent compilation cache switch (jaxopt_lab.enable_compilation_cache): it writes
compiled programs to its directory, a second process loads them instead of compiling, and
the environment variable moves or disables it. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxopt_lab import compilation_cache

ROOT = Path(__file__).resolve().parents[2]

# A child process: switch the cache on (directory from the environment), compile one
# program, report the cache events and the directory.
CHILD = """
import collections, json
import jax, jax.monitoring, jax.numpy as jnp
import jaxopt_lab
events = collections.Counter()
jax.monitoring.register_event_listener(lambda name, **kw: events.update([name]))
where = jaxopt_lab.enable_compilation_cache()
f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum(axis=0) + jnp.cos(x[:, 0]))
f(jnp.arange(12.0).reshape(4, 3)).block_until_ready()
print(json.dumps({"dir": None if where is None else str(where),
                  "config_dir": jax.config.jax_compilation_cache_dir,
                  "hits": events["/jax/compilation_cache/cache_hits"],
                  "misses": events["/jax/compilation_cache/cache_misses"]}))
"""


def _child(env_value):
    env = {k: v for k, v in os.environ.items() if k != compilation_cache.ENV_VAR}
    if env_value is not None:
        env[compilation_cache.ENV_VAR] = env_value
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_cache_is_written_then_reused_by_a_second_process(tmp_path):
    folder = tmp_path / "cache"
    first = _child(str(folder))
    assert first["dir"] == str(folder) == first["config_dir"]
    assert first["misses"] >= 1 and first["hits"] == 0
    written = _entries(folder)
    assert written, "the first process wrote no cache entry"
    second = _child(str(folder))
    assert second["hits"] >= 1 and second["misses"] == 0
    assert _entries(folder) == written  # loaded, nothing compiled anew


def test_environment_variable_off_disables_the_cache_in_a_process():
    report = _child("off")
    assert report["dir"] is None and report["config_dir"] is None
    assert report["hits"] == report["misses"] == 0


@pytest.mark.parametrize("value", ["off", "0", "False", "none", ""])
def test_environment_variable_values_that_disable(monkeypatch, value):
    monkeypatch.setenv(compilation_cache.ENV_VAR, value)
    assert compilation_cache.cache_dir_from_env() is None
    assert compilation_cache.enable_compilation_cache() is None  # jax's config untouched


def test_default_directory_is_under_the_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(compilation_cache.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert compilation_cache.cache_dir_from_env() == tmp_path / "jaxopt_lab" / "jax"
    monkeypatch.setenv(compilation_cache.ENV_VAR, str(tmp_path / "elsewhere"))
    assert compilation_cache.cache_dir_from_env() == tmp_path / "elsewhere"
