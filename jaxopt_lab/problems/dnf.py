"""Learning a DNF from its truth table (the GradSearch paper's §3.3, the author's Neural-DNF
parameterisation).

Inputs ``x`` in {0, 1}^n are augmented with their negations, ``z = [x, 1 - x]`` (2n
literals). Binary ``W [2n, N]`` says which literals rule ``j`` uses and binary ``S [N]``
which rules are enabled; rule ``r_j = prod_i (1 - W_ij (1 - z_i))`` and the output is
``1 - prod_j (1 - S_j r_j)``. The data are all ``2**n`` inputs labelled by a random
ground-truth DNF.

[1] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.problems.programs import DiscreteSpace, ProgramTask, bce_task

__all__ = ["dnf_task"]


def dnf_task(key: jax.Array, num_inputs: int = 10, num_rules: int = 4,
             num_true_rules: int = 3, min_literals: int = 2, max_literals: int = 4,
             eps: float = 1e-7) -> ProgramTask:
    """A DNF over ``num_inputs`` bits to learn from its full truth table.

    Parameters: ``"W" [2n, num_rules]`` and ``"S" [num_rules]``, binary. The ground truth is
    a random DNF of ``num_true_rules`` rules with ``min_literals..max_literals`` literals on
    distinct variables, drawn (on the host) from ``key``; loss: binary cross-entropy.

    Args:
      key: PRNG key of the ground truth.
      num_inputs: n, in [1, 16].
      num_rules: N, rules available to the learner.
      num_true_rules: rules of the ground truth, in [1, N].
      min_literals: fewest literals per true rule, ``1 <= min <= max <= n``.
      max_literals: most literals per true rule.
      eps: inside the logs of the binary cross-entropy.
    """
    _checks.check_int(num_inputs, "num_inputs", minimum=1, maximum=16)
    _checks.check_int(num_rules, "num_rules")
    _checks.check_int(num_true_rules, "num_true_rules", maximum=num_rules)
    _checks.check_int(min_literals, "min_literals", maximum=num_inputs)
    _checks.check_int(max_literals, "max_literals", minimum=min_literals, maximum=num_inputs)
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = num_inputs
    x = np.asarray(list(itertools.product((0, 1), repeat=n)), np.float32)  # [2^n, n]
    z = np.concatenate([x, 1.0 - x], axis=1)  # [2^n, 2n]
    true_w = np.zeros((2 * n, num_rules), np.int32)
    true_s = np.zeros((num_rules,), np.int32)
    for j in range(num_true_rules):
        size = int(rng.integers(min_literals, max_literals + 1))
        variables = rng.choice(n, size=size, replace=False)
        negated = rng.integers(0, 2, size=size)
        true_w[variables + n * negated, j] = 1
        true_s[j] = 1
    rules = np.prod(1 - true_w[None, :, :] * (1 - z[:, :, None]), axis=1)  # [2^n, N]
    y = (1 - np.prod(1 - true_s[None, :] * rules, axis=1)).astype(np.float32)[:, None]
    space = DiscreteSpace((("W", (2 * n, num_rules), 2), ("S", (num_rules,), 2)))
    miss = 1.0 - jnp.asarray(z)  # [E, 2n]

    def predict(probs):
        w = probs["W"][..., 1]  # [2n, N]
        s = probs["S"][..., 1]  # [N]
        # r_j = prod_i (1 - W_ij miss_i); products of [0, 1] terms, computed directly.
        r = jnp.prod(1.0 - w[None, :, :] * miss[:, :, None], axis=1)  # [E, N]
        return (1.0 - jnp.prod(1.0 - s[None, :] * r, axis=1))[:, None]  # [E, 1]

    return bce_task("dnf", space, predict, x, y, eps=eps,
                    meta=(("n", n), ("num_rules", num_rules), ("seed", seed)))
