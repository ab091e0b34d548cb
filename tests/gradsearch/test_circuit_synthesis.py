"""Circuit synthesis beside GradSearch: the Z3 encodings (experiments/circuits.py) against
exhaustive search, the satisfiability of Full Adder on all 16 inputs, and the restart batch
(``solve_with_restarts``) against independent runs."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run
from jaxopt_lab.gradsearch import optimizers as O
from jaxopt_lab.problems import programs as P


def _brute_force_solvable(task) -> bool:
    cards = task.space.cards
    allz = np.asarray(list(itertools.product(*[range(c) for c in cards])), np.int32)
    solved = jax.jit(jax.vmap(task.solved))(jnp.asarray(allz))
    return bool(np.asarray(solved).any())


def _nand(num_gates):
    rows = [([a, b], [1 - a * b]) for a, b in itertools.product((0, 1), repeat=2)]
    return P.circuit_task(3, num_gates, 1, [r[0] for r in rows], [r[1] for r in rows])


def _swap(num_gates):
    rows = [([a, b], [b, a]) for a, b in itertools.product((0, 1), repeat=2)]
    return P.circuit_task(3, num_gates, 2, [r[0] for r in rows], [r[1] for r in rows])


def _and_or(num_gates):
    # outputs [a AND b, a OR b] on 2 wires: needs a scratch wire, so unsolvable on W = 2
    rows = [([a, b], [a & b, a | b]) for a, b in itertools.product((0, 1), repeat=2)]
    return P.circuit_task(2, num_gates, 2, [r[0] for r in rows], [r[1] for r in rows])


@pytest.mark.parametrize("make,num_gates", [(_nand, 1), (_nand, 2), (_swap, 1), (_swap, 2),
                                            (_and_or, 2)])
def test_z3_encodings_agree_with_exhaustive_search(make, num_gates):
    """sat/unsat of every Z3 encoding (including the symmetry-broken one, which must stay
    sound) equals exhaustive search over all programs; every Z3 circuit is verified by
    plain-Python simulation."""
    pytest.importorskip("z3")
    from experiments.circuits import Z3_ENCODINGS, verify, z3_synthesize

    task = make(num_gates)
    expected = _brute_force_solvable(task)
    for encoding in Z3_ENCODINGS:
        prog, _, result = z3_synthesize(task, 60.0, encoding)
        assert result == ("sat" if expected else "unsat"), (encoding, result)
        if expected:
            assert verify(task, task.space.flatten(prog))


def test_z3_symmetry_breaking_solves_the_table2_circuits():
    pytest.importorskip("z3")
    from experiments.circuits import verify, z3_synthesize

    for name in ("nand", "swap", "shift", "adder"):
        task = P.circuit(name)
        prog, _, result = z3_synthesize(task, 60.0, "onehot_sym")
        assert result == "sat" and verify(task, task.space.flatten(prog)), name


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
    task = P.circuit("full_adder_all16")
    rows = np.asarray(list(itertools.product((0, 1), repeat=4)))
    out = P.simulate_circuit(prog, rows, 5, 3)
    total = 2 * rows[:, 0] + rows[:, 1] + 2 * rows[:, 2] + rows[:, 3]
    np.testing.assert_array_equal(out[:, 0] * 4 + out[:, 1] * 2 + out[:, 2], total)
    assert bool(task.solved(task.space.flatten(prog)))


def test_restart_batch_equals_independent_runs():
    """``solve_with_restarts`` over the whole budget: restart i is ``core.run`` with key
    ``fold_in(key, i)``; the success count and the fewest steps match those runs."""
    task = P.circuit("nand")
    method, params = O.gradsearch_plus(task)
    key = jax.random.key(7)
    res = O.solve_with_restarts(method, params, task.space.sample, key, 12, 200,
                                chunk_steps=100, stop_at_first=False)

    def one(i):
        k = jax.random.fold_in(key, i)
        init_key, _ = jax.random.split(k)
        return run(method, k, task.space.sample(init_key), params, 200)[0].solved_at

    at = np.asarray(jax.jit(jax.vmap(one))(jnp.arange(12)))
    assert res.num_steps_run == 200 and res.num_restarts == 12
    assert res.num_solved == int((at >= 0).sum()) > 0
    assert res.steps == int(at[at >= 0].min())
    assert bool(task.solved(jnp.asarray(res.program)))
    first = O.solve_with_restarts(method, params, task.space.sample, key, 12, 200,
                                  chunk_steps=100)
    assert first.solved and first.steps == res.steps and first.num_steps_run == 100


@pytest.mark.slow
def test_swap_solved_in_every_one_of_100_runs():
    """Table 2: GradSearch+ (spec preset) solves Swap in 100 of 100 runs within 20 000
    steps (the paper's cap is one hour per run)."""
    task = P.circuit("swap")
    method, params = O.gradsearch_plus(task)

    def one(key):
        k1, k2 = jax.random.split(key)
        return run(method, k2, task.space.sample(k1), params, 20000)[0]

    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(0), s))(jnp.arange(100))
    final = jax.jit(jax.vmap(one))(keys)
    assert np.all(np.asarray(final.solved_at) >= 0)
    assert np.all(np.asarray(jax.vmap(task.solved)(final.z)))


def test_restart_batch_without_solution_returns_the_best_program():
    """On an unsatisfiable sketch (checked exhaustively) no restart is solved; the batch
    reports the best program (``best_z``) of the restart with the smallest ``best_f``, as
    the same restarts run one by one with ``core.run`` give it."""
    task = _and_or(2)
    assert not _brute_force_solvable(task)
    method, params = O.gradsearch_plus(task)
    res = O.solve_with_restarts(method, params, task.space.sample, jax.random.key(3), 8, 60,
                                chunk_steps=30, stop_at_first=False)
    assert not res.solved and res.num_solved == 0 and res.steps == -1
    assert res.num_steps_run == 60

    def one(i):
        k = jax.random.fold_in(jax.random.key(3), i)
        init_key, _ = jax.random.split(k)
        final = run(method, k, task.space.sample(init_key), params, 60)[0]
        return final.best_f, final.best_z

    best_f, best_z = jax.jit(jax.vmap(one))(jnp.arange(8))
    best_f = np.asarray(best_f)
    assert len(np.unique(best_f)) > 1  # the restarts differ, so the choice matters
    np.testing.assert_array_equal(res.program, np.asarray(best_z)[int(np.argmin(best_f))])
