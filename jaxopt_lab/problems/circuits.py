"""Boolean circuits in TerpreT's register-machine circuit model, and a printer for them.

W wires hold bits; G gates run in order, gate ``g`` reads wires ``in1[g]``, ``in2[g]``,
computes its type in {AND, OR, XOR, NOT, NOP} (NOT and NOP read only ``in1``) and
overwrites wire ``out[g]``; the outputs are wires ``0..O-1`` after the last gate. The
differentiable version holds wire probabilities and mixes reads, gate types and writes
with the parameters' distributions [1]. Tasks of the GradSearch paper's Table 2 [2]:
``nand``, ``swap``, ``shift``, ``adder`` (TerpreT's 1-bit full adder), ``full_adder``
(its 2-bit adder on 8 sampled inputs) and ``full_adder_all16`` (all 16 inputs).

[1] Gaunt et al., "TerpreT", arXiv:1608.04428 (2016), and its ``models/circuit.py``.
[2] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
"""

from __future__ import annotations

import itertools
from typing import Mapping

import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.problems.programs import DiscreteSpace, ProgramTask, bce_task, examples

__all__ = ["GATE_TYPES", "CIRCUITS", "FULL_ADDER_DRAWS", "circuit_task", "circuit",
           "simulate_circuit", "format_circuit"]

GATE_TYPES = ("AND", "OR", "XOR", "NOT", "NOP")
CIRCUITS = ("nand", "swap", "shift", "adder", "full_adder", "full_adder_all16")
# The 2-bit adder's 8 training inputs: TerpreT's make_full_adder_ex draws 8 of 0..15 with
# replacement from NumPy's legacy generator seeded with 0.
FULL_ADDER_DRAWS = (12, 15, 5, 0, 3, 11, 3, 7)


def _gate_outputs(a, b):
    """``[..., 5]`` soft outputs of AND, OR, XOR, NOT, NOP on bit probabilities a, b."""
    return jnp.stack([a * b, a + b - a * b, a + b - 2.0 * a * b, 1.0 - a, a], axis=-1)


def circuit_task(num_wires: int, num_gates: int, num_outputs: int, inputs, outputs,
                 name: str = "circuit", eps: float = 1e-7) -> ProgramTask:
    """A circuit task: the sketch (W, G, O) and its examples.

    Parameters (leaves): ``"type" [G]`` with 5 values (:data:`GATE_TYPES`), ``"in1"``,
    ``"in2"``, ``"out"`` ``[G]`` with W values. Wires start as the example's inputs padded
    with zeros. Loss: binary cross-entropy summed over output wires.

    Args:
      num_wires: W.
      num_gates: G.
      num_outputs: O.
      inputs: ``[num_examples, num_inputs]`` bits, ``num_inputs <= W``.
      outputs: ``[num_examples, O]`` bits.
      name: task name.
      eps: inside the logs of the binary cross-entropy.

    Raises:
      ValueError: bad sizes, widths that do not match the circuit, non-binary values, or
        inconsistent examples (the same input with two different outputs).
    """
    for arg, v in (("num_wires", num_wires), ("num_gates", num_gates),
                   ("num_outputs", num_outputs)):
        _checks.check_int(v, arg)
    if num_outputs > num_wires:
        raise ValueError(f"num_outputs ({num_outputs}) must be <= num_wires ({num_wires})")
    x, y = examples(inputs, outputs)
    if x.shape[1] > num_wires:
        raise ValueError(f"inputs: width {x.shape[1]} exceeds num_wires = {num_wires}")
    if y.shape[1] != num_outputs:
        raise ValueError(f"outputs: width {y.shape[1]} must equal num_outputs = {num_outputs}")
    seen = {}
    for row_in, row_out in zip(x.astype(int).tolist(), y.astype(int).tolist()):
        key = tuple(row_in)
        if key in seen and seen[key] != row_out:
            raise ValueError(f"examples are inconsistent: input {list(key)} has outputs "
                             f"{seen[key]} and {row_out}")
        seen[key] = row_out
    w, g, o = num_wires, num_gates, num_outputs
    space = DiscreteSpace((("type", (g,), 5), ("in1", (g,), w), ("in2", (g,), w),
                           ("out", (g,), w)))
    wires0 = np.zeros((x.shape[0], w), np.float32)
    wires0[:, :x.shape[1]] = x
    wires0 = jnp.asarray(wires0)

    def predict(probs):
        p = wires0.astype(probs["type"].dtype)  # [E, W]
        for gate in range(g):  # static unroll: G is small
            a = p @ probs["in1"][gate]  # [E]
            b = p @ probs["in2"][gate]
            r = _gate_outputs(a, b) @ probs["type"][gate]  # [E]
            write = probs["out"][gate][None, :]  # [1, W]
            p = write * r[:, None] + (1.0 - write) * p
        return p[:, :o]

    return bce_task(name, space, predict, x, y, eps=eps,
                    meta=(("W", w), ("G", g), ("O", o), ("num_examples", int(x.shape[0]))))


