"""Bounded local minimiser for basin hopping: projected L-BFGS as an init/step pair.

The paper's local step is SciPy's L-BFGS-B with finite-difference gradients [1]. Here the
gradient comes from autodiff and the box is handled by projection (Bertsekas-style
projected quasi-Newton):

  * variables at a bound whose gradient pushes outwards are *active* and frozen this
    iteration; the L-BFGS two-loop recursion (memory ``m``) acts on the free ones;
  * a backtracking line search with the Armijo condition
    ``f(z) <= f(x) + c1 g.(z - x)`` over ``num_line_search`` trial points evaluated as one
    batch, the first acceptable one taken. With ``first_step="boxed"`` (default) the
    trials are ``z_j = x + 2^-j (P(x + t0 d) - x)`` on the segment to the projected full
    step, as L-BFGS-B searches, with ``t0 = 1`` (L-BFGS-B's first step on a fully boxed
    problem: ``P(x - g)``); with ``"scaled"`` they are ``P(x + t0 2^-j d)`` on the projected
    path with ``t0 = min(1, 1/|d|)`` on the first iteration (see :class:`LBFGSConfig`);
  * stopping as L-BFGS-B: ``|P(x - g) - x|_inf <= gtol`` or
    ``(f_k - f_{k+1}) <= ftol max(|f_k|, |f_{k+1}|, 1)``, a failed line search, or the
    fixed iteration cap ``max_iter``; each point carries its own ``done`` flag and status.

Non-finite values: an objective value or gradient that is not finite is treated as
``f = +inf`` (and a zero gradient); such a trial point never passes the Armijo test, a
start point with a non-finite value is returned at once with status ``NONFINITE``. They
are counted in ``num_nonfinite``.

Everything works on one point ``x[dim]``; basin hopping vmaps it over chains. To replace
the minimiser, pass any :class:`LocalMinimizer` with the same ``minimize`` signature.

[1] Goodridge et al. 2021, Sec. 2 and Algorithm 1; Byrd, Lu, Nocedal, Zhu, SIAM J. Sci.
    Comput. 16 (1995) for L-BFGS-B.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["LBFGSConfig", "LocalParams", "LBFGSState", "LocalMinimizer", "make_lbfgs",
           "CONVERGED_GTOL", "CONVERGED_FTOL", "MAX_ITER", "LINE_SEARCH_FAILED", "NONFINITE",
           "RUNNING", "FIRST_STEPS"]

RUNNING, CONVERGED_GTOL, CONVERGED_FTOL, MAX_ITER, LINE_SEARCH_FAILED, NONFINITE = range(6)
FIRST_STEPS = ("boxed", "scaled")


@dataclasses.dataclass(frozen=True)
class LBFGSConfig:
    """Static settings of the projected L-BFGS.

    Attributes:
      memory: number of stored ``(s, y)`` pairs (L-BFGS-B's default is 10).
      max_iter: iteration cap (each iteration: one line search + one gradient).
      num_line_search: number of halvings tried by the line search.
      c1: Armijo constant.
      first_step: initial trial step of the first iteration (direction ``-g``):
        ``"boxed"`` (default) follows L-BFGS-B (``lnsrlb``): ``t0 = 1`` when every variable
        has finite bounds, else ``min(1, 1/|g|)``. The first trial is then the projected
        gradient point ``P(x - g)``, which can leave the start's basin when ``|g|`` is
        large; the paper's BH inherits these jumps (e.g. Styblinski-Tang, Table 5.1).
        ``"scaled"``: always ``min(1, 1/|g|)`` (L-BFGS-B's rule for a problem that is not
        fully boxed; a short first step that stays in the start's basin).
    """

    memory: int = 10
    max_iter: int = 100
    num_line_search: int = 12
    c1: float = 1e-4
    first_step: str = "boxed"

    def __post_init__(self):
        for name in ("memory", "max_iter", "num_line_search"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0.0 < self.c1 < 1.0:
            raise ValueError(f"c1 must be in (0, 1), got {self.c1!r}")
        if self.first_step not in FIRST_STEPS:
            raise ValueError(f"first_step must be one of {FIRST_STEPS}, got {self.first_step!r}")


class LocalParams(NamedTuple):
    """Numeric tolerances (SciPy's ``tol`` sets both): ``ftol`` and ``gtol``, scalars."""

    ftol: jax.Array
    gtol: jax.Array


class LBFGSState(NamedTuple):
    """State of one local minimisation (add a leading ``[num_chains]`` axis under vmap).

    Attributes:
      x: ``[dim]`` current iterate (inside the box).
      f: ``[]`` its value (``+inf`` if non-finite).
      g: ``[dim]`` its gradient (zeros if non-finite).
      s_hist, y_hist: ``[memory, dim]`` stored pairs (circular buffer).
      rho: ``[memory]`` ``1 / (s.y)`` of the stored pairs.
      head: ``[]`` int32 slot of the next pair; count: ``[]`` int32 pairs stored.
      iteration: ``[]`` int32 iterations done.
      done: ``[]`` bool; status: ``[]`` int32 (``RUNNING``, ``CONVERGED_GTOL``, ...).
      num_evals: ``[]`` int32 objective evaluations (a value+gradient counts as one).
      num_nonfinite: ``[]`` int32 non-finite evaluations.
    """

    x: jax.Array
    f: jax.Array
    g: jax.Array
    s_hist: jax.Array
    y_hist: jax.Array
    rho: jax.Array
    head: jax.Array
    count: jax.Array
    iteration: jax.Array
    done: jax.Array
    status: jax.Array
    num_evals: jax.Array
    num_nonfinite: jax.Array


class LocalMinimizer(NamedTuple):
    """A bounded local minimiser as an init/step pair plus a driver.

    Attributes:
      init: ``init(x0[dim], lower[dim], upper[dim], params) -> state`` (projects ``x0``).
      step: ``step(state, lower, upper, params) -> state`` (a no-op once ``done``).
      minimize: ``minimize(x0, lower, upper, params) -> state``: steps until every point is
        done or ``max_iter`` iterations have run.
      config: the static configuration.
    """

    init: Callable
    step: Callable
    minimize: Callable
    config: object


def _projected_gradient_norm(x, g, lower, upper):
    return jnp.max(jnp.abs(jnp.clip(x - g, lower, upper) - x))


def make_lbfgs(objective: Callable[[jax.Array], jax.Array],
               config: LBFGSConfig = LBFGSConfig()) -> LocalMinimizer:
    """Builds a projected L-BFGS for ``objective(x[dim]) -> []`` on a box.

    Args:
      objective: differentiable JAX function of one point.
      config: static settings.

    Returns:
      A :class:`LocalMinimizer` working on one point (vmap it for a batch).
    """
    if not isinstance(config, LBFGSConfig):
        raise ValueError(f"config must be an LBFGSConfig, got {type(config).__name__}")
    value_and_grad = jax.value_and_grad(objective)
    m = config.memory

    def safe_value_and_grad(x):
        f, g = value_and_grad(x)
        ok = jnp.isfinite(f) & jnp.all(jnp.isfinite(g))
        return (jnp.where(ok, f, jnp.inf).astype(x.dtype), jnp.where(ok, g, 0.0).astype(x.dtype),
                ~ok)

    def safe_value(x):
        f = objective(x)
        ok = jnp.isfinite(f)
        return jnp.where(ok, f, jnp.inf).astype(x.dtype), ~ok

    def init(x0, lower, upper, params):
        x = jnp.clip(x0, lower, upper)
        f, g, bad = safe_value_and_grad(x)
        dim = x.shape[-1]
        converged = _projected_gradient_norm(x, g, lower, upper) <= params.gtol
        status = jnp.where(bad, NONFINITE, jnp.where(converged, CONVERGED_GTOL, RUNNING))
        zeros = jnp.zeros((m, dim), x.dtype)
        return LBFGSState(x=x, f=f, g=g, s_hist=zeros, y_hist=zeros,
                          rho=jnp.zeros((m,), x.dtype), head=jnp.zeros((), jnp.int32),
                          count=jnp.zeros((), jnp.int32), iteration=jnp.zeros((), jnp.int32),
                          done=status != RUNNING, status=status.astype(jnp.int32),
                          num_evals=jnp.ones((), jnp.int32),
                          num_nonfinite=bad.astype(jnp.int32))

    def direction(state, free):
        # Two-loop recursion over the stored pairs restricted to the free variables.
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

    def step(state, lower, upper, params):
        dtype = state.x.dtype
        free = ~(((state.x <= lower) & (state.g > 0)) | ((state.x >= upper) & (state.g < 0)))
        free = free.astype(dtype)
        d = direction(state, free)
        d_norm = jnp.sqrt(jnp.dot(d, d))
        scaled = jnp.minimum(1.0, 1.0 / jnp.maximum(d_norm, 1e-30))
        if config.first_step == "boxed":
            boxed = jnp.all(jnp.isfinite(lower) & jnp.isfinite(upper))
            scaled = jnp.where(boxed, 1.0, scaled)
        t0 = jnp.where(state.count == 0, scaled, 1.0).astype(dtype)
        halvings = 0.5 ** jnp.arange(config.num_line_search, dtype=dtype)
        if config.first_step == "boxed":
            # L-BFGS-B searches along the segment from x to the feasible point P(x + t0 d).
            seg_end = jnp.clip(state.x + t0 * d, lower, upper)
            trials = state.x[None, :] + halvings[:, None] * (seg_end - state.x)[None, :]
            trials = jnp.clip(trials, lower[None, :], upper[None, :])  # rounding only
        else:
            trials = jnp.clip(state.x[None, :] + (t0 * halvings)[:, None] * d[None, :],
                              lower[None, :], upper[None, :])
        f_trials, bad_trials = jax.vmap(safe_value)(trials)
        decrease = (trials - state.x[None, :]) @ state.g
        armijo = (f_trials <= state.f + config.c1 * decrease) & jnp.isfinite(f_trials)
        armijo = armijo & jnp.any(trials != state.x[None, :], axis=-1)
        ok = jnp.any(armijo)
        j = jnp.argmax(armijo)
        num_tried = jnp.where(ok, j + 1, config.num_line_search).astype(jnp.int32)
        x_new = jnp.where(ok, trials[j], state.x)
        f_new, g_new, bad_new = safe_value_and_grad(x_new)
        f_new = jnp.where(ok, f_new, state.f)
        g_new = jnp.where(ok, g_new, state.g)
        s = x_new - state.x
        y = g_new - state.g
        sy = jnp.dot(s, y)
        eps = jnp.finfo(dtype).eps
        store = ok & (sy > eps * jnp.dot(y, y))
        head = state.head
        s_hist = jnp.where(store, state.s_hist.at[head].set(s), state.s_hist)
        y_hist = jnp.where(store, state.y_hist.at[head].set(y), state.y_hist)
        rho = jnp.where(store, state.rho.at[head].set(1.0 / jnp.where(store, sy, 1.0)),
                        state.rho)
        head = jnp.where(store, (head + 1) % m, head)
        count = jnp.where(store, jnp.minimum(state.count + 1, m), state.count)
        iteration = state.iteration + 1
        pg = _projected_gradient_norm(x_new, g_new, lower, upper)
        scale = jnp.maximum(jnp.maximum(jnp.abs(state.f), jnp.abs(f_new)), 1.0)
        status = jnp.where(~ok, LINE_SEARCH_FAILED,
                           jnp.where(pg <= params.gtol, CONVERGED_GTOL,
                                     jnp.where(state.f - f_new <= params.ftol * scale,
                                               CONVERGED_FTOL,
                                               jnp.where(iteration >= config.max_iter, MAX_ITER,
                                                         RUNNING))))
        tried = jnp.arange(config.num_line_search) < num_tried
        num_bad = (jnp.sum(bad_trials & tried) + (ok & bad_new)).astype(jnp.int32)
        new = LBFGSState(x=x_new, f=f_new, g=g_new, s_hist=s_hist, y_hist=y_hist, rho=rho,
                         head=head, count=count, iteration=iteration, done=status != RUNNING,
                         status=status.astype(jnp.int32),
                         num_evals=state.num_evals + num_tried + ok.astype(jnp.int32),
                         num_nonfinite=state.num_nonfinite + num_bad)
        return jax.tree.map(lambda a, b: jnp.where(state.done, a, b), state, new)

    def minimize(x0, lower, upper, params):
        state = init(x0, lower, upper, params)
        return jax.lax.while_loop(
            lambda s: ~s.done & (s.iteration < config.max_iter),
            lambda s: step(s, lower, upper, params), state)

    return LocalMinimizer(init=init, step=step, minimize=minimize, config=config)
