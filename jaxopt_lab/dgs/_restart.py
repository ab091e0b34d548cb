"""The averaged restart of DGS (``dgs.Config(restart="average")``, ours, not the paper's).

The iterates ``x_{t+1}`` of the steps ``t0 <= t < J`` (``t0 = floor(average_start T)``,
``J = floor(restart_at T)``, ``T = Params.horizon``) are summed; after step ``J - 1`` their
mean is evaluated and replaces the iterate if its value is lower; from step ``J`` on the
learning rate and radius follow their schedules again from ``restart_lr lambda_0`` and
``restart_sigma sigma_0`` to the same finals over ``T - J`` steps. The functions take the
numeric fields of :class:`jaxopt_lab.dgs.dgs.Params`; see docs/methods/dgs.md, "Past the
paper's d = 2000 limits".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxopt_lab.dgs.schedules import schedule_value

__all__ = ["restart_points", "restarted_schedules", "average_and_jump"]


def restart_points(params):
    """``(t0, J)``: the averaging window's first step and the restart step (int32 ``[]``)."""
    t0 = jnp.floor(params.average_start * params.horizon).astype(jnp.int32)
    return t0, jnp.floor(params.restart_at * params.horizon).astype(jnp.int32)


def restarted_schedules(config, params, t, lr, sigma):
    """``(lr, sigma)`` (``[]`` each) at step ``t`` with the averaged restart: the given
    ``lr`` and ``sigma`` before step ``J``, then the schedules from ``restart_lr lambda_0``
    and ``restart_sigma sigma_0`` to the same finals over ``T - J`` steps."""
    _, restart = restart_points(params)
    tr = t - restart
    horizon = jnp.maximum(params.horizon - restart.astype(params.horizon.dtype), 1.0)
    lr_r = schedule_value(config.lr_schedule, tr, params.restart_lr * params.learning_rate,
                          params.learning_rate_final, horizon, params.decay)
    sigma_r = schedule_value(config.radius_schedule, tr, params.restart_sigma * params.sigma,
                             params.sigma_final, horizon, params.decay)
    after = t >= restart
    return jnp.where(after, lr_r, lr), jnp.where(after, sigma_r.astype(sigma.dtype), sigma)


def average_and_jump(objective, params, state, x_new, f_new):
    """Adds ``x_new [dim]`` (the iterate of step ``state.step``) to the window's sum; after
    step ``J - 1`` evaluates the mean and moves there if it is lower than ``f_new``.

    Returns:
      ``(x_new [dim], f_new [], x_sum [dim], num_summed [], jumped [] bool, evaluated [])``,
      ``evaluated`` an int32, 1 at the step that evaluates the mean, else 0.
    """
    t = state.step
    start, restart = restart_points(params)
    inside = (t >= start) & (t < restart)
    x_sum = state.x_sum + jnp.where(inside, x_new, jnp.zeros_like(x_new))
    num = state.num_summed + inside.astype(jnp.int32)
    closing = (t == restart - 1) & (num > 0)
    mean = x_sum / jnp.maximum(num, 1).astype(x_new.dtype)
    f_mean = jax.lax.cond(closing, lambda m: jnp.asarray(objective(m), f_new.dtype),
                          lambda m: jnp.full((), jnp.inf, f_new.dtype), mean)
    jumped = closing & jnp.isfinite(f_mean) & ~(f_mean >= f_new)
    return (jnp.where(jumped, mean, x_new), jnp.where(jumped, f_mean, f_new), x_sum, num,
            jumped, closing.astype(jnp.int32))
