"""Bounded local minimiser for basin hopping: projected L-BFGS as an init/step pair.

The paper's local step is SciPy's L-BFGS-B with finite-difference gradients [1]. Here the
gradient comes from autodiff and the box is handled by projection (Bertsekas-style
projected quasi-Newton):

  * variables at a bound whose gradient pushes outwards are *active* and frozen this
    iteration; the L-BFGS two-loop recursion (memory ``m``) acts on the free ones;
  * the line search (``LBFGSConfig.line_search``) is L-BFGS-B's own (``"more_thuente"``,
    the default: a Moré-Thuente search for the strong Wolfe conditions, :mod:`.linesearch`,
    one value and gradient per ``step``, so that a batch of points advances in lock-step,
    masked and without branches; a failed search drops the memory and retries with
    ``-g``) or Armijo halvings evaluated as one batch (``"backtracking"``); the trials lie
    on the segment to the projected step ``P(x + t0 d)``, as L-BFGS-B searches (see
    :class:`LBFGSConfig`). The Moré-Thuente search reproduces L-BFGS-B's basin statistics
    and refines inside narrow wells (see docs/benchmarks/bhs.md);
  * stopping as L-BFGS-B: ``|P(x - g) - x|_inf <= gtol`` or
    ``(f_k - f_{k+1}) <= ftol max(|f_k|, |f_{k+1}|, 1)``, a failed line search, or the
    fixed iteration cap ``max_iter``; each point carries its own ``done`` flag and status.

Non-finite values: an objective value or gradient that is not finite is treated as
``f = +inf`` (and a zero gradient); such a trial point never passes the Armijo test (the
Moré-Thuente search halves its step or ends, see :mod:`.linesearch`), a start point with
a non-finite value is returned at once with status ``NONFINITE``. They are counted in
``num_nonfinite``.

Everything works on one point ``x[dim]``: each basin-hopping chain owns one minimisation
(``vmap`` it for a batch).

[1] Goodridge et al. 2021, Sec. 2 and Algorithm 1; Byrd, Lu, Nocedal, Zhu, SIAM J. Sci.
    Comput. 16 (1995) for L-BFGS-B.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.basin_hopping import _memory, linesearch

__all__ = ["LBFGSConfig", "LocalParams", "LBFGSState", "LocalMinimizer", "make_lbfgs",
           "CONVERGED_GTOL", "CONVERGED_FTOL", "MAX_ITER", "LINE_SEARCH_FAILED", "NONFINITE",
           "RUNNING", "FIRST_STEPS", "LINE_SEARCHES", "blank_state"]

RUNNING, CONVERGED_GTOL, CONVERGED_FTOL, MAX_ITER, LINE_SEARCH_FAILED, NONFINITE = range(6)
FIRST_STEPS = ("boxed", "scaled")
LINE_SEARCHES = ("backtracking", "more_thuente")


@dataclasses.dataclass(frozen=True)
class LBFGSConfig:
    """Static settings of the projected L-BFGS.

    Attributes:
      memory: number of stored ``(s, y)`` pairs (L-BFGS-B's default is 10).
      max_iter: iteration cap (each iteration: one line search + one gradient).
      num_line_search: number of halvings tried by the backtracking line search.
      c1: Armijo constant (backtracking).
      first_step: initial trial step of the first iteration (direction ``-g``):
        ``"boxed"`` (default) follows L-BFGS-B (``lnsrlb``): ``t0 = 1`` when every variable
        has finite bounds, else ``min(1, 1/|g|)``. The first trial is then the projected
        gradient point ``P(x - g)``, which can leave the start's basin when ``|g|`` is
        large; the paper's BH inherits these jumps (e.g. Styblinski-Tang, Table 5.1).
        ``"scaled"``: always ``min(1, 1/|g|)`` (L-BFGS-B's rule for a problem that is not
        fully boxed; a short first step that stays in the start's basin).
      line_search: ``"more_thuente"`` (default): L-BFGS-B's strong-Wolfe search
        (:mod:`.linesearch`) along the segment to ``P(x + d)`` and beyond it up to the
        box, one trial (value and gradient) per ``step``, at most ``max_line_search``; a
        failed search resets the memory (as L-BFGS-B) or, with an empty memory, ends with
        ``LINE_SEARCH_FAILED``. ``"backtracking"``: ``num_line_search`` Armijo halvings
        evaluated as one batch (a ``step`` is an iteration); cheaper, but its basin
        statistics differ from L-BFGS-B's (e.g. Freudenstein-Roth) and it cannot refine
        inside narrow wells (Modified Rosenbrock), see docs/benchmarks/bhs.md.
      max_line_search: trial cap of the Moré-Thuente search (L-BFGS-B's ``maxls``).
      wolfe_ftol, wolfe_gtol, wolfe_xtol: its sufficient-decrease, curvature and interval
        tolerances (L-BFGS-B: 1e-3, 0.9, 0.1).
    """

    memory: int = 10
    max_iter: int = 100
    num_line_search: int = 12
    c1: float = 1e-4
    first_step: str = "boxed"
    line_search: str = "more_thuente"
    max_line_search: int = 20
    wolfe_ftol: float = 1e-3
    wolfe_gtol: float = 0.9
    wolfe_xtol: float = 0.1

    def __post_init__(self):
        _checks.check_choice(self.line_search, "line_search", LINE_SEARCHES)
        _checks.check_choice(self.first_step, "first_step", FIRST_STEPS)
        for name in ("memory", "max_iter", "num_line_search", "max_line_search"):
            _checks.check_int(getattr(self, name), name)
        _checks.check_number(self.c1, "c1", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        _checks.check_number(self.wolfe_ftol, "wolfe_ftol", lo=0.0, hi=1.0, lo_open=True,
                             hi_open=True)
        _checks.check_number(self.wolfe_gtol, "wolfe_gtol", lo=0.0, hi=1.0, lo_open=True,
                             hi_open=True)
        if not self.wolfe_ftol < self.wolfe_gtol:
            raise ValueError(f"wolfe_ftol must be < wolfe_gtol (0 < wolfe_ftol < wolfe_gtol < "
                             f"1), got {self.wolfe_ftol!r} and {self.wolfe_gtol!r}")
        _checks.check_number(self.wolfe_xtol, "wolfe_xtol", positive=True)


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
      direction: ``[dim]`` search direction of the Moré-Thuente search in progress.
      searching: ``[]`` bool, a Moré-Thuente search is in progress.
      search: its :class:`~.linesearch.SearchState` (``aux_x``: ``[dim]`` gradient at the
        best step). The last three are unused (zeros) with backtracking.
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
    direction: jax.Array
    searching: jax.Array
    search: linesearch.SearchState


def _blank_search(dim: int, dtype) -> linesearch.SearchState:
    s = linesearch.start(jnp.zeros((), dtype), -jnp.ones((), dtype), jnp.ones((), dtype),
                         jnp.ones((), dtype), jnp.zeros((dim,), dtype))
    return s._replace(status=jnp.full((), linesearch.CONVERGED, jnp.int32),
                      step=jnp.zeros((), dtype))


def blank_state(dim: int, memory: int = 10, dtype=jnp.float32) -> LBFGSState:
    """A finished (``done``) placeholder state of one point: nothing evaluated.

    Args:
      dim: coordinates; memory: ``LBFGSConfig.memory``; dtype: floating dtype.
    """
    zi = jnp.zeros((), jnp.int32)
    zv = jnp.zeros((dim,), dtype)
    return LBFGSState(x=zv, f=jnp.zeros((), dtype), g=zv, s_hist=jnp.zeros((memory, dim), dtype),
                      y_hist=jnp.zeros((memory, dim), dtype), rho=jnp.zeros((memory,), dtype),
                      head=zi, count=zi, iteration=zi, done=jnp.ones((), bool), status=zi,
                      num_evals=zi, num_nonfinite=zi, direction=zv,
                      searching=jnp.zeros((), bool), search=_blank_search(dim, dtype))


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


def _free(state, lower, upper):
    """Variables not held at a bound by a gradient pushing outwards (as a 0/1 mask)."""
    held = ((state.x <= lower) & (state.g > 0)) | ((state.x >= upper) & (state.g < 0))
    return (~held).astype(state.x.dtype)


def make_lbfgs(objective: Callable[[jax.Array], jax.Array],
               config: LBFGSConfig = LBFGSConfig()) -> LocalMinimizer:
    """Builds a projected L-BFGS for ``objective(x[dim]) -> []`` on a box.

    Args:
      objective: differentiable JAX function of one point.
      config: static settings.

    Returns:
      A :class:`LocalMinimizer` working on one point (vmap it for a batch).
    """
    _checks.check_instance(config, LBFGSConfig, "config")
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
                          num_nonfinite=bad.astype(jnp.int32), direction=jnp.zeros_like(x),
                          searching=jnp.zeros((), bool), search=_blank_search(dim, x.dtype))

    def stopped(ok, state, x_new, f_new, g_new, iteration, lower, upper, params):
        """L-BFGS-B's tests after a step (``ok``: a step was taken), then the cap."""
        pg = _projected_gradient_norm(x_new, g_new, lower, upper)
        scale = jnp.maximum(jnp.maximum(jnp.abs(state.f), jnp.abs(f_new)), 1.0)
        return jnp.where(ok & (pg <= params.gtol), CONVERGED_GTOL,
                         jnp.where(ok & (state.f - f_new <= params.ftol * scale),
                                   CONVERGED_FTOL,
                                   jnp.where(iteration >= config.max_iter, MAX_ITER, RUNNING)))

    def first_trial_step(direction_norm, lower, upper, count, dtype):
        """The first iteration's trial step (``config.first_step``); 1 afterwards."""
        short = jnp.minimum(1.0, 1.0 / jnp.maximum(direction_norm, 1e-30))
        if config.first_step == "boxed":
            boxed = jnp.all(jnp.isfinite(lower) & jnp.isfinite(upper))
            short = jnp.where(boxed, 1.0, short)
        return jnp.where(count == 0, short, 1.0).astype(dtype)

    def step(state, lower, upper, params):
        dtype = state.x.dtype
        d = _memory.direction(state, _free(state, lower, upper), m)
        d_norm = jnp.sqrt(jnp.dot(d, d))
        t0 = first_trial_step(d_norm, lower, upper, state.count, dtype)
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
        s_hist, y_hist, rho, head, count = _memory.push_pair(state, x_new, g_new, ok, m)
        iteration = state.iteration + 1
        status = jnp.where(~ok, LINE_SEARCH_FAILED, stopped(ok, state, x_new, f_new, g_new,
                                                            iteration, lower, upper, params))
        tried = jnp.arange(config.num_line_search) < num_tried
        num_bad = (jnp.sum(bad_trials & tried) + (ok & bad_new)).astype(jnp.int32)
        new = LBFGSState(x=x_new, f=f_new, g=g_new, s_hist=s_hist, y_hist=y_hist, rho=rho,
                         head=head, count=count, iteration=iteration, done=status != RUNNING,
                         status=status.astype(jnp.int32),
                         num_evals=state.num_evals + num_tried + ok.astype(jnp.int32),
                         num_nonfinite=state.num_nonfinite + num_bad,
                         direction=state.direction, searching=state.searching,
                         search=state.search)
        return jax.tree.map(lambda a, b: jnp.where(state.done, a, b), state, new)

    def feasible_max(x, p, lower, upper):
        # Largest t with lower <= x + t p <= upper (huge if p = 0).
        big = jnp.asarray(1e10, x.dtype)
        room = jnp.where(p > 0, upper - x, jnp.where(p < 0, lower - x, big))
        t = jnp.where(p != 0, room / jnp.where(p != 0, p, 1.0), big)
        return jnp.minimum(jnp.min(jnp.maximum(t, 0.0)), big)

    def new_search(state, lower, upper):
        # L-BFGS-B's search set-up: direction to the feasible point P(x + d), first trial
        # t = 1 (or min(1, 1/|p|), see ``first_step``), largest step 1 on the very first
        # iteration and the box's limit along p afterwards.
        dtype = state.x.dtype
        d = _memory.direction(state, _free(state, lower, upper), m)
        p = jnp.clip(state.x + d, lower, upper) - state.x
        gp = jnp.dot(state.g, p)
        p_sd = jnp.clip(state.x - state.g, lower, upper) - state.x  # projected steepest
        p = jnp.where(gp < 0, p, p_sd)
        gp = jnp.dot(state.g, p)
        p_norm = jnp.sqrt(jnp.dot(p, p))
        step0 = first_trial_step(p_norm, lower, upper, state.count, dtype)
        step_max = jnp.where(state.iteration == 0, 1.0,
                             jnp.maximum(feasible_max(state.x, p, lower, upper), 1.0))
        search = linesearch.start(state.f, gp, step0, step_max.astype(dtype), state.g)
        # Not a descent direction (only at a stationary point of the free variables):
        # the search ends at once with nothing found.
        search = search._replace(status=jnp.where(gp < 0, linesearch.RUNNING,
                                                  linesearch.NONFINITE_END).astype(jnp.int32))
        return p, search

    def step_mt(state, lower, upper, params):
        p_new, search_new = new_search(state, lower, upper)
        fresh = ~state.searching
        p = jnp.where(fresh, p_new, state.direction)
        search = jax.tree.map(lambda a, b: jnp.where(fresh, a, b), search_new, state.search)
        degenerate = search.status != linesearch.RUNNING
        trial = jnp.clip(state.x + search.step * p, lower, upper)
        f_t, g_t, bad_t = safe_value_and_grad(trial)
        d_t = jnp.dot(g_t, p)
        kw = dict(ftol=config.wolfe_ftol)
        search = linesearch.update(search, f_t, d_t, g_t, gtol=config.wolfe_gtol,
                                   xtol=config.wolfe_xtol, max_evals=config.max_line_search,
                                   **kw)
        ended = search.status != linesearch.RUNNING
        res = linesearch.outcome(search, f_t, d_t, g_t, **kw)
        ok = ended & res.ok & ~degenerate
        x_new = jnp.where(ok, jnp.clip(state.x + res.step * p, lower, upper), state.x)
        f_new = jnp.where(ok, res.f, state.f)
        g_new = jnp.where(ok, res.aux, state.g)
        failed = ended & ~ok
        reset = failed & (state.count > 0)  # L-BFGS-B: drop the memory and try again
        s_hist, y_hist, rho, head, count = _memory.push_pair(state, x_new, g_new, ok, m)
        head = jnp.where(reset, 0, head)
        count = jnp.where(reset, 0, count)
        iteration = state.iteration + ended
        status = jnp.where(~ended, RUNNING, jnp.where(
            failed & ~reset, LINE_SEARCH_FAILED,
            stopped(ok, state, x_new, f_new, g_new, iteration, lower, upper, params)))
        evaluated = ~degenerate
        new = LBFGSState(x=x_new, f=f_new, g=g_new, s_hist=s_hist, y_hist=y_hist, rho=rho,
                         head=head, count=count, iteration=iteration,
                         done=status != RUNNING, status=status.astype(jnp.int32),
                         num_evals=state.num_evals + evaluated.astype(jnp.int32),
                         num_nonfinite=state.num_nonfinite + (evaluated & bad_t),
                         direction=p, searching=~ended, search=search)
        return jax.tree.map(lambda a, b: jnp.where(state.done, a, b), state, new)

    if config.line_search == "more_thuente":
        step = step_mt  # noqa: F811

    def minimize(x0, lower, upper, params):
        state = init(x0, lower, upper, params)
        return jax.lax.while_loop(
            lambda s: ~s.done & (s.iteration < config.max_iter),
            lambda s: step(s, lower, upper, params), state)

    return LocalMinimizer(init=init, step=step, minimize=minimize, config=config)
