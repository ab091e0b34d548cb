"""Machinery shared by the GradSearch family's methods (not public).

* :func:`loss_functions`: the example losses a method works with, the loss of a discrete
  program (mean over examples at its one-hot point; ``+inf`` where not finite) and the
  weighted gradient of the discrete methods (GradSearch, Bop).
* :func:`improve`: best-program bookkeeping (``best_x``, ``best_f``).
* :func:`adam_step`: the update of the latent methods (relaxations, STE), skipped where
  the loss or the gradient is not finite and frozen once the program fits every example.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.problems import programs


def finite_or_inf(f: jax.Array) -> jax.Array:
    return jnp.where(jnp.isfinite(f), f, jnp.inf)


def check_binary(task, method: str) -> None:
    if task.space.max_card != 2:
        raise ValueError(f"task must have binary parameters only (every variable with 2 "
                         f"values) for {method}, got up to {task.space.max_card} values")


class LossFunctions(NamedTuple):
    """Pure functions of one task (see :func:`loss_functions`)."""

    example_losses: Callable  # (mat [V, M], params) -> [E]
    program_losses: Callable  # (program [V], params) -> [E]
    program_loss: Callable  # (program [V], params) -> [] mean, +inf where not finite
    weighted_grad: Callable  # (point [V, M], log_w [E], params) -> (losses [E], grad [V, M])


def loss_functions(task, example_losses: Callable | None = None) -> LossFunctions:
    """The losses a method of ``task`` works with.

    Args:
      task: a :class:`~jaxopt_lab.problems.programs.ProgramTask` (validated here).
      example_losses: ``(mat [num_vars, max_card], params) -> [num_examples]``; default:
        the task's own ``example_losses``.
    """
    programs.check_task(task)
    space = task.space
    valid = jnp.asarray(space.valid)
    if example_losses is None:
        def example_losses(mat, params):
            del params
            return task.example_losses(space.to_dict(mat))

    def program_losses(program, params):
        return example_losses(programs.onehot(space, program), params)

    def program_loss(program, params):
        return finite_or_inf(jnp.mean(program_losses(program, params)))

    def weighted_grad(point, log_w, params):
        """Gradient of the mean loss weighted by ``exp(log_w)`` normalised to mean 1 (all 1
        for ``log_w = 0``); entries that are not finite or of non-existent values are 0.
        Also returns the unweighted losses at ``point``."""
        def weighted(mat):
            losses = example_losses(mat, params)
            return weighted_mean(log_w, losses), losses

        (_, losses), grad = jax.value_and_grad(weighted, has_aux=True)(point)
        return losses, jnp.where(valid & jnp.isfinite(grad), grad, 0.0)

    return LossFunctions(example_losses, program_losses, program_loss, weighted_grad)


def weighted_mean(log_w, losses):
    """Mean of ``losses [E]`` weighted by ``exp(log_w [E])`` normalised to mean 1."""
    w = jnp.exp(log_w - jnp.max(log_w))
    w = w / jnp.mean(w)
    return jnp.mean(w * losses)


def improve(best_x, best_f, program, f):
    """``(best_x, best_f, improved)`` after seeing ``program`` with loss ``f``."""
    improved = f < best_f
    return jnp.where(improved, program, best_x), jnp.where(improved, f, best_f), improved


def adam_step(objective: Callable, x, opt_state, learning_rate, frozen):
    """One Adam step on ``objective(x) -> scalar`` (``x`` any pytree of arrays).

    The step is skipped (``x`` and the optimiser state kept) where the loss or a gradient
    entry is not finite, or where ``frozen``.

    Returns:
      ``(loss, x, opt_state)``: the loss at the old ``x``, the new point and Adam state.
    """
    adam = optax.adam(learning_rate)
    loss, grads = jax.value_and_grad(objective)(x)
    updates, new_state = adam.update(grads, opt_state, x)
    new_x = optax.apply_updates(x, updates)
    ok = jnp.isfinite(loss) & jnp.all(jnp.asarray(
        [jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
    keep = ~ok | frozen
    new_x = jax.tree.map(lambda new, old: jnp.where(keep, old, new), new_x, x)
    new_state = jax.tree.map(lambda new, old: jnp.where(keep, old, new), new_state, opt_state)
    return loss, new_x, new_state


def adam_init(x0, learning_rate):
    return optax.adam(learning_rate).init(x0)
