"""Move estimates, GradSearch's variants, Bop (and the discrete view of STE) against
reference implementations, brute force on NAND."""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxopt_lab.core import run as _run
from jaxopt_lab.gradsearch import bop, gradsearch, moves, steps_to_solution
from jaxopt_lab.problems import circuits, programs as P


def run(method, key, x0, params, num_steps):
    """``jaxopt_lab.core.run`` under jit (eager init is slow)."""
    return jax.jit(lambda k, x, p: _run(method, k, x, p, num_steps))(key, x0, params)


def test_taylor_exact_where_the_program_is_linear():
    """The switch rule is exact for moves of a variable the loss is linear in: every
    parameter of the last circuit gate (a loss linear in the outputs), and every variable
    of the parity chain for the loss sum_i P(y_i = 1)."""
    task = circuits.circuit("shift")
    space = task.space
    valid = jnp.asarray(space.valid)
    num_gates = dict(task.meta)["G"]

    def linear_loss(mat):
        return jnp.sum(task.predict(space.to_dict(mat)) * (1.0 - 2.0 * task.targets))

    last_gate = np.asarray([leaf * num_gates + num_gates - 1 for leaf in range(4)])
    rng = np.random.default_rng(0)
    grad_fn = jax.jit(jax.grad(linear_loss))
    exact_fn = jax.jit(lambda z: moves.exact_move_deltas(linear_loss, z, valid))
    for _ in range(4):
        z = jnp.asarray(rng.integers(0, space.cards), jnp.int32)
        grad = grad_fn(P.onehot(space, z))
        est = np.asarray(moves.switch_estimates(grad, z))[last_gate]
        exact = np.asarray(exact_fn(z))[last_gate]
        mask = np.asarray(moves.candidate_mask(z, valid))[last_gate]
        np.testing.assert_allclose(est[mask], exact[mask], atol=1e-5)

    chain = P.parity_chain(10)

    def p_one(mat):
        return jnp.sum(chain.predict(chain.space.to_dict(mat)))

    grad_fn = jax.jit(jax.grad(p_one))
    exact_fn = jax.jit(lambda z: moves.exact_move_deltas(p_one, z, jnp.asarray(chain.space.valid)))
    for _ in range(4):
        z = jnp.asarray(rng.integers(0, 2, 9), jnp.int32)
        grad = grad_fn(P.onehot(chain.space, z))
        est = np.asarray(moves.switch_estimates(grad, z))
        exact = np.asarray(exact_fn(z))
        idx = np.arange(9)
        np.testing.assert_allclose(est[idx, 1 - np.asarray(z)], exact[idx, 1 - np.asarray(z)],
                                   atol=1e-5)


def test_taylor_lower_bounds_parity_log_loss_and_ranks_signs():
    """Parity loss -sum log(P_i + eps), each P_i linear in a variable: by convexity of -log
    the first-order estimate never exceeds the exact change, so every exactly improving
    flip has a negative estimate; and flip rule == switch rule for binary variables."""
    task = P.parity_chain(12, eps=1e-3)
    space = task.space
    valid = jnp.asarray(space.valid)
    rng = np.random.default_rng(1)

    def scalar_loss(x):  # binary x stored as reals
        return task.loss({"x": jnp.stack([1.0 - x, x], axis=-1)})

    grad_fn = jax.jit(jax.grad(task.loss_flat))
    exact_fn = jax.jit(lambda z: moves.exact_move_deltas(task.loss_flat, z, valid))
    scalar_grad = jax.jit(jax.grad(scalar_loss))
    for _ in range(5):
        z = jnp.asarray(rng.integers(0, 2, 11), jnp.int32)
        grad = grad_fn(P.onehot(space, z))
        est = np.asarray(moves.switch_estimates(grad, z))
        exact = np.asarray(exact_fn(z))
        flip = np.asarray(moves.flip_estimates(scalar_grad(z.astype(jnp.float32)),
                                               z.astype(jnp.float32)))
        idx = np.arange(11)
        other = 1 - np.asarray(z)
        np.testing.assert_allclose(flip, est[idx, other], rtol=1e-5, atol=1e-3)
        assert np.all(est[idx, other] <= exact[idx, other] + 1e-3)
        improving = exact[idx, other] < -1e-3
        assert np.all(est[idx, other][improving] < 0)


