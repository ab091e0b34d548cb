"""Multi-host sweep emulated by two processes × 4 CPU devices (gloo collectives).

Marked ``slow`` and ``multiprocess``: it costs two interpreter start-ups and a rendezvous.
Run with ``python -m pytest -m multiprocess``.
"""

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.records import RunRecord
from jaxopt_lab.sweeps import sweep
from tests.test_sweeps import _run_fn

ROOT = Path(__file__).resolve().parent.parent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_process_sweep_equals_one_process_eight_devices(tmp_path):
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, str(ROOT / "tests/helpers/multihost_sweep.py"),
                               str(pid), port, str(tmp_path)], cwd=ROOT,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for pid in (0, 1)]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    reference = sweep(_run_fn(), range(21), chunk_size=2, progress=False)  # 8 local devices
    for pid in (0, 1):
        np.testing.assert_array_equal(np.load(tmp_path / f"p{pid}_trace.npy"),
                                      reference["trace"])
    written = RunRecord(tmp_path, {"test": "multihost"}).load()
    np.testing.assert_array_equal(written["trace"], reference["trace"])
