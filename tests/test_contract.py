"""The one contract every method of ``jaxopt_lab.methods`` keeps, checked on every example.

Module shape (the same six names everywhere), ``init`` on one point, ``jit``, ``vmap`` over
keys equal to a loop, the same key giving bit-identical runs, no retrace when only
``Params`` values change, dtypes surviving x64, and a table of bad inputs that must be
refused with an error naming the argument. The examples are in ``tests/helpers/examples.py``
and ``tests/<family>/examples.py``.
"""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab import run
from tests.helpers.examples import all_examples

FACTORIES = all_examples()
IDS = sorted(FACTORIES)
NAMES = sorted(jaxopt_lab.methods)
# The first example of each method runs the behaviour tests in the default suite; its other
# examples (modes and variants) run them in the slow tier, which CI also runs.
_FIRST = {name: min((i for i in IDS if i.split(":")[0] == name), default=None) for name in NAMES}
BEHAVIOUR_CASES = [pytest.param(i, marks=() if i in _FIRST.values() else pytest.mark.slow)
                   for i in IDS]
_EXAMPLES = {}


def _example(example_id):
    if example_id not in _EXAMPLES:
        _EXAMPLES[example_id] = FACTORIES[example_id]()
    return _EXAMPLES[example_id]


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


class _Compiled:
    """One example with its jitted single run and vmapped run, shared by the tests below
    (compiling once per example keeps the suite fast)."""

    def __init__(self, example_id, example):
        self.example = example
        method = example.method

        def run_one(key, params):
            return run(method, key, example.x0, params, example.num_steps)

        # chex counts traces per function name and source: one name per example.
        run_one.__name__ = f"run_{example_id}"
        self.run_one = jax.jit(chex.assert_max_traces(run_one, n=1))
        self.run_many = jax.jit(jax.vmap(
            lambda k, p: run(method, k, example.x0, p, example.num_steps), in_axes=(0, None)))


_COMPILED = {}


@pytest.fixture(params=BEHAVIOUR_CASES)
def compiled(request):
    if request.param not in _COMPILED:
        _COMPILED[request.param] = _Compiled(request.param, _example(request.param))
    return _COMPILED[request.param]


# ------------------------------------------------------------------------ module shape

def test_every_method_has_an_example():
    covered = {example_id.split(":")[0] for example_id in IDS}
    assert covered == set(NAMES), (f"methods without an example: {set(NAMES) - covered}; "
                                   f"examples of unknown methods: {covered - set(NAMES)}")


@pytest.mark.parametrize("name", NAMES)
def test_module_has_the_six_names(name):
    module = jaxopt_lab.methods[name]
    for attr in ("Config", "Params", "State", "Info", "params", "make"):
        assert hasattr(module, attr), f"{module.__name__} lacks {attr}"
        assert attr in module.__all__, f"{module.__name__}.__all__ lacks {attr}"
    assert dataclasses.is_dataclass(module.Config)
    assert module.Config.__dataclass_params__.frozen, "Config must be a frozen dataclass"
    without_default = [f.name for f in dataclasses.fields(module.Config)
                       if f.default is dataclasses.MISSING
                       and f.default_factory is dataclasses.MISSING]
    assert set(without_default) <= {"dim"}, f"Config fields without a default: {without_default}"
    for cls in (module.Params, module.State, module.Info):
        assert issubclass(cls, tuple) and hasattr(cls, "_fields"), f"{cls} is not a NamedTuple"
    assert {"best_x", "best_f", "num_evals"} <= set(module.State._fields)
    assert "current_nonfinite" in module.Info._fields, (
        f"{module.__name__}.Info must report whether the current value is non-finite")
    for field in module.State._fields + module.Params._fields:
        assert field not in ("x_star", "f_star", "radius", "f_tol"), (
            f"{module.__name__} carries benchmark ground truth ({field})")
    assert callable(module.params) and callable(module.make)


# ------------------------------------------------------------------------ behaviour

