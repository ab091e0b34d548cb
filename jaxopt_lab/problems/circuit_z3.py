"""Circuit synthesis with the Z3 SMT solver: the same sketch and examples as a circuit task.

The synthesis problem of :mod:`jaxopt_lab.problems.circuits` (gate type, two input wires
and one output wire per gate, in-place wire updates, every example) is encoded for Z3
(``z3-solver``, imported on first use) in one of three ways:

  * ``"int"``: one integer per gate parameter, wire reads as ``If`` chains;
  * ``"onehot"``: propositional. One Boolean per (parameter, value) with exactly-one
    constraints, per example one Boolean per wire after every gate, the read values and the
    gate result tied to them by implications; solved by Z3's SAT engine (QF_FD);
  * ``"onehot_sym"`` (default): ``"onehot"`` plus symmetry breaking that keeps at least one
    circuit of every class of equivalent circuits, so it is sound (unsat stays unsat):
    NOT/NOP read ``in2 = 0``; AND/OR/XOR are commutative, so ``in1 <= in2``; AND/OR of a
    wire with itself is a copy (NOP does it), so forbidden; an idle gate (NOP writing its
    own input wire) is canonically ``in1 = out = 0`` and idle gates come first (moving a
    no-op to the front changes nothing).

Example::

    task = circuits.circuit("nand")
    program, result = circuit_z3.synthesize(task, timeout_s=60.0)
    print(circuits.format_circuit(task, program))  # one gate a line: "w2 <- AND(w0, w1)"
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.problems.programs import ProgramTask

__all__ = ["ENCODINGS", "Encoding", "encode", "synthesize"]

ENCODINGS = ("onehot_sym", "onehot", "int")


class Encoding(NamedTuple):
    """A circuit task encoded for Z3.

    Attributes:
      solver: the ``z3.Solver`` holding the constraints (call ``solver.check()``).
      decode: ``decode(solver.model()) -> {"type", "in1", "in2", "out"}`` int arrays ``[G]``.
    """

    solver: Any
    decode: Callable


def _z3():
    try:
        import z3
    except ImportError as err:
        raise ImportError("circuit synthesis with Z3 needs the z3-solver package "
                          "(pip install z3-solver, or the 'experiments' extra)") from err
    return z3


def encode(task: ProgramTask, encoding: str = "onehot_sym") -> Encoding:
    """Encodes a circuit task (from :mod:`jaxopt_lab.problems.circuits`) for Z3.

    Raises:
      ValueError: ``task`` is not a circuit task or ``encoding`` is unknown.
      ImportError: z3-solver is not installed.
    """
    _checks.check_instance(task, ProgramTask, "task")
    _checks.check_choice(encoding, "encoding", ENCODINGS)
    meta = dict(task.meta)
    if not {"W", "G", "O"} <= set(meta):
        raise ValueError(f"task must be a circuit task (meta with W, G, O), got {task.name!r}")
    x = np.asarray(task.inputs).astype(int)
    y = np.asarray(task.targets).astype(int)
    if encoding == "int":
        return _int(x, y, meta["W"], meta["G"], meta["O"])
    return _onehot(x, y, meta["W"], meta["G"], meta["O"], symmetry=encoding == "onehot_sym")


def synthesize(task: ProgramTask, *, timeout_s: float,
               encoding: str = "onehot_sym") -> tuple[dict | None, str]:
    """Finds a circuit that fits every example of ``task`` with Z3.

    Args:
      task: a circuit task.
      timeout_s: Z3's time limit in seconds (> 0).
      encoding: one of :data:`ENCODINGS`.

    Returns:
      ``(program, result)``: the circuit as a dict ``{"type", "in1", "in2", "out"}`` of int
      arrays ``[G]`` (``None`` unless Z3 answers ``"sat"``) and Z3's answer (``"sat"``,
      ``"unsat"`` or ``"unknown"``).
    """
    _checks.check_number(timeout_s, "timeout_s", positive=True)
    enc = encode(task, encoding)
    enc.solver.set("timeout", int(timeout_s * 1000))
    result = str(enc.solver.check())
    return (enc.decode(enc.solver.model()) if result == "sat" else None), result


def _int(x, y, num_wires, num_gates, num_outputs) -> Encoding:
    z3 = _z3()
    solver = z3.Solver()
    names = ("type", "in1", "in2", "out")
    var = {n: [z3.Int(f"{n}_{g}") for g in range(num_gates)] for n in names}
    for g in range(num_gates):
        solver.add(var["type"][g] >= 0, var["type"][g] < 5)
        for n in names[1:]:
            solver.add(var[n][g] >= 0, var[n][g] < num_wires)
    for e in range(x.shape[0]):
        wires = [z3.BoolVal(bool(x[e, w]) if w < x.shape[1] else False)
                 for w in range(num_wires)]
        for g in range(num_gates):
            def read(sel, wires=wires):
                expr = wires[-1]
                for w in range(num_wires - 2, -1, -1):
                    expr = z3.If(sel == w, wires[w], expr)
                return expr

            a, b = read(var["in1"][g]), read(var["in2"][g])
            t = var["type"][g]
            r = z3.If(t == 0, z3.And(a, b), z3.If(t == 1, z3.Or(a, b), z3.If(
                t == 2, z3.Xor(a, b), z3.If(t == 3, z3.Not(a), a))))
            new = []
            for w in range(num_wires):
                v = z3.Bool(f"wire_{e}_{g}_{w}")
                solver.add(v == z3.If(var["out"][g] == w, r, wires[w]))
                new.append(v)
            wires = new
        for o in range(num_outputs):
            solver.add(wires[o] == bool(y[e, o]))

    def decode(model):
        return {n: np.asarray([model.eval(v, model_completion=True).as_long() for v in var[n]])
                for n in names}

    return Encoding(solver, decode)


def _onehot(x, y, num_wires, num_gates, num_outputs, symmetry) -> Encoding:
    z3 = _z3()
    solver = z3.SolverFor("QF_FD")
    wires_range, gates = range(num_wires), range(num_gates)
    sel = {n: [[z3.Bool(f"{n}_{g}_{v}") for v in range(5 if n == "type" else num_wires)]
               for g in gates] for n in ("type", "in1", "in2", "out")}
    kind, in1, in2, out = (sel[n] for n in ("type", "in1", "in2", "out"))
    for n in sel:
        for g in gates:
            solver.add(z3.PbEq([(v, 1) for v in sel[n][g]], 1))
    if symmetry:
        idle = [z3.Bool(f"idle_{g}") for g in gates]
        for g in gates:
            unary = z3.Or(kind[g][3], kind[g][4])
            solver.add(z3.Implies(unary, in2[g][0]))
            for w1 in wires_range:
                for w2 in range(w1):
                    solver.add(z3.Not(z3.And(z3.Not(unary), in1[g][w1], in2[g][w2])))
                solver.add(z3.Not(z3.And(z3.Or(kind[g][0], kind[g][1]), in1[g][w1],
                                         in2[g][w1])))
            solver.add(idle[g] == z3.And(kind[g][4], z3.Or(
                [z3.And(in1[g][w], out[g][w]) for w in wires_range])))
            solver.add(z3.Implies(idle[g], z3.And(in1[g][0], out[g][0])))
            if g + 1 < num_gates:
                solver.add(z3.Implies(idle[g + 1], idle[g]))
    for e in range(x.shape[0]):
        wires = [z3.BoolVal(bool(x[e, w]) if w < x.shape[1] else False) for w in wires_range]
        for g in gates:
            a, b, r = (z3.Bool(f"{c}_{e}_{g}") for c in "abr")
            for w in wires_range:
                solver.add(z3.Implies(in1[g][w], a == wires[w]))
                solver.add(z3.Implies(in2[g][w], b == wires[w]))
            for k, f in enumerate((z3.And(a, b), z3.Or(a, b), z3.Xor(a, b), z3.Not(a), a)):
                solver.add(z3.Implies(kind[g][k], r == f))
            new = []
            for w in wires_range:
                v = z3.Bool(f"wire_{e}_{g}_{w}")
                solver.add(z3.Implies(out[g][w], v == r))
                solver.add(z3.Implies(z3.Not(out[g][w]), v == wires[w]))
                new.append(v)
            wires = new
        for o in range(num_outputs):
            solver.add(wires[o] == bool(y[e, o]))

    def decode(model):
        def value(row):
            hot = [z3.is_true(model.eval(v, model_completion=True)) for v in row]
            return int(np.argmax(hot))

        return {n: np.asarray([value(row) for row in sel[n]]) for n in sel}

    return Encoding(solver, decode)
