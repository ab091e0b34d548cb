"""The API contract, checked on every registered method (jaxopt_lab.registry).

A method that registers an example gets these tests for free: jit, shapes of the trace,
counters, vmap over keys equals separate runs, determinism per key, different keys give
different runs, and no retracing when only the values of ``Params`` change.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import registry
from jaxopt_lab.core import run

registry.load_all()
NAMES = registry.names()


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


class _Compiled:
    """One example with its jitted single run and vmapped run, shared by the tests below
    (compiling once per method keeps the suite fast)."""

    def __init__(self, example):
        self.example = example
        self.traces = []

        def run_one(key, params):
            self.traces.append(1)  # runs once per trace, not per call
            return run(example.method, key, example.x0, params, example.num_steps)

        self.run_one = jax.jit(run_one)
        self.run_many = jax.jit(jax.vmap(run_one, in_axes=(0, None)))


_COMPILED = {}


@pytest.fixture(params=NAMES)
def compiled(request):
    if request.param not in _COMPILED:
        _COMPILED[request.param] = _Compiled(registry.get(request.param))
    return _COMPILED[request.param]


def test_registry_holds_the_reference_methods():
    assert {"random_search_uniform", "random_search_local"} <= set(NAMES)


def test_state_and_trace_shapes(compiled):
    example = compiled.example
    final, trace = compiled.run_one(jax.random.key(0), example.params)
    assert hasattr(final, "best_f") and hasattr(final, "num_evals")
    for leaf in jax.tree_util.tree_leaves(trace):
        assert leaf.shape[0] == example.num_steps
    assert int(np.max(final.num_evals)) > 0
    assert np.all(np.isfinite(np.asarray(final.best_f)) | np.isinf(np.asarray(final.best_f)))


def test_same_key_bit_identical_and_different_keys_differ(compiled):
    run_one, example = compiled.run_one, compiled.example
    a = run_one(jax.random.key(3), example.params)
    b = run_one(jax.random.key(3), example.params)
    c = run_one(jax.random.key(4), example.params)
    for x, y in zip(_leaves(a), _leaves(b)):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, z) for x, z in zip(_leaves(a), _leaves(c)))


def test_vmap_over_keys_equals_separate_runs(compiled):
    run_one, example = compiled.run_one, compiled.example
    keys = jax.random.split(jax.random.key(7), 4)
    batched = compiled.run_many(keys, example.params)
    for i in range(4):
        single = run_one(keys[i], example.params)
        for x, y in zip(_leaves(batched), _leaves(single)):
            if np.issubdtype(x.dtype, np.floating):
                np.testing.assert_allclose(x[i], y, rtol=1e-4, atol=1e-5)
            else:
                np.testing.assert_array_equal(x[i], y)


def test_no_retrace_when_param_values_change(compiled):
    run_one, example = compiled.run_one, compiled.example
    jax.block_until_ready(run_one(jax.random.key(0), example.params))
    before = len(compiled.traces)
    jax.block_until_ready(run_one(jax.random.key(1), example.other_params))
    assert len(compiled.traces) == before, "changing Params values must not recompile"
    # and the values really are used:
    a = _leaves(run_one(jax.random.key(0), example.params))
    b = _leaves(run_one(jax.random.key(0), example.other_params))
    assert any(not np.array_equal(x, y) for x, y in zip(a, b))


def test_run_rejects_negative_steps():
    ex = registry.get("random_search_uniform")
    with pytest.raises(ValueError, match="num_steps"):
        run(ex.method, jax.random.key(0), ex.x0, ex.params, -1)


def test_unknown_method_name():
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        registry.get("nope")


def test_run_is_a_prefix_of_a_longer_run():
    ex = registry.get("random_search_local")
    _, short = run(ex.method, jax.random.key(5), ex.x0, ex.params, 3)
    _, long = run(ex.method, jax.random.key(5), ex.x0, ex.params, 6)
    np.testing.assert_allclose(short.best_f, long.best_f[:3], rtol=1e-6)


def test_nonfinite_values_are_counted_and_never_best():
    from jaxopt_lab.random_search import RandomSearchConfig, RandomSearchParams, make

    def holey(x):  # NaN on half the box
        return jnp.where(x[0] > 0, jnp.nan, jnp.sum(x**2))

    method = make(holey, RandomSearchConfig(dim=2, num_samples=64))
    params = RandomSearchParams(jnp.float32(-1), jnp.float32(1), jnp.float32(0.1))
    final, trace = run(method, jax.random.key(0), jnp.array([-1.0, 1.0]), params, 10)
    assert np.isfinite(final.best_f) and final.best_x[0] <= 0
    assert 0 < int(trace.num_nonfinite.sum()) < 640


def test_dtypes_survive_x64(compiled):
    """Switching on float64 globally must not change the dtypes a method computes in: a
    float32 start gives float32 state and diagnostics either way (no float64 literals
    leaking in through ``jnp.array(0.0)`` and the like)."""
    example = compiled.example

    def dtypes():
        out = jax.jit(lambda k, p: run(example.method, k, example.x0, p, example.num_steps))(
            jax.random.key(0), example.params
        )
        leaves = jax.tree_util.tree_leaves_with_path(out)
        return {jax.tree_util.keystr(path): leaf.dtype for path, leaf in leaves}

    without_x64 = dtypes()
    with jax.enable_x64(True):
        with_x64 = dtypes()
    changed = {k: (v, with_x64[k]) for k, v in without_x64.items() if with_x64[k] != v}
    assert not changed, f"dtypes changed under x64: {changed}"
