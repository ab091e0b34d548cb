"""Circuit synthesis: the Z3 encodings (``jaxopt_lab.problems.circuit_z3``) against
exhaustive search, the satisfiability of Full Adder on all 16 inputs, and ``minimize``'s
vmapped restarts against independent runs."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run
from jaxopt_lab.gradsearch import gradsearch, minimize, steps_to_solution
from jaxopt_lab.problems import circuit_z3, circuits


def _brute_force_solvable(task) -> bool:
    cards = task.space.cards
    allz = np.asarray(list(itertools.product(*[range(c) for c in cards])), np.int32)
    solved = jax.jit(jax.vmap(task.solved))(jnp.asarray(allz))
    return bool(np.asarray(solved).any())


def _verify(task, program) -> bool:
    """Plain-Python simulation of the discrete circuit on every example."""
    meta = dict(task.meta)
    out = circuits.simulate_circuit(program, np.asarray(task.inputs), meta["W"], meta["O"])
    return bool((out == np.asarray(task.targets).astype(int)).all())


def _nand(num_gates):
    rows = [([a, b], [1 - a * b]) for a, b in itertools.product((0, 1), repeat=2)]
    return circuits.circuit_task(3, num_gates, 1, [r[0] for r in rows], [r[1] for r in rows])


def _swap(num_gates):
    rows = [([a, b], [b, a]) for a, b in itertools.product((0, 1), repeat=2)]
    return circuits.circuit_task(3, num_gates, 2, [r[0] for r in rows], [r[1] for r in rows])


def _and_or(num_gates):
    # outputs [a AND b, a OR b] on 2 wires: needs a scratch wire, so unsolvable on W = 2
    rows = [([a, b], [a & b, a | b]) for a, b in itertools.product((0, 1), repeat=2)]
    return circuits.circuit_task(2, num_gates, 2, [r[0] for r in rows], [r[1] for r in rows])


@pytest.mark.parametrize("make,num_gates", [(_nand, 1), (_nand, 2), (_swap, 1), (_swap, 2),
                                            (_and_or, 2)])
def test_z3_encodings_agree_with_exhaustive_search(make, num_gates):
    """sat/unsat of every Z3 encoding (including the symmetry-broken one, which must stay
    sound) equals exhaustive search over all programs; every Z3 circuit is verified by
    plain-Python simulation."""
    pytest.importorskip("z3")
    task = make(num_gates)
    expected = _brute_force_solvable(task)
    for encoding in circuit_z3.ENCODINGS:
        prog, result = circuit_z3.synthesize(task, timeout_s=60.0, encoding=encoding)
        assert result == ("sat" if expected else "unsat"), (encoding, result)
        if expected:
            assert _verify(task, prog) and bool(task.solved(task.space.flatten(prog)))


def test_z3_symmetry_breaking_solves_the_table2_circuits():
    pytest.importorskip("z3")
    for name in ("nand", "swap", "shift", "adder"):
        task = circuits.circuit(name)
        prog, result = circuit_z3.synthesize(task, timeout_s=60.0)
        assert result == "sat" and _verify(task, prog), name


def test_full_adder_all16_is_satisfiable_with_one_scratch_wire():
    """A constructive proof: an 8-gate ripple-carry circuit on W = 5 wires (inputs a1 a0 b1
    b0, one scratch wire) computes (a1a0) + (b1b0) on all 16 inputs, checked against
    integer addition."""
    AND, OR, XOR, NOP = 0, 1, 2, 4
    prog = {  # wires: 0 a1, 1 a0, 2 b1, 3 b0, 4 scratch
        "type": [AND, XOR, XOR, AND, AND, XOR, OR, NOP],
        "in1": [1, 1, 0, 0, 1, 1, 0, 3],
        "in2": [3, 3, 2, 2, 4, 4, 2, 0],
        "out": [4, 3, 1, 2, 0, 1, 0, 2],
    }  # c0 = a0 b0; s0; p = a1^b1; g = a1 b1; p c0; s1 = p^c0; c1 = g | p c0; copy s0
    task = circuits.circuit("full_adder_all16")
    rows = np.asarray(list(itertools.product((0, 1), repeat=4)))
    out = circuits.simulate_circuit(prog, rows, 5, 3)
    total = 2 * rows[:, 0] + rows[:, 1] + 2 * rows[:, 2] + rows[:, 3]
    np.testing.assert_array_equal(out[:, 0] * 4 + out[:, 1] * 2 + out[:, 2], total)
    assert bool(task.solved(task.space.flatten(prog)))


def test_z3_bad_input():
    with pytest.raises(ValueError, match="encoding"):
        circuit_z3.encode(circuits.circuit("nand"), "sat")
    with pytest.raises(ValueError, match="circuit task"):
        from jaxopt_lab.problems import programs
        circuit_z3.encode(programs.parity_chain(4))
    with pytest.raises(ValueError, match="timeout_s"):
        circuit_z3.synthesize(circuits.circuit("nand"), timeout_s=0.0)


def _independent_runs(method, task, key, num_restarts, num_steps):
    """Restart ``i`` of ``minimize`` as a plain ``core.run`` with key ``fold_in(key, i)``."""
    def one(i):
        k = jax.random.fold_in(key, i)
        init_key, _ = jax.random.split(k)
        final, trace = run(method, k, task.space.sample(init_key), params, num_steps)
        return final.program, final.best_x, final.best_f, steps_to_solution(trace.solved)

    params = gradsearch.params()
    return [np.asarray(a) for a in jax.jit(jax.vmap(one))(jnp.arange(num_restarts))]


@pytest.mark.slow
def test_minimize_equals_independent_runs():
    """``minimize``'s restart i is ``core.run`` with key ``fold_in(key, i)``; it returns the
    program of the restart solved in the fewest steps, and counts the solved restarts."""
    task = circuits.circuit("nand")
    config = gradsearch.Config.plus()
    key = jax.random.key(7)
    res = minimize(task, key=key, config=config, num_restarts=12, max_steps=200)
    program, _, _, at = _independent_runs(gradsearch.make(task, config), task, key, 12, 200)
    assert int(res.stats["num_solved"]) == int((at >= 0).sum()) > 0
    np.testing.assert_array_equal(np.asarray(res.stats["steps_to_solution"]), at)
    first = int(np.argmin(np.where(at >= 0, at, 10**9)))
    assert int(res.stats["restart"]) == first and int(res.stats["steps"]) == at[first]
    np.testing.assert_array_equal(np.asarray(res.x), program[first])
    assert bool(res.stats["solved"]) and bool(task.solved(res.x))
    assert _verify(task, task.space.to_dict(np.asarray(res.x)))
    assert res.trace.solved.shape == (12, 200)
    np.testing.assert_allclose(float(res.f), float(task.program_loss(res.x)))


@pytest.mark.slow
def test_swap_solved_in_every_one_of_100_runs():
    """Table 2: GradSearch+ solves Swap in 100 of 100 runs within 20 000 steps (the paper's
    cap is one hour per run)."""
    task = circuits.circuit("swap")
    method = gradsearch.make(task, gradsearch.Config.plus())

    def one(key):
        k1, k2 = jax.random.split(key)
        final, trace = run(method, k2, task.space.sample(k1), gradsearch.params(), 20000)
        return steps_to_solution(trace.solved), task.solved(final.program)

    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(0), s))(jnp.arange(100))
    at, solved = jax.jit(jax.vmap(one))(keys)
    assert np.all(np.asarray(at) >= 0) and np.all(np.asarray(solved))


@pytest.mark.slow
def test_minimize_without_solution_returns_the_best_program():
    """On an unsatisfiable sketch (checked exhaustively) no restart is solved; ``minimize``
    returns the best program (``best_x``) of the restart with the smallest ``best_f``, as
    the same restarts run one by one with ``core.run`` give it."""
    task = _and_or(2)
    assert not _brute_force_solvable(task)
    config = gradsearch.Config.plus()
    key = jax.random.key(3)
    res = minimize(task, key=key, config=config, num_restarts=8, max_steps=60,
                   keep_trace=False)
    assert not bool(res.stats["solved"]) and int(res.stats["num_solved"]) == 0
    assert int(res.stats["steps"]) == -1
    _, best_x, best_f, _ = _independent_runs(gradsearch.make(task, config), task, key, 8, 60)
    assert len(np.unique(best_f)) > 1  # the restarts differ, so the choice matters
    np.testing.assert_array_equal(np.asarray(res.x), best_x[int(np.argmin(best_f))])
    np.testing.assert_array_equal(np.asarray(res.stats["best_f"]), best_f)


def test_minimize_bad_input():
    task = circuits.circuit("nand")
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="num_restarts"):
        minimize(task, key=key, num_restarts=0)
    with pytest.raises(ValueError, match="method"):
        minimize(task, key=key, method="annealing")
    with pytest.raises(ValueError, match="stop_when_solved"):
        minimize(task, key=key, config=gradsearch.Config(stop_when_solved=False))
    with pytest.raises(ValueError, match="config"):
        minimize(task, key=key, method="bop", config=gradsearch.Config())
    with pytest.raises(ValueError, match="params.epsilon"):
        minimize(task, key=key, params=gradsearch.params()._replace(epsilon=jnp.float32(2)))
