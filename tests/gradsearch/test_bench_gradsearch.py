"""scripts/bench_gradsearch.py: restart i of the vmapped batch is the single-restart scan
with key i; the command line rejects bad input; the JSON result has its fields.

Per restart the batch makes the same moves as the single restart (programs, move counts,
random moves, solved flags: equal). Its losses agree to 1e-6 relative, not bit for bit: XLA
sums a program's loss in another order when the restarts are batched, so programs whose
losses are equal up to rounding may swap as the best seen (``best_x``, ``stall``).
"""

import json

import jax
import numpy as np
import pytest

from tests.helpers.scripts import load_script

RTOL = 1e-6


def _bench():
    return load_script("bench_gradsearch")


@pytest.mark.parametrize("label,k,steps", [
    ("parity chain", 256, 150),
    pytest.param("shift", None, 120, marks=pytest.mark.slow),  # compiles the circuit twice
])
def test_vmapped_restart_equals_single_restart_scan(label, k, steps):
    bench = _bench()
    task, method, params = bench.case(label, k)
    fn = bench.restart(task, method, params, steps)
    keys = jax.random.split(jax.random.key(7), 6)
    (batch_final, batch_trace) = jax.jit(jax.vmap(fn))(keys)
    single = jax.jit(fn)
    for i in (0, 3, 5):
        final, trace = single(keys[i])
        for name in ("program", "num_evals"):
            np.testing.assert_array_equal(getattr(batch_final, name)[i], getattr(final, name))
        for name in ("solved", "num_moved", "random", "current_nonfinite"):
            np.testing.assert_array_equal(getattr(batch_trace, name)[i], getattr(trace, name))
        for name in ("f", "min_estimate"):
            np.testing.assert_allclose(getattr(batch_trace, name)[i], getattr(trace, name),
                                       rtol=RTOL)
        np.testing.assert_allclose(batch_final.best_f[i], final.best_f, rtol=RTOL)
        np.testing.assert_allclose(batch_final.avg[i], final.avg, rtol=RTOL, atol=RTOL)
        # the batch's best program has the single restart's best loss (the method's loss)
        best = method.init(keys[i], batch_final.best_x[i], params).best_f
        np.testing.assert_allclose(best, final.best_f, rtol=RTOL)


@pytest.mark.parametrize("argv,needle", [
    (["--circuits", "xor"], "--circuits"),
    (["--num-restarts", "0"], "--num-restarts"),
    (["--batch-steps", "-3"], "--batch-steps"),
    (["--first-max-steps", "0"], "--first-max-steps"),
    (["--z3-timeout", "0"], "--z3-timeout"),
])
def test_cli_rejects_bad_input(argv, needle, capsys):
    with pytest.raises(SystemExit):
        _bench().parse_args(argv)
    assert needle in capsys.readouterr().err


def test_quick_defaults():
    args = _bench().parse_args(["--quick"])
    assert args.num_restarts == 1000 and args.batch_steps == 20 and args.circuits


@pytest.mark.slow
def test_json_has_the_fields(tmp_path):
    out = tmp_path / "gs.json"
    _bench().main(["--json", str(out), "--num-restarts", "4", "--batch-steps", "3",
                   "--ref-steps", "3", "--repeats", "1", "--circuits", "nand",
                   "--first-max-steps", "100", "--z3-timeout", "10"])
    result = json.loads(out.read_text())
    assert result["benchmark"] == "gradsearch" and "--json" not in result["command"]
    throughput = [c for c in result["cells"] if c["part"] == "throughput"]
    assert {c["task"] for c in throughput} == {"parity_chain_256", "shift"}
    for cell in throughput:
        for field in ("method", "K", "restarts", "steps", "ours_restart_steps_per_s",
                      "ref_restart_steps_per_s", "warm_ratio", "cold_ratio",
                      "ours_compile_s", "ref_compile_s"):
            assert field in cell
        assert cell["ours_restart_steps_per_s"] > 0 and cell["ref_compile_s"] > 0
    first = [c for c in result["cells"] if c["part"] == "first_solution"]
    assert [c["circuit"] for c in first] == ["nand"]
    assert "Throughput" in result["markdown"] and "first solution" in result["markdown"]