def test_init_takes_one_point(compiled):
    ex = compiled.example
    state = jax.jit(ex.method.init)(jax.random.key(0), ex.x0, ex.params)
    assert isinstance(state, ex.module.State)
    want = ex.best_x_shape if ex.best_x_shape is not None else jnp.shape(ex.x0)
    chex.assert_shape(state.best_x, tuple(want))
    chex.assert_shape((state.best_f, state.num_evals), ())


def test_state_and_trace_shapes(compiled):
    ex = compiled.example
    final, trace = compiled.run_one(jax.random.key(0), ex.params)
    assert isinstance(final, ex.module.State) and isinstance(trace, ex.module.Info)
    for leaf in jax.tree_util.tree_leaves(trace):
        assert leaf.shape[0] == ex.num_steps
    assert trace.current_nonfinite.dtype == jnp.bool_
    chex.assert_shape(trace.current_nonfinite, (ex.num_steps,))
    assert int(final.num_evals) > 0
    assert not np.isnan(np.asarray(final.best_f))


def test_same_key_bit_identical_and_different_keys_differ(compiled):
    run_one, ex = compiled.run_one, compiled.example
    a = run_one(jax.random.key(3), ex.params)
    b = run_one(jax.random.key(3), ex.params)
    c = run_one(jax.random.key(4), ex.params)
    for x, y in zip(_leaves(a), _leaves(b)):
        np.testing.assert_array_equal(x, y)
    if ex.deterministic:  # the key is unused: any key gives the same run
        for x, z in zip(_leaves(a), _leaves(c)):
            np.testing.assert_array_equal(x, z)
    else:
        assert any(not np.array_equal(x, z) for x, z in zip(_leaves(a), _leaves(c)))


def test_vmap_over_keys_equals_separate_runs(compiled):
    run_one, ex = compiled.run_one, compiled.example
    keys = jax.random.split(jax.random.key(7), 4)
    batched = compiled.run_many(keys, ex.params)
    for i in range(4):
        single = run_one(keys[i], ex.params)
        for x, y in zip(_leaves(batched), _leaves(single)):
            if np.issubdtype(x.dtype, np.floating):
                np.testing.assert_allclose(x[i], y, rtol=1e-4, atol=1e-5)
            else:
                np.testing.assert_array_equal(x[i], y)


def test_no_retrace_when_param_values_change(compiled):
    """``run_one`` is wrapped in ``chex.assert_max_traces(n=1)``: a retrace raises."""
    run_one, ex = compiled.run_one, compiled.example
    a = _leaves(run_one(jax.random.key(0), ex.params))
    b = _leaves(run_one(jax.random.key(0), ex.other_params))
    assert any(not np.array_equal(x, y) for x, y in zip(a, b)), "Params values are unused"


def test_dtypes_survive_x64(compiled):
    """Switching on float64 globally must not change the dtypes a method computes in: a
    float32 start gives float32 state and diagnostics either way (no float64 literals
    leaking in through ``jnp.array(0.0)`` and the like)."""
    ex = compiled.example

    def dtypes():  # abstract evaluation: the trace fixes every dtype, no compile needed
        out = jax.eval_shape(lambda k, p: run(ex.method, k, ex.x0, p, ex.num_steps),
                             jax.random.key(0), ex.params)
        leaves = jax.tree_util.tree_leaves_with_path(out)
        return {jax.tree_util.keystr(path): leaf.dtype for path, leaf in leaves}

    without_x64 = dtypes()
    with jax.enable_x64(True):
        with_x64 = dtypes()
    changed = {k: (v, with_x64[k]) for k, v in without_x64.items() if with_x64[k] != v}
    assert not changed, f"dtypes changed under x64: {changed}"


# ------------------------------------------------------------------------ bad input

def _nan_like(value):
    return jnp.full(jnp.shape(value), jnp.nan, jnp.asarray(value).dtype)


