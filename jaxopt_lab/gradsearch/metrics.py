"""Success of the GradSearch family's runs, from what their ``Info`` reports.

Every method's ``Info.solved`` says whether the program at the start of a step fits every
example of the task; the step of the first solution is the number of updates the run
needed (Table 1 of Lu 2021 counts these).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["steps_to_solution"]


def steps_to_solution(solved: jax.Array, axis: int = 0) -> jax.Array:
    """Updates before the program first fits every example, ``-1`` where it never did.

    Args:
      solved: ``Info.solved`` stacked over steps along ``axis`` (e.g. ``trace.solved`` of
        :func:`jaxopt_lab.run`, ``[num_steps]``; ``[num_restarts, num_steps]`` with
        ``axis=1``).
      axis: the steps axis.

    Returns:
      int32 array of ``solved``'s shape without ``axis``.
    """
    solved = jnp.asarray(solved, bool)
    first = jnp.argmax(solved, axis=axis)
    return jnp.where(jnp.any(solved, axis=axis), first, -1).astype(jnp.int32)