def test_random_argmin_uniform_over_ties():
    scores = jnp.asarray([3.0, 1.0, 1.0, 5.0, 1.0, 1.0, 2.0])
    keys = jax.random.split(jax.random.key(0), 4000)
    picks = np.asarray(jax.vmap(moves.random_argmin, in_axes=(0, None))(keys, scores))
    assert set(np.unique(picks)) == {1, 2, 4, 5}
    counts = np.bincount(picks, minlength=7)[[1, 2, 4, 5]]
    assert stats.chisquare(counts).pvalue > 1e-3


def _constant_task(num_vars=3, card=3, value=2.0):
    space = P.DiscreteSpace((("a", (num_vars,), card),))
    targets = jnp.zeros((2, 1))

    def example_losses(probs):
        return jnp.full((2,), value) + 0.0 * jnp.sum(probs["a"])

    def predict(probs):
        return jnp.ones((2, 1)) + 0.0 * jnp.sum(probs["a"])

    return P.ProgramTask("const", space, predict, example_losses, targets,
                         jnp.zeros((2, 0)), ())


def test_greedy_step_uniform_over_tied_moves():
    task = _constant_task()
    method = gradsearch.make(task, gradsearch.Config())
    params = gradsearch.params()
    z0 = jnp.asarray([0, 1, 2], jnp.int32)
    state = jax.jit(method.init)(jax.random.key(0), z0, params)
    keys = jax.random.split(jax.random.key(1), 3000)
    new = jax.jit(jax.vmap(lambda k: method.step(k, state, params)[0].program))(keys)
    new = np.asarray(new)
    assert np.all(np.sum(new != np.asarray(z0), axis=1) == 1)  # exactly one move, applied
    codes = [tuple(r) for r in new.tolist()]
    labels, counts = np.unique(np.asarray(codes), axis=0, return_counts=True)
    assert len(labels) == 6  # 3 variables x 2 other values
    assert stats.chisquare(counts).pvalue > 1e-3


def test_brute_force_nand():
    """Exhaustive search over all 5^2 * 3^6 NAND programs: epsilon-greedy GradSearch finds
    only true solutions, in every run (and the solved flag agrees with brute force)."""
    task = circuits.circuit("nand")
    cards = task.space.cards
    allz = np.asarray(list(itertools.product(*[range(c) for c in cards])), np.int32)
    solved = np.asarray(jax.jit(jax.vmap(task.solved))(jnp.asarray(allz)))
    solutions = {tuple(z) for z in allz[solved].tolist()}
    assert 0 < len(solutions) < len(allz)
    method = gradsearch.make(task, gradsearch.Config(epsilon_greedy=True))
    params = gradsearch.params(epsilon=0.1)

    def one(key):
        k1, k2 = jax.random.split(key)
        final, trace = run(method, k2, task.space.sample(k1), params, 1000)
        return final.program, steps_to_solution(trace.solved)

    zs, at = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), 64))
    zs, at = np.asarray(zs), np.asarray(at)
    assert np.all(at >= 0)
    for z in zs.tolist():
        assert tuple(z) in solutions


def _parity(k=16):
    task = P.parity_chain(k)

    def loss_of_bits(x):  # binary x stored as reals
        return task.loss({"x": jnp.stack([1 - x, x], -1)})

    return task, jax.jit(jax.grad(loss_of_bits))


def test_bop_with_gamma_one_tau_zero_flips_exactly_the_negative_estimates():
    """The discrete view of STE (Algorithm 2, threshold 0, no averaging) is Bop with
    gamma = 1, tau = 0: one step flips exactly the bits whose flip estimate
    (1 - 2x) dL/dx is negative."""
    task, grad_fn = _parity()
    method = bop.make(task)
    params = bop.params(gamma=1.0, tau=0.0)
    z0 = jnp.asarray(np.random.default_rng(0).integers(0, 2, 15), jnp.int32)
    state = jax.jit(method.init)(jax.random.key(0), z0, params)
    new, _ = jax.jit(method.step)(jax.random.key(1), state, params)
    x = z0.astype(jnp.float32)
    flip = np.asarray(moves.flip_estimates(grad_fn(x), x)) < 0
    np.testing.assert_array_equal(np.asarray(new.program), np.where(flip, 1 - z0, z0))