def _bad_inputs(example_id):
    """``(label, fn, match)`` cases: ``fn()`` must raise ``ValueError`` matching ``match``."""
    ex = _example(example_id)
    key = jax.random.key(0)
    x0 = jnp.asarray(ex.x0) if not isinstance(ex.x0, dict) else ex.x0
    cases = [
        ("x0 is a batch", lambda: ex.method.init(key, jnp.stack([x0, x0]), ex.params), "x0"),
        ("params of the wrong type",
         lambda: ex.method.init(key, ex.x0, tuple(ex.params)), "params"),
        ("num_steps < 0", lambda: run(ex.method, key, ex.x0, ex.params, -1), "num_steps"),
    ]
    if jnp.issubdtype(x0.dtype, jnp.floating):
        cases.append(("x0 has a NaN", lambda: ex.method.init(key, x0.at[0].set(jnp.nan),
                                                             ex.params), "x0"))
    for field in ex.module.Params._fields:
        value = getattr(ex.params, field)
        if value is not None and jnp.issubdtype(jnp.asarray(value).dtype, jnp.floating):
            bad = ex.params._replace(**{field: _nan_like(value)})
            cases.append((f"params.{field} is NaN",
                          lambda bad=bad: ex.method.init(key, ex.x0, bad), f"params.{field}"))
    if "dim" in {f.name for f in dataclasses.fields(ex.config)}:
        cases.append(("Config(dim=0)", lambda: dataclasses.replace(ex.config, dim=0), "dim"))
    if ex.nonscalar_objective is not None:
        cases.append(("objective not scalar",
                      lambda: ex.module.make(ex.nonscalar_objective, ex.config), "objective"))
    cases.append(("config of the wrong type", lambda: ex.module.make(ex.objective, object()),
                  "config"))
    return cases + list(ex.extra_bad_inputs)


BAD_CASES = [(example_id, label) for example_id in IDS
             for label, _, _ in _bad_inputs(example_id)]


@pytest.mark.parametrize("example_id,label", BAD_CASES,
                         ids=[f"{e}-{lab}" for e, lab in BAD_CASES])
def test_bad_input_is_refused_naming_the_argument(example_id, label):
    fn, match = {lab: (fn, m) for lab, fn, m in _bad_inputs(example_id)}[label]
    with pytest.raises(ValueError, match=match):
        fn()


# ------------------------------------------------------------------------ run itself

def test_run_is_a_prefix_of_a_longer_run():
    ex = _example("random_search:local")
    _, short = run(ex.method, jax.random.key(5), ex.x0, ex.params, 3)
    _, long = run(ex.method, jax.random.key(5), ex.x0, ex.params, 6)
    np.testing.assert_allclose(short.best_f, long.best_f[:3], rtol=1e-6)


def test_run_rejects_what_is_not_a_method():
    ex = _example("random_search:local")
    with pytest.raises(ValueError, match="method must be a jaxopt_lab Method"):
        run((ex.method.init, ex.method.step), jax.random.key(0), ex.x0, ex.params, 2)


def test_unknown_method_name():
    with pytest.raises(KeyError, match="unknown method 'nope'"):
        jaxopt_lab.methods["nope"]


def test_float64_params_without_x64_are_refused():
    from jaxopt_lab import random_search

    if jax.config.jax_enable_x64:
        pytest.skip("x64 is on for the whole process")
    with pytest.raises(ValueError, match="dtype=float64 needs float64"):
        random_search.params(-1.0, 1.0, dtype=jnp.float64)


def test_nonfinite_values_are_counted_and_never_best():
    from jaxopt_lab import random_search

    def holey(x):  # NaN on half the box
        return jnp.where(x[0] > 0, jnp.nan, jnp.sum(x**2))

    method = random_search.make(holey, random_search.Config(dim=2, num_samples=64))
    params = random_search.params(-1.0, 1.0, step_size=0.1)
    final, trace = run(method, jax.random.key(0), jnp.array([-1.0, 1.0]), params, 10)
    assert np.isfinite(final.best_f) and final.best_x[0] <= 0
    assert 0 < int(trace.num_nonfinite.sum()) < 640
