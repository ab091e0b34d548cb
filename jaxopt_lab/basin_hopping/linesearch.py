"""A Moré-Thuente line search as a branch-free state machine (one evaluation per update).

The search looks for a step ``t`` in ``[0, step_max]`` along a descent direction that
satisfies the strong Wolfe conditions of ``phi(t) = f(x + t p)``:

  * sufficient decrease: ``phi(t) <= phi(0) + ftol t phi'(0)``;
  * curvature: ``|phi'(t)| <= gtol |phi'(0)|``.

It follows the algorithm of Moré and Thuente [1] as used by L-BFGS-B [2] (``ftol = 1e-3``,
``gtol = 0.9``, ``xtol = 0.1``): while no step with ``psi(t) <= 0`` and ``phi'(t) >= 0``
has been seen (stage 1), the interval is updated with the auxiliary function
``psi(t) = phi(t) - phi(0) - ftol t phi'(0)``, afterwards with ``phi`` itself; each new trial
step is a safeguarded cubic / quadratic / secant interpolation of the interval's end
points (the four cases of [1], Sec. 4), extrapolation is bounded to
``[t + 1.1 (t - t_x), t + 4 (t - t_x)]`` before a minimiser is bracketed, and a bracket
that does not shrink by 2/3 in two trials is bisected. The search ends

  * ``CONVERGED``: both conditions hold at the trial step;
  * ``WARNING``: the trial step is at ``step_max`` with sufficient decrease and a negative
    slope, at ``step_min`` without, the bracket is narrower than ``xtol`` relative to its
    upper end, or rounding errors prevent progress (as in [1]; L-BFGS-B accepts the step);
  * ``EXHAUSTED``: ``max_evals`` trials were evaluated (L-BFGS-B's ``maxls = 20``).

Which step to take when it ends (:func:`outcome`): the trial step if it has sufficient
decrease, else the best step ``t_x > 0`` of the interval (it always has sufficient
decrease), else none (the search failed).

Non-finite values: a trial with a non-finite value or slope, before any step with
sufficient decrease and before a bracket, halves the step and caps ``step_max`` below it
(a wall of ``+inf``); after one, the search ends (at ``t_x`` if ``t_x > 0``).

Everything here acts on scalars (vmap it over points); :func:`update` takes one new
evaluation, so a batch of searches advances in lock-step with masks and no branch.
:func:`search` runs one search to its end with a ``while_loop``.

[1] J. J. Moré and D. J. Thuente, "Line search algorithms with guaranteed sufficient
    decrease", ACM Trans. Math. Software 20 (1994) 286-307.
[2] C. Zhu, R. H. Byrd, P. Lu, J. Nocedal, "Algorithm 778: L-BFGS-B", ACM TOMS 23 (1997).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["SearchState", "SearchResult", "start", "update", "outcome", "search",
           "RUNNING", "CONVERGED", "WARNING", "EXHAUSTED", "NONFINITE_END"]

RUNNING, CONVERGED, WARNING, EXHAUSTED, NONFINITE_END = range(5)

_XTRAPL, _XTRAPU, _P66 = 1.1, 4.0, 0.66


class SearchState(NamedTuple):
    """One search (scalars ``[]``; ``aux_x`` any pytree carried for the best step ``t_x``).

    Attributes:
      step: the next trial step ``t`` to evaluate.
      stx, fx, gx: best step so far, its ``phi`` and ``phi'`` (``stx = 0`` at first).
      sty, fy, gy: the other end of the interval.
      stmin, stmax: the interval of acceptable trial steps.
      width, width1: bracket widths of the last two trials (bisection safeguard).
      brackt: a minimiser is bracketed; stage: 1 or 2 (``psi`` or ``phi``, see module).
      step_max: upper bound on the step (lowered by non-finite trials).
      finit, ginit: ``phi(0)`` and ``phi'(0) < 0``.
      num_evals: trials evaluated; status: ``RUNNING`` or how the search ended.
      aux_x: caller's data at ``stx`` (e.g. the gradient vector), set by :func:`update`.
    """

    step: jax.Array
    stx: jax.Array
    fx: jax.Array
    gx: jax.Array
    sty: jax.Array
    fy: jax.Array
    gy: jax.Array
    stmin: jax.Array
    stmax: jax.Array
    width: jax.Array
    width1: jax.Array
    brackt: jax.Array
    stage: jax.Array
    step_max: jax.Array
    finit: jax.Array
    ginit: jax.Array
    num_evals: jax.Array
    status: jax.Array
    aux_x: Any


class SearchResult(NamedTuple):
    """What to take when a search has ended (:func:`outcome`).

    Attributes:
      ok: a step with sufficient decrease was found.
      step: that step (0 if none); f, g: ``phi`` and ``phi'`` there; aux: caller's data.
    """

    ok: jax.Array
    step: jax.Array
    f: jax.Array
    g: jax.Array
    aux: Any


def start(f0, g0, step0, step_max, aux0) -> SearchState:
    """A new search from ``phi(0) = f0``, ``phi'(0) = g0 < 0``, first trial ``step0``.

    Args:
      f0: ``[]`` value at ``t = 0``.
      g0: ``[]`` slope at ``t = 0``.
      step0: ``[]`` first trial step, ``0 < step0``; it is capped at ``step_max``.
      step_max: ``[]`` largest step.
      aux0: caller's data at ``t = 0`` (returned by :func:`outcome` if nothing better).
    """
    dtype = jnp.result_type(f0)
    f0, g0 = jnp.asarray(f0, dtype), jnp.asarray(g0, dtype)
    step_max = jnp.asarray(step_max, dtype)
    step = jnp.minimum(jnp.asarray(step0, dtype), step_max)
    zero = jnp.zeros((), dtype)
    return SearchState(step=step, stx=zero, fx=f0, gx=g0, sty=zero, fy=f0, gy=g0, stmin=zero,
                       stmax=step + _XTRAPU * step, width=step_max, width1=2.0 * step_max,
                       brackt=jnp.zeros((), bool), stage=jnp.ones((), jnp.int32),
                       step_max=step_max, finit=f0, ginit=g0,
                       num_evals=jnp.zeros((), jnp.int32),
                       status=jnp.full((), RUNNING, jnp.int32), aux_x=aux0)


def _safe_div(a, b):
    return a / jnp.where(b == 0, 1.0, b)


def _gamma(theta, da, db, flip):
    # sqrt(theta^2 - da db) scaled to avoid overflow; clipped at 0 against rounding.
    s = jnp.maximum(jnp.maximum(jnp.abs(theta), jnp.abs(da)), jnp.abs(db))
    s = jnp.where(s > 0, s, 1.0)
    gamma = s * jnp.sqrt(jnp.maximum((theta / s) ** 2 - (da / s) * (db / s), 0.0))
    return jnp.where(flip, -gamma, gamma)


def _trial_step(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
    """The safeguarded interpolation step of [1], Sec. 4, all four cases computed and the
    right one selected (scalars). Returns ``(stx, fx, dx, sty, fy, dy, step, brackt)``."""
    sgnd = dp * jnp.sign(dx)
    theta = 3.0 * _safe_div(fx - fp, stp - stx) + dx + dp

    # Case 1: higher value, the minimiser is bracketed. Cubic or cubic/quadratic average.
    g1 = _gamma(theta, dx, dp, stp < stx)
    r1 = _safe_div((g1 - dx) + theta, ((g1 - dx) + g1) + dp)
    c1 = stx + r1 * (stp - stx)
    q1 = stx + 0.5 * _safe_div(dx, _safe_div(fx - fp, stp - stx) + dx) * (stp - stx)
    step1 = jnp.where(jnp.abs(c1 - stx) < jnp.abs(q1 - stx), c1, c1 + 0.5 * (q1 - c1))

    # Case 2: lower value, slopes of opposite sign: bracketed. Cubic or secant, the farther.
    g2 = _gamma(theta, dx, dp, stp > stx)
    r2 = _safe_div((g2 - dp) + theta, ((g2 - dp) + g2) + dx)
    c2 = stp + r2 * (stx - stp)
    secant = stp + _safe_div(dp, dp - dx) * (stx - stp)
    step2 = jnp.where(jnp.abs(c2 - stp) > jnp.abs(secant - stp), c2, secant)

    # Case 3: lower value, same sign, the slope decreases in magnitude. The cubic step only
    # if the cubic tends to infinity in the step's direction or its minimiser lies beyond.
    g3 = _gamma(theta, dx, dp, stp > stx)
    r3 = _safe_div((g3 - dp) + theta, (g3 + (dx - dp)) + g3)
    c3 = jnp.where((r3 < 0) & (g3 != 0), stp + r3 * (stx - stp),
                   jnp.where(stp > stx, stpmax, stpmin))
    near = jnp.where(jnp.abs(c3 - stp) < jnp.abs(secant - stp), c3, secant)
    near = jnp.where(stp > stx, jnp.minimum(stp + _P66 * (sty - stp), near),
                     jnp.maximum(stp + _P66 * (sty - stp), near))
    far = jnp.clip(jnp.where(jnp.abs(c3 - stp) > jnp.abs(secant - stp), c3, secant),
                   stpmin, stpmax)
    step3 = jnp.where(brackt, near, far)

    # Case 4: lower value, same sign, the slope does not decrease: cubic with sty if
    # bracketed, else the interval's end.
    theta4 = 3.0 * _safe_div(fp - fy, sty - stp) + dy + dp
    g4 = _gamma(theta4, dy, dp, stp > sty)
    r4 = _safe_div((g4 - dp) + theta4, ((g4 - dp) + g4) + dy)
    step4 = jnp.where(brackt, stp + r4 * (sty - stp), jnp.where(stp > stx, stpmax, stpmin))

    case1 = fp > fx
    case2 = ~case1 & (sgnd < 0)
    case3 = ~case1 & ~case2 & (jnp.abs(dp) < jnp.abs(dx))
    new_step = jnp.where(case1, step1, jnp.where(case2, step2, jnp.where(case3, step3, step4)))
    brackt = brackt | case1 | case2
    # The interval: a higher value becomes sty; else stp becomes stx (and stx becomes sty
    # when the slopes have opposite signs).
    swap = ~case1 & (sgnd < 0)
    sty, fy, dy = (jnp.where(case1, stp, jnp.where(swap, stx, sty)),
                   jnp.where(case1, fp, jnp.where(swap, fx, fy)),
                   jnp.where(case1, dp, jnp.where(swap, dx, dy)))
    stx, fx, dx = (jnp.where(case1, stx, stp), jnp.where(case1, fx, fp),
                   jnp.where(case1, dx, dp))
    return stx, fx, dx, sty, fy, dy, new_step, brackt


def update(s: SearchState, f, g, aux, *, ftol=1e-3, gtol=0.9, xtol=0.1, step_min=0.0,
           max_evals=20) -> SearchState:
    """Takes the evaluation ``phi(s.step) = f``, ``phi'(s.step) = g`` (with the caller's
    ``aux`` there) and returns the state with the next trial step, or ended (``status``).

    A state that has already ended is returned unchanged. Non-finite ``f`` or ``g``: see
    the module docstring.
    """
    dtype = s.fx.dtype
    f, g = jnp.asarray(f, dtype), jnp.asarray(g, dtype)
    stp = s.step
    finite = jnp.isfinite(f) & jnp.isfinite(g)
    gtest = ftol * s.ginit
    ftest = s.finit + stp * gtest
    stage = jnp.where((s.stage == 1) & (f <= ftest) & (g >= 0), 2, s.stage).astype(jnp.int32)
    warn = ((s.brackt & ((stp <= s.stmin) | (stp >= s.stmax)))
            | (s.brackt & (s.stmax - s.stmin <= xtol * s.stmax))
            | ((stp == s.step_max) & (f <= ftest) & (g <= gtest))
            | ((stp == step_min) & ((f > ftest) | (g >= gtest))))
    converged = (f <= ftest) & (jnp.abs(g) <= gtol * (-s.ginit))
    num_evals = s.num_evals + 1

    # Stage 1 with a lower value but no sufficient decrease: interpolate psi, not phi.
    modified = (stage == 1) & (f <= s.fx) & (f > ftest)
    shift = jnp.where(modified, gtest, 0.0)
    stx, fx, dx, sty, fy, dy, step, brackt = _trial_step(
        s.stx, s.fx - s.stx * shift, s.gx - shift, s.sty, s.fy - s.sty * shift, s.gy - shift,
        stp, f - stp * shift, g - shift, s.brackt, s.stmin, s.stmax)
    fx, dx = fx + stx * shift, dx + shift
    fy, dy = fy + sty * shift, dy + shift
    moved_x = stx == stp  # the trial became the best step
    aux_x = jax.tree.map(lambda a, b: jnp.where(moved_x, a, b), aux, s.aux_x)

    # Bisect a bracket that does not shrink fast enough.
    bisect = brackt & (jnp.abs(sty - stx) >= _P66 * s.width1)
    step = jnp.where(bisect, stx + 0.5 * (sty - stx), step)
    width1 = jnp.where(brackt, s.width, s.width1)
    width = jnp.where(brackt, jnp.abs(sty - stx), s.width)
    stmin = jnp.where(brackt, jnp.minimum(stx, sty), step + _XTRAPL * (step - stx))
    stmax = jnp.where(brackt, jnp.maximum(stx, sty), step + _XTRAPU * (step - stx))
    step = jnp.clip(step, step_min, s.step_max)
    stuck = brackt & ((step <= stmin) | (step >= stmax) | (stmax - stmin <= xtol * stmax))
    step = jnp.where(stuck, stx, step)

    exhausted = num_evals >= max_evals
    new = SearchState(step=step, stx=stx, fx=fx, gx=dx, sty=sty, fy=fy, gy=dy, stmin=stmin,
                      stmax=stmax, width=width, width1=width1, brackt=brackt, stage=stage,
                      step_max=s.step_max, finit=s.finit, ginit=s.ginit, num_evals=num_evals,
                      status=jnp.where(exhausted, EXHAUSTED, RUNNING).astype(jnp.int32),
                      aux_x=aux_x)
    # Converged or a warning: the search ends at this trial, the interval is left as is.
    ended = s._replace(stage=stage, num_evals=num_evals,
                       status=jnp.where(converged, CONVERGED, WARNING).astype(jnp.int32))
    new = jax.tree.map(lambda a, b: jnp.where(converged | warn, a, b), ended, new)
    # A non-finite trial: halve towards 0 while nothing acceptable is known, else end.
    halve = (s.stx == 0) & ~s.brackt & (num_evals < max_evals)
    wall = s._replace(step=0.5 * stp, step_max=jnp.minimum(s.step_max, stp),
                      num_evals=num_evals,
                      status=jnp.where(halve, RUNNING, NONFINITE_END).astype(jnp.int32))
    new = jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, wall)
    # The trial that ended the search stays in ``step`` (see :func:`outcome`).
    new = new._replace(step=jnp.where(new.status == RUNNING, new.step, stp))
    return jax.tree.map(lambda a, b: jnp.where(s.status == RUNNING, a, b), new, s)


def outcome(s: SearchState, f, g, aux, *, ftol=1e-3) -> SearchResult:
    """The step to take once ``s`` has ended, given the last trial's ``f``, ``g``, ``aux``
    (the evaluation passed to the :func:`update` that ended it).

    The last trial if it has sufficient decrease (and a finite value), else ``t_x`` if
    ``t_x > 0``, else nothing (``ok = False``, step 0 with ``phi(0)``).
    """
    f = jnp.asarray(f, s.fx.dtype)
    g = jnp.asarray(g, s.fx.dtype)
    trial_ok = (jnp.isfinite(f) & jnp.isfinite(g) & (s.step > 0)
                & (f <= s.finit + s.step * ftol * s.ginit))
    x_ok = (s.stx > 0) & (s.fx <= s.finit + s.stx * ftol * s.ginit)
    pick = lambda a, b, c: jnp.where(trial_ok, a, jnp.where(x_ok, b, c))  # noqa: E731
    return SearchResult(ok=trial_ok | x_ok, step=pick(s.step, s.stx, 0.0),
                        f=pick(f, s.fx, s.finit), g=pick(g, s.gx, s.ginit),
                        aux=jax.tree.map(lambda a, b: jnp.where(trial_ok, a, b), aux, s.aux_x))


def search(phi: Callable, f0, g0, step0, step_max, aux0=None, *, ftol=1e-3, gtol=0.9,
           xtol=0.1, step_min=0.0, max_evals=20) -> tuple[SearchResult, SearchState]:
    """Runs one search to its end (``while_loop``).

    Args:
      phi: ``phi(t) -> (f, g, aux)``: value, slope and the caller's data at step ``t``.
      f0: see :func:`start` (``aux0`` defaults to ``g0``).
      g0: see ``f0``.
      step0: see ``f0``.
      step_max: see ``f0``.
      aux0: see ``f0``.
      ftol: see the module docstring.
      gtol: ``[]`` its projected-gradient tolerance (L-BFGS-B's meaning).
      xtol: see ``ftol``.
      step_min: see ``ftol``.
      max_evals: see ``ftol``.

    Returns:
      ``(result, final_state)``; ``final_state.num_evals`` counts the trials.
    """
    aux0 = g0 if aux0 is None else aux0
    s0 = start(f0, g0, step0, step_max, aux0)
    _, _, aux_shape = jax.eval_shape(phi, s0.step)
    zeros = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), aux_shape)
    kw = dict(ftol=ftol, gtol=gtol, xtol=xtol, step_min=step_min, max_evals=max_evals)

    def body(carry):
        s, _, _, _ = carry
        f, g, aux = phi(s.step)
        return update(s, f, g, aux, **kw), f, g, aux

    zero = jnp.zeros((), s0.fx.dtype)
    s, f, g, aux = jax.lax.while_loop(lambda c: c[0].status == RUNNING, body,
                                      (s0, zero, zero, zeros))
    return outcome(s, f, g, aux, ftol=ftol), s
