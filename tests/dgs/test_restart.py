"""DGS's averaged restart (``dgs.Config(restart="average")``) against a NumPy re-implementation
on quadratics, where the DGS gradient is exact; and Algorithm 1 (the default) unchanged."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run
from jaxopt_lab.dgs import dgs

D = 4
A = np.array([1.0, 2.0, 3.0, 5.0])
C = np.array([0.5, -1.0, 2.0, 0.25])
X0 = np.array([6.0, 4.0, -5.0, 3.0])


def quad(x):
    return 0.5 * jnp.sum(jnp.asarray(A, x.dtype) * (x - jnp.asarray(C, x.dtype)) ** 2)


def _quadratic(t, v0, v_end, horizon):
    return v_end + (v0 - v_end) * (1.0 - min(t, horizon) / horizon) ** 2


def reference(num_steps, lr0, lr_end, horizon, *, restart=None, accept_from=None):
    """Normalised descent on ``quad`` with the exact gradient (what DGS computes on a
    quadratic), the paper's quadratic decay, and optionally the averaged restart.

    ``restart = (average_start, restart_at, restart_lr)`` as fractions; ``accept_from``: a
    step that does not lower ``f`` is not taken from step ``floor(accept_from T)`` on.
    Returns the iterates
    ``[num_steps, D]``, the learning rates ``[num_steps]`` (float64) and whether the mean
    was taken.
    """
    f = lambda x: 0.5 * np.sum(A * (x - C) ** 2)  # noqa: E731
    x, xs, lrs, total, count, took = X0.copy(), [], [], np.zeros(D), 0, False
    if restart is not None:
        t0, jump = int(np.floor(restart[0] * horizon)), int(np.floor(restart[1] * horizon))
    for t in range(num_steps):
        if restart is not None and t >= jump:
            lr = _quadratic(t - jump, restart[2] * lr0, lr_end, max(horizon - jump, 1.0))
        else:
            lr = _quadratic(t, lr0, lr_end, horizon)
        g = A * (x - C)
        x_new = x - lr * g / np.linalg.norm(g)
        if accept_from is None or t < int(np.floor(accept_from * horizon)) or f(x_new) < f(x):
            x = x_new
        if restart is not None and t0 <= t < jump:
            total, count = total + x, count + 1
            if t == jump - 1 and f(total / count) < f(x):
                x, took = total / count, True
        xs.append(x.copy())
        lrs.append(lr)
    return np.array(xs), np.array(lrs), took


def _run(config, p, num_steps):
    method = dgs.make(quad, config)
    return run(method, jax.random.key(0), jnp.asarray(X0, jnp.float32), p, num_steps)


def test_default_is_algorithm_1():
    # restart="none" (the default) follows the paper's normalised, quadratically decayed descent
    p = dgs.params(learning_rate=2.0, sigma=1.0, horizon=30.0)
    final, trace = _run(dgs.Config(dim=D, record_path=True), p, 30)
    want, lrs, _ = reference(30, 2.0, 0.02, 30.0)
    np.testing.assert_allclose(np.asarray(trace.x), want, atol=2e-4)
    np.testing.assert_allclose(np.asarray(trace.learning_rate), lrs, rtol=1e-5)
    assert int(final.num_evals) == 1 + 30 * dgs.Config(dim=D).evals_per_step
    assert final.x_sum.shape == (0,)


@pytest.mark.parametrize("lr0", [3.0, 0.4])
def test_averaged_restart_matches_reference(lr0):
    # lr0 = 3: the iterates overshoot and bounce about C, so the window's mean is lower and
    # is taken; lr0 = 0.4: they still approach C, the mean lags behind and is not taken.
    horizon, steps = 40.0, 40
    p = dgs.params(learning_rate=lr0, sigma=1.0, horizon=horizon, average_start=0.25,
                   restart_at=0.5, restart_lr=0.1, restart_sigma=0.01)
    cfg = dgs.Config(dim=D, restart="average", record_path=True)
    final, trace = _run(cfg, p, steps)
    want, lrs, took = reference(steps, lr0, 0.01 * lr0, horizon, restart=(0.25, 0.5, 0.1))
    np.testing.assert_allclose(np.asarray(trace.x), want, atol=5e-4)
    np.testing.assert_allclose(np.asarray(trace.learning_rate), lrs, rtol=1e-5)
    assert took == (lr0 == 3.0)  # both branches are exercised
    # radius: sigma_0 before step J = 20, then 0.01 sigma_0 decaying to the same final
    sig = np.asarray(trace.sigma)
    np.testing.assert_allclose(sig[19], _quadratic(19, 1.0, 0.01, horizon), rtol=1e-5)
    np.testing.assert_allclose(sig[20], 0.01, rtol=1e-5)
    # one extra evaluation, the mean's; the best point includes it
    assert int(final.num_evals) == 2 + steps * cfg.evals_per_step
    assert cfg.extra_evals == 1 and dgs.Config(dim=D).extra_evals == 0
    assert int(final.num_summed) == 10
    assert float(final.best_f) <= float(quad(jnp.asarray(want[19], jnp.float32))) + 1e-6


def test_restart_lr_quarter_keeps_the_papers_learning_rate():
    # (1 - t/T)^2 at t = J + s, J = T/2, equals 0.25 (1 - s/(T/2))^2: only the radius restarts
    p = dgs.params(learning_rate=1.0, learning_rate_final=0.0, sigma=2.0, horizon=20.0,
                   restart_lr=0.25)
    _, plain = _run(dgs.Config(dim=D), p, 20)
    _, restarted = _run(dgs.Config(dim=D, restart="average"), p, 20)
    np.testing.assert_allclose(np.asarray(restarted.learning_rate),
                               np.asarray(plain.learning_rate), rtol=1e-5, atol=1e-7)
    assert float(restarted.sigma[10]) < 0.05 < float(plain.sigma[10])


def test_bad_restart_options_name_the_argument():
    with pytest.raises(ValueError, match="restart"):
        dgs.Config(dim=D, restart="best")
    with pytest.raises(ValueError, match="restart_at"):
        dgs.params(learning_rate=1.0, sigma=1.0, restart_at=1.5)
    with pytest.raises(ValueError, match="restart_sigma"):
        dgs.params(learning_rate=1.0, sigma=1.0, restart_sigma=0.0)


def test_descent_acceptance_matches_reference():
    # long steps bounce about C; from step 10 on a step that does not lower f is not taken
    horizon, steps = 30.0, 30
    p = dgs.params(learning_rate=3.0, sigma=1.0, horizon=horizon, accept_from=1 / 3)
    cfg = dgs.Config(dim=D, accept="descent", record_path=True)
    final, trace = _run(cfg, p, steps)
    want, _, _ = reference(steps, 3.0, 0.03, horizon, accept_from=1 / 3)
    np.testing.assert_allclose(np.asarray(trace.x), want, atol=2e-4)
    moved = np.linalg.norm(np.diff(np.concatenate([X0[None], want]), axis=0), axis=1)
    assert np.any(moved[10:] == 0) and np.all(moved[:10] > 0)  # rejections happen, late only
    np.testing.assert_allclose(np.asarray(trace.step_norm)[moved == 0], 0.0)
    f_ref = 0.5 * np.sum(A * (want - C) ** 2, axis=1)
    assert np.all(np.diff(f_ref[9:]) <= 1e-6)  # non-increasing once acceptance applies
    assert int(final.num_evals) == 1 + steps * cfg.evals_per_step  # no extra evaluation