def test_bop_equals_reference_implementation():
    """Bop as published (Helwegen et al. 2019) in the {0,1} convention: m <- (1-gamma) m +
    gamma g with g = dL/dx; flip iff |m| > tau and sign(m) = sign(2x-1)."""
    gamma, tau = 0.05, 0.2
    task, grad_fn = _parity(10)
    method = bop.make(task)
    z0 = jnp.asarray([1, 0, 1, 1, 0, 0, 1, 1, 0], jnp.int32)
    final, trace = run(method, jax.random.key(3), z0, bop.params(gamma=gamma, tau=tau), 25)
    x = np.asarray(z0)
    m = np.zeros(9)
    for _ in range(25):
        if not np.any(x):  # solved: the method stops moving
            break
        g = np.asarray(grad_fn(jnp.asarray(x, jnp.float32)), np.float64)
        m = (1 - gamma) * m + gamma * g
        flip = (np.abs(m) > tau) & (np.sign(m) == np.sign(2 * x - 1))
        x = np.where(flip, 1 - x, x)
    np.testing.assert_array_equal(np.asarray(final.program), x)
    assert np.asarray(trace.num_moved).sum() > 0


@pytest.mark.parametrize("rule", ["avg_grad", "avg_move"])
def test_running_average_with_beta_one_is_greedy(rule):
    task = P.parity_chain(12)
    z0 = jnp.asarray(np.random.default_rng(4).integers(0, 2, 11), jnp.int32)
    greedy = gradsearch.make(task, gradsearch.Config())
    avg = gradsearch.make(task, gradsearch.Config(rule=rule))
    a, ta = run(greedy, jax.random.key(5), z0, gradsearch.params(), 30)
    b, tb = run(avg, jax.random.key(5), z0, gradsearch.params(beta=1.0), 30)
    np.testing.assert_array_equal(np.asarray(a.program), np.asarray(b.program))
    np.testing.assert_array_equal(np.asarray(ta.solved), np.asarray(tb.solved))


@pytest.mark.slow
def test_epsilon_one_is_random_walk_and_stop_when_solved():
    task = P.parity_chain(9)
    method = gradsearch.make(task, gradsearch.Config(epsilon_greedy=True,
                                                     stop_when_solved=False))
    final, trace = run(method, jax.random.key(0), task.space.sample(jax.random.key(1)),
                       gradsearch.params(epsilon=1.0), 20)
    assert np.all(np.asarray(trace.num_moved) == 1) and np.all(np.asarray(trace.random))
    # a solved start never moves
    nand = circuits.circuit("nand")
    z = nand.space.flatten({"type": [0, 3], "in1": [0, 0], "in2": [1, 0], "out": [0, 0]})
    method = gradsearch.make(nand, gradsearch.Config.plus())
    final, trace = run(method, jax.random.key(0), z, gradsearch.params(), 10)
    np.testing.assert_array_equal(np.asarray(final.program), np.asarray(z))
    assert int(steps_to_solution(trace.solved)) == 0
    assert np.all(np.asarray(trace.num_moved) == 0)


def test_loss_scaling_schedule():
    task = _constant_task()
    method = gradsearch.make(task, gradsearch.Config(loss_scaling=True, stall_steps=5))
    final, _ = run(method, jax.random.key(0), jnp.asarray([0, 1, 2], jnp.int32),
                   gradsearch.params(), 20)
    assert float(jnp.sum(final.log_w)) == 4.0  # one event every 5 stalled steps


