"""Taylor estimates of single-variable moves, move selection and application.

A program is a flat ``z[num_vars]`` of values (see
:class:`~jaxopt_lab.problems.programs.DiscreteSpace`); a *move* ``(v, j)`` sets variable
``v`` to value ``j != z[v]`` (Hamming distance 1). With ``g = dL/dw`` taken at the one-hot
point ``w = onehot(z)`` (padded to ``[num_vars, max_card]``), the first-order estimate of
the loss change of the move is (Lu 2021 [1], §2.3):

  * categorical switch rule: ``D(v, j) = g[v, j] - g[v, z[v]]``;
  * binary flip rule (a binary ``x`` stored as a real number): ``D = (1 - 2x) dL/dx``.

For a binary variable written as the one-hot ``(1 - x, x)`` the two rules agree, since
``dL/dx = g[1] - g[0]``. Both are exact when the loss is linear in that variable's one-hot
block (e.g. the parameters of a circuit's last gate under a loss linear in the outputs);
in general a wire written by one gate is read by several later gates, so the outputs are
polynomials of higher degree in earlier gates' parameters and the estimate is first order.

[1] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

__all__ = ["switch_estimates", "flip_estimates", "candidate_mask", "exact_move_deltas",
           "argmin_by_priority", "random_argmin", "move_from_uniforms", "apply_move",
           "smoothed_onehot"]


def switch_estimates(grad: jax.Array, z: jax.Array) -> jax.Array:
    """Categorical switch rule, ``[num_vars, max_card]``.

    Args:
      grad: ``[num_vars, max_card]`` gradient at the (possibly smoothed) one-hot point.
      z: ``[num_vars]`` int current values.

    Returns:
      ``grad[v, j] - grad[v, z[v]]``; the entry of the current value is 0.
    """
    current = jnp.take_along_axis(grad, z[:, None], axis=1)  # [V, 1]
    return grad - current


def flip_estimates(grad: jax.Array, x: jax.Array) -> jax.Array:
    """Binary flip rule ``(1 - 2x) * dL/dx`` for binary ``x`` stored as reals, ``[...]``."""
    return (1.0 - 2.0 * x) * grad


def candidate_mask(z: jax.Array, valid: jax.Array) -> jax.Array:
    """``[num_vars, max_card]`` bool: the moves (existing values other than the current)."""
    values = jnp.arange(valid.shape[1], dtype=z.dtype)
    return valid & (values[None, :] != z[:, None])


def exact_move_deltas(loss_of_onehot: Callable[[jax.Array], jax.Array], z: jax.Array,
                      valid: jax.Array) -> jax.Array:
    """Exact loss change of every single move, ``[num_vars, max_card]`` (``+inf`` for
    non-moves). Costs ``num_vars * max_card`` loss evaluations; for tests and small
    programs (plain discrete local search)."""
    num_vars, max_card = valid.shape
    base = jax.nn.one_hot(z, max_card, dtype=jnp.float32)
    f0 = loss_of_onehot(base)

    def one(v, j):
        moved = base.at[v].set(jax.nn.one_hot(j, max_card, dtype=jnp.float32))
        return loss_of_onehot(moved) - f0

    vs, js = jnp.meshgrid(jnp.arange(num_vars), jnp.arange(max_card), indexing="ij")
    deltas = jax.vmap(jax.vmap(one))(vs, js)
    return jnp.where(candidate_mask(z, valid), deltas, jnp.inf)


def argmin_by_priority(scores: jax.Array, priority: jax.Array) -> jax.Array:
    """Flat index of a minimum of ``scores``; among tied minima the largest ``priority``
    (same shape, i.i.d. uniform for random tie-breaking) wins."""
    flat = scores.reshape(-1)
    tied = flat == jnp.min(flat)
    return jnp.argmax(jnp.where(tied, priority.reshape(-1), -1.0))


def random_argmin(key: jax.Array, scores: jax.Array) -> jax.Array:
    """Flat index of a minimum of ``scores``, ties broken uniformly at random.

    Entries equal to the minimum are the candidates; each gets an independent uniform
    priority and the largest wins, so every tied entry is chosen with equal probability.
    If every entry is ``+inf`` (no move exists) a uniformly random entry is returned.
    """
    return argmin_by_priority(scores, jax.random.uniform(key, scores.shape, jnp.float32))


def move_from_uniforms(u_var: jax.Array, u_val: jax.Array, z: jax.Array,
                       cards: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A uniformly random move from two ``U(0, 1)`` numbers: variable ``floor(u_var V)`` and
    one of its ``card - 1`` other values. Returns ``(variable, value)``."""
    v = jnp.minimum(jnp.floor(u_var * z.shape[0]).astype(jnp.int32), z.shape[0] - 1)
    card = cards[v]
    shift = 1 + jnp.floor(u_val * (card - 1)).astype(jnp.int32)
    shift = jnp.minimum(shift, card - 1)
    return v, ((z[v] + shift) % card).astype(z.dtype)


def apply_move(z: jax.Array, v: jax.Array, j: jax.Array) -> jax.Array:
    """``z`` with variable ``v`` set to value ``j``."""
    return z.at[v].set(j.astype(z.dtype))


def smoothed_onehot(z: jax.Array, valid: jax.Array, smooth: jax.Array, mode: str) -> jax.Array:
    """GradSearch+ smoothing of the one-hot point, ``[num_vars, max_card]``.

    Args:
      z: ``[num_vars]`` values.
      valid: ``[num_vars, max_card]`` existing values.
      smooth: the mass moved off the chosen value (0.01 in the paper).
      mode: ``"sum_to_one"``: ``1 - smooth`` on the chosen value and ``smooth / (M - 1)`` on
        each other value of an ``M``-way variable; ``"literal"``: every 1 becomes
        ``1 - smooth`` and every 0 becomes ``smooth`` (does not sum to one for ``M > 2``).
    """
    hot = jax.nn.one_hot(z, valid.shape[1], dtype=jnp.float32)
    m = jnp.sum(valid, axis=1, keepdims=True).astype(jnp.float32)  # [V, 1]
    if mode == "sum_to_one":
        off = smooth / (m - 1.0)
    elif mode == "literal":
        off = jnp.broadcast_to(smooth, m.shape)
    else:
        raise ValueError(f"smoothing mode must be 'sum_to_one' or 'literal', got {mode!r}")
    soft = hot * (1.0 - smooth) + (1.0 - hot) * off
    return jnp.where(valid, soft, 0.0)
