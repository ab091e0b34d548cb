"""TerpreT program-synthesis tasks as differentiable, batched JAX programs.

Every task is a *sketch* with discrete parameters (binary or categorical) and a set of
input/output examples. The differentiable program takes, for every parameter, a vector of
probabilities over its values (a one-hot vector for a discrete program) and returns the
output-bit probabilities of every example, under the FMGD independence assumption of
TerpreT [1]. With one-hot parameters it is exactly the discrete program.

Tasks (specification: ``shared/specs/gradsearch.md`` §1–3, following [1, 2]):
  * parity chain of length K (a ring of XOR gates, one example; [1] §7, Selsam's blog);
  * Boolean circuits in TerpreT's register-machine circuit model (gate type in
    {AND, OR, XOR, NOT, NOP}, two input wires, one output wire, in-place wire updates):
    ``nand``, ``swap``, ``shift``, ``adder``, ``full_adder`` (8 sampled examples) and
    ``full_adder_all16``;
  * a DNF learner (literal/rule masks, the author's Neural-DNF parameterisation).

[1] Gaunt et al., "TerpreT: A Probabilistic Programming Language for Program Induction",
    arXiv:1608.04428 (2016).
[2] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "DiscreteSpace", "ProgramTask", "GATE_TYPES", "CIRCUITS", "TASK_NAMES",
    "parity_chain", "circuit", "circuit_task", "dnf_task", "make_task",
    "simulate_circuit", "onehot",
]

GATE_TYPES = ("AND", "OR", "XOR", "NOT", "NOP")


# ---------------------------------------------------------------------------------------
# The discrete search space: a pytree (dict) of categorical parameters.


@dataclasses.dataclass(frozen=True)
class DiscreteSpace:
    """A fixed set of named categorical parameter arrays (binary = cardinality 2).

    A discrete assignment is either a dict ``name -> int array of shape`` or its flat form
    ``z[num_vars]`` (leaves in declaration order, C order within a leaf). The
    differentiable programs take ``dict name -> float array [*shape, cardinality]``; the
    optimisers work on a padded matrix ``[num_vars, max_card]`` (:meth:`to_dict`).

    Attributes:
      leaves: tuple of ``(name, shape, cardinality)``.
    """

    leaves: tuple

    def __post_init__(self):
        names = set()
        for leaf in self.leaves:
            if len(leaf) != 3:
                raise ValueError(f"leaves must be (name, shape, cardinality) triples, got {leaf!r}")
            name, shape, card = leaf
            if name in names:
                raise ValueError(f"leaves: duplicate name {name!r}")
            names.add(name)
            if not isinstance(card, int) or card < 2:
                raise ValueError(
                    f"leaves: cardinality of {name!r} must be an int >= 2, got {card!r}")
            if not all(isinstance(s, int) and s >= 1 for s in shape):
                raise ValueError(f"leaves: shape of {name!r} must be positive ints, got {shape!r}")

    @property
    def sizes(self) -> tuple:
        return tuple(int(np.prod(shape, dtype=np.int64)) for _, shape, _ in self.leaves)

    @property
    def num_vars(self) -> int:
        return int(sum(self.sizes))

    @property
    def max_card(self) -> int:
        return max(card for _, _, card in self.leaves)

    @property
    def cards(self) -> np.ndarray:
        """Cardinality of every flat variable, ``[num_vars]`` int32."""
        return np.concatenate([np.full(n, c, np.int32)
                               for n, (_, _, c) in zip(self.sizes, self.leaves)])

    @property
    def valid(self) -> np.ndarray:
        """``[num_vars, max_card]`` bool: value ``j`` exists for variable ``v``."""
        return np.arange(self.max_card)[None, :] < self.cards[:, None]

    @property
    def log10_size(self) -> float:
        return float(np.sum(np.log10(self.cards.astype(np.float64))))

    def to_dict(self, mat: jax.Array) -> dict:
        """Padded ``[num_vars, max_card]`` (or ``[num_vars]``) -> dict of leaves."""
        out, start = {}, 0
        for n, (name, shape, card) in zip(self.sizes, self.leaves):
            block = mat[start:start + n]
            if mat.ndim == 2:
                out[name] = block[:, :card].reshape(tuple(shape) + (card,))
            else:
                out[name] = block.reshape(tuple(shape))
            start += n
        return out

    def flatten(self, assignment: Mapping[str, jax.Array]) -> jax.Array:
        """Dict of integer arrays -> flat ``z[num_vars]`` int32 (validated if concrete)."""
        missing = {name for name, _, _ in self.leaves} - set(assignment)
        if missing:
            raise ValueError(f"assignment: missing parameters {sorted(missing)}")
        parts = []
        for name, shape, card in self.leaves:
            value = assignment[name]
            if tuple(np.shape(value)) != tuple(shape):
                raise ValueError(f"assignment[{name!r}] must have shape {tuple(shape)}, "
                                 f"got {np.shape(value)}")
            parts.append(jnp.reshape(jnp.asarray(value, jnp.int32), (-1,)))
        z = jnp.concatenate(parts)
        self.check(z, argument="assignment")
        return z

    def check(self, z, argument: str = "x0") -> None:
        """Raises ``ValueError`` if a concrete ``z`` has the wrong shape or a value outside
        its cardinality. Traced values are only shape-checked."""
        if tuple(np.shape(z)) != (self.num_vars,):
            raise ValueError(f"{argument} must have shape ({self.num_vars},), got {np.shape(z)}")
        if isinstance(z, jax.core.Tracer):
            return
        arr = np.asarray(z)
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{argument} must be integers, got dtype {arr.dtype}")
        bad = (arr < 0) | (arr >= self.cards)
        if bad.any():
            v = int(np.argmax(bad))
            raise ValueError(f"{argument}: parameter {v} has value {int(arr[v])} outside its "
                             f"cardinality {int(self.cards[v])} (must be in [0, {self.cards[v]}))")

    def sample(self, key: jax.Array) -> jax.Array:
        """A uniformly random assignment ``z[num_vars]`` int32."""
        u = jax.random.uniform(key, (self.num_vars,))
        z = jnp.floor(u * jnp.asarray(self.cards, jnp.float32)).astype(jnp.int32)
        return jnp.minimum(z, jnp.asarray(self.cards - 1))


def onehot(space: DiscreteSpace, z: jax.Array, dtype=jnp.float32) -> jax.Array:
    """Flat assignment ``z[num_vars]`` -> padded one-hot ``[num_vars, max_card]``."""
    return jax.nn.one_hot(z, space.max_card, dtype=dtype)


# ---------------------------------------------------------------------------------------
# Tasks


class ProgramTask(NamedTuple):
    """A differentiable program-synthesis task.

    Attributes:
      name: task name.
      space: the :class:`DiscreteSpace` of the program's parameters.
      predict: ``predict(probs) -> [num_examples, num_outputs]`` output-bit probabilities;
        ``probs`` is a dict ``name -> [*shape, card]`` of per-parameter distributions.
      example_losses: ``example_losses(probs) -> [num_examples]`` loss of every example
        (binary cross-entropy summed over output bits, or the parity chain's log loss).
      targets: ``[num_examples, num_outputs]`` float32 target bits.
      inputs: ``[num_examples, num_inputs]`` input bits (empty for the parity chain).
      meta: static description (sizes), a tuple of ``(key, value)`` pairs.
    """

    name: str
    space: DiscreteSpace
    predict: Callable
    example_losses: Callable
    targets: jax.Array
    inputs: jax.Array
    meta: tuple

    def loss(self, probs) -> jax.Array:
        """Mean over examples of :attr:`example_losses` (scalar)."""
        return jnp.mean(self.example_losses(probs))

    def loss_flat(self, mat: jax.Array) -> jax.Array:
        """:meth:`loss` of a padded ``[num_vars, max_card]`` matrix."""
        return self.loss(self.space.to_dict(mat))

    def example_losses_flat(self, mat: jax.Array) -> jax.Array:
        return self.example_losses(self.space.to_dict(mat))

    def solved(self, z: jax.Array) -> jax.Array:
        """Whether the discrete program ``z[num_vars]`` reproduces every example (bool)."""
        out = self.predict(self.space.to_dict(onehot(self.space, z)))
        return jnp.all((out > 0.5) == (self.targets > 0.5))

    def num_errors(self, z: jax.Array) -> jax.Array:
        """Number of wrong output bits of the discrete program ``z`` (int32)."""
        out = self.predict(self.space.to_dict(onehot(self.space, z)))
        return jnp.sum((out > 0.5) != (self.targets > 0.5), dtype=jnp.int32)


def _bce(prob, target, eps):
    """Binary cross-entropy ``[...]``, with ``eps`` inside the logs (finite at 0 and 1)."""
    return -(target * jnp.log(prob + eps) + (1.0 - target) * jnp.log(1.0 - prob + eps))


def parity_chain(num_vars: int, eps: float = 1e-7) -> ProgramTask:
    """The parity chain ("TerpreT problem") of chain length ``K = num_vars``.

    Variables ``x_0..x_{K-1}`` on a ring, ``x_0 = 0`` is fixed, the other ``K-1`` are binary
    parameters (leaf ``"x"`` of shape ``[K-1]``). Outputs ``y_i = XOR(x_i, x_{i+1 mod K})``,
    all required to be 0. Loss ``-sum_i log(P(y_i = 0) + eps)`` (spec §1).

    Args:
      num_vars: chain length K >= 2.
      eps: added inside the log (1e-7 as in the author's 2020 code; 0 for none).
    """
    if isinstance(num_vars, bool) or not isinstance(num_vars, int) or num_vars < 2:
        raise ValueError(f"num_vars (chain length K) must be an int >= 2, got {num_vars!r}")
    if not (eps >= 0):
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    k = num_vars
    space = DiscreteSpace((("x", (k - 1,), 2),))

    def marginals(probs):
        mu = probs["x"]  # [K-1, 2]
        first = jnp.asarray([[1.0, 0.0]], mu.dtype)
        return jnp.concatenate([first, mu], axis=0)  # [K, 2]

    def p_zero(probs):
        mu = marginals(probs)
        nxt = jnp.roll(mu, -1, axis=0)
        return jnp.sum(mu * nxt, axis=-1)  # [K]

    def predict(probs):
        return (1.0 - p_zero(probs))[None, :]  # P(y_i = 1), [1, K]

    def example_losses(probs):
        return -jnp.sum(jnp.log(p_zero(probs) + eps), keepdims=True)  # [1]

    return ProgramTask(f"parity_chain_{k}", space, predict, example_losses,
                       jnp.zeros((1, k), jnp.float32), jnp.zeros((1, 0), jnp.float32),
                       (("K", k), ("eps", eps)))


def _gate_outputs(a, b):
    """``[..., 5]`` soft outputs of AND, OR, XOR, NOT, NOP on bit probabilities a, b."""
    return jnp.stack([a * b, a + b - a * b, a + b - 2.0 * a * b, 1.0 - a, a], axis=-1)


def circuit_task(num_wires: int, num_gates: int, num_outputs: int, inputs, outputs,
                 name: str = "circuit", eps: float = 1e-7) -> ProgramTask:
    """A Boolean circuit in TerpreT's register-machine circuit model.

    Parameters per gate g (leaves ``"type" [G]`` card 5, ``"in1"``, ``"in2"``, ``"out"``
    ``[G]`` card W). Wires start as the example's inputs padded with zeros; gate g reads
    wires ``in1[g]``, ``in2[g]`` (NOT and NOP read only ``in1``), computes its type's
    function and overwrites wire ``out[g]``. Outputs are wires ``0..O-1`` after the last
    gate. Soft version: wire values are probabilities, reads and writes are mixtures.

    Args:
      num_wires, num_gates, num_outputs: W, G, O.
      inputs: ``[num_examples, num_inputs]`` bits, ``num_inputs <= W``.
      outputs: ``[num_examples, O]`` bits.
      name: task name.
      eps: inside the logs of the binary cross-entropy.

    Raises:
      ValueError: bad sizes, widths that do not match the circuit, non-binary values, or
        inconsistent examples (the same input with two different outputs).
    """
    for arg, v, lo in (("num_wires", num_wires, 1), ("num_gates", num_gates, 1),
                       ("num_outputs", num_outputs, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{arg} must be an int >= {lo}, got {v!r}")
    if num_outputs > num_wires:
        raise ValueError(f"num_outputs ({num_outputs}) must be <= num_wires ({num_wires})")
    x = np.asarray(inputs)
    y = np.asarray(outputs)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"inputs and outputs must be [num_examples, width] with the same "
                         f"num_examples >= 1, got shapes {x.shape} and {y.shape}")
    if x.shape[1] > num_wires:
        raise ValueError(f"inputs: width {x.shape[1]} exceeds num_wires = {num_wires}")
    if y.shape[1] != num_outputs:
        raise ValueError(f"outputs: width {y.shape[1]} must equal num_outputs = {num_outputs}")
    for arg, a in (("inputs", x), ("outputs", y)):
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{arg} must contain only 0/1 bits")
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
    targets = jnp.asarray(y, jnp.float32)

    def predict(probs):
        p = wires0.astype(probs["type"].dtype)  # [E, W]
        for gate in range(g):  # static unroll: G is small
            a = p @ probs["in1"][gate]  # [E]
            b = p @ probs["in2"][gate]
            r = _gate_outputs(a, b) @ probs["type"][gate]  # [E]
            write = probs["out"][gate][None, :]  # [1, W]
            p = write * r[:, None] + (1.0 - write) * p
        return p[:, :o]

    def example_losses(probs):
        return jnp.sum(_bce(predict(probs), targets, eps), axis=-1)  # [E]

    return ProgramTask(name, space, predict, example_losses, targets,
                       jnp.asarray(x, jnp.float32),
                       (("W", w), ("G", g), ("O", o), ("num_examples", int(x.shape[0]))))


def _bits(value: int, width: int) -> list:
    return [(value >> (width - 1 - i)) & 1 for i in range(width)]


# The 2-bit adder's 8 training inputs (spec §2: TerpreT's make_full_adder_ex draws).
FULL_ADDER_DRAWS = (12, 15, 5, 0, 3, 11, 3, 7)


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
        rows = [([a, b, c], _bits(a + b + c, 2)) for a, b, c in itertools.product((0, 1), repeat=3)]
        return 4, 5, 2, rows
    if name in ("full_adder", "full_adder_all16"):
        values = FULL_ADDER_DRAWS if name == "full_adder" else range(16)
        rows = []
        for v in values:
            a1, a0, b1, b0 = _bits(v, 4)
            rows.append(([a1, a0, b1, b0], _bits(2 * a1 + a0 + 2 * b1 + b0, 3)))
        return 5, 8, 3, rows
    raise ValueError(f"circuit name must be one of {CIRCUITS}, got {name!r}")


CIRCUITS = ("nand", "swap", "shift", "adder", "full_adder", "full_adder_all16")


def circuit(name: str, num_wires: int | None = None, num_gates: int | None = None,
            eps: float = 1e-7) -> ProgramTask:
    """One of the five circuit tasks of Table 2 (plus ``full_adder_all16``), spec §2.

    Args:
      name: one of :data:`CIRCUITS`.
      num_wires, num_gates: override the default (W, G) of the task.
      eps: inside the logs of the binary cross-entropy.
    """
    if name not in CIRCUITS:
        raise ValueError(f"name must be one of {CIRCUITS}, got {name!r}")
    w, g, o, rows = _circuit_examples(name)
    w = w if num_wires is None else num_wires
    g = g if num_gates is None else num_gates
    x = np.asarray([r[0] for r in rows], np.float32)
    y = np.asarray([r[1] for r in rows], np.float32)
    return circuit_task(w, g, o, x, y, name=name, eps=eps)


def simulate_circuit(program: Mapping[str, np.ndarray], inputs, num_wires: int,
                     num_outputs: int) -> np.ndarray:
    """Plain-Python (NumPy) execution of a discrete circuit, ``[num_examples, O]`` int.

    Used to verify solutions found by other means (e.g. Z3)."""
    out = []
    for row in np.asarray(inputs, int).tolist():
        wires = list(row) + [0] * (num_wires - len(row))
        for t, i1, i2, o in zip(*(np.asarray(program[k]).tolist()
                                  for k in ("type", "in1", "in2", "out"))):
            a, b = wires[i1], wires[i2]
            wires[o] = (a & b, a | b, a ^ b, 1 - a, a)[t]
        out.append(wires[:num_outputs])
    return np.asarray(out, int)


def dnf_task(key: jax.Array, num_inputs: int = 10, num_rules: int = 4,
             num_true_rules: int = 3, min_literals: int = 2, max_literals: int = 4,
             eps: float = 1e-7) -> ProgramTask:
    """Learning a DNF over ``num_inputs`` bits from its full truth table (spec §3).

    Parameters: ``"W" [2n, num_rules]`` binary (literal i used in rule j; literals are
    ``z = [x, 1 - x]``) and ``"S" [num_rules]`` binary (rule j enabled). Rule
    ``r_j = prod_i (1 - W_ij (1 - z_i))``, output ``1 - prod_j (1 - S_j r_j)``.
    The ground truth is a random DNF of ``num_true_rules`` rules with
    ``min_literals..max_literals`` literals on distinct variables, drawn from ``key``;
    data are all ``2**num_inputs`` inputs, loss binary cross-entropy.
    """
    if not isinstance(num_inputs, int) or not 1 <= num_inputs <= 16:
        raise ValueError(f"num_inputs must be an int in [1, 16], got {num_inputs!r}")
    if not isinstance(num_rules, int) or num_rules < 1:
        raise ValueError(f"num_rules must be an int >= 1, got {num_rules!r}")
    if not isinstance(num_true_rules, int) or not 1 <= num_true_rules <= num_rules:
        raise ValueError(f"num_true_rules must be in [1, num_rules], got {num_true_rules!r}")
    if not 1 <= min_literals <= max_literals <= num_inputs:
        raise ValueError("need 1 <= min_literals <= max_literals <= num_inputs, got "
                         f"{min_literals}, {max_literals}, {num_inputs}")
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = num_inputs
    x = np.asarray(list(itertools.product((0, 1), repeat=n)), np.float32)  # [2^n, n]
    z = np.concatenate([x, 1.0 - x], axis=1)  # [2^n, 2n]
    true_w = np.zeros((2 * n, num_rules), np.int32)
    true_s = np.zeros((num_rules,), np.int32)
    for j in range(num_true_rules):
        size = int(rng.integers(min_literals, max_literals + 1))
        variables = rng.choice(n, size=size, replace=False)
        negated = rng.integers(0, 2, size=size)
        true_w[variables + n * negated, j] = 1
        true_s[j] = 1
    rules = np.prod(1 - true_w[None, :, :] * (1 - z[:, :, None]), axis=1)  # [2^n, N]
    y = (1 - np.prod(1 - true_s[None, :] * rules, axis=1)).astype(np.float32)[:, None]
    space = DiscreteSpace((("W", (2 * n, num_rules), 2), ("S", (num_rules,), 2)))
    zj = jnp.asarray(z)
    targets = jnp.asarray(y)

    def predict(probs):
        w = probs["W"][..., 1]  # [2n, N]
        s = probs["S"][..., 1]  # [N]
        miss = 1.0 - zj  # [E, 2n]
        # r_j = prod_i (1 - W_ij miss_i); products of [0, 1] terms, computed directly.
        r = jnp.prod(1.0 - w[None, :, :] * miss[:, :, None], axis=1)  # [E, N]
        return (1.0 - jnp.prod(1.0 - s[None, :] * r, axis=1))[:, None]  # [E, 1]

    def example_losses(probs):
        return jnp.sum(_bce(predict(probs), targets, eps), axis=-1)

    task = ProgramTask("dnf", space, predict, example_losses, targets, jnp.asarray(x),
                       (("n", n), ("num_rules", num_rules), ("seed", seed)))
    return task


TASK_NAMES = ("parity_chain",) + CIRCUITS + ("dnf",)


def make_task(name: str, **kwargs) -> ProgramTask:
    """A task by name: ``"parity_chain"`` (``num_vars=K``), a circuit name, or ``"dnf"``."""
    if name == "parity_chain":
        return parity_chain(**kwargs)
    if name in CIRCUITS:
        return circuit(name, **kwargs)
    if name == "dnf":
        kwargs.setdefault("key", jax.random.key(0))
        return dnf_task(**kwargs)
    raise ValueError(f"task name must be one of {TASK_NAMES}, got {name!r}")
