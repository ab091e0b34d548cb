"""Suite-wide JAX settings: 8 fake CPU devices, strict rank promotion, no persistent
compilation cache.

The device count must be set before any JAX backend starts, so it is done here, at import
time of the first conftest (JAX reads ``JAX_NUM_CPU_DEVICES`` once, when its CPU backend
starts). Tests that need a single
device pass ``devices=jax.devices()[:1]``.
"""

import os

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "8")
# Experiments switch JAX's persistent compilation cache on; the suite leaves the user's cache
# directory alone (tests of the cache pass their own directory).
os.environ.setdefault("JAXOPT_LAB_COMPILATION_CACHE", "off")

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", int(os.environ["JAX_NUM_CPU_DEVICES"]))
jax.config.update("jax_numpy_rank_promotion", "raise")


# CI hooks (see .ci/run), both off unless their environment variable is set:
#   JAXOPT_LAB_SKIP_LOG=<file>  appends the node id of every test skipped for a missing
#                               optional package (pytest.importorskip) to <file>;
#   JAXOPT_LAB_FAIL_ON_SKIP=1   turns every skip into a failure (the all-extras step).
import pytest  # noqa: E402

_SKIP_LOG = os.environ.get("JAXOPT_LAB_SKIP_LOG")
_FAIL_ON_SKIP = os.environ.get("JAXOPT_LAB_FAIL_ON_SKIP") == "1"


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
    return reason.removeprefix("Skipped: ")


def _police_skip(report) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if _SKIP_LOG and reason.startswith("could not import"):
        with open(_SKIP_LOG, "a") as f:
            f.write(report.nodeid + "\n")
    if _FAIL_ON_SKIP:
        report.outcome = "failed"
        report.longrepr = f"skipped ({reason}); JAXOPT_LAB_FAIL_ON_SKIP=1 forbids skips"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _police_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _police_skip(outcome.get_result())
