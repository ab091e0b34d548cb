"""One process of a 2-process sweep (run by tests/test_multihost.py).

Usage: python multihost_sweep.py PROCESS_ID PORT OUT_DIR
"""

import sys

import jax

jax.config.update("jax_num_cpu_devices", 4)
jax.config.update("jax_cpu_collectives_implementation", "gloo")
process_id, port, out_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2,
                           process_id=process_id)

import numpy as np  # noqa: E402

from jaxopt_lab.records import RunRecord  # noqa: E402
from jaxopt_lab.sweeps import sweep  # noqa: E402
from tests.test_sweeps import _run_fn  # noqa: E402

record = RunRecord(out_dir, {"test": "multihost"}) if process_id == 0 else None
out = sweep(_run_fn(), range(21), chunk_size=2, record=record, progress=False)
np.save(f"{out_dir}/p{process_id}_trace.npy", out["trace"])
print("process", process_id, "of", jax.process_count(), "devices", jax.device_count())
jax.distributed.shutdown()
