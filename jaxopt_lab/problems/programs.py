"""Program-synthesis tasks as differentiable JAX programs, and how to write a new one.

A task is a *sketch* with discrete parameters (binary or categorical) and input/output
examples. Its differentiable program takes, for every parameter, a distribution over the
parameter's values and returns the probability that every output bit is 1, under the
independence assumption of TerpreT's FMGD [1]; with one-hot distributions it is exactly the
discrete program. GradSearch [2] evaluates and differentiates it at one-hot points.

Tasks: the parity chain (here), TerpreT's Boolean circuits
(:mod:`jaxopt_lab.problems.circuits`, with a Z3 synthesiser in
:mod:`jaxopt_lab.problems.circuit_z3`) and a DNF learner (:mod:`jaxopt_lab.problems.dnf`).

Writing a new task
------------------
1. Declare the parameters: a :class:`DiscreteSpace` of ``(name, shape, num_values)``
   leaves. A program is a flat int vector ``[num_vars]`` (leaves in order, C order inside
   a leaf); ``space.to_dict`` gives it back by name.
2. Write ``predict(probs) -> [num_examples, num_outputs]``: ``probs[name]`` has shape
   ``[*shape, num_values]`` (one distribution per parameter); return the probability that
   each output bit is 1. Mix the outcomes of the choices with their probabilities (as
   ``probs["op"] @ outcomes``), so that one-hot ``probs`` give the exact 0/1 outputs.
3. ``task = bce_task(name, space, predict, inputs, targets)``: the loss of an example is the
   binary cross-entropy of its output bits; ``task.solved(program)`` says whether the
   program reproduces every example.
4. Solve it: ``jaxopt_lab.gradsearch.minimize(task, key=key)``.

Example (choose a two-input gate and whether to negate it; the examples are NAND)::

    import jax, jax.numpy as jnp
    from jaxopt_lab import gradsearch
    from jaxopt_lab.problems import programs

    inputs = jnp.asarray([[0, 0], [0, 1], [1, 0], [1, 1]], jnp.float32)
    targets = jnp.asarray([[1], [1], [1], [0]], jnp.float32)
    space = programs.DiscreteSpace((("op", (1,), 3), ("negate", (1,), 2)))

    def predict(probs):
        a, b = inputs[:, 0], inputs[:, 1]
        gates = jnp.stack([a * b, a + b - a * b, a + b - 2 * a * b], axis=-1)  # AND OR XOR
        r = gates @ probs["op"][0]
        return (probs["negate"][0, 0] * r + probs["negate"][0, 1] * (1 - r))[:, None]

    task = programs.bce_task("gate", space, predict, inputs, targets)
    result = gradsearch.minimize(task, key=jax.random.key(0), num_restarts=8, max_steps=50)
    space.to_dict(result.x)  # {"op": [0], "negate": [1]}: NOT(AND(a, b))

[1] Gaunt et al., "TerpreT: A Probabilistic Programming Language for Program Induction",
    arXiv:1608.04428 (2016).
[2] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks

__all__ = ["DiscreteSpace", "ProgramTask", "onehot", "cross_entropy", "bce_task",
           "examples", "check_task", "parity_chain"]


@dataclasses.dataclass(frozen=True)
class DiscreteSpace:
    """A fixed set of named categorical parameter arrays (binary = 2 values).

    A program is either a dict ``name -> int array of shape`` or its flat form
    ``x[num_vars]`` (leaves in declaration order, C order within a leaf). The
    differentiable programs take ``dict name -> float array [*shape, num_values]``; the
    methods work on a padded matrix ``[num_vars, max_card]`` (:meth:`to_dict` splits it).

    Attributes:
      leaves: tuple of ``(name, shape, num_values)``.
    """

    leaves: tuple

    def __post_init__(self):
        names = set()
        for leaf in self.leaves:
            if not isinstance(leaf, tuple) or len(leaf) != 3:
                raise ValueError(f"leaves must be (name, shape, num_values) triples, "
                                 f"got {leaf!r}")
            name, shape, card = leaf
            if name in names:
                raise ValueError(f"leaves: duplicate name {name!r}")
            names.add(name)
            _checks.check_int(card, f"leaves: num_values of {name!r}", minimum=2)
            for size in shape:
                _checks.check_int(size, f"leaves: every size in the shape of {name!r}")

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
        """Number of values of every flat variable, ``[num_vars]`` int32."""
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
        """Padded ``[num_vars, max_card]`` (or a program ``[num_vars]``) -> dict of leaves."""
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
        """Dict of integer arrays -> flat program ``[num_vars]`` int32 (validated)."""
        missing = {name for name, _, _ in self.leaves} - set(assignment)
        if missing:
            raise ValueError(f"assignment: missing parameters {sorted(missing)}")
        parts = []
        for name, shape, _ in self.leaves:
            value = assignment[name]
            if tuple(np.shape(value)) != tuple(shape):
                raise ValueError(f"assignment[{name!r}] must have shape {tuple(shape)}, "
                                 f"got {np.shape(value)}")
            parts.append(jnp.reshape(jnp.asarray(value, jnp.int32), (-1,)))
        return self.check(jnp.concatenate(parts), "assignment")

    def check(self, program, name: str = "x0") -> jax.Array:
        """``program`` as int32 ``[num_vars]``; raises ``ValueError`` naming ``name`` for a
        wrong shape, non-integers or a value outside its variable's values."""
        return _checks.check_categorical(program, name, self.cards)

    def sample(self, key: jax.Array) -> jax.Array:
        """A uniformly random program ``[num_vars]`` int32."""
        u = jax.random.uniform(key, (self.num_vars,))
        x = jnp.floor(u * jnp.asarray(self.cards, jnp.float32)).astype(jnp.int32)
        return jnp.minimum(x, jnp.asarray(self.cards - 1))


