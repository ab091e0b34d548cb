"""Move estimates, GradSearch rules, Bop/STE identities, brute force on NAND."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxopt_lab.core import run as _run
from jaxopt_lab.gradsearch import moves, optimizers as O
from jaxopt_lab.problems import programs as P


def run(method, key, x0, params, num_steps):
    """``jaxopt_lab.core.run`` under jit (eager init is slow)."""
    return jax.jit(lambda k, x, p: _run(method, k, x, p, num_steps))(key, x0, params)


def test_taylor_exact_where_the_program_is_linear():
    """The switch rule is exact for moves of a variable the loss is linear in: every
    parameter of the last circuit gate (a loss linear in the outputs), and every variable
    of the parity chain for the loss sum_i P(y_i = 1)."""
    task = P.circuit("shift")
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
        grad = grad_fn(moves.onehot_padded(z, space.max_card))
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
        grad = grad_fn(moves.onehot_padded(z, 2))
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
        grad = grad_fn(moves.onehot_padded(z, 2))
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
    method = O.make(task, O.GradSearchConfig("greedy"))
    params = O.make_params()
    z0 = jnp.asarray([0, 1, 2], jnp.int32)
    state = jax.jit(method.init)(jax.random.key(0), z0, params)
    keys = jax.random.split(jax.random.key(1), 3000)
    new = jax.jit(jax.vmap(lambda k: method.step(k, state, params)[0].z))(keys)
    new = np.asarray(new)
    assert np.all(np.sum(new != np.asarray(z0), axis=1) == 1)  # exactly one move, applied
    codes = [tuple(r) for r in new.tolist()]
    labels, counts = np.unique(np.asarray(codes), axis=0, return_counts=True)
    assert len(labels) == 6  # 3 variables x 2 other values
    assert stats.chisquare(counts).pvalue > 1e-3


def test_brute_force_nand():
    """Exhaustive search over all 5^2 * 3^6 NAND programs: epsilon-greedy GradSearch finds
    only true solutions, in every run (and the solved flag agrees with brute force)."""
    task = P.circuit("nand")
    cards = task.space.cards
    allz = np.asarray(list(itertools.product(*[range(c) for c in cards])), np.int32)
    solved = np.asarray(jax.jit(jax.vmap(task.solved))(jnp.asarray(allz)))
    solutions = {tuple(z) for z in allz[solved].tolist()}
    assert 0 < len(solutions) < len(allz)
    method = O.make(task, O.GradSearchConfig("greedy"))
    params = O.make_params(epsilon=0.1)

    def one(key):
        k1, k2 = jax.random.split(key)
        final, _ = run(method, k2, task.space.sample(k1), params, 1000)
        return final.z, final.solved_at

    zs, at = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), 64))
    zs, at = np.asarray(zs), np.asarray(at)
    assert np.all(at >= 0)
    for z in zs.tolist():
        assert tuple(z) in solutions


def _parity_state(rule, beta, threshold=0.0, k=16):
    task = P.parity_chain(k)
    method = O.make(task, O.GradSearchConfig(rule))
    return task, method, O.make_params(beta=beta, threshold=threshold)


def test_ste_threshold_zero_flips_exactly_the_negative_estimates():
    task, method, params = _parity_state("threshold", 1.0, 0.0)
    rng = np.random.default_rng(0)
    z0 = jnp.asarray(rng.integers(0, 2, 15), jnp.int32)
    state = jax.jit(method.init)(jax.random.key(0), z0, params)
    new, _ = jax.jit(method.step)(jax.random.key(1), state, params)
    x = z0.astype(jnp.float32)
    dldx = jax.grad(lambda x: task.loss({"x": jnp.stack([1 - x, x], -1)}))(x)
    flip = np.asarray(moves.flip_estimates(dldx, x)) < 0
    np.testing.assert_array_equal(np.asarray(new.z), np.where(flip, 1 - z0, z0))


def test_bop_equals_reference_implementation():
    """Our threshold rule == Bop as published (Helwegen et al. 2019) in the {0,1}
    convention: m <- (1-gamma) m + gamma g; flip iff |m| > tau and sign(m) = sign(2x-1)."""
    gamma, tau = 0.05, 0.2
    task, method, params = _parity_state("threshold", gamma, tau, k=10)
    z0 = jnp.asarray([1, 0, 1, 1, 0, 0, 1, 1, 0], jnp.int32)
    final, trace = run(method, jax.random.key(3), z0, params, 25)

    grad_fn = jax.jit(jax.grad(lambda x: task.loss({"x": jnp.stack([1 - x, x], -1)})))
    x = np.asarray(z0)
    m = np.zeros(9)
    for _ in range(25):
        if not np.any(x):  # solved: the method stops moving
            break
        g = np.asarray(grad_fn(jnp.asarray(x, jnp.float32)), np.float64)
        m = (1 - gamma) * m + gamma * g
        flip = (np.abs(m) > tau) & (np.sign(m) == np.sign(2 * x - 1))
        x = np.where(flip, 1 - x, x)
    np.testing.assert_array_equal(np.asarray(final.z), x)


@pytest.mark.parametrize("rule", ["avg_grad", "avg_move"])
def test_running_average_with_beta_one_is_greedy(rule):
    task = P.parity_chain(12)
    z0 = jnp.asarray(np.random.default_rng(4).integers(0, 2, 11), jnp.int32)
    greedy, gp = O.gradsearch(task)
    avg = O.make(task, O.GradSearchConfig(rule))
    a, _ = run(greedy, jax.random.key(5), z0, gp, 30)
    b, _ = run(avg, jax.random.key(5), z0, O.make_params(beta=1.0), 30)
    np.testing.assert_array_equal(np.asarray(a.z), np.asarray(b.z))
    assert int(a.solved_at) == int(b.solved_at)


def test_epsilon_one_is_random_walk_and_stop_when_solved():
    task = P.parity_chain(9)
    method = O.make(task, O.GradSearchConfig("greedy", stop_when_solved=False))
    final, trace = run(method, jax.random.key(0), task.space.sample(jax.random.key(1)),
                       O.make_params(epsilon=1.0), 20)
    assert np.all(np.asarray(trace.num_moved) == 1) and np.all(np.asarray(trace.random))
    # a solved start never moves
    nand = P.circuit("nand")
    z = nand.space.flatten({"type": [0, 3], "in1": [0, 0], "in2": [1, 0], "out": [0, 0]})
    method, params = O.gradsearch_plus(nand)
    final, trace = run(method, jax.random.key(0), z, params, 10)
    np.testing.assert_array_equal(np.asarray(final.z), np.asarray(z))
    assert int(final.solved_at) == 0


def test_loss_scaling_schedule():
    task = _constant_task()
    method = O.make(task, O.GradSearchConfig("greedy", loss_scaling=True, stall_steps=5))
    final, _ = run(method, jax.random.key(0), jnp.asarray([0, 1, 2], jnp.int32),
                   O.make_params(), 20)
    assert float(jnp.sum(final.log_w)) == 4.0  # one event every 5 stalled steps


def test_smoothing_modes():
    valid = jnp.asarray([[True, True, False], [True, True, True]])
    z = jnp.asarray([1, 0])
    s = np.asarray(moves.smoothed_onehot(z, valid, jnp.float32(0.01), "sum_to_one"))
    np.testing.assert_allclose(s, [[0.01, 0.99, 0], [0.99, 0.005, 0.005]], rtol=1e-6)
    s = np.asarray(moves.smoothed_onehot(z, valid, jnp.float32(0.01), "literal"))
    np.testing.assert_allclose(s, [[0.01, 0.99, 0], [0.99, 0.01, 0.01]], rtol=1e-6)


def test_vmap_equals_loop_and_determinism():
    task = P.circuit("nand")
    method, params = O.gradsearch_plus(task)

    def one(key):
        k1, k2 = jax.random.split(key)
        final, trace = run(method, k2, task.space.sample(k1), params, 40)
        return final.z, trace.f

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
        O.make_params(epsilon=1.5)
    with pytest.raises(ValueError, match="beta"):
        O.make_params(beta=-0.1)
    with pytest.raises(ValueError, match="threshold"):
        O.make_params(threshold=-1.0)
    with pytest.raises(ValueError, match="rule"):
        O.GradSearchConfig("best")
    with pytest.raises(ValueError, match="smoothing"):
        O.GradSearchConfig(smoothing="half")
    task = P.circuit("nand")
    method, params = O.gradsearch(task)
    with pytest.raises(ValueError, match="x0"):
        method.init(jax.random.key(0), jnp.asarray([0, 0, 0, 0, 0, 0, 0, 7]), params)
    bad = params._replace(beta=jnp.float32(2.0))
    with pytest.raises(ValueError, match="beta"):
        method.init(jax.random.key(0), task.space.sample(jax.random.key(0)), bad)
    bad = params._replace(epsilon=jnp.float32(-0.5))
    with pytest.raises(ValueError, match="epsilon"):
        method.init(jax.random.key(0), task.space.sample(jax.random.key(0)), bad)
    with pytest.raises(ValueError, match="epsilon"):
        O.gradsearch_plus(task, epsilon=1.01)
    with pytest.raises(ValueError, match="beta"):
        O.gradsearch_avg(task, beta=1.5)
    with pytest.raises(ValueError, match="reading"):
        O.gradsearch_avg(task, reading="avg_loss")
    with pytest.raises(ValueError, match="stall_steps"):
        O.GradSearchConfig(loss_scaling=True, stall_steps=0)
    with pytest.raises(ValueError, match="num_restarts"):
        O.solve_with_restarts(method, params, task.space.sample, jax.random.key(0), 0, 10)
    with pytest.raises(ValueError, match="x0"):  # wrong length
        method.init(jax.random.key(0), jnp.zeros((7,), jnp.int32), params)
