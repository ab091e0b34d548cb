"""Relaxation baselines: initialisers, straight-through gradients, regulariser, Gumbel."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run
from jaxopt_lab.gradsearch import relaxations as R
from jaxopt_lab.problems import programs as P


def test_log_dirichlet_init_is_one_dirichlet_draw():
    space = P.circuit("nand").space
    latent = R.initial_latent(jax.random.key(0), space, R.RelaxationConfig("fmgd"))
    e = np.exp(np.asarray(latent))[space.valid]
    np.testing.assert_allclose(e.sum(), 1.0, rtol=1e-5)  # one draw over ALL valid entries
    # Dirichlet(1) over n entries: each marginal Beta(1, n-1) has mean 1/n
    draws = jax.vmap(lambda k: jnp.exp(R.initial_latent(k, space, R.RelaxationConfig())))(
        jax.random.split(jax.random.key(1), 2000))
    n = int(space.valid.sum())
    np.testing.assert_allclose(np.asarray(draws)[:, space.valid].mean(), 1.0 / n, rtol=0.02)


def test_ste_forward_hard_backward_straight_through():
    task = P.parity_chain(6)
    cfg = R.RelaxationConfig("ste")
    method = R.make(task, cfg)
    params = R.make_params(learning_rate=0.01)
    w0 = jnp.asarray([0.2, 0.7, 1.3, 0.5, 0.9], jnp.float32)
    state = method.init(jax.random.key(0), w0, params)
    np.testing.assert_array_equal(np.asarray(state.z), [0, 1, 1, 0, 1])
    # reference gradient: d loss / d x at the hard point, masked to 0 <= w <= 1
    x = (w0 > 0.5).astype(jnp.float32)
    g = jax.grad(lambda x: task.loss({"x": jnp.stack([1 - x, x], -1)}))(x)
    g = np.where((np.asarray(w0) >= 0) & (np.asarray(w0) <= 1), np.asarray(g), 0.0)
    new, _ = method.step(jax.random.key(1), state, params)
    # Adam's first step moves every coordinate with non-zero gradient by -lr * sign(g)
    step = np.asarray(new.latent - w0)
    np.testing.assert_allclose(step, -0.01 * np.sign(g), atol=1e-6)


def test_regulariser_is_pairwise_product():
    task = P.parity_chain(4)
    method = R.make(task, R.RelaxationConfig("fmgd_reg"))
    plain = R.make(task, R.RelaxationConfig("fmgd"))
    logits = jnp.asarray([[0.3, -0.2], [1.0, 0.0], [0.0, 0.5]])
    params = R.make_params(reg=2.0)
    _, a = run(method, jax.random.key(0), logits, params, 1)
    _, b = run(plain, jax.random.key(0), logits, params, 1)
    mu = jax.nn.softmax(logits, axis=-1)
    np.testing.assert_allclose(float(a.loss[0] - b.loss[0]),
                               2.0 * float(jnp.sum(mu[:, 0] * mu[:, 1])), rtol=1e-5)


def test_fmgd_solves_short_chains_and_stops():
    task = P.parity_chain(4)
    cfg = R.RelaxationConfig("fmgd")
    method = R.make(task, cfg)
    params = R.make_params(learning_rate=0.05)

    def one(key):
        k1, k2 = jax.random.split(key)
        final, _ = run(method, k2, R.initial_latent(k1, task.space, cfg), params, 400)
        return final.solved_at, task.solved(final.z)

    at, ok = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), 16))
    at, ok = np.asarray(at), np.asarray(ok)
    assert np.mean(at >= 0) >= 0.5
    assert np.all(ok[at >= 0])  # frozen once solved


def test_bad_config():
    with pytest.raises(ValueError, match="kind"):
        R.RelaxationConfig("annealing")
    with pytest.raises(ValueError, match="binary"):
        R.make(P.circuit("nand"), R.RelaxationConfig("ste"))
    with pytest.raises(ValueError, match="learning_rate"):
        R.make_params(learning_rate=0.0)
    method = R.make(P.parity_chain(5), R.RelaxationConfig("fmgd"))
    with pytest.raises(ValueError, match="x0"):
        method.init(jax.random.key(0), jnp.zeros((3, 2)), R.make_params())
