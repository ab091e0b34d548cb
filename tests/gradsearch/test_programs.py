"""Differentiable programs with one-hot parameters == exact discrete execution; a new task
written as the how-to of ``jaxopt_lab.problems.programs`` shows; the circuit printer.

The reference is a plain-Python interpreter written here, independently of the package,
following the task definitions (parity chain, TerpreT's circuit model, the DNF)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import gradsearch
from jaxopt_lab.problems import circuits, dnf, programs as P


def python_circuit(types, in1, in2, out, row, num_wires, num_outputs):
    wires = [int(b) for b in row] + [0] * (num_wires - len(row))
    for t, a_idx, b_idx, o in zip(types, in1, in2, out):
        a, b = wires[a_idx], wires[b_idx]
        if t == 0:
            r = a and b
        elif t == 1:
            r = a or b
        elif t == 2:
            r = a != b
        elif t == 3:
            r = not a
        else:
            r = a
        wires[o] = int(r)
    return wires[:num_outputs]


def python_parity(bits):
    x = [0] + [int(b) for b in bits]
    k = len(x)
    return [x[i] ^ x[(i + 1) % k] for i in range(k)]


def python_dnf(w, s, row):
    n = len(row)
    lits = [int(b) for b in row] + [1 - int(b) for b in row]
    out = 0
    for j in range(len(s)):
        rule = all(lits[i] for i in range(2 * n) if w[i][j])
        out = out or (s[j] and rule)
    return [int(out)]


def onehot_outputs(task, z):
    probs = task.space.to_dict(P.onehot(task.space, jnp.asarray(z)))
    return np.asarray(task.predict(probs))


@pytest.mark.parametrize("name", circuits.CIRCUITS)
def test_circuit_onehot_equals_python_interpreter(name):
    task = circuits.circuit(name)
    meta = dict(task.meta)
    rng = np.random.default_rng(0)
    inputs = np.asarray(task.inputs).astype(int)
    batch = jax.jit(jax.vmap(lambda z: task.predict(task.space.to_dict(P.onehot(task.space, z)))))
    zs = np.stack([rng.integers(0, task.space.cards) for _ in range(40)]).astype(np.int32)
    outs = np.asarray(batch(jnp.asarray(zs)))
    for z, out in zip(zs, outs):
        prog = task.space.to_dict(jnp.asarray(z))
        gates = [np.asarray(prog[k]).tolist() for k in ("type", "in1", "in2", "out")]
        ref = [python_circuit(*gates, row, meta["W"], meta["O"]) for row in inputs]
        np.testing.assert_array_equal(out, np.asarray(ref, np.float32))  # exactly 0/1
        fits = (np.asarray(ref) == np.asarray(task.targets)).all()
        assert bool(task.solved(jnp.asarray(z))) == fits
        np.testing.assert_array_equal(circuits.simulate_circuit(prog, inputs, meta["W"], meta["O"]),
                                      ref)


def test_parity_onehot_equals_python():
    task = P.parity_chain(9)
    rng = np.random.default_rng(1)
    for _ in range(20):
        z = rng.integers(0, 2, 8).astype(np.int32)
        np.testing.assert_array_equal(onehot_outputs(task, z)[0], python_parity(z))
        assert bool(task.solved(jnp.asarray(z))) == (not any(z))


def test_parity_loss_and_gradient_equal_the_row_major_form():
    """The chain stored value-major ([2, K]) gives the [K, 2] form's loss and gradient bit for
    bit, at one-hot and at interior points, alone and under vmap."""
    k, eps = 64, 1e-7
    task = P.parity_chain(k, eps)

    def row_major(mat):  # [K-1, 2] -> loss, the definition written with the chain as rows
        mu = jnp.concatenate([jnp.asarray([[1.0, 0.0]], mat.dtype), mat], axis=0)
        return -jnp.sum(jnp.log(jnp.sum(mu * jnp.roll(mu, -1, axis=0), axis=-1) + eps))

    key = jax.random.key(4)
    points = jnp.stack([jax.nn.one_hot(jax.random.bernoulli(key, 0.5, (k - 1,)).astype(jnp.int32), 2),
                        jax.nn.softmax(jax.random.normal(key, (k - 1, 2)))])
    single = [(jax.jit(jax.value_and_grad(f)), p) for f in (task.loss_flat, row_major)
              for p in points]
    batched = [(jax.jit(jax.vmap(jax.value_and_grad(f))), points)
               for f in (task.loss_flat, row_major)]
    for (ours, a), (ref, b) in [(single[0], single[2]), (single[1], single[3]),
                                (batched[0], batched[1])]:
        for x, y in zip(ours(a), ref(b)):
            np.testing.assert_array_equal(x, y)


def test_dnf_onehot_equals_python():
    task = dnf.dnf_task(jax.random.key(3), num_inputs=5, num_rules=3, num_true_rules=2,
                      min_literals=1, max_literals=3)
    rng = np.random.default_rng(2)
    x = np.asarray(task.inputs).astype(int)
    for _ in range(10):
        z = rng.integers(0, 2, task.space.num_vars).astype(np.int32)
        prog = task.space.to_dict(jnp.asarray(z))
        w, s = np.asarray(prog["W"]).tolist(), np.asarray(prog["S"]).tolist()
        ref = np.asarray([python_dnf(w, s, row) for row in x], np.float32)
        np.testing.assert_array_equal(onehot_outputs(task, z), ref)
    # the ground truth is realisable: targets are not constant for this seed
    assert 0 < float(task.targets.mean()) < 1


def test_task_data_match_definitions():
    adder = circuits.circuit("adder")
    for row, out in zip(np.asarray(adder.inputs), np.asarray(adder.targets)):
        total = int(row.sum())
        assert out.tolist() == [total >> 1, total & 1]
    fa = circuits.circuit("full_adder_all16")
    assert fa.inputs.shape == (16, 4)
    for row, out in zip(np.asarray(fa.inputs).astype(int), np.asarray(fa.targets).astype(int)):
        s = 2 * row[0] + row[1] + 2 * row[2] + row[3]
        assert out.tolist() == [(s >> 2) & 1, (s >> 1) & 1, s & 1]
    shift = circuits.circuit("shift")
    for row, out in zip(np.asarray(shift.inputs), np.asarray(shift.targets)):
        c, u, v = row
        assert out.tolist() == ([c, v, u] if c else [c, u, v])
    # search space sizes (log10): (5 W^3)^G for each task's W and G
    sizes = {n: circuits.circuit(n).space.log10_size for n in circuits.CIRCUITS}
    np.testing.assert_allclose([sizes[n] for n in ("nand", "swap", "shift", "full_adder")],
                               [4.26, 6.39, 12.53, 22.37], atol=0.01)


def test_hand_written_solutions_fit():
    # 1-bit full adder: 5 gates, wire 3 scratch. Outputs wire0 = carry, wire1 = sum.
    # w3 = a xor b; w1 = w3 xor c (sum); w3' ... use: t=a&b -> w0? keep explicit:
    # g0: w3 = XOR(w0, w1)       (a^b)
    # g1: w0 = AND(w0, w1)       (a&b)
    # g2: w1 = XOR(w3, w2)       (sum)
    # g3: w3 = AND(w3, w2)       ((a^b)&c)
    # g4: w0 = OR(w0, w3)        (carry)
    adder = circuits.circuit("adder")
    prog = {"type": [2, 0, 2, 0, 1], "in1": [0, 0, 3, 3, 0], "in2": [1, 1, 2, 2, 3],
            "out": [3, 0, 1, 3, 0]}
    z = adder.space.flatten(prog)
    assert bool(adder.solved(z))
    assert float(adder.program_loss(z)) < 1e-5
    nand = circuits.circuit("nand")
    z = nand.space.flatten({"type": [0, 3], "in1": [0, 0], "in2": [1, 0], "out": [0, 0]})
    assert bool(nand.solved(z))


def test_circuit_printer():
    """The hand-written 1-bit full adder above and NAND, printed gate by gate."""
    adder = circuits.circuit("adder")
    prog = {"type": [2, 0, 2, 0, 1], "in1": [0, 0, 3, 3, 0], "in2": [1, 1, 2, 2, 3],
            "out": [3, 0, 1, 3, 0]}
    assert circuits.format_circuit(adder, prog) == "\n".join([
        "w3 <- XOR(w0, w1)", "w0 <- AND(w0, w1)", "w1 <- XOR(w3, w2)", "w3 <- AND(w3, w2)",
        "w0 <- OR(w0, w3)"])
    nand = circuits.circuit("nand")
    z = nand.space.flatten({"type": [4, 3], "in1": [2, 0], "in2": [1, 0], "out": [1, 0]})
    assert circuits.format_circuit(nand, z) == "w1 <- w2\nw0 <- NOT(w0)"
    with pytest.raises(ValueError, match="program"):
        circuits.format_circuit(nand, np.zeros(7, np.int32))


def _gate_task():
    """The how-to's task (programs module docstring): choose a two-input gate in
    {AND, OR, XOR} and whether to negate it; the examples are NAND."""
    inputs = jnp.asarray([[0, 0], [0, 1], [1, 0], [1, 1]], jnp.float32)
    targets = jnp.asarray([[1], [1], [1], [0]], jnp.float32)
    space = P.DiscreteSpace((("op", (1,), 3), ("negate", (1,), 2)))

    def predict(probs):
        a, b = inputs[:, 0], inputs[:, 1]
        gates = jnp.stack([a * b, a + b - a * b, a + b - 2 * a * b], axis=-1)  # AND OR XOR
        r = gates @ probs["op"][0]
        return (probs["negate"][0, 0] * r + probs["negate"][0, 1] * (1 - r))[:, None]

    return P.bce_task("gate", space, predict, inputs, targets)


def test_new_task_as_the_how_to_shows():
    """A task written as the how-to says, solved by GradSearch, checked against brute force
    over its 6 programs with a plain-Python interpreter."""
    task = _gate_task()
    gates = (lambda a, b: a & b, lambda a, b: a | b, lambda a, b: a ^ b)
    rows = [(0, 0), (0, 1), (1, 0), (1, 1)]
    fits = {(op, neg) for op in range(3) for neg in range(2)
            if all((gates[op](a, b) ^ neg) == 1 - (a & b) for a, b in rows)}
    assert fits == {(0, 1)}  # only NOT(AND)
    for op in range(3):
        for neg in range(2):
            z = jnp.asarray([op, neg], jnp.int32)
            assert bool(task.solved(z)) == ((op, neg) in fits)
    result = gradsearch.minimize(task, key=jax.random.key(0), num_restarts=8, max_steps=50)
    assert bool(result.stats["solved"])
    assert tuple(np.asarray(result.x).tolist()) in fits
    program = {k: np.asarray(v).tolist() for k, v in task.space.to_dict(result.x).items()}
    assert program == {"op": [0], "negate": [1]}
    assert float(result.f) < 1e-5


def test_bad_input():
    with pytest.raises(ValueError, match="predict must return a real array of shape"):
        P.bce_task("bad", P.DiscreteSpace((("a", (1,), 2),)), lambda probs: probs["a"],
                   [[0]], [[1]])
    with pytest.raises(ValueError, match="space"):
        P.bce_task("bad", (("a", (1,), 2),), lambda probs: probs["a"], [[0]], [[1]])
    with pytest.raises(ValueError, match="name"):
        circuits.circuit("adder4")
    with pytest.raises(ValueError, match="num_outputs"):
        circuits.circuit_task(3, 2, 1, [[0, 1]], [[1, 0]])
    with pytest.raises(ValueError, match="num_wires"):
        circuits.circuit_task(2, 2, 1, [[0, 1, 1]], [[1]])
    with pytest.raises(ValueError, match="inconsistent"):
        circuits.circuit_task(3, 2, 1, [[0, 1], [0, 1]], [[1], [0]])
    with pytest.raises(ValueError, match="0/1"):
        circuits.circuit_task(3, 2, 1, [[0, 2]], [[1]])
    with pytest.raises(ValueError, match="num_vars"):
        P.parity_chain(1)
    nand = circuits.circuit("nand")
    with pytest.raises(ValueError, match=r"x0\[0\] = 5 is outside"):
        nand.space.check(np.asarray([5, 0, 0, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="shape"):
        nand.space.check(np.zeros(7, np.int32))
    prog = {"type": [0, 3], "in1": [0, 0], "in2": [1, 0], "out": [0, 3]}  # wire 3 of W = 3
    with pytest.raises(ValueError, match=r"assignment\[7\] = 3 is outside"):
        nand.space.flatten(prog)
    with pytest.raises(ValueError, match="missing"):
        nand.space.flatten({"type": [0, 3]})
    with pytest.raises(ValueError, match="outputs"):  # output width does not match O
        circuits.circuit_task(3, 2, 2, [[0, 1]], [[1]])
    with pytest.raises(ValueError, match="num_inputs"):
        dnf.dnf_task(jax.random.key(0), num_inputs=0)
    with pytest.raises(ValueError, match="num_values"):
        P.DiscreteSpace((("x", (3,), 1),))
