"""DGS Algorithm 1, AdaDGS and DGS + optax, against hand-computed references."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxopt_lab import dgs as family
from jaxopt_lab.core import run
from jaxopt_lab.dgs import adadgs, dgs, dgs_optax
from jaxopt_lab.dgs.schedules import schedule_value

D = 6
X0 = jnp.array([2.0, -1.0, 0.5, 3.0, -2.5, 1.0], jnp.float32)
H = np.diag(np.linspace(1.0, 4.0, D))


def quad(x):
    return 0.5 * x @ jnp.asarray(H, x.dtype) @ x


def test_quadratic_schedule_matches_formula():
    for t in (0, 50, 100, 199, 250):
        v = float(schedule_value("quadratic", t, 10.0, 0.1, 200.0, 1.0))
        frac = min(t, 200) / 200
        assert math.isclose(v, 0.1 + (10.0 - 0.1) * (1 - frac) ** 2, rel_tol=1e-6)
    assert math.isclose(float(schedule_value("exponential", 3, 2.0, 0.0, 1.0, 0.99)),
                        2.0 * 0.99**3, rel_tol=1e-6)


def test_raw_step_is_x_minus_lr_times_exact_gradient():
    # For a quadratic the DGS gradient is exact, so one raw step is plain gradient descent.
    cfg = dgs.Config(dim=D, normalize=False, lr_schedule="constant",
                     radius_schedule="constant")
    m = dgs.make(quad, cfg)
    p = dgs.params(learning_rate=0.1, sigma=3.0)
    s = m.init(jax.random.key(0), X0, p)
    s1, info = m.step(jax.random.key(1), s, p)
    ref = np.asarray(X0) - 0.1 * H @ np.asarray(X0)
    np.testing.assert_allclose(np.asarray(s1.x), ref, rtol=1e-5)
    assert int(s1.num_evals) == 1 + 4 * D + 1
    np.testing.assert_allclose(float(info.grad_norm), np.linalg.norm(H @ np.asarray(X0)),
                               rtol=1e-5)


def test_normalised_step_has_scheduled_length_and_converges():
    cfg = dgs.Config(dim=D, record_path=True)
    m = dgs.make(quad, cfg)
    p = dgs.params(learning_rate=1.0, sigma=2.0, horizon=100.0)
    final, trace = jax.jit(lambda k: run(m, k, X0, p, 100))(jax.random.key(0))
    np.testing.assert_allclose(np.asarray(trace.step_norm), np.asarray(trace.learning_rate),
                               rtol=1e-4)
    assert float(final.best_f) < 1e-3 * float(quad(X0))
    np.testing.assert_allclose(np.asarray(trace.x[-1]), np.asarray(final.x))


@pytest.mark.slow
def test_perturbation_keeps_directions_orthogonal_and_redraws_radii():
    cfg = dgs.Config(dim=D, perturb="grad_norm", lr_schedule="constant",
                     radius_schedule="constant")
    m = dgs.make(quad, cfg)
    p = dgs.params(learning_rate=0.05, sigma=1.0, grad_tol=1e6, rotation_scale=0.3,
                   sigma_halfwidth=0.4)
    final, trace = jax.jit(lambda k: run(m, k, X0, p, 5))(jax.random.key(2))
    assert bool(np.all(trace.perturbed))
    q = np.asarray(final.directions, np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(D), atol=1e-5)
    assert np.max(np.abs(q - np.eye(D))) > 1e-2
    off = np.asarray(final.sigma_offsets)
    assert np.all(np.abs(off) <= 0.4) and np.std(off) > 0
    # no trigger when gamma = 0 and the step trigger is far away
    p0 = dgs.params(learning_rate=0.05, sigma=1.0, grad_tol=0.0)
    _, trace0 = run(m, jax.random.key(2), X0, p0, 3)
    assert not bool(np.any(trace0.perturbed))


def test_step_count_trigger():
    cfg = dgs.Config(dim=D, perturb="steps")
    m = dgs.make(quad, cfg)
    p = dgs.params(learning_rate=0.5, sigma=1.0, perturb_every=3)
    _, trace = run(m, jax.random.key(0), X0, p, 9)
    np.testing.assert_array_equal(np.asarray(trace.perturbed),
                                  [False, False, True] * 3)


def test_vmap_over_starts_equals_loop():
    cfg = dgs.Config(dim=D)
    m = dgs.make(lambda x: jnp.sum(x**2 - jnp.cos(3 * x)), cfg)
    p = dgs.params(learning_rate=0.5, sigma=1.0, horizon=10.0)
    starts = jax.random.uniform(jax.random.key(0), (3, D), minval=-2, maxval=2)
    one = jax.jit(lambda x0: run(m, jax.random.key(1), x0, p, 10)[0].x)
    batched = jax.vmap(one)(starts)
    for i in range(3):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(one(starts[i])),
                                   rtol=1e-5, atol=1e-5)


def test_nonfinite_values_do_not_poison_the_state():
    def holey(x):  # NaN in a slab that the quadrature points reach
        return jnp.where(x[0] > 2.5, jnp.nan, jnp.sum(x**2))

    m = dgs.make(holey, dgs.Config(dim=D))
    p = dgs.params(learning_rate=0.3, sigma=1.0, horizon=20.0)
    final, trace = run(m, jax.random.key(0), X0, p, 20)
    assert int(np.sum(trace.num_nonfinite)) > 0
    assert np.all(np.isfinite(np.asarray(final.x))) and np.isfinite(float(final.best_f))
    assert float(final.best_f) < float(quad(jnp.eye(D)[0] * 0 + X0))


def test_config_and_params_validation():
    with pytest.raises(ValueError, match="num_points"):
        dgs.Config(dim=3, num_points=1)
    with pytest.raises(ValueError, match="perturb"):
        dgs.Config(dim=3, perturb="sometimes")
    with pytest.raises(ValueError, match="lr_schedule"):
        dgs.Config(dim=3, lr_schedule="cosine")
    with pytest.raises(ValueError, match="sigma"):
        dgs.params(learning_rate=0.1, sigma=0.0)
    with pytest.raises(ValueError, match="x0"):
        dgs.make(lambda x: jnp.sum(x**2), dgs.Config(dim=3)).init(
            jax.random.key(0), X0, dgs.params(learning_rate=1.0, sigma=1.0))
    with pytest.raises(ValueError, match="objective"):  # quad needs dim 6
        dgs.make(quad, dgs.Config(dim=3))


def test_adadgs_is_monotone_and_follows_its_sigma_rule():
    d = 20
    f = lambda x: jnp.sum(x**2 - 10 * jnp.cos(2 * jnp.pi * x)) + 10 * d  # noqa: E731
    assert adadgs.Config(dim=d).line_points == 4  # floor(0.05 (M-1) d)
    assert adadgs.Config(dim=2000).evals_per_step == 8400  # (M-1) d + 0.05 (M-1) d, d = 2000
    # the default L = 4 trials at d = 20 are all longer than 0.7 l_max: use more here
    cfg = adadgs.Config(dim=d, num_line_points=60)
    m = adadgs.make(f, cfg)
    p = adadgs.params(10.24, d)
    x0 = jax.random.uniform(jax.random.key(0), (d,), minval=-5.12, maxval=5.12)
    final, tr = jax.jit(lambda k: run(m, k, x0, p, 30))(jax.random.key(1))
    fx = np.asarray(tr.f_x)
    assert np.all(np.diff(fx) <= 0) and fx[-1] < float(f(x0))
    sig, step, reset = np.asarray(tr.sigma), np.asarray(tr.step_norm), np.asarray(tr.reset)
    for t in range(29):
        if not reset[t]:
            np.testing.assert_allclose(sig[t + 1], 0.5 * (sig[t] + step[t]), rtol=1e-5)
    r = np.flatnonzero(reset)
    assert np.all(np.diff(r) >= 10)
    assert int(final.num_evals) == 1 + 30 * cfg.evals_per_step


def test_adadgs_line_search_picks_best_trial_by_brute_force():
    d = 4
    m = adadgs.make(quad_d4 := (lambda x: jnp.sum((x - 1.0) ** 2)),
                    adadgs.Config(dim=d, num_line_points=30))
    p = adadgs.params(1.0, d, shrink=0.8)
    s = m.init(jax.random.key(0), jnp.zeros(d), p)
    s1, info = m.step(jax.random.key(1), s, p)
    # gradient is exact (quadratic): direction -(x-1)/|x-1| = +1/2 each; trials along it
    lengths = 2.0 * 0.8 ** np.arange(30)
    vals = [np.sum((lengths[i] * 0.5 - 1.0) ** 2) for i in range(30)]
    np.testing.assert_allclose(float(s1.f_x), min(vals), rtol=1e-5)
    assert int(info.line_index) == int(np.argmin(vals))
    del quad_d4


def test_optax_sgd_equals_raw_dgs_and_adam_converges():
    sigma = 1.5
    m_sgd = dgs_optax.make(quad, dgs_optax.Config(dim=D, optimizer=optax.sgd(0.1)))
    p = dgs_optax.params(sigma)
    fin, _ = run(m_sgd, jax.random.key(0), X0, p, 3)
    raw = dgs.make(quad, dgs.Config(dim=D, normalize=False, lr_schedule="constant",
                                    radius_schedule="constant"))
    fin2, _ = run(raw, jax.random.key(0), X0, dgs.params(learning_rate=0.1, sigma=sigma), 3)
    np.testing.assert_allclose(np.asarray(fin.x), np.asarray(fin2.x), rtol=1e-5)
    m_adam = dgs_optax.make(quad, dgs_optax.Config(dim=D, optimizer=optax.adam(0.1),
                                                   directions="random"))
    fin3, _ = jax.jit(lambda k: run(m_adam, k, X0, p, 150))(jax.random.key(0))
    assert float(fin3.best_f) < 1e-2
    g = family.gradient(quad, X0, sigma)
    np.testing.assert_allclose(np.asarray(g), H @ np.asarray(X0), rtol=1e-5)


def test_adadgs_nonfinite_values_do_not_poison_the_state():
    def holey(x):  # NaN in a slab that the quadrature points and line trials reach
        return jnp.where(x[0] > 2.5, jnp.nan, jnp.sum(x**2))

    m = adadgs.make(holey, adadgs.Config(dim=D, num_line_points=20))
    p = adadgs.params(1.0, D)
    final, trace = jax.jit(lambda k: run(m, k, X0, p, 15))(jax.random.key(0))
    assert int(np.sum(trace.num_nonfinite)) > 0
    assert np.all(np.isfinite(np.asarray(final.x))) and np.isfinite(float(final.best_f))
    assert np.all(np.isfinite(np.asarray(trace.f_x)))
    assert float(final.best_f) < float(holey(X0))


@pytest.mark.parametrize("kwargs,name", [
    (dict(width=0.0), "width"), (dict(sigma_mean=0.0), "sigma_mean"),
    (dict(sigma_mean=-2.0), "sigma_mean"), (dict(sigma_std=-0.1), "sigma_std"),
    (dict(max_step=0.0), "max_step"), (dict(shrink=1.0), "shrink"),
    (dict(reset_every=0), "reset_every"), (dict(reset_tol=-1.0), "reset_tol"),
])
def test_adadgs_params_bad_values_name_the_argument(kwargs, name):
    args = dict(width=1.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        adadgs.params(args.pop("width"), D, **args)


def test_optax_dgs_rejects_a_non_positive_sigma_and_bad_shapes():
    m = dgs_optax.make(quad, dgs_optax.Config(dim=D, optimizer=optax.sgd(0.1)))
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="sigma"):
            m.init(jax.random.key(0), X0, dgs_optax.Params(jnp.float32(bad)))
        with pytest.raises(ValueError, match="sigma"):
            dgs_optax.params(bad)
    with pytest.raises(ValueError, match="x0"):
        m.init(jax.random.key(0), jnp.zeros(D + 2), dgs_optax.params(1.0))
    with pytest.raises(ValueError, match="num_points"):
        dgs_optax.Config(dim=D, num_points=1)
    with pytest.raises(ValueError, match="directions"):
        dgs_optax.Config(dim=D, directions="diagonal")
    with pytest.raises(ValueError, match="directions"):
        family.gradient(quad, X0, 1.0, directions=jnp.ones((D, D)))


def test_optax_dgs_nonfinite_values_do_not_poison_the_state():
    def holey(x):
        return jnp.where(x[0] > 2.5, jnp.nan, jnp.sum(x**2))

    m = dgs_optax.make(holey, dgs_optax.Config(dim=D, optimizer=optax.adam(0.2)))
    final, trace = jax.jit(lambda k: run(m, k, X0, dgs_optax.params(1.0), 20))(
        jax.random.key(0))
    assert int(np.sum(trace.num_nonfinite)) > 0
    assert np.all(np.isfinite(np.asarray(final.x))) and np.isfinite(float(final.best_f))
    assert float(final.best_f) < float(holey(X0))


def test_every_dgs_entry_point_rejects_bad_num_points_and_x0_shapes():
    for make in (lambda: adadgs.Config(dim=D, num_points=1),
                 lambda: family.gradient(quad, X0, 1.0, num_points=0),
                 lambda: dgs.Config(dim=D, num_points=1),
                 lambda: dgs_optax.Config(dim=D, num_points=1)):
        with pytest.raises(ValueError, match="num_points"):
            make()
    m = adadgs.make(quad, adadgs.Config(dim=D))
    with pytest.raises(ValueError, match="x0"):
        m.init(jax.random.key(0), jnp.zeros((D, 1)), adadgs.params(1.0, D))
    with pytest.raises(ValueError, match="sigma"):
        family.gradient(quad, X0, jnp.ones(D + 1))


def test_params_compute_the_papers_defaults_from_the_domain():
    # DGS: lr 0.05 sqrt(d) w (5 % of the diagonal), sigma 5 w, finals 1 %, T = 200
    w, d = 10.24, 100
    p = dgs.params(w, d)
    np.testing.assert_allclose([float(p.learning_rate), float(p.sigma)],
                               [0.05 * math.sqrt(d) * w, 5 * w], rtol=1e-6)
    np.testing.assert_allclose([float(p.learning_rate_final), float(p.sigma_final)],
                               [0.0005 * math.sqrt(d) * w, 0.05 * w], rtol=1e-6)
    assert float(p.horizon) == 200.0 and int(p.perturb_every) == 10**9
    # explicit values win, and no width is needed then
    q = dgs.params(learning_rate=0.3, sigma=2.0)
    assert float(q.learning_rate) == pytest.approx(0.3) and float(q.sigma) == 2.0
    with pytest.raises(ValueError, match="learning_rate must be given, or width and dim"):
        dgs.params(w)
    with pytest.raises(ValueError, match="width"):
        dgs.params(-1.0, d)
    # AdaDGS: the authors' defaults
    a = adadgs.params(w, d)
    np.testing.assert_allclose([float(a.sigma_mean), float(a.sigma_std), float(a.max_step)],
                               [5 * w, 0.5 * w, math.sqrt(d) * w], rtol=1e-6)
    assert float(dgs_optax.params(width=w).sigma) == pytest.approx(5 * w)


def test_state_has_the_same_types_for_every_config_and_never_carries_an_unused_matrix():
    p = dgs.params(learning_rate=0.1, sigma=1.0)
    never = dgs.make(quad, dgs.Config(dim=D)).init(jax.random.key(0), X0, p)
    rotating = dgs.make(quad, dgs.Config(dim=D, perturb="steps")).init(jax.random.key(0), X0, p)
    assert jax.tree_util.tree_structure(never) == jax.tree_util.tree_structure(rotating)
    assert never.directions.shape == (0, D) and never.sigma_offsets.shape == (0,)
    np.testing.assert_array_equal(rotating.directions, np.eye(D))
    assert rotating.sigma_offsets.shape == (D,)
