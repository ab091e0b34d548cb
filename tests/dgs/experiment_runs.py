"""Runs an experiment the way a user does, ``python -m experiments.<name> ...``, in a
subprocess: the tests never import ``experiments/``, they check what an experiment writes."""

import os
import subprocess
import sys
from pathlib import Path

from jaxopt_lab.records import RunRecord

REPO = Path(__file__).resolve().parents[2]


def run_experiment(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m experiments.<name> --no-progress *args`` from the repository root, in the
    environment a user has (without the test suite's fake CPU devices)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("JAX_NUM_CPU_DEVICES", None)
    out = subprocess.run([sys.executable, "-m", f"experiments.{name}", "--no-progress", *args],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    if check and out.returncode != 0:
        raise AssertionError(f"experiments.{name} failed ({out.returncode}):\n{out.stderr}")
    return out


def load_cell(folder) -> dict:
    """The columns and arrays a sweep recorded in ``folder`` (sorted by seed)."""
    return RunRecord.open_readonly(folder).load()
