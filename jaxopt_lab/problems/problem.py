"""One record for every continuous benchmark problem, and the success test on it.

A :class:`Problem` is what a benchmark knows and a method must not: the box, the global
minimisers and the minimum. Methods take only ``problem.fn`` (and the box, where they
search one); success is judged afterwards from the points they return, by :func:`success`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

__all__ = ["Problem", "success", "SUCCESS_RULES"]

SUCCESS_RULES = ("ball", "set", "fgap")


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A continuous minimisation problem with known answer.

    Attributes:
      name: the name used in papers and tables (e.g. ``"Egg-holder"``, ``"F3"``).
      fn: JAX objective ``fn(x[dim]) -> []``: pure, vmap-able, differentiable where the
        formula is.
      dim: number of coordinates.
      lower, upper: ``[dim]`` the search box (the initial domain for unbounded methods).
      x_star: ``[num_min, dim]`` every known global minimiser.
      f_star: the global minimum value.
      np_fn: the same formula in NumPy, ``np_fn(x[dim]) -> float`` (for SciPy peers), or
        ``None``.
      note: caveats (a continuum of minimisers, a cusp, a published minimiser that is wrong).
      set_distance: ``set_distance(x[..., dim]) -> [...]`` distance to the full minimiser
        set where it is a continuum that ``x_star`` only samples, else ``None``.
    """

    name: str
    fn: Callable
    dim: int
    lower: np.ndarray
    upper: np.ndarray
    x_star: np.ndarray
    f_star: float
    np_fn: Callable | None = None
    note: str = ""
    set_distance: Callable | None = None

    def __post_init__(self):
        if not callable(self.fn):
            raise ValueError(f"fn must be callable, got {type(self.fn).__name__}")
        if isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer)) \
                or self.dim < 1:
            raise ValueError(f"dim must be an int >= 1, got {self.dim!r}")
        for name in ("lower", "upper"):
            shape = np.shape(getattr(self, name))
            if shape != (self.dim,):
                raise ValueError(f"{name} must have shape [dim]=({self.dim},), got {shape}")
        if not np.all(np.asarray(self.lower) < np.asarray(self.upper)):
            raise ValueError(f"lower must be < upper in every coordinate for {self.name!r}")
        shape = np.shape(self.x_star)
        if len(shape) != 2 or shape[1] != self.dim:
            raise ValueError(f"x_star must have shape [num_min, {self.dim}], got {shape}")


def success(problem: Problem, x, f=None, *, radius: float = 1e-5, rule: str = "ball",
            f_tol: float = 1e-6) -> np.ndarray:
    """Which returned points count as finding the global minimum of ``problem``.

    Args:
      problem: the problem.
      x: ``[..., dim]`` returned points.
      f: ``[...]`` their values; needed for ``rule="fgap"``.
      radius: Euclidean radius of the ball around any minimiser (the BH-S paper: 1e-5).
      rule: ``"ball"``: within ``radius`` of a point of ``x_star``; ``"set"``: within
        ``radius`` of the full minimiser set where ``problem.set_distance`` exists, else as
        ``"ball"``; ``"fgap"``: ``f - f* <= f_tol * max(1, |f*|)`` (for cusped or flat
        minima).
      f_tol: relative tolerance of ``"fgap"``.

    Returns:
      ``[...]`` bool array (computed in float64).
    """
    if rule not in SUCCESS_RULES:
        raise ValueError(f"rule must be one of {SUCCESS_RULES}, got {rule!r}")
    if not (np.isfinite(radius) and radius >= 0):
        raise ValueError(f"radius must be finite and >= 0, got {radius!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1:] != (problem.dim,):
        raise ValueError(f"x must have last axis dim={problem.dim}, got shape {x.shape}")
    if rule == "fgap":
        if f is None:
            raise ValueError("f is required for rule='fgap'")
        f = np.asarray(f, dtype=np.float64)
        return f - problem.f_star <= f_tol * max(1.0, abs(problem.f_star))
    if rule == "set" and problem.set_distance is not None:
        return np.asarray(problem.set_distance(x)) <= radius
    x_star = np.asarray(problem.x_star, dtype=np.float64)
    dist = np.linalg.norm(x[..., None, :] - x_star, axis=-1)
    return dist.min(axis=-1) <= radius
