"""The one validation helper every public entry point uses.

Every check raises ``ValueError`` with a message that names the argument and the
constraint it breaks (``"params.sigma must be finite and > 0, got -1.0"``). Values are
checked where they are concrete; under ``jit``/``vmap`` (traced) only shapes and dtypes can
be checked, so entry points validate before they trace (``run`` calls ``init`` eagerly on
concrete inputs, which checks them there).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["concrete", "check_int", "check_bool", "check_choice", "check_number",
           "check_array", "check_point", "check_categorical", "check_box", "check_objective",
           "check_dtype", "check_instance", "check_params", "check_arrays_tree"]


def concrete(value) -> np.ndarray | None:
    """NumPy value of ``value`` if it is concrete, else ``None`` (traced under jit/vmap)."""
    if isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError,
            TypeError):
        return None


def _show(value) -> str:
    arr = concrete(value)
    if arr is None or arr.size <= 6:
        return repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return f"array of shape {arr.shape}"


def check_int(value, name: str, minimum: int | None = 1, maximum: int | None = None,
              allow_none: bool = False) -> None:
    """``value`` is a Python/NumPy int (not a bool) within ``[minimum, maximum]``."""
    if value is None and allow_none:
        return
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    if ok and minimum is not None:
        ok = value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        bound = "an int" if minimum is None else f"an int >= {minimum}"
        if maximum is not None:
            bound += f" and <= {maximum}"
        none = "None or " if allow_none else ""
        raise ValueError(f"{name} must be {none}{bound}, got {value!r}")


def check_bool(value, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}")


def check_choice(value, name: str, choices: Iterable) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _range_text(positive, non_negative, lo, hi, lo_open, hi_open) -> str:
    parts = []
    if positive:
        parts.append("> 0")
    elif non_negative:
        parts.append(">= 0")
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    return " and ".join(parts)


def _in_range(v, positive, non_negative, lo, hi, lo_open, hi_open) -> bool:
    with np.errstate(invalid="ignore"):
        ok = np.all(np.isfinite(v))
        if positive:
            ok &= np.all(v > 0)
        if non_negative:
            ok &= np.all(v >= 0)
        if lo is not None:
            ok &= np.all(v > lo) if lo_open else np.all(v >= lo)
        if hi is not None:
            ok &= np.all(v < hi) if hi_open else np.all(v <= hi)
    return bool(ok)


def check_number(value, name: str, *, positive: bool = False, non_negative: bool = False,
                 lo: float | None = None, hi: float | None = None, lo_open: bool = False,
                 hi_open: bool = False, allow_none: bool = False) -> None:
    """A static (Config) real number: finite and within the stated range."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not _in_range(np.float64(value), positive, non_negative, lo, hi, lo_open, hi_open):
        rng = _range_text(positive, non_negative, lo, hi, lo_open, hi_open)
        raise ValueError(f"{name} must be finite{' and ' + rng if rng else ''}, got {value!r}")


def check_array(value, name: str, *, shape: tuple | None = None, positive: bool = False,
                non_negative: bool = False, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False, finite: bool = True) -> None:
    """A numeric (Params) array: its shape, and where it is concrete, its values."""
    if shape is not None and tuple(np.shape(value)) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(np.shape(value))}")
    v = concrete(value)
    if v is None:
        return
    if not np.issubdtype(v.dtype, np.number) and v.dtype != np.bool_:
        raise ValueError(f"{name} must be numeric, got dtype {v.dtype}")
    if not finite and not (positive or non_negative or lo is not None or hi is not None):
        return
    v = v.astype(np.float64)
    if not finite:
        v = v[np.isfinite(v)]
    if not _in_range(v, positive, non_negative, lo, hi, lo_open, hi_open):
        rng = _range_text(positive, non_negative, lo, hi, lo_open, hi_open)
        need = ("finite" if finite else "") + (" and " if finite and rng else "") + rng
        raise ValueError(f"{name} must be {need}, got {_show(value)}")


def check_point(x0, name: str = "x0", dim: int | None = None, *,
                floating: bool = True) -> jax.Array:
    """One start point ``[dim]``: shape, finite values; ints promoted to float32.

    Returns:
      ``x0`` as a JAX array (float32 if it was an integer array and ``floating``).
    """
    try:
        x = jnp.asarray(x0)
    except TypeError as err:
        raise ValueError(f"{name} must be an array of shape [dim], got "
                         f"{type(x0).__name__}") from err
    if x.ndim != 1 or (dim is not None and x.shape[0] != dim):
        want = "[dim]" if dim is None else f"[dim]=({dim},)"
        hint = " (one chain: vmap over start points for many)" if x.ndim == 2 else ""
        raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}{hint}")
    if floating and not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    v = concrete(x)
    if v is not None and floating and not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite, got non-finite values at indices "
                         f"{np.flatnonzero(~np.isfinite(v))[:5].tolist()}")
    return x


def check_categorical(x0, name: str, cards) -> jax.Array:
    """One assignment of categorical variables ``[num_vars]``: integers with
    ``0 <= x0[i] < cards[i]``.

    Args:
      x0: the assignment given.
      name: the argument's name in messages.
      cards: ``[num_vars]`` number of values of every variable (ints >= 1).

    Returns:
      ``x0`` as an int32 JAX array. Values are checked where ``x0`` is concrete; a traced
      ``x0`` is checked for shape and integer dtype only.
    """
    cards = np.asarray(cards)
    x = check_point(x0, name, int(cards.shape[0]), floating=False)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise ValueError(f"{name} must hold integers (one value per variable), "
                         f"got dtype {x.dtype}")
    v = concrete(x)
    if v is not None:
        bad = (v < 0) | (v >= cards)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name}[{i}] = {int(v[i])} is outside its variable's values: "
                             f"must be in [0, {int(cards[i])})")
    return x.astype(jnp.int32)


