"""The memory of the projected L-BFGS (:mod:`.local`): its direction and its pairs.

Both act on one point's ``LBFGSState`` (``s_hist``, ``y_hist``, ``rho``: a circular buffer
of ``m`` pairs, ``head`` the next slot, ``count`` the pairs stored); Nocedal & Wright,
"Numerical Optimization", Algorithm 7.4.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def direction(state, free, m: int):
    """The L-BFGS direction ``-H g`` (two-loop recursion over the stored pairs), restricted
    to the ``free`` variables (a 0/1 mask ``[dim]``); ``-g`` where it is not a descent."""
    s_hist, y_hist = state.s_hist * free[None, :], state.y_hist * free[None, :]

    def backward(i, carry):  # newest to oldest
        q, alphas = carry
        idx = (state.head - 1 - i) % m
        a = jnp.where(i < state.count, state.rho[idx] * jnp.dot(s_hist[idx], q), 0.0)
        return q - a * y_hist[idx], alphas.at[idx].set(a)

    q, alphas = jax.lax.fori_loop(0, m, backward, (state.g * free, jnp.zeros_like(state.rho)))
    newest = (state.head - 1) % m
    s_new, y_new = s_hist[newest], y_hist[newest]
    yy = jnp.dot(y_new, y_new)
    gamma = jnp.where((state.count > 0) & (yy > 0),
                      jnp.dot(s_new, y_new) / jnp.where(yy > 0, yy, 1.0), 1.0)
    gamma = jnp.where(gamma > 0, gamma, 1.0)

    def forward(i, r):  # oldest to newest
        j = m - 1 - i
        idx = (state.head - 1 - j) % m
        b = state.rho[idx] * jnp.dot(y_hist[idx], r)
        return r + jnp.where(j < state.count, alphas[idx] - b, 0.0) * s_hist[idx]

    r = jax.lax.fori_loop(0, m, forward, gamma * q)
    d = -r * free
    descent = jnp.dot(d, state.g) < 0
    return jnp.where(descent, d, -state.g * free)


def push_pair(state, x_new, g_new, ok, m: int):
    """Stores ``(s, y)`` of an accepted step when its curvature ``s.y`` is positive.

    Returns the new ``(s_hist, y_hist, rho, head, count)``.
    """
    s = x_new - state.x
    y = g_new - state.g
    sy = jnp.dot(s, y)
    store = ok & (sy > jnp.finfo(state.x.dtype).eps * jnp.dot(y, y))
    head = state.head
    s_hist = jnp.where(store, state.s_hist.at[head].set(s), state.s_hist)
    y_hist = jnp.where(store, state.y_hist.at[head].set(y), state.y_hist)
    rho = jnp.where(store, state.rho.at[head].set(1.0 / jnp.where(store, sy, 1.0)),
                    state.rho)
    return (s_hist, y_hist, rho, jnp.where(store, (head + 1) % m, head),
            jnp.where(store, jnp.minimum(state.count + 1, m), state.count))
