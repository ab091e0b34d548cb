"""GradSearch's local-search options (exact check of the Taylor ranking, tabu, walk) against
brute-force references, and the circuit families' reference circuits against integer
arithmetic."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run as _run
from jaxopt_lab.gradsearch import gradsearch, moves
from jaxopt_lab.problems import circuit_families, circuits, programs as P


def run(method, key, x0, params, num_steps):
    return jax.jit(lambda k, x, p: _run(method, k, x, p, num_steps))(key, x0, params)


def test_exact_check_of_every_move_is_steepest_descent():
    """With ``exact_top_k`` covering every move, a step takes a move whose loss change is
    the minimum of the brute-force deltas of all Hamming-1 neighbours (eps 0.3 in the
    cross-entropy: with 1e-7 the loss of a wrong bit depends on rounding)."""
    task = circuits.circuit("nand", eps=0.3)
    space = task.space
    valid = jnp.asarray(space.valid)
    method = gradsearch.make(task, gradsearch.Config(exact_top_k=10_000))
    params = gradsearch.params()

    def loss_of(mat):
        return jnp.mean(task.example_losses(space.to_dict(mat)))

    deltas_fn = jax.jit(lambda z: moves.exact_move_deltas(loss_of, z, valid))
    init, step = jax.jit(method.init), jax.jit(method.step)
    rng = np.random.default_rng(0)
    for i in range(6):
        z = jnp.asarray(rng.integers(0, space.cards), jnp.int32)
        if bool(task.solved(z)):
            continue
        new = step(jax.random.key(i), init(jax.random.key(i), z, params), params)[0].program
        assert int(jnp.sum(new != z)) == 1
        deltas = np.asarray(deltas_fn(z))
        moved = loss_of(P.onehot(space, new)) - loss_of(P.onehot(space, z))
        np.testing.assert_allclose(float(moved), deltas.min(), rtol=1e-5, atol=1e-5)


def test_exact_check_of_one_move_is_the_paper_greedy_step():
    """``exact_top_k = 1`` checks only the Taylor argmin (ties by the same priorities), so
    the run is step for step the paper's GradSearch+ run."""
    task = circuits.circuit("shift")
    x0 = task.space.sample(jax.random.key(3))
    params = gradsearch.params()
    a, ta = run(gradsearch.make(task, gradsearch.Config.plus()), jax.random.key(4), x0,
                params, 60)
    b, tb = run(gradsearch.make(task, gradsearch.Config.plus(exact_top_k=1)),
                jax.random.key(4), x0, params, 60)
    np.testing.assert_array_equal(np.asarray(a.program), np.asarray(b.program))
    np.testing.assert_array_equal(np.asarray(ta.num_moved), np.asarray(tb.num_moved))
    assert np.asarray(ta.num_moved).sum() > 0


def test_tabu_keeps_moved_variables_still():
    """A variable changed by a Taylor-ranked step is not changed again within
    ``tabu_steps`` steps (parity chain, no random moves, never solved in 40 steps from a
    start with every move tied)."""
    task = P.parity_chain(16)
    tabu = 5
    method = gradsearch.make(task, gradsearch.Config(tabu_steps=tabu, stop_when_solved=False))
    state = jax.jit(method.init)(jax.random.key(0), jnp.zeros(15, jnp.int32).at[7].set(1),
                                 gradsearch.params())
    step = jax.jit(method.step)
    last = {}
    for t in range(40):
        new = step(jax.random.key(t), state, gradsearch.params())[0]
        changed = np.flatnonzero(np.asarray(new.program != state.program))
        assert len(changed) == 1
        v = int(changed[0])
        assert t - last.get(v, -100) > tabu
        last[v] = t
        state = new


def test_walk_takes_random_moves_only_at_local_minima():
    """Every move of a constant loss is a non-improving one: ``walk`` 1 makes every step a
    random move, ``walk`` 0 none; from a NAND program one move from a solution
    (``w1 <- AND(w0, w1); w0 <- NOT(w0)``) the step improves: no walk move, solved."""
    space = P.DiscreteSpace((("a", (3,), 3),))

    def example_losses(probs):
        return jnp.full((2,), 2.0) + 0.0 * jnp.sum(probs["a"])

    const = P.ProgramTask("const", space, lambda p: jnp.ones((2, 1)) + 0.0 * p["a"].sum(),
                          example_losses, jnp.zeros((2, 1)), jnp.zeros((2, 0)), ())
    z0 = jnp.asarray([0, 1, 2], jnp.int32)
    for walk, expect in ((1.0, True), (0.0, False)):
        method = gradsearch.make(const, gradsearch.Config(exact_top_k=4, walk=True))
        _, trace = run(method, jax.random.key(0), z0, gradsearch.params(walk=walk), 20)
        assert np.all(np.asarray(trace.random) == expect)
        assert np.all(np.asarray(trace.num_moved) == 1)
    nand = circuits.circuit("nand")
    z = nand.space.flatten({"type": [0, 3], "in1": [0, 0], "in2": [1, 0], "out": [1, 0]})
    method = gradsearch.make(nand, gradsearch.Config(exact_top_k=10_000, walk=True))
    final, trace = run(method, jax.random.key(0), z, gradsearch.params(walk=1.0), 1)
    assert not bool(trace.random[0]) and bool(nand.solved(final.program))


def test_variant_config_errors():
    with pytest.raises(ValueError, match="exact_top_k"):
        gradsearch.Config(exact_top_k=-1)
    with pytest.raises(ValueError, match="tabu_steps"):
        gradsearch.Config(tabu_steps=1.5)
    with pytest.raises(ValueError, match="walk"):
        gradsearch.params(walk=2.0)
    with pytest.raises(ValueError, match="family"):
        circuit_families.family_circuit("divider", 2)
    with pytest.raises(ValueError, match="n"):
        circuit_families.family_circuit("multiplier", 3)


@pytest.mark.parametrize("family,n", [("adder", 1), ("adder", 2), ("adder", 3),
                                      ("adder", 4), ("multiplier", 2), ("comparator", 1),
                                      ("comparator", 2), ("comparator", 3),
                                      ("comparator", 4)])
def test_family_reference_circuits_compute_the_arithmetic(family, n):
    """The reference circuit, run by plain-Python simulation on every input, computes
    ``a + b``, ``a * b`` or ``a > b`` (integers), and the differentiable task agrees."""
    task, program = circuit_families.family_circuit(family, n)
    meta = dict(task.meta)
    rows = np.asarray(list(itertools.product((0, 1), repeat=2 * n)))
    out = circuits.simulate_circuit(program, rows, meta["W"], meta["O"])
    weights = 2 ** np.arange(n)[::-1]
    a, b = rows[:, :n] @ weights, rows[:, n:] @ weights
    value = out @ (2 ** np.arange(out.shape[1])[::-1])
    expect = {"adder": a + b, "multiplier": a * b, "comparator": (a > b).astype(int)}[family]
    np.testing.assert_array_equal(value, expect)
    assert meta["num_examples"] == 4 ** n
    assert bool(task.solved(task.space.flatten(program)))


def test_two_bit_adder_is_table_two_full_adder_on_all_inputs():
    task, _ = circuit_families.family_circuit("adder", 2)
    table2 = circuits.circuit("full_adder_all16")
    assert dict(task.meta) == dict(table2.meta)
    np.testing.assert_array_equal(np.asarray(task.inputs), np.asarray(table2.inputs))
    np.testing.assert_array_equal(np.asarray(task.targets), np.asarray(table2.targets))