@pytest.mark.slow
def test_soft_loss_is_the_cross_entropy_with_loss_eps():
    """``soft_loss`` with ``loss_eps = 0.3`` runs exactly as GradSearch on the same circuit
    built with eps 0.3 inside its own cross-entropy."""
    config = gradsearch.Config.plus_soft()
    soft = gradsearch.make(circuits.circuit("swap"), config)
    own = gradsearch.make(circuits.circuit("swap", eps=0.3),
                          dataclasses.replace(config, soft_loss=False))
    x0 = circuits.circuit("swap").space.sample(jax.random.key(0))
    params = gradsearch.params(beta=0.5, loss_eps=0.3)
    a, ta = run(soft, jax.random.key(1), x0, params, 300)
    b, tb = run(own, jax.random.key(1), x0, params, 300)
    np.testing.assert_array_equal(np.asarray(a.program), np.asarray(b.program))
    np.testing.assert_allclose(np.asarray(ta.f), np.asarray(tb.f), rtol=1e-6)
    assert np.asarray(ta.num_moved).sum() > 0


def test_smoothing_modes():
    valid = jnp.asarray([[True, True, False], [True, True, True]])
    z = jnp.asarray([1, 0])
    s = np.asarray(moves.smoothed_onehot(z, valid, jnp.float32(0.01), "sum_to_one"))
    np.testing.assert_allclose(s, [[0.01, 0.99, 0], [0.99, 0.005, 0.005]], rtol=1e-6)
    s = np.asarray(moves.smoothed_onehot(z, valid, jnp.float32(0.01), "literal"))
    np.testing.assert_allclose(s, [[0.01, 0.99, 0], [0.99, 0.01, 0.01]], rtol=1e-6)


@pytest.mark.slow
def test_vmap_equals_loop_and_determinism():
    task = circuits.circuit("nand")
    method = gradsearch.make(task, gradsearch.Config.plus())
    params = gradsearch.params()

    def one(key):
        k1, k2 = jax.random.split(key)
        final, trace = run(method, k2, task.space.sample(k1), params, 40)
        return final.program, trace.f

    keys = jax.random.split(jax.random.key(9), 3)
    zb, fb = jax.jit(jax.vmap(one))(keys)
    single = jax.jit(one)
    for i in range(3):
        z, f = single(keys[i])
        np.testing.assert_array_equal(np.asarray(z), np.asarray(zb[i]))
        np.testing.assert_allclose(np.asarray(f), np.asarray(fb[i]), rtol=1e-6)
    z2, _ = single(keys[0])
    np.testing.assert_array_equal(np.asarray(z2), np.asarray(zb[0]))


def test_bad_params_and_config():
    with pytest.raises(ValueError, match="epsilon"):
        gradsearch.params(epsilon=1.5)
    with pytest.raises(ValueError, match="beta"):
        gradsearch.params(beta=-0.1)
    with pytest.raises(ValueError, match="loss_eps"):
        gradsearch.params(loss_eps=0.0)
    with pytest.raises(ValueError, match="smooth"):
        gradsearch.params(smooth=1.0)
    with pytest.raises(ValueError, match="rule"):
        gradsearch.Config(rule="best")
    with pytest.raises(ValueError, match="smoothing"):
        gradsearch.Config(smoothing="half")
    with pytest.raises(ValueError, match="stall_steps"):
        gradsearch.Config.plus(stall_steps=0)
    with pytest.raises(ValueError, match="epsilon_greedy"):
        gradsearch.Config(epsilon_greedy=1)
    task = circuits.circuit("nand")
    method, params = gradsearch.make(task), gradsearch.params()
    x0 = task.space.sample(jax.random.key(0))
    with pytest.raises(ValueError, match=r"x0\[7\] = 7 is outside"):
        method.init(jax.random.key(0), jnp.asarray([0, 0, 0, 0, 0, 0, 0, 7]), params)
    for field, value in (("beta", 2.0), ("epsilon", -0.5)):
        bad = params._replace(**{field: jnp.float32(value)})
        with pytest.raises(ValueError, match=f"params.{field}"):
            method.init(jax.random.key(0), x0, bad)
    with pytest.raises(ValueError, match="x0"):  # wrong length
        method.init(jax.random.key(0), jnp.zeros((7,), jnp.int32), params)
    with pytest.raises(ValueError, match="bop.Params"):
        bop.make(P.parity_chain(4)).init(jax.random.key(0), jnp.zeros((3,), jnp.int32), params)
