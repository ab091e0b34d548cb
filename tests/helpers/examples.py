"""The example table of the contract test: a small runnable instance of every method.

Each method family keeps its examples next to its tests, in ``tests/<family>/examples.py``,
as ``EXAMPLES = {id: factory}``: ``id`` is a name of ``jaxopt_lab.methods``, optionally
followed by ``":variant"``, and ``factory()`` returns an :class:`Example`. Random search's
examples are here, as the reference. ``tests/test_contract.py`` runs the same checks on
every example, so a new method is tested for the contract by adding one entry.
"""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType
from typing import Any, Callable

import jax.numpy as jnp

from jaxopt_lab import random_search

#: Modules holding the families' ``EXAMPLES``.
FAMILY_MODULES = ("tests.dgs.examples", "tests.basin_hopping.examples",
                  "tests.gradsearch.examples")


@dataclasses.dataclass(frozen=True)
class Example:
    """A small instance of a method that runs in well under a second on a CPU.

    Attributes:
      module: the algorithm module (``Config``, ``Params``, ``State``, ``Info``, ``params``,
        ``make``).
      objective: what ``module.make`` takes first (an objective, or a task).
      config: a ``module.Config``.
      x0: one start point accepted by ``init``.
      params: ``module.Params``.
      other_params: ``Params`` with other values (same shapes and dtypes), to check that
        changing values does not retrace and does change the result.
      num_steps: a short run.
      best_x_shape: shape of ``State.best_x`` (default: ``x0``'s shape).
      extra_bad_inputs: ``(label, fn, match)``: ``fn()`` must raise ``ValueError`` whose
        message matches ``match``, beside the generic bad inputs of the contract test.
      nonscalar_objective: an objective of the wrong output shape for ``make``, or
        ``None`` where ``make`` takes no plain objective.
      deterministic: the method draws no random numbers after its start point (``key`` is
        unused), so different keys must give the same run instead of different ones.
    """

    module: ModuleType
    objective: Any
    config: Any
    x0: Any
    params: Any
    other_params: Any
    num_steps: int = 5
    best_x_shape: tuple | None = None
    extra_bad_inputs: tuple = ()
    nonscalar_objective: Callable | None = None
    deterministic: bool = False

    @property
    def method(self):
        return self.module.make(self.objective, self.config)


def _sphere(x):
    return jnp.sum(x**2)


def _random_search(mode):
    return Example(
        module=random_search, objective=_sphere,
        config=random_search.Config(dim=3, num_samples=8, mode=mode),
        x0=jnp.full((3,), 0.9, jnp.float32),
        params=random_search.params(-1.0, 1.0, step_size=0.3),
        other_params=random_search.params(-2.0, 2.0, step_size=0.1),
        nonscalar_objective=lambda x: x**2,
        extra_bad_inputs=(
            ("lower >= upper", lambda: random_search.params(1.0, -1.0), "lower must be <"),
            ("step_size <= 0", lambda: random_search.params(-1.0, 1.0, step_size=0.0),
             "step_size must be finite and > 0"),
        ))


EXAMPLES = {
    "random_search:uniform": lambda: _random_search("uniform"),
    "random_search:local": lambda: _random_search("local"),
}


def all_examples() -> dict[str, Callable[[], Example]]:
    """Every family's examples, by id; a family whose examples module is missing is left
    out (the contract test then reports its methods as lacking an example)."""
    table = dict(EXAMPLES)
    for path in FAMILY_MODULES:
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as err:
            if err.name != path:
                raise
            continue
        overlap = set(table) & set(module.EXAMPLES)
        if overlap:
            raise ValueError(f"{path}: example ids already used: {sorted(overlap)}")
        table.update(module.EXAMPLES)
    return table
