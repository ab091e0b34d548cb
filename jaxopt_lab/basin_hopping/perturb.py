"""Perturbations of basin hopping: the Gaussian random walk and the skipping chain [1].

Both act on one chain (``x[dim]``); the methods vmap them over chains.

* :func:`random_walk` (BH, Algorithm 1): ``Y = X + W`` with ``W ~ N(0, sigma^2 I)``.
* :func:`skipping_chain` (BH-S, Algorithm 2): a direction ``Phi = W/|W|`` and points
  ``Z_k = X + Phi (R_1 + ... + R_k)``, ``k = 1..K``, stopping at the first ``Z_k`` with
  ``f(Z_k) < f(X)`` (strict, as the authors' code). Radial increments are ``"equal"``
  (the authors' code: ``R_k = R_1 = |W|``) or ``"iid"`` (the paper's text: ``R_k ~ sigma
  chi_d`` independent). Boundary: ``"periodic"`` wraps every point with
  ``l + mod(x - l, u - l)``; ``"first"`` wraps ``Z_1`` only and lets the later points leave
  the box (the authors' ``proposeoutsidebounds=True``); ``"none"`` wraps nothing. If no
  point of the chain is in the strict sublevel set, ``Y = X``. Directions: ``"sphere"``
  (the paper: ``Phi`` uniform on the unit sphere) or ``"axes"`` (a coordinate axis drawn
  uniformly, with a random sign; the radii keep their law): a variant that moves one
  coordinate per chain, which only a separable landscape rewards (docs/methods/bhs.md).

``sigma`` is a standard deviation everywhere. The authors' code read the published BH
sigma (Table 5.1's BH column) and the dimension script's sigma as a *variance*; pass
``std_from_variance(published)`` to reproduce those runs.

The chain is evaluated in blocks of ``block_size`` points until the first block with a hit,
so the cost follows the halting index; the counts reported are those of the sequential
algorithm (``k`` evaluations for a chain that halts at ``Z_k``). Non-finite objective values
count as ``+inf`` (never in the sublevel set) and are counted.

[1] Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021,
    arXiv:2108.05229.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks

__all__ = ["RADII", "BOUNDARIES", "DIRECTIONS", "wrap", "std_from_variance", "random_walk",
           "WalkResult", "skipping_chain", "SkipResult"]

RADII = ("equal", "iid")
BOUNDARIES = ("periodic", "first", "none")
DIRECTIONS = ("sphere", "axes")


def wrap(x: jax.Array, lower: jax.Array, upper: jax.Array) -> jax.Array:
    """Periodic wrap ``l + mod(x - l, u - l)`` of ``x[..., dim]`` into the box."""
    return lower + jnp.mod(x - lower, upper - lower)


def std_from_variance(variance):
    """The standard deviation ``sqrt(variance)`` of a sigma published as a variance.

    The authors' BH step drew ``W ~ N(0, sigma I)`` with Table 5.1's BH sigma (Egg-holder:
    100, i.e. a standard deviation of 10; E|W| = 12.5 matches the table's nu_1), and their
    dimension script did the same for the skipping chain (Fig. 3.4's sigma = 20).

    Raises:
      ValueError: ``variance`` is not finite and > 0 (where concrete).
    """
    _checks.check_array(variance, "variance", positive=True)
    if isinstance(variance, jax.Array):
        return jnp.sqrt(variance)
    return np.sqrt(np.asarray(variance, np.float64))


class WalkResult(NamedTuple):
    """One random-walk step: the proposal ``y[dim]`` and the jump length ``radius = |W|``."""

    y: jax.Array
    radius: jax.Array


def random_walk(key: jax.Array, x: jax.Array, sigma: jax.Array, lower: jax.Array,
                upper: jax.Array, *, periodic: bool = False) -> WalkResult:
    """Gaussian random-walk proposal ``Y = X + W``, ``W ~ N(0, sigma^2 I)``.

    Args:
      key: PRNG key.
      x: ``[dim]`` current point.
      sigma: ``[]`` standard deviation of each coordinate of ``W``.
      lower: ``[dim]`` box.
      upper: the box's upper corner.
      periodic: wrap ``Y`` into the box (else the local minimiser projects it).

    Returns:
      :class:`WalkResult`.
    """
    w = sigma * jax.random.normal(key, x.shape, x.dtype)
    y = x + w
    if periodic:
        y = wrap(y, lower, upper)
    return WalkResult(y=y, radius=jnp.sqrt(jnp.sum(w * w)))


class SkipResult(NamedTuple):
    """One skipping chain.

    Attributes:
      y: ``[dim]`` proposal (``X`` itself when the chain found no sublevel point).
      found: ``[]`` bool, the chain hit the strict sublevel set.
      num_steps: ``[]`` int32 halting index ``k`` (points evaluated, ``<= K``; 0 when the
        chain was not ``active``).
      path_length: ``[]`` ``R_1 + ... + R_k`` of the winning chain (0 if not found).
      first_radius: ``[]`` ``R_1``.
      num_nonfinite: ``[]`` int32 non-finite values among the ``k`` evaluated points.
      points: ``[K, dim]`` all chain points (for tests and plots).
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
                   lower: jax.Array, upper: jax.Array, *, max_skips: int,
                   radii: str = "equal", boundary: str = "periodic",
                   block_size: int | None = None, active=True,
                   directions: str = "sphere") -> SkipResult:
    """The skipping perturbation of Algorithm 2 for one chain.

    Args:
      key: PRNG key.
      x: ``[dim]`` current local minimum ``X_n``.
      fx: ``[]`` its value ``f(X_n)`` (the sublevel threshold; the test is strict).
      objective: ``f(x[dim]) -> []``.
      sigma: ``[]`` standard deviation of the Gaussian ``W`` (direction and first radius).
      lower: ``[dim]`` box.
      upper: the box's upper corner.
      max_skips: the halting index ``K >= 1`` (static): at most ``K`` points.
      radii: ``"equal"`` (authors' code) or ``"iid"`` (paper's text).
      boundary: ``"periodic"``, ``"first"`` or ``"none"``.
      block_size: evaluate the chain in blocks of this many points, stopping after the
        first block with a hit (``None``: all ``K`` points in one block).
      active: ``[]`` bool; ``False`` evaluates nothing and returns ``y = x`` (a masked lane
        of a vmapped batch costs nothing when every lane is inactive).
      directions: ``"sphere"`` (``Phi = W / |W|``) or ``"axes"`` (``Phi = +-e_j``, ``j``
        uniform; ``R_1 = |W|`` as for the sphere).

    Returns:
      :class:`SkipResult`.
    """
    _checks.check_int(max_skips, "max_skips")
    _checks.check_int(block_size, "block_size", allow_none=True)
    _checks.check_choice(radii, "radii", RADII)
    _checks.check_choice(boundary, "boundary", BOUNDARIES)
    _checks.check_choice(directions, "directions", DIRECTIONS)
    dim = x.shape[-1]

    def chain(running):
        # Tied to the loop's flag so that XLA cannot hoist the draws out of the loop.
        key_w, key_r = jax.random.split(jax.lax.optimization_barrier((key, running))[0])
        w = sigma * jax.random.normal(key_w, (dim,), x.dtype)
        r1 = jnp.sqrt(jnp.sum(w * w))
        phi = w / jnp.where(r1 > 0, r1, 1.0)
        if directions == "axes":
            key_j, key_s = jax.random.split(jax.random.fold_in(key_w, 1))
            sign = jnp.where(jax.random.bernoulli(key_s), 1.0, -1.0).astype(x.dtype)
            phi = sign * jax.nn.one_hot(jax.random.randint(key_j, (), 0, dim), dim,
                                        dtype=x.dtype)
        if radii == "equal":
            increments = jnp.full((max_skips,), r1, x.dtype)
        else:
            g = jax.random.normal(key_r, (max_skips - 1, dim), x.dtype)
            later = sigma * jnp.sqrt(jnp.sum(g * g, axis=-1))
            increments = jnp.concatenate([r1[None], later])
        cum = jnp.cumsum(increments)  # [K]
        if boundary == "periodic":
            points = wrap(x[None, :] + cum[:, None] * phi[None, :], lower[None, :],
                          upper[None, :])
        elif boundary == "first":
            z1 = wrap(x + r1 * phi, lower, upper)
            points = z1[None, :] + (cum - r1)[:, None] * phi[None, :]
        else:
            points = x[None, :] + cum[:, None] * phi[None, :]

        # Block by block, stopping at the first block with a hit: the cost follows k, not K.
        block = max_skips if block_size is None else min(block_size, max_skips)
        num_blocks = -(-max_skips // block)
        size = num_blocks * block
        padded = jnp.concatenate([points, jnp.repeat(points[-1:], size - max_skips, axis=0)])
        blocks = padded.reshape(num_blocks, block, dim)
        index = jnp.arange(size)

        def cond(carry):
            b, hit, _ = carry
            return (b < num_blocks) & ~jnp.any(hit) & active

        def body(carry):
            b, hit, bad = carry
            vals = jax.vmap(objective)(blocks[b])
            blk_bad = ~jnp.isfinite(vals)
            idx = b * block + jnp.arange(block)
            blk_hit = (jnp.where(blk_bad, jnp.inf, vals) < fx) & (idx < max_skips)
            hit = jax.lax.dynamic_update_slice(hit, blk_hit, (b * block,))
            bad = jax.lax.dynamic_update_slice(bad, blk_bad, (b * block,))
            return b + 1, hit, bad

        _, hit, bad = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32),
                                                      jnp.zeros((size,), bool),
                                                      jnp.zeros((size,), bool)))
        found = jnp.any(hit)
        first = jnp.argmax(hit)
        num_steps = jnp.where(found, first + 1,
                              jnp.where(active, max_skips, 0)).astype(jnp.int32)
        y = jnp.where(found, points[first], x)  # first < K: no hit lies in the padding
        path_length = jnp.where(found, cum[first], 0.0).astype(x.dtype)
        num_bad = jnp.sum(bad & (index < num_steps)).astype(jnp.int32)
        return SkipResult(y=y, found=found, num_steps=num_steps, path_length=path_length,
                          first_radius=r1, num_nonfinite=num_bad, points=points)

    # Run once where active: under vmap, a batch whose lanes are all inactive skips the
    # chain's draws and points as well as its evaluations.
    zero = jnp.zeros((), jnp.int32)
    blank = SkipResult(y=x, found=jnp.zeros((), bool), num_steps=zero,
                       path_length=jnp.zeros((), x.dtype), first_radius=jnp.zeros((), x.dtype),
                       num_nonfinite=zero, points=jnp.zeros((max_skips, dim), x.dtype))
    return jax.lax.while_loop(lambda c: c[0], lambda c: (jnp.zeros((), bool), chain(c[0])),
                              (jnp.asarray(active, bool), blank))[1]