def check_box(lower, upper, dim: int | None = None, names=("lower", "upper")) -> None:
    """``lower`` and ``upper``: scalars or ``[dim]``, finite, ``lower < upper``."""
    for value, name in zip((lower, upper), names):
        shape = tuple(np.shape(value))
        if not (shape == () or (len(shape) == 1 and dim in (None, shape[0]))):
            raise ValueError(f"{name} must be a scalar or have shape [dim]"
                             f"{'' if dim is None else f'=({dim},)'}, got {shape}")
        check_array(value, name)
    lo, hi = concrete(lower), concrete(upper)
    if lo is not None and hi is not None and not np.all(lo < hi):
        raise ValueError(f"{names[0]} must be < {names[1]} in every coordinate, got "
                         f"{_show(lower)} and {_show(upper)}")


def check_objective(objective: Callable, dim: int, name: str = "objective",
                    dtype=jnp.float32) -> None:
    """``objective(x[dim])`` is callable and returns a floating scalar (``jax.eval_shape``)."""
    if not callable(objective):
        raise ValueError(f"{name} must be callable f(x[dim]) -> scalar, "
                         f"got {type(objective).__name__}")
    try:
        out = jax.eval_shape(objective, jax.ShapeDtypeStruct((dim,), dtype))
    except Exception as err:  # the user's function failed to trace: say where
        raise ValueError(f"{name} could not be traced on a [dim]=({dim},) {jnp.dtype(dtype)}"
                         f" array: {type(err).__name__}: {err}") from err
    shape = getattr(out, "shape", None)
    if shape != () or not jnp.issubdtype(getattr(out, "dtype", np.int32), jnp.inexact):
        raise ValueError(f"{name} must return a real scalar for x[dim]=({dim},), got "
                         f"{jax.tree.map(lambda a: (a.shape, str(a.dtype)), out)}")


def check_dtype(dtype, name: str = "dtype") -> jnp.dtype:
    """A floating dtype that JAX can give now: float64 needs ``jax_enable_x64``."""
    try:
        dt = jnp.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"{name} must be a floating dtype, got {dtype!r}") from err
    if not jnp.issubdtype(dt, jnp.floating):
        raise ValueError(f"{name} must be a floating dtype, got {dt}")
    if dt.itemsize == 8 and not jax.config.jax_enable_x64:
        raise ValueError(f"{name}={dt} needs float64: enable it first "
                         "(jax.config.update('jax_enable_x64', True) or JAX_ENABLE_X64=1)")
    return dt


def check_instance(value, cls, name: str) -> None:
    if not isinstance(value, cls):
        raise ValueError(f"{name} must be a {cls.__module__.split('.')[-1]}.{cls.__name__}, "
                         f"got {type(value).__name__}")


def check_params(params, cls, rules: Mapping[str, Mapping[str, Any]] | None = None,
                 name: str = "params") -> None:
    """``params`` is a ``cls`` whose fields are numeric arrays, checked by ``rules``.

    Args:
      params: the value given.
      cls: the module's ``Params`` NamedTuple.
      rules: ``field -> keyword arguments of`` :func:`check_array`; fields without a rule
        must be finite where concrete.
      name: the argument's name in messages.
    """
    check_instance(params, cls, name)
    rules = dict(rules or {})
    for field in cls._fields:
        value = getattr(params, field)
        if value is None:
            continue
        if not all(hasattr(leaf, "dtype") or isinstance(leaf, (int, float, np.number))
                   for leaf in jax.tree.leaves(value)):
            raise ValueError(f"{name}.{field} must be a numeric array, "
                             f"got {type(value).__name__}")
        for leaf in jax.tree.leaves(value):
            check_array(leaf, f"{name}.{field}", **rules.get(field, {}))


def check_arrays_tree(shapes, name: str) -> None:
    """The output of ``jax.eval_shape``: a pytree whose leaves are all arrays."""
    leaves = jax.tree.leaves(shapes)
    if not leaves:
        raise ValueError(f"{name} must return a pytree of arrays, got no arrays")
    for leaf in leaves:
        if not isinstance(leaf, jax.ShapeDtypeStruct):
            raise ValueError(f"{name} must return a pytree of arrays, got a leaf of type "
                             f"{type(leaf).__name__}")


def check_orthogonal(q, name: str, dim: int) -> None:
    """``q`` is ``None`` or a ``[dim, dim]`` matrix with orthonormal columns (values
    checked where concrete, to ``100 eps sqrt(dim)``, at least 1e-6)."""
    if q is None:
        return
    if jnp.shape(q) != (dim, dim):
        raise ValueError(f"{name} must have shape [dim, dim]=({dim}, {dim}), "
                         f"got shape {jnp.shape(q)}")
    q = concrete(q)
    if q is None:
        return
    eps = np.finfo(q.dtype).eps if np.issubdtype(q.dtype, np.floating) else 1e-16
    q = q.astype(np.float64)
    err = np.max(np.abs(q.T @ q - np.eye(dim)))
    tol = max(1e-6, 100.0 * eps * np.sqrt(dim))
    if not np.isfinite(err) or err > tol:
        raise ValueError(f"{name} must be an orthogonal matrix (columns orthonormal): "
                         f"max |Q^T Q - I| = {err:.3g} > {tol:.3g}")
