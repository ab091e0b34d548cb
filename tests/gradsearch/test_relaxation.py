"""Relaxations and STE: initial points, straight-through gradients, regulariser, the neural
reparameterisation's latent layout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run
from jaxopt_lab.gradsearch import relaxation, ste, steps_to_solution
from jaxopt_lab.problems import circuits, programs as P


@pytest.mark.slow
def test_log_dirichlet_init_is_one_dirichlet_draw():
    task = circuits.circuit("nand")
    space, config = task.space, relaxation.Config()
    latent = relaxation.initial_point(jax.random.key(0), task, config)
    assert latent.shape == (relaxation.latent_size(task, config),)
    valid = space.valid.reshape(-1)
    e = np.exp(np.asarray(latent))[valid]
    np.testing.assert_allclose(e.sum(), 1.0, rtol=1e-5)  # one draw over ALL valid entries
    # Dirichlet(1) over n entries: each marginal Beta(1, n-1) has mean 1/n
    draws = jax.vmap(lambda k: jnp.exp(relaxation.initial_point(k, task, config)))(
        jax.random.split(jax.random.key(1), 2000))
    n = int(valid.sum())
    np.testing.assert_allclose(np.asarray(draws)[:, valid].mean(), 1.0 / n, rtol=0.02)


def test_ste_forward_hard_backward_straight_through():
    task = P.parity_chain(6)
    method = ste.make(task)
    params = ste.params(learning_rate=0.01)
    w0 = jnp.asarray([0.2, 0.7, 1.3, 0.5, 0.9], jnp.float32)
    state = method.init(jax.random.key(0), w0, params)
    np.testing.assert_array_equal(np.asarray(state.program), [0, 1, 1, 0, 1])
    # reference gradient: d loss / d x at the hard point, masked to 0 <= w <= 1
    x = (w0 > 0.5).astype(jnp.float32)
    g = jax.grad(lambda x: task.loss({"x": jnp.stack([1 - x, x], -1)}))(x)
    g = np.where((np.asarray(w0) >= 0) & (np.asarray(w0) <= 1), np.asarray(g), 0.0)
    new, _ = method.step(jax.random.key(1), state, params)
    # Adam's first step moves every coordinate with non-zero gradient by -lr * sign(g)
    step = np.asarray(new.latent - w0)
    np.testing.assert_allclose(step, -0.01 * np.sign(g), atol=1e-6)


def test_ste_initial_point():
    w = ste.initial_point(jax.random.key(0), P.parity_chain(200))
    assert w.shape == (199,) and float(w.min()) >= 0.45 and float(w.max()) <= 0.55


@pytest.mark.slow
def test_regulariser_is_pairwise_product():
    task = P.parity_chain(4)
    method = relaxation.make(task, relaxation.Config(regularise=True))
    plain = relaxation.make(task, relaxation.Config())
    logits = jnp.asarray([[0.3, -0.2], [1.0, 0.0], [0.0, 0.5]])
    params = relaxation.params(reg=2.0)
    _, a = run(method, jax.random.key(0), logits.reshape(-1), params, 1)
    _, b = run(plain, jax.random.key(0), logits.reshape(-1), params, 1)
    mu = jax.nn.softmax(logits, axis=-1)
    np.testing.assert_allclose(float(a.loss[0] - b.loss[0]),
                               2.0 * float(jnp.sum(mu[:, 0] * mu[:, 1])), rtol=1e-5)


@pytest.mark.slow
def test_neural_latent_is_input_then_mlp():
    """The neural point is [u, w1, b1, w2, b2] flattened; its logits are the MLP of u, and
    the fixed input u gets no update."""
    task = P.parity_chain(5)
    config = relaxation.Config(kind="neural", hidden=8, input_dim=3, stop_when_solved=False)
    x0 = relaxation.initial_point(jax.random.key(0), task, config)
    assert x0.shape == (3 + 3 * 8 + 8 + 8 * 8 + 8,) == (relaxation.latent_size(task, config),)
    u, w1 = x0[:3], x0[3:27].reshape(3, 8)
    w2 = x0[35:99].reshape(8, 8)
    logits = (jax.nn.relu(u @ w1) @ w2).reshape(4, 2)  # biases start at 0
    method = relaxation.make(task, config)
    params = relaxation.params(learning_rate=0.1)
    state = method.init(jax.random.key(0), x0, params)
    np.testing.assert_array_equal(np.asarray(state.program), np.argmax(logits, axis=-1))
    final, _ = run(method, jax.random.key(1), x0, params, 5)
    np.testing.assert_array_equal(np.asarray(final.latent[:3]), np.asarray(u))
    assert not np.array_equal(np.asarray(final.latent[3:]), np.asarray(x0[3:]))


def test_fmgd_solves_short_chains_and_stops():
    task = P.parity_chain(4)
    config = relaxation.Config()
    method = relaxation.make(task, config)
    params = relaxation.params(learning_rate=0.05)

    def one(key):
        k1, k2 = jax.random.split(key)
        final, trace = run(method, k2, relaxation.initial_point(k1, task, config), params, 400)
        return steps_to_solution(trace.solved), task.solved(final.program)

    at, ok = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), 16))
    at, ok = np.asarray(at), np.asarray(ok)
    assert np.mean(at >= 0) >= 0.5
    assert np.all(ok[at >= 0])  # frozen once solved


def test_bad_config():
    with pytest.raises(ValueError, match="kind"):
        relaxation.Config(kind="annealing")
    with pytest.raises(ValueError, match="binary"):
        ste.make(circuits.circuit("nand"))
    with pytest.raises(ValueError, match="learning_rate"):
        relaxation.params(learning_rate=0.0)
    method = relaxation.make(P.parity_chain(5), relaxation.Config())
    with pytest.raises(ValueError, match="x0"):
        method.init(jax.random.key(0), jnp.zeros((3, 2)), relaxation.params())
    with pytest.raises(ValueError, match="task"):
        relaxation.make(lambda x: x, relaxation.Config())
