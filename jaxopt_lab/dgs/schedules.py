"""Step-size and radius schedules, and the shared descent update of the DGS family.

Schedules (``kind``, static):
  * ``"constant"``: ``v_t = v_0``.
  * ``"quadratic"``: ``v_t = v_end + (v_0 - v_end) (1 - min(t, T) / T)^2`` — the paper's
    "quadratic decay" of both learning rate and radius over ``T`` iterations (Zhang et al.,
    UAI 2021, Sec. 4.1; the exact form is our assumption, ../shared/specs/dgs.md §2).
  * ``"exponential"``: ``v_t = max(v_0 decay^t, v_end)`` (the paper's hydraulic-conductivity
    inversion uses ``lambda_t = 0.99 lambda_{t-1}``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["SCHEDULES", "schedule_value", "check_schedule", "descend", "safe_norm"]

SCHEDULES = ("constant", "quadratic", "exponential")


def check_schedule(kind: str, argument: str) -> None:
    """Raises ``ValueError`` naming ``argument`` if ``kind`` is not a known schedule."""
    if kind not in SCHEDULES:
        raise ValueError(f"{argument} must be one of {SCHEDULES}, got {kind!r}")


def schedule_value(kind: str, t, v0, v_end, horizon, decay):
    """Value of schedule ``kind`` at step ``t`` (all numeric arguments may be traced).

    Args:
      kind: one of :data:`SCHEDULES` (static).
      t: step index (int or float scalar).
      v0: initial value.
      v_end: final value (``"quadratic"``) or floor (``"exponential"``).
      horizon: ``T`` of the quadratic decay (> 0).
      decay: per-step factor of the exponential decay.
    """
    t = jnp.asarray(t, jnp.result_type(v0, float))
    if kind == "constant":
        return jnp.asarray(v0) + 0.0 * t
    if kind == "quadratic":
        frac = jnp.clip(t / horizon, 0.0, 1.0)
        return v_end + (v0 - v_end) * (1.0 - frac) ** 2
    if kind == "exponential":
        return jnp.maximum(v0 * decay**t, v_end)
    raise ValueError(f"unknown schedule {kind!r}")


def safe_norm(v: jax.Array) -> jax.Array:
    """Euclidean norm of ``v[dim]`` (0 for the zero vector, no NaN gradient issues)."""
    return jnp.sqrt(jnp.sum(v * v))


def descend(x: jax.Array, g: jax.Array, learning_rate, normalize: bool):
    """One descent step ``x - lr g`` (raw) or ``x - lr g / ||g||`` (normalised).

    A zero or non-finite gradient gives no move (the step is reported as length 0).

    Returns:
      ``(x_new [dim], grad_norm [], step_norm [])``.
    """
    gnorm = safe_norm(g)
    ok = jnp.isfinite(gnorm) & (gnorm > 0)
    scale = learning_rate / jnp.where(ok, gnorm, 1.0) if normalize else learning_rate
    delta = jnp.where(ok, -scale * g, jnp.zeros_like(g)).astype(x.dtype)
    return x + delta, gnorm, safe_norm(delta)