def onehot(space: DiscreteSpace, program: jax.Array, dtype=jnp.float32) -> jax.Array:
    """Flat program ``[num_vars]`` -> padded one-hot ``[num_vars, max_card]``."""
    return jax.nn.one_hot(program, space.max_card, dtype=dtype)


class ProgramTask(NamedTuple):
    """A differentiable program-synthesis task (build it with :func:`bce_task`).

    Attributes:
      name: task name.
      space: the :class:`DiscreteSpace` of the program's parameters.
      predict: ``predict(probs) -> [num_examples, num_outputs]`` output-bit probabilities;
        ``probs`` is a dict ``name -> [*shape, num_values]`` of per-parameter distributions.
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

    def program_loss(self, program: jax.Array) -> jax.Array:
        """:meth:`loss` of the discrete program ``[num_vars]`` (its one-hot point)."""
        return self.loss_flat(onehot(self.space, program))

    def outputs(self, program: jax.Array) -> jax.Array:
        """Output bits of the discrete program, ``[num_examples, num_outputs]`` bool."""
        return self.predict(self.space.to_dict(onehot(self.space, program))) > 0.5

    def solved(self, program: jax.Array) -> jax.Array:
        """Whether the discrete program ``[num_vars]`` reproduces every example (bool)."""
        return jnp.all(self.outputs(program) == (self.targets > 0.5))

    def num_errors(self, program: jax.Array) -> jax.Array:
        """Number of wrong output bits of the discrete program (int32)."""
        return jnp.sum(self.outputs(program) != (self.targets > 0.5), dtype=jnp.int32)


def cross_entropy(prob: jax.Array, target: jax.Array, eps) -> jax.Array:
    """Binary cross-entropy ``[...]``, with ``eps`` inside the logs (finite at 0 and 1)."""
    return -(target * jnp.log(prob + eps) + (1.0 - target) * jnp.log(1.0 - prob + eps))


def bce_task(name: str, space: DiscreteSpace, predict: Callable, inputs, targets, *,
             eps: float = 1e-7, meta: tuple = ()) -> ProgramTask:
    """A task whose example loss is the binary cross-entropy summed over output bits.

    Args:
      name: task name.
      space: the program's parameters.
      predict: ``predict(probs) -> [num_examples, num_outputs]`` (see the module docstring).
      inputs: ``[num_examples, num_inputs]`` input bits (only stored: ``predict`` closes
        over what it needs).
      targets: ``[num_examples, num_outputs]`` target bits.
      eps: inside the logs; 1e-7 keeps a wrong bit finite (about 16 per bit).
      meta: static description, ``(key, value)`` pairs.

    Raises:
      ValueError: bad shapes, non-binary bits, or a ``predict`` whose output does not have
        the targets' shape.
    """
    _checks.check_instance(space, DiscreteSpace, "space")
    _checks.check_number(eps, "eps", non_negative=True)
    if not callable(predict):
        raise ValueError(f"predict must be callable, got {type(predict).__name__}")
    x, y = examples(inputs, targets)
    targets = jnp.asarray(y)

    def example_losses(probs):
        return jnp.sum(cross_entropy(predict(probs), targets, eps), axis=-1)  # [E]

    task = ProgramTask(name, space, predict, example_losses, targets, jnp.asarray(x),
                       tuple(meta))
    check_task(task)
    return task


def examples(inputs, targets) -> tuple[np.ndarray, np.ndarray]:
    """Validated example bits: ``([num_examples, num_inputs], [num_examples, num_outputs])``
    float32 arrays of 0/1 with the same ``num_examples >= 1``."""
    x, y = np.asarray(inputs, np.float32), np.asarray(targets, np.float32)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"inputs and outputs must be [num_examples, width] with the same "
                         f"num_examples >= 1, got shapes {x.shape} and {y.shape}")
    for arg, a in (("inputs", x), ("outputs", y)):
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{arg} must contain only 0/1 bits")
    return x, y


def check_task(task, name: str = "task") -> None:
    """``task`` is a :class:`ProgramTask` whose ``predict`` and ``example_losses`` trace on a
    one-hot point (``jax.eval_shape``) with the shapes the methods need."""
    _checks.check_instance(task, ProgramTask, name)
    space = task.space
    probs = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, jnp.float32),
                         space.to_dict(np.zeros(space.valid.shape, np.float32)))
    num_examples = int(np.shape(task.targets)[0])
    for field, want in (("predict", tuple(np.shape(task.targets))),
                        ("example_losses", (num_examples,))):
        try:
            out = jax.eval_shape(getattr(task, field), probs)
        except Exception as err:  # the user's function failed to trace: say where
            raise ValueError(f"{name}.{field} could not be traced on one distribution per "
                             f"parameter: {type(err).__name__}: {err}") from err
        if getattr(out, "shape", None) != want or not jnp.issubdtype(out.dtype, jnp.floating):
            raise ValueError(f"{name}.{field} must return a real array of shape {want}, got "
                             f"{jax.tree.map(lambda a: (a.shape, str(a.dtype)), out)}")


def parity_chain(num_vars: int, eps: float = 1e-7) -> ProgramTask:
    """The parity chain ("TerpreT problem") of chain length ``K = num_vars``.

    Variables ``x_0..x_{K-1}`` on a ring, ``x_0 = 0`` is fixed, the other ``K-1`` are binary
    parameters (leaf ``"x"`` of shape ``[K-1]``). Outputs ``y_i = XOR(x_i, x_{i+1 mod K})``,
    all required to be 0; one example. Loss ``-sum_i log(P(y_i = 0) + eps)``, with
    ``P(y_i = 0) = mu_i[0] mu_j[0] + mu_i[1] mu_j[1]`` for neighbours ``i, j``.

    Args:
      num_vars: chain length K >= 2.
      eps: added inside the log (1e-7 as in the author's 2020 code; 0 for none).
    """
    _checks.check_int(num_vars, "num_vars (chain length K)", minimum=2)
    _checks.check_number(eps, "eps", non_negative=True)
    k = num_vars
    space = DiscreteSpace((("x", (k - 1,), 2),))

    def p_zero(probs):
        mu = probs["x"]  # [K-1, 2]
        # value-major [2, K]: the chain is the contiguous axis, which keeps the loss and its
        # gradient vectorised under vmap (the same numbers as the [K, 2] form, bit for bit)
        mu = jnp.concatenate([jnp.asarray([[1.0], [0.0]], mu.dtype), mu.T], axis=1)
        return jnp.sum(mu * jnp.roll(mu, -1, axis=1), axis=0)  # [K]

    def predict(probs):
        return (1.0 - p_zero(probs))[None, :]  # P(y_i = 1), [1, K]

    def example_losses(probs):
        return -jnp.sum(jnp.log(p_zero(probs) + eps), keepdims=True)  # [1]

    return ProgramTask(f"parity_chain_{k}", space, predict, example_losses,
                       jnp.zeros((1, k), jnp.float32), jnp.zeros((1, 0), jnp.float32),
                       (("K", k), ("eps", eps)))
