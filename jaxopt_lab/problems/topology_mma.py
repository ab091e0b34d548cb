"""The Method of Moving Asymptotes on a topology problem, driven by any gradient.

:func:`mma` minimises the compliance of a :class:`~jaxopt_lab.problems.topology.
TopologyProblem` under its volume bound and ``0 <= x <= 1`` with nlopt's ``LD_MMA``
(Svanberg 2002, the globally convergent CCSA variant). MMA receives the exact compliance and
a gradient from a pure *gradient source* ``source(state, x, c) -> (g, num_evals, state)``:
the exact adjoint, or a black-box estimate (DGS, finite differences, ...) whose own state
(PRNG key, directions, counters) is threaded through the calls explicitly. The volume
constraint (linear) is given with its exact gradient. :func:`kkt_residual` measures how far
a design is from a KKT point of that problem for a given gradient.

nlopt is an ``experiments`` extra, imported when :func:`mma` runs.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.problems.topology import TopologyProblem, compliance, volume_and_grad

__all__ = ["mma", "kkt_residual"]


def mma(problem: TopologyProblem, source: Callable, x0, num_iters: int,
        state: Any = None) -> dict:
    """nlopt ``LD_MMA`` for ``num_iters`` evaluations with gradients from ``source``.

    Args:
      problem: the topology problem (``x`` in ``[0, 1]^num_design``).
      source: ``source(state, x, c) -> (g, num_evals, state)``: the gradient handed to MMA
        at ``x`` (``[num_design]``; ``c`` the compliance there), the black-box evaluations
        it cost, and the source's next state.
      x0: ``[num_design]`` start.
      num_iters: MMA evaluations (>= 2).
      state: the source's initial state.

    Returns:
      dict: ``trace [num_iters]`` compliance at MMA's ``k``-th evaluation (forward-filled
      after an early stop), ``evals [num_iters]`` black-box evaluations so far, ``best_c``
      and ``x`` the best feasible design (volume within 0.1 % of the bound), ``grad_norms``
      of the gradients handed to MMA, and the source's final ``state``.

    Raises:
      ImportError: nlopt is not installed.
      ValueError: bad ``x0`` or ``num_iters``; any exception raised by ``source`` is
        re-raised (nlopt's own failures end the run with what was reached).
    """
    try:
        import nlopt
    except ImportError as err:
        raise ImportError("mma needs nlopt: pip install 'jaxopt-lab[experiments]'") from err
    _checks.check_instance(problem, TopologyProblem, "problem")
    d = problem.num_design
    x0 = np.asarray(x0, np.float64)
    _checks.check_array(x0, "x0", shape=(d,))
    _checks.check_int(num_iters, "num_iters", minimum=2)
    vol = jax.jit(functools.partial(volume_and_grad, problem))
    f_exact = jax.jit(functools.partial(compliance, problem))
    history, evals, norms, errors = [], [], [], []
    total, best, current = 0, [np.inf, x0], [state]

    def objective(x, grad):
        nonlocal total
        try:
            xj = jnp.asarray(x)
            c = float(f_exact(xj))
            total += 1
            if grad.size > 0:
                g, n, current[0] = source(current[0], xj, c)
                grad[:] = np.asarray(g, np.float64)
                norms.append(float(np.linalg.norm(grad)))
                total += n
            v = float(vol(xj)[0])
        except Exception as err:  # our own failure (e.g. out of memory): re-raised below
            errors.append(err)
            raise
        history.append(c)
        evals.append(total)
        if v <= problem.volfrac * (1 + 1e-3) and c < best[0]:
            best[0], best[1] = c, np.array(x)
        return c

    def constraint(x, grad):
        v, dv = vol(jnp.asarray(x))
        if grad.size > 0:
            grad[:] = np.asarray(dv, np.float64)
        return float(v) - problem.volfrac

    opt = nlopt.opt(nlopt.LD_MMA, d)
    opt.set_lower_bounds(np.zeros(d))
    opt.set_upper_bounds(np.ones(d))
    opt.set_min_objective(objective)
    opt.add_inequality_constraint(constraint, 1e-8)
    opt.set_maxeval(num_iters)
    try:
        opt.optimize(x0)
    except (nlopt.RoundoffLimited, RuntimeError, ValueError):
        # nlopt's own failures (round-off, "nlopt failure"): keep what was reached. An
        # exception raised by the callbacks is not nlopt's: re-raise it.
        if errors:
            raise errors[0]
    hist = _ffill(np.pad(np.asarray(history, float), (0, num_iters - len(history)),
                         constant_values=np.nan))
    ev = _ffill(np.pad(np.asarray(evals, float), (0, num_iters - len(evals)),
                       constant_values=np.nan))
    return dict(trace=hist, evals=ev, best_c=best[0], x=best[1], grad_norms=np.asarray(norms),
                state=current[0])


def _ffill(a):
    a = np.asarray(a, float).copy()
    for i in range(1, a.size):
        if np.isnan(a[i]):
            a[i] = a[i - 1]
    return a


def kkt_residual(g, x, a, tol=1e-3) -> float:
    """Relative KKT residual of ``min f s.t. a.x <= V, 0 <= x <= 1`` for gradient ``g``.

    ``min_{lam >= 0} ||v(lam)|| / ||g||`` with ``v_i = g_i + lam a_i`` on free coordinates,
    its negative part at the lower bound and its positive part at the upper bound (``tol``
    decides which coordinates sit on a bound). 0 at a KKT point of that gradient.

    Args:
      g: ``[dim]`` the objective's gradient.
      x: ``[dim]`` the design.
      a: ``[dim]`` the gradient of the (linear) volume constraint.
      tol: distance to a bound below which a coordinate counts as on it.
    """
    from scipy.optimize import minimize_scalar

    g, x, a = (np.asarray(v, np.float64) for v in (g, x, a))
    lo, hi = x <= tol, x >= 1 - tol
    mid = ~(lo | hi)

    def violation(lam):
        r = g + lam * a
        return np.linalg.norm(np.where(mid, r, np.where(lo, np.minimum(r, 0), np.maximum(r, 0))))

    upper = 1e3 * np.abs(g).max() / np.abs(a).max()
    res = minimize_scalar(violation, bounds=(0.0, upper), method="bounded")
    return float(min(violation(res.x), violation(0.0)) / np.linalg.norm(g))
