"""Registry of methods, so that the API contract tests iterate over every one of them.

Each method module registers an *example factory*: a zero-argument function returning an
:class:`Example` (a method built on a small problem, a start point and ``Params``) that
runs in well under a second on a CPU. ``tests/test_contract.py`` runs the same checks
on every registered example: shapes, ``jit``, ``vmap`` over keys equals a loop, same key
gives bit-identical results, no recompilation when ``Params`` values change.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from jaxopt_lab.core import Method

__all__ = ["Example", "register", "get", "names", "load_all"]


class Example(NamedTuple):
    """A small runnable instance of a method.

    Attributes:
        method: the built method.
        x0: a start point accepted by ``method.init``.
        params: default ``Params``.
        other_params: ``Params`` with different *values* (same shapes and dtypes), used to
            check that changing hyper-parameter values does not recompile.
        num_steps: a short run length for the contract tests.
    """

    method: Method
    x0: Any
    params: Any
    other_params: Any
    num_steps: int = 5


_REGISTRY: dict[str, Callable[[], Example]] = {}


def register(name: str, example_factory: Callable[[], Example]) -> None:
    """Registers ``example_factory`` under ``name`` (names are unique)."""
    if name in _REGISTRY and _REGISTRY[name] is not example_factory:
        raise ValueError(f"method name {name!r} is already registered")
    _REGISTRY[name] = example_factory


def get(name: str) -> Example:
    """Builds the registered example called ``name``."""
    if name not in _REGISTRY:
        load_all()
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name]()


def load_all() -> None:
    """Imports every method package, so that each registers its methods."""
    import importlib

    from jaxopt_lab import METHOD_PACKAGES

    importlib.import_module("jaxopt_lab.random_search")
    for package in METHOD_PACKAGES:
        importlib.import_module(f"jaxopt_lab.{package}")


def names() -> list[str]:
    """Sorted names of all registered methods (after :func:`load_all`)."""
    return sorted(_REGISTRY)
