"""ES, Nesterov random search and central differences: the oracles and the methods, vs NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run
from jaxopt_lab.dgs import es, es_estimate, fd, fd_estimate, nesterov, nesterov_estimate

D = 8
X0 = jnp.linspace(-2.0, 2.0, D).astype(jnp.float32)
A = np.diag(np.linspace(1.0, 3.0, D))


def convex(x):
    return 0.5 * x @ jnp.asarray(A, x.dtype) @ x + jnp.sum(x)


F_STAR = -0.5 * np.sum(1.0 / np.diag(A))


def _solve(method, params, steps, seed=0):
    return jax.jit(lambda k: run(method, k, X0, params, steps))(jax.random.key(seed))


def _params(module, learning_rate, radius, **kwargs):
    """``module.params`` with the radius under its name (``h`` for FD, else ``sigma``)."""
    name = "h" if module is fd else "sigma"
    return module.params(learning_rate=learning_rate, **{name: radius}, **kwargs)


CONSTANT = dict(normalize=False, lr_schedule="constant", radius_schedule="constant")


@pytest.mark.parametrize("name", ["es", "es_rank", "nesterov", "fd", "fd_random"])
def test_baselines_converge_on_a_convex_problem(name):
    if name.startswith("es"):
        shaping = "centered_rank" if name == "es_rank" else "none"
        module, config = es, es.Config(dim=D, num_pairs=16, fitness_shaping=shaping,
                                       chunk_size=10)
    elif name == "nesterov":
        module, config = nesterov, nesterov.Config(dim=D, num_directions=4)
    else:
        n = None if name == "fd" else 3
        module, config = fd, fd.Config(dim=D, num_coordinates=n)
    m = module.make(convex, config)
    final, trace = _solve(m, _params(module, 1.0, 0.1, horizon=150.0), 150)
    f0 = float(convex(X0))
    assert float(final.best_f) - F_STAR < 0.02 * (f0 - F_STAR), name
    per_step = {"es": 33, "es_rank": 33, "nesterov": 5, "fd": 2 * D + 1, "fd_random": 7}[name]
    assert int(final.num_evals) == 1 + 150 * per_step
    assert config.evals_per_step == per_step
    assert np.all(np.isfinite(np.asarray(trace.f_x)))


def test_fd_gradient_matches_numpy_central_differences():
    def f(x):
        return jnp.sum(jnp.sin(x) * x**2) + x[0] * x[3]

    def f_np(x):
        return np.sum(np.sin(x) * x**2) + x[0] * x[3]

    x = np.linspace(-1, 1, D)
    h = 0.01
    ref = np.array([(f_np(x + h * e) - f_np(x - h * e)) / (2 * h) for e in np.eye(D)])
    with jax.enable_x64(True):
        m = fd.make(f, fd.Config(dim=D, chunk_size=6, **CONSTANT))
        p = fd.params(learning_rate=1.0, h=h, dtype=jnp.float64)
        s = m.init(jax.random.key(0), jnp.asarray(x), p)
        s1, info = m.step(jax.random.key(0), s, p)
        g = fd_estimate(jax.random.key(1), f, jnp.asarray(x), h, chunk_size=6).grad
    np.testing.assert_allclose(x - np.asarray(s1.x), ref, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(g), ref, rtol=1e-10)
    assert int(s1.num_evals) == 1 + 2 * D + 1


def test_es_is_unbiased_for_linear_functions():
    c = np.arange(1.0, D + 1)
    f = lambda x: jnp.asarray(c, x.dtype) @ x  # noqa: E731
    m = es.make(f, es.Config(dim=D, num_pairs=4000, chunk_size=1000, **CONSTANT))
    p = es.params(learning_rate=1.0, sigma=0.7)
    s = m.init(jax.random.key(0), X0, p)
    s1, _ = jax.jit(m.step)(jax.random.key(3), s, p)
    g = np.asarray(X0 - s1.x)
    # E[(c.e) e] = c; standard error of each entry ~ |c| / sqrt(4000) ~ 0.23
    np.testing.assert_allclose(g, c, atol=4 * np.linalg.norm(c) / np.sqrt(4000))
    assert int(s1.num_evals) == 1 + 8000 + 1


def test_nesterov_estimator_expectation_on_linear():
    c = np.arange(1.0, D + 1)
    f = lambda x: jnp.asarray(c, x.dtype) @ x  # noqa: E731
    m = nesterov.make(f, nesterov.Config(dim=D, num_directions=8000, **CONSTANT))
    p = nesterov.params(learning_rate=1.0, sigma=0.3)
    s = m.init(jax.random.key(0), X0, p)
    s1, _ = jax.jit(m.step)(jax.random.key(4), s, p)
    np.testing.assert_allclose(np.asarray(X0 - s1.x), c, atol=4 * np.linalg.norm(c) / 90)


def test_es_nonfinite_samples_are_dropped():
    def holey(x):
        return jnp.where(x[0] < -2.5, jnp.inf, jnp.sum(x**2))

    m = es.make(holey, es.Config(dim=D, num_pairs=32))
    final, trace = _solve(m, es.params(learning_rate=0.5, sigma=1.0, horizon=20.0), 20)
    assert int(np.sum(trace.num_nonfinite)) > 0
    assert np.all(np.isfinite(np.asarray(final.x))) and np.isfinite(float(final.best_f))


def test_config_validation():
    with pytest.raises(ValueError, match="num_pairs"):
        es.Config(dim=3, num_pairs=0)
    with pytest.raises(ValueError, match="fitness_shaping"):
        es.Config(dim=3, fitness_shaping="softmax")
    with pytest.raises(ValueError, match="num_coordinates"):
        fd.Config(dim=3, num_coordinates=4)
    with pytest.raises(ValueError, match="radius_schedule"):
        nesterov.Config(dim=3, radius_schedule="cosine")
    with pytest.raises(ValueError, match="learning_rate"):
        es.params(learning_rate=-1.0, sigma=1.0)


@pytest.mark.parametrize("chunk_size", [None, 30])
def test_es_step_matches_the_estimate_from_the_same_noise(chunk_size):
    # None: one chunk, the noise is drawn once and reused; 30: 4 chunks of 15 pairs, the
    # noise is redrawn from the same per-chunk keys. Both must give the antithetic estimate
    # of the docstring from exactly those draws, and a consistent best point.
    pairs, sigma, lr = 60, 0.3, 0.7
    m = es.make(convex, es.Config(dim=D, num_pairs=pairs, chunk_size=chunk_size, **CONSTANT))
    p = es.params(learning_rate=lr, sigma=sigma)
    key = jax.random.key(11)
    s = m.init(key, X0, p)
    s1, _ = jax.jit(m.step)(key, s, p)
    per_chunk = pairs if chunk_size is None else chunk_size // 2
    eps = np.concatenate([np.asarray(jax.random.normal(jax.random.fold_in(key, c),
                                                       (per_chunk, D)))
                          for c in range(pairs // per_chunk)]).astype(np.float64)
    x = np.asarray(X0, np.float64)

    def f_np(v):
        return 0.5 * v @ A @ v + np.sum(v)

    fp = np.array([f_np(x + sigma * e) for e in eps])
    fm = np.array([f_np(x - sigma * e) for e in eps])
    g = ((fp - fm) / (2 * pairs * sigma)) @ eps
    np.testing.assert_allclose(x - np.asarray(s1.x), lr * g, rtol=2e-4, atol=2e-5)
    sampled = min(fp.min(), fm.min(), f_np(np.asarray(s1.x, np.float64)))
    np.testing.assert_allclose(float(s1.best_f), sampled, rtol=1e-5)
    np.testing.assert_allclose(float(convex(s1.best_x)), float(s1.best_f), rtol=1e-5)
    # determinism per key, and a different key gives a different step
    s2, _ = jax.jit(m.step)(key, s, p)
    np.testing.assert_array_equal(np.asarray(s1.x), np.asarray(s2.x))
    s3, _ = jax.jit(m.step)(jax.random.key(12), s, p)
    assert not np.allclose(np.asarray(s1.x), np.asarray(s3.x))


def test_baseline_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="sigma"):
        es.params(learning_rate=1.0, sigma=0.0)
    with pytest.raises(ValueError, match="h must be"):
        fd.params(learning_rate=1.0, h=0.0)
    with pytest.raises(ValueError, match="horizon"):
        nesterov.params(learning_rate=1.0, sigma=1.0, horizon=0.0)
    for module in (es, nesterov, fd):
        m = module.make(convex, module.Config(dim=D))
        with pytest.raises(ValueError, match="x0"):
            m.init(jax.random.key(0), jnp.zeros(D + 1), _params(module, 1.0, 1.0))
    with pytest.raises(ValueError, match="config"):
        es.make(convex, nesterov.Config(dim=D))


def test_nesterov_and_fd_nonfinite_values_do_not_poison_the_state():
    def holey(x):
        return jnp.where(x[0] < -2.5, jnp.nan, jnp.sum(x**2))

    for module, config in ((nesterov, nesterov.Config(dim=D, num_directions=16)),
                           (fd, fd.Config(dim=D))):
        m = module.make(holey, config)
        final, trace = _solve(m, _params(module, 0.5, 1.0, horizon=20.0), 20)
        assert int(np.sum(trace.num_nonfinite)) > 0, m.name
        assert np.all(np.isfinite(np.asarray(final.x))) and np.isfinite(float(final.best_f))
        assert float(final.best_f) < float(holey(X0))


def test_params_compute_the_baselines_defaults_from_the_domain():
    w, d = 10.24, 100
    lr = 0.05 * np.sqrt(d) * w  # as DGS's
    p_es, p_fd, p_ne = es.params(w, d), fd.params(w, d), nesterov.params(w)
    np.testing.assert_allclose([float(p_es.learning_rate), float(p_es.sigma)], [lr, 0.1 * w],
                               rtol=1e-6)
    np.testing.assert_allclose([float(p_fd.learning_rate), float(p_fd.h)], [lr, 1e-3 * w],
                               rtol=1e-6)
    np.testing.assert_allclose([float(p_ne.learning_rate), float(p_ne.sigma)],
                               [0.05 * w, 1e-3 * w], rtol=1e-6)
    with pytest.raises(ValueError, match="width and dim"):
        es.params(w)


@pytest.mark.slow
def test_oracles_are_pure_functions_of_their_key():
    key = jax.random.key(3)
    for oracle in (lambda k: es_estimate(k, convex, X0, 0.3, num_pairs=6),
                   lambda k: nesterov_estimate(k, convex, X0, 0.3, num_directions=6),
                   lambda k: fd_estimate(k, convex, X0, 0.3, num_coordinates=3)):
        a, b, c = oracle(key), oracle(key), oracle(jax.random.key(4))
        np.testing.assert_array_equal(np.asarray(a.grad), np.asarray(b.grad))
        assert not np.array_equal(np.asarray(a.grad), np.asarray(c.grad))
        # the best point reported is a real evaluation
        np.testing.assert_allclose(float(convex(a.best_x)), float(a.best_f), rtol=1e-5)
    # FD on a random subset: the other coordinates get a zero derivative
    sub = fd_estimate(key, convex, X0, 0.01, num_coordinates=3).grad
    assert int(np.sum(np.asarray(sub) != 0)) == 3


def test_nesterov_oracle_evaluates_f_x_when_not_given():
    key = jax.random.key(0)
    given = nesterov_estimate(key, convex, X0, 0.1, num_directions=5, f_x=convex(X0))
    computed = nesterov_estimate(key, convex, X0, 0.1, num_directions=5)
    np.testing.assert_allclose(np.asarray(given.grad), np.asarray(computed.grad), rtol=1e-6)


@pytest.mark.parametrize("call,match", [
    (lambda: es_estimate(jax.random.key(0), convex, X0, 0.0, num_pairs=4), "sigma"),
    (lambda: es_estimate(jax.random.key(0), convex, X0, 1.0, num_pairs=0), "num_pairs"),
    (lambda: es_estimate(jax.random.key(0), convex, X0, 1.0, num_pairs=2,
                         fitness_shaping="rank"), "fitness_shaping"),
    (lambda: fd_estimate(jax.random.key(0), convex, X0, -1.0), "h must be"),
    (lambda: fd_estimate(jax.random.key(0), convex, X0, 1.0, num_coordinates=D + 1),
     "num_coordinates"),
    (lambda: nesterov_estimate(jax.random.key(0), convex, X0, 1.0, num_directions=0),
     "num_directions"),
    (lambda: nesterov_estimate(jax.random.key(0), lambda x: x, X0, 1.0), "f must return"),
    (lambda: es_estimate(jax.random.key(0), convex, X0[None], 1.0, num_pairs=2), "x must"),
])
def test_oracle_bad_inputs_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
