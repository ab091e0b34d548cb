"""Circuit families of growing size, each on its whole truth table, with a reference circuit.

Every family member is a circuit task of :mod:`jaxopt_lab.problems.circuits` (same sketch
model: W wires, G gates in order, outputs on wires ``0..O-1``) whose sketch (W, G) is the
size of a hand-built reference circuit, so every task is satisfiable; the reference is
returned with the task and checked in the tests against integer arithmetic.

* ``adder`` ``n``: n-bit ripple-carry adder without carry-in. Inputs ``a_{n-1}..a_0,
  b_{n-1}..b_0`` (most significant first, as Table 2's 2-bit adder), outputs the
  ``n + 1`` bits of ``a + b`` most significant first; ``W = 2n + 1`` (one scratch wire for
  the carry), ``G = 5n - 2``. ``n = 2`` is ``circuits.circuit("full_adder_all16")``.
* ``multiplier`` ``2``: 2-bit multiplier, outputs the 4 bits of ``a * b``; ``W = 5``,
  ``G = 11`` (6 AND, 2 XOR, 3 copies).
* ``comparator`` ``n``: one output bit ``a > b``; ``W = 2n`` (no scratch: the carry chain of
  ``a + not(b)`` overwrites the inputs), ``G = 5n - 3``.

Example::

    task, reference = circuit_families.family_circuit("adder", 3)   # W7 G13, 64 examples
"""

from __future__ import annotations

import itertools

import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.problems.circuits import circuit_task
from jaxopt_lab.problems.programs import ProgramTask

__all__ = ["FAMILIES", "family_circuit", "reference_circuit", "truth_table"]

FAMILIES = ("adder", "multiplier", "comparator")
AND, OR, XOR, NOT, NOP = range(5)


def _check(family: str, n: int) -> None:
    _checks.check_choice(family, "family", FAMILIES)
    if family == "multiplier":
        _checks.check_int(n, "n", minimum=2, maximum=2)
    else:
        _checks.check_int(n, "n", minimum=1, maximum=6)


def _int(bits) -> int:
    return int("".join(str(int(b)) for b in bits), 2) if len(bits) else 0


def truth_table(family: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs [2^(2n), 2n], outputs [2^(2n), O])`` bits, most significant first, computed
    with integer arithmetic."""
    _check(family, n)
    rows_in, rows_out = [], []
    for bits in itertools.product((0, 1), repeat=2 * n):
        a, b = _int(bits[:n]), _int(bits[n:])
        if family == "adder":
            value, width = a + b, n + 1
        elif family == "multiplier":
            value, width = a * b, 2 * n
        else:
            value, width = int(a > b), 1
        rows_in.append(bits)
        rows_out.append([(value >> (width - 1 - i)) & 1 for i in range(width)])
    return np.asarray(rows_in, np.float32), np.asarray(rows_out, np.float32)


def _adder(n: int) -> tuple[int, list]:
    """Ripple carry: bit 0 a half adder, then full adders; the carry lives on the scratch
    wire ``2n``, the sum of bit ``i >= 1`` lands on ``a_{i-1}``'s wire ``n - i`` (its output
    place), ``s0`` is copied to wire ``n`` at the end and the last carry goes to wire 0."""
    a = [n - 1 - i for i in range(n)]  # wire of a_i
    b = [2 * n - 1 - i for i in range(n)]
    c = 2 * n
    if n == 1:
        return 3, [(AND, 0, 1, 2), (XOR, 0, 1, 1), (NOP, 2, 0, 0)]
    gates = [(AND, a[0], b[0], c), (XOR, a[0], b[0], b[0])]
    for i in range(1, n):
        f = a[i - 1]  # free wire; the sum of bit i goes there
        carry = a[i] if i == n - 1 else c
        gates += [(XOR, a[i], b[i], f), (AND, a[i], b[i], b[i]), (AND, f, c, a[i]),
                  (XOR, f, c, f), (OR, a[i], b[i], carry)]
    gates.append((NOP, b[0], 0, n))
    return 2 * n + 1, gates


def _multiplier() -> tuple[int, list]:
    # wires 0 a1, 1 a0, 2 b1, 3 b0, 4 scratch; outputs p3 p2 p1 p0
    return 5, [(AND, 1, 3, 4), (AND, 0, 3, 3), (AND, 1, 2, 1), (AND, 0, 2, 2),
               (AND, 1, 3, 0), (XOR, 1, 3, 1), (XOR, 2, 0, 3), (AND, 2, 0, 0),
               (NOP, 1, 0, 2), (NOP, 3, 0, 1), (NOP, 4, 0, 3)]


def _comparator(n: int) -> tuple[int, list]:
    """``a > b`` is the carry out of ``a + not(b)``; carry ``c' = ((a ^ c) & (not b ^ c)) ^ c``
    (majority), written onto ``a_i``'s wire, so the last carry lands on wire 0."""
    a = [n - 1 - i for i in range(n)]
    b = [2 * n - 1 - i for i in range(n)]
    c = 0 if n == 1 else b[0]
    gates = [(NOT, b[0], 0, b[0]), (AND, a[0], b[0], c)]
    for i in range(1, n):
        gates += [(XOR, b[i], c, b[i]), (NOT, b[i], 0, b[i]), (XOR, a[i], c, a[i]),
                  (AND, a[i], b[i], a[i]), (XOR, a[i], c, a[i])]
        c = a[i]
    return 2 * n, gates


def reference_circuit(family: str, n: int) -> tuple[int, dict]:
    """``(W, program)``: the hand-built circuit, ``program = {"type", "in1", "in2", "out"}``
    int arrays ``[G]`` (a NOT or NOP reads ``in2 = 0``)."""
    _check(family, n)
    w, gates = (_adder(n) if family == "adder" else _multiplier() if family == "multiplier"
                else _comparator(n))
    cols = np.asarray(gates, int).T
    return w, {k: cols[i] for i, k in enumerate(("type", "in1", "in2", "out"))}


def family_circuit(family: str, n: int, eps: float = 1e-7) -> tuple[ProgramTask, dict]:
    """``(task, reference program)``: the family member on its whole truth table, with the
    sketch of its reference circuit.

    Args:
      family: one of :data:`FAMILIES`.
      n: operand width in bits (1..6; the multiplier only 2).
      eps: inside the logs of the binary cross-entropy.
    """
    w, program = reference_circuit(family, n)
    x, y = truth_table(family, n)
    task = circuit_task(w, len(program["type"]), y.shape[1], x, y,
                        name=f"{family}{n}", eps=eps)
    return task, program
