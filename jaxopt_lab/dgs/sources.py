"""Gradient sources for an outside optimiser that asks for one gradient at a time.

An optimiser that runs on the host and calls back with the points it picks (nlopt's MMA in
the DGS paper's topology study, §4.2) needs the black-box gradient as a function of the
point. A *source* is the pure function

    source(state, x[dim], f_x) -> (g[dim], num_evals, state)

built on the library's oracles (:mod:`jaxopt_lab.dgs.estimator`, each jitted once per
source); its state (a :class:`SourceState`: the PRNG key and, for DGS, the directions and
radii) is returned, never mutated, and the key is split once per random draw.

DGS's source applies Algorithm 1's random perturbation between calls: when its trigger fires,
the directions are rotated (``perturb_orthogonal`` with scale ``rotation_scale``) and the
radii redrawn from ``U(radius - h, radius + h)``, ``h = min(radius_halfwidth, 0.8 radius)``
(every radius stays > 0). Triggers (the paper prints ``||g|| < gamma``; with an unscaled
loss that may never fire, so two readings under which ``gamma`` is meaningful are named):

* ``"grad_norm"``: ``||g|| < grad_tol`` (the paper as printed);
* ``"relative"``: ``||g|| < grad_tol ||g_first||`` (the printed rule on the loss scaled so
  that its first gradient has unit norm);
* ``"period"``: every ``period`` calls (the paper's other trigger, steps since the last
  perturbation).

[1] J. Zhang, H. Tran, D. Lu, G. Zhang, UAI 2021, https://proceedings.mlr.press/v161/zhang21a.html
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.dgs.estimator import es_estimate, estimate, fd_estimate, nesterov_estimate
from jaxopt_lab.linalg import perturb_orthogonal

__all__ = ["SourceState", "TRIGGERS", "dgs_source", "es_source", "nesterov_source",
           "fd_source"]

TRIGGERS = ("grad_norm", "relative", "period")


class SourceState(NamedTuple):
    """The state a source threads through the optimiser's calls.

    Attributes:
      key: PRNG key (``None`` for the deterministic finite differences).
      directions: DGS's directions ``[dim, dim]`` (columns), or ``[0, dim]`` while they are
        still the coordinate axes (never formed).
      sigma: DGS's radii ``[dim]`` (``[0]`` for the other sources).
      num_calls: gradient calls so far.
      first_norm: ``||g||`` of the first DGS gradient (the ``"relative"`` trigger's scale).
      num_perturb: DGS perturbations so far.
    """

    key: jax.Array | None
    directions: jax.Array
    sigma: jax.Array
    num_calls: int = 0
    first_norm: float | None = None
    num_perturb: int = 0


Source = Callable[[SourceState, jax.Array, jax.Array], tuple]


def _state(key, dim, dtype, sigma=None) -> SourceState:
    sigma = jnp.zeros((0,), dtype) if sigma is None else jnp.full((dim,), sigma, dtype)
    return SourceState(key=key, directions=jnp.zeros((0, dim), dtype), sigma=sigma)


def dgs_source(f: Callable, dim: int, key: jax.Array, *, radius: float, num_points: int = 5,
               rotation_scale: float = 0.1, radius_halfwidth: float = 0.2,
               grad_tol: float = 0.01, trigger: str = "grad_norm", period: int = 10,
               chunk_size: int | None = None, dtype=jnp.float32) -> tuple[Source, SourceState]:
    """DGS gradients (Eqs. 6-8) with Algorithm 1's perturbation between calls.

    Args:
      f: black box ``f(x[dim]) -> scalar``.
      dim: number of coordinates.
      key: PRNG key of the perturbations.
      radius: the smoothing radius ``r`` (> 0).
      num_points: Gauss-Hermite nodes per direction ``M``; a call costs ``(M - 1) dim``
        evaluations (odd ``M``).
      rotation_scale: ``alpha`` of the rotation (>= 0; 0 keeps the directions).
      radius_halfwidth: ``beta`` of the radius redraw (>= 0; 0 keeps ``r``).
      grad_tol: ``gamma`` of the ``"grad_norm"`` and ``"relative"`` triggers (>= 0).
      trigger: one of :data:`TRIGGERS`.
      period: calls between perturbations of the ``"period"`` trigger (>= 1).
      chunk_size: at most this many points per batched call of ``f``.
      dtype: dtype of the directions and radii (that of the points the optimiser passes).

    Returns:
      ``(source, state)``.
    """
    _checks.check_int(dim, "dim")
    _checks.check_number(radius, "radius", positive=True)
    _checks.check_int(num_points, "num_points", minimum=2)
    for name, v in (("rotation_scale", rotation_scale), ("radius_halfwidth", radius_halfwidth),
                    ("grad_tol", grad_tol)):
        _checks.check_number(v, name, non_negative=True)
    _checks.check_choice(trigger, "trigger", TRIGGERS)
    _checks.check_int(period, "period")
    half = min(radius_halfwidth, 0.8 * radius)
    evals = 2 * (num_points // 2) * dim

    def fires(norm, s):
        if trigger == "grad_norm":
            return norm < grad_tol
        if trigger == "relative":
            return norm < grad_tol * s.first_norm
        return s.num_calls % period == 0

    def source(s, x, f_x):
        del f_x
        axes = s.directions.shape[0] == 0
        g = estimate(f, x, s.sigma, directions=None if axes else s.directions,
                     num_points=num_points, chunk_size=chunk_size).grad
        norm = float(jnp.linalg.norm(g))
        s = s._replace(num_calls=s.num_calls + 1,
                       first_norm=norm if s.first_norm is None else s.first_norm)
        if fires(norm, s):
            base = jnp.eye(dim, dtype=x.dtype) if axes else s.directions
            key, k_rot = jax.random.split(s.key)
            key, k_sig = jax.random.split(key)
            s = s._replace(key=key, directions=perturb_orthogonal(k_rot, base, rotation_scale),
                           sigma=jax.random.uniform(k_sig, (dim,), x.dtype, radius - half,
                                                    radius + half),
                           num_perturb=s.num_perturb + 1)
        return g, evals, s

    return source, _state(key, dim, dtype, radius)


def _random_source(oracle, evals):
    jitted = jax.jit(oracle)

    def source(s, x, f_x):
        key, sub = jax.random.split(s.key)
        return jitted(sub, x, f_x), evals, s._replace(key=key, num_calls=s.num_calls + 1)

    return source


def es_source(f: Callable, dim: int, key: jax.Array, *, sigma: float, num_pairs: int,
              chunk_size: int | None = None, dtype=jnp.float32) -> tuple[Source, SourceState]:
    """Antithetic Gaussian-smoothing (OpenAI-ES) gradients, ``2 num_pairs`` evaluations."""
    _checks.check_int(dim, "dim")
    _checks.check_number(sigma, "sigma", positive=True)
    _checks.check_int(num_pairs, "num_pairs")
    oracle = lambda k, x, f_x: es_estimate(k, f, x, sigma, num_pairs=num_pairs,  # noqa: E731
                                           chunk_size=chunk_size).grad
    return _random_source(oracle, 2 * num_pairs), _state(key, dim, dtype)


def nesterov_source(f: Callable, dim: int, key: jax.Array, *, step: float,
                    num_directions: int, chunk_size: int | None = None,
                    dtype=jnp.float32) -> tuple[Source, SourceState]:
    """Nesterov-Spokoiny forward differences from the known ``f(x)``, ``num_directions``
    evaluations."""
    _checks.check_int(dim, "dim")
    _checks.check_number(step, "step", positive=True)
    _checks.check_int(num_directions, "num_directions")
    oracle = lambda k, x, f_x: nesterov_estimate(  # noqa: E731
        k, f, x, step, num_directions=num_directions, f_x=f_x, chunk_size=chunk_size).grad
    return _random_source(oracle, num_directions), _state(key, dim, dtype)


def fd_source(f: Callable, dim: int, *, step: float, chunk_size: int | None = None,
              dtype=jnp.float32) -> tuple[Source, SourceState]:
    """Central finite differences on every coordinate, ``2 dim`` evaluations."""
    _checks.check_int(dim, "dim")
    _checks.check_number(step, "step", positive=True)
    grad = jax.jit(lambda x: fd_estimate(None, f, x, step, chunk_size=chunk_size).grad)

    def source(s, x, f_x):
        del f_x
        return grad(x), 2 * dim, s._replace(num_calls=s.num_calls + 1)

    return source, _state(None, dim, dtype)
