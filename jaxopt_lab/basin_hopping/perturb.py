"""Perturbations of basin hopping: the Gaussian random walk and the skipping chain.

Both act on one chain (``x[dim]``); :mod:`~jaxopt_lab.basin_hopping.chains` vmaps them.

* :func:`random_walk` (BH, Algorithm 1 of [1]): ``Y = X + W`` with ``W`` an isotropic
  Gaussian. Two conventions for the number ``sigma`` (``convention``):
  ``"std"`` (the paper's text: ``W ~ N(0, sigma^2 I)``) and ``"variance"`` (the authors'
  code and Table 5.1's BH column: ``W ~ N(0, sigma I)``, i.e. standard deviation
  ``sqrt(sigma)``).
* :func:`skipping_chain` (BH-S, Algorithm 2 of [1]): a direction ``Phi = W/|W|`` and points
  ``Z_k = X + Phi (R_1 + ... + R_k)``, ``k = 1..K``, stopping at the first ``Z_k`` with
  ``f(Z_k) < f(X)`` (strict, as the authors' code). Radial increments are either
  ``"iid"`` (the paper's text: ``R_k ~ sigma chi_d`` independent) or ``"equal"`` (the
  authors' code: ``R_k = R_1``). Boundary: ``"periodic"`` wraps every point with
  ``l + mod(x - l, u - l)``; ``"first"`` wraps ``Z_1`` only and lets the later points leave
  the box (the authors' ``proposeoutsidebounds=True``); ``"none"`` wraps nothing.
  If no point of the chain is in the strict sublevel set, ``Y = X``.

The chain is evaluated as one batch of ``max_skips`` points (cheap and branch-free on an
accelerator), or in blocks of ``block_size`` points until the first block with a hit (so
that a large ``max_skips`` bound costs nothing when ``K`` is small); the evaluation counts
reported are those of the sequential algorithm
(``k`` evaluations for a chain that halts at ``Z_k``), with ``num_skips <= max_skips``
as a numeric (traceable) halting index ``K``.

Non-finite objective values count as ``+inf`` (never in the sublevel set) and are counted.

[1] Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["CONVENTIONS", "RADII", "BOUNDARIES", "wrap", "sigma_to_std", "random_walk",
           "skipping_chain", "SkipResult", "WalkResult"]

CONVENTIONS = ("std", "variance")
RADII = ("equal", "iid")
BOUNDARIES = ("periodic", "first", "none")


def wrap(x: jax.Array, lower: jax.Array, upper: jax.Array) -> jax.Array:
    """Periodic wrap ``l + mod(x - l, u - l)`` of ``x[..., dim]`` into the box."""
    return lower + jnp.mod(x - lower, upper - lower)


def sigma_to_std(sigma: jax.Array, convention: str) -> jax.Array:
    """Per-coordinate standard deviation for ``sigma`` under ``convention``."""
    if convention == "std":
        return sigma
    if convention == "variance":
        return jnp.sqrt(sigma)
    raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")


class WalkResult(NamedTuple):
    """Result of one random-walk step: ``y[dim]`` and the jump length ``radius[]``."""

    y: jax.Array
    radius: jax.Array


def random_walk(key: jax.Array, x: jax.Array, sigma: jax.Array, lower: jax.Array,
                upper: jax.Array, *, convention: str = "variance",
                periodic: bool = False) -> WalkResult:
    """Gaussian random-walk proposal ``Y = X + W`` (optionally wrapped into the box).

    Args:
      key: PRNG key.
      x: ``[dim]`` current point.
      sigma: ``[]`` step size, read according to ``convention``.
      lower, upper: ``[dim]`` box.
      convention: ``"std"`` or ``"variance"`` (see the module docstring).
      periodic: wrap ``Y`` into the box.

    Returns:
      :class:`WalkResult` with ``y`` (``[dim]``) and ``radius = |W|``.
    """
    std = sigma_to_std(sigma, convention)
    w = std * jax.random.normal(key, x.shape, x.dtype)
    y = x + w
    if periodic:
        y = wrap(y, lower, upper)
    return WalkResult(y=y, radius=jnp.sqrt(jnp.sum(w * w)))


class SkipResult(NamedTuple):
    """Result of one skipping chain.

    Attributes:
      y: ``[dim]`` proposal (``X`` itself when the chain found no sublevel point).
      found: ``[]`` bool, the chain hit the strict sublevel set.
      num_steps: ``[]`` int32 halting index ``k`` (points evaluated, ``<= K``).
      path_length: ``[]`` ``R_1 + ... + R_k`` of the winning chain (0 if not found).
      first_radius: ``[]`` ``R_1``.
      num_nonfinite: ``[]`` int32 non-finite values among the ``k`` evaluated points.
      points: ``[max_skips, dim]`` all chain points (for tests and plots).
    """

    y: jax.Array
    found: jax.Array
    num_steps: jax.Array
    path_length: jax.Array
    first_radius: jax.Array
    num_nonfinite: jax.Array
    points: jax.Array


def skipping_chain(key: jax.Array, x: jax.Array, fx: jax.Array,
                   objective: Callable[[jax.Array], jax.Array], sigma: jax.Array,
                   num_skips: jax.Array, lower: jax.Array, upper: jax.Array, *,
                   max_skips: int, convention: str = "std", radii: str = "equal",
                   boundary: str = "periodic", block_size: int | None = None) -> SkipResult:
    """The skipping perturbation of Algorithm 2 for one chain.

    Args:
      key: PRNG key.
      x: ``[dim]`` current local minimum ``X_n``.
      fx: ``[]`` its value ``f(X_n)`` (the sublevel threshold; the test is strict).
      objective: ``f(x[dim]) -> []``.
      sigma: ``[]`` step size of the Gaussian ``W`` (read according to ``convention``).
      num_skips: ``[]`` int halting index ``K`` (``1 <= K <= max_skips``).
      lower, upper: ``[dim]`` box.
      max_skips: static upper bound on ``K`` (the batch size of the evaluation).
      convention: ``"std"`` or ``"variance"``.
      radii: ``"equal"`` (authors' code) or ``"iid"`` (paper's text).
      boundary: ``"periodic"``, ``"first"`` or ``"none"``.
      block_size: evaluate the chain in blocks of this many points, stopping after the
        first block with a hit (``None``: all ``max_skips`` points in one batch).

    Returns:
      :class:`SkipResult`.
    """
    if radii not in RADII:
        raise ValueError(f"radii must be one of {RADII}, got {radii!r}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    std = sigma_to_std(sigma, convention)
    dim = x.shape[-1]
    key_w, key_r = jax.random.split(key)
    w = std * jax.random.normal(key_w, (dim,), x.dtype)
    r1 = jnp.sqrt(jnp.sum(w * w))
    phi = w / jnp.where(r1 > 0, r1, 1.0)
    if radii == "equal":
        increments = jnp.full((max_skips,), r1, x.dtype)
    else:
        g = jax.random.normal(key_r, (max_skips - 1, dim), x.dtype)
        later = std * jnp.sqrt(jnp.sum(g * g, axis=-1))
        increments = jnp.concatenate([r1[None], later])
    cum = jnp.cumsum(increments)  # [max_skips]
    raw = x[None, :] + cum[:, None] * phi[None, :]
    lo, hi = lower[None, :], upper[None, :]
    if boundary == "periodic":
        points = wrap(raw, lo, hi)
    elif boundary == "first":
        z1 = wrap(x + r1 * phi, lower, upper)
        points = z1[None, :] + (cum - r1)[:, None] * phi[None, :]
    else:
        points = raw
    index = jnp.arange(max_skips)
    if block_size is None or block_size >= max_skips:
        values = jax.vmap(objective)(points)
        bad = ~jnp.isfinite(values)
        values = jnp.where(bad, jnp.inf, values)
        hit = (values < fx) & (index < num_skips)
    else:
        # Evaluate the chain block by block and stop at the first block with a hit (or at
        # K): the cost follows the halting index, not max_skips.
        num_blocks = -(-max_skips // block_size)
        pad = num_blocks * block_size - max_skips
        padded = jnp.concatenate([points, jnp.repeat(points[-1:], pad, axis=0)])
        blocks = padded.reshape(num_blocks, block_size, dim)

        def cond(carry):
            b, hit, _ = carry
            return (b < num_blocks) & ~jnp.any(hit) & (b * block_size < num_skips)

        def body(carry):
            b, hit, bad = carry
            vals = jax.vmap(objective)(blocks[b])
            blk_bad = ~jnp.isfinite(vals)
            idx = b * block_size + jnp.arange(block_size)
            blk_hit = (jnp.where(blk_bad, jnp.inf, vals) < fx) & (idx < num_skips)
            hit = jax.lax.dynamic_update_slice(hit, blk_hit, (b * block_size,))
            bad = jax.lax.dynamic_update_slice(bad, blk_bad, (b * block_size,))
            return b + 1, hit, bad

        size = num_blocks * block_size
        _, hit, bad = jax.lax.while_loop(
            cond, body, (jnp.zeros((), jnp.int32), jnp.zeros((size,), bool),
                         jnp.zeros((size,), bool)))
        hit, bad = hit[:max_skips], bad[:max_skips]
    found = jnp.any(hit)
    first = jnp.argmax(hit)
    num_steps = jnp.where(found, first + 1, jnp.minimum(num_skips, max_skips)).astype(jnp.int32)
    y = jnp.where(found, points[first], x)
    path_length = jnp.where(found, cum[first], 0.0).astype(x.dtype)
    num_bad = jnp.sum(bad & (index < num_steps)).astype(jnp.int32)
    return SkipResult(y=y, found=found, num_steps=num_steps, path_length=path_length,
                      first_radius=r1, num_nonfinite=num_bad, points=points)
