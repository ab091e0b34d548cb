"""Step-size and radius schedules of the DGS family (``kind`` is a static Config choice).

* ``"constant"``: ``v_t = v_0``.
* ``"quadratic"``: ``v_t = v_end + (v_0 - v_end) (1 - min(t, T) / T)^2``, the paper's
  "quadratic decay" of both learning rate and radius over ``T`` iterations (Zhang et al.,
  UAI 2021, Sec. 4.1; the paper does not print the formula, this convex reading is ours).
* ``"exponential"``: ``v_t = max(v_0 decay^t, v_end)`` (the paper's hydraulic-conductivity
  inversion uses ``lambda_t = 0.99 lambda_{t-1}``).
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["SCHEDULES", "schedule_value"]

SCHEDULES = ("constant", "quadratic", "exponential")


def schedule_value(kind: str, t, v0, v_end, horizon, decay):
    """Value of schedule ``kind`` at step ``t`` (all numeric arguments may be traced).

    Args:
      kind: one of :data:`SCHEDULES` (static).
      t: step index (int or float scalar).
      v0: initial value.
      v_end: final value (``"quadratic"``) or floor (``"exponential"``).
      horizon: ``T`` of the quadratic decay (> 0).
      decay: per-step factor of the exponential decay.

    Raises:
      ValueError: ``kind`` is not one of :data:`SCHEDULES`.
    """
    t = jnp.asarray(t, jnp.result_type(v0, float))
    if kind == "constant":
        return jnp.asarray(v0) + 0.0 * t
    if kind == "quadratic":
        frac = jnp.clip(t / horizon, 0.0, 1.0)
        return v_end + (v0 - v_end) * (1.0 - frac) ** 2
    if kind == "exponential":
        return jnp.maximum(v0 * decay**t, v_end)
    raise ValueError(f"kind must be one of {SCHEDULES}, got {kind!r}")