def _bits(value: int, width: int) -> list:
    return [(value >> (width - 1 - i)) & 1 for i in range(width)]


def _circuit_examples(name: str):
    if name == "nand":
        rows = [([a, b], [1 - a * b]) for a, b in itertools.product((0, 1), repeat=2)]
        return 3, 2, 1, rows
    if name == "swap":
        rows = [([a, b], [b, a]) for a, b in itertools.product((0, 1), repeat=2)]
        return 3, 3, 2, rows
    if name == "shift":
        rows = [([c, u, v], [c, v, u] if c else [c, u, v])
                for c, u, v in itertools.product((0, 1), repeat=3)]
        return 4, 5, 3, rows
    if name == "adder":
        rows = [([a, b, c], _bits(a + b + c, 2))
                for a, b, c in itertools.product((0, 1), repeat=3)]
        return 4, 5, 2, rows
    values = FULL_ADDER_DRAWS if name == "full_adder" else range(16)
    rows = []
    for v in values:
        a1, a0, b1, b0 = _bits(v, 4)
        rows.append(([a1, a0, b1, b0], _bits(2 * a1 + a0 + 2 * b1 + b0, 3)))
    return 5, 8, 3, rows


def circuit(name: str, num_wires: int | None = None, num_gates: int | None = None,
            eps: float = 1e-7) -> ProgramTask:
    """One of the circuit tasks of Table 2 (plus ``full_adder_all16``).

    Args:
      name: one of :data:`CIRCUITS`.
      num_wires: overrides the task's W.
      num_gates: overrides the task's G.
      eps: inside the logs of the binary cross-entropy.
    """
    _checks.check_choice(name, "name", CIRCUITS)
    w, g, o, rows = _circuit_examples(name)
    w = w if num_wires is None else num_wires
    g = g if num_gates is None else num_gates
    x = np.asarray([r[0] for r in rows], np.float32)
    y = np.asarray([r[1] for r in rows], np.float32)
    return circuit_task(w, g, o, x, y, name=name, eps=eps)


def _gates(program) -> list:
    return list(zip(*(np.asarray(program[k]).tolist() for k in ("type", "in1", "in2", "out"))))


def simulate_circuit(program: Mapping[str, np.ndarray], inputs, num_wires: int,
                     num_outputs: int) -> np.ndarray:
    """Plain-Python execution of a discrete circuit, ``[num_examples, O]`` int.

    Used to verify circuits found by any means (GradSearch, Z3) independently of the
    differentiable program.
    """
    out = []
    for row in np.asarray(inputs, int).tolist():
        wires = list(row) + [0] * (num_wires - len(row))
        for t, i1, i2, o in _gates(program):
            a, b = wires[i1], wires[i2]
            wires[o] = (a & b, a | b, a ^ b, 1 - a, a)[t]
        out.append(wires[:num_outputs])
    return np.asarray(out, int)


def format_circuit(task: ProgramTask, program) -> str:
    """A circuit as one line per gate, e.g. ``"w2 <- XOR(w0, w1)"``.

    NOT reads one wire (``"w0 <- NOT(w1)"``) and NOP copies it (``"w0 <- w1"``; a NOP onto
    its own wire is ``"w0 <- w0"``, a gate that does nothing).

    Args:
      task: the circuit task (for its parameter layout).
      program: flat ``[num_vars]`` or a dict ``{"type", "in1", "in2", "out"}``.
    """
    if not isinstance(program, Mapping):
        program = task.space.to_dict(task.space.check(program, "program"))
    lines = []
    for t, i1, i2, o in _gates(program):
        name = GATE_TYPES[t]
        if name == "NOP":
            expr = f"w{i1}"
        elif name == "NOT":
            expr = f"NOT(w{i1})"
        else:
            expr = f"{name}(w{i1}, w{i2})"
        lines.append(f"w{o} <- {expr}")
    return "\n".join(lines)
