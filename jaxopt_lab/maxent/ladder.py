"""The quadrature ladder: a host driver over the fixed-rule solve, for one problem or many.

The review leaves the quadrature open (docs/methods/maxent.md). With ``quad_points=None`` the rules
of :data:`jaxopt_lab.maxent.config.AUTO_RULES` are tried in turn, each rung warm-started from
the previous rung's answer where that answer is usable, until the refined-rule moment error
meets ``moment_tol``; with a fixed ``quad_points`` the ladder has one rung. ``method="auto"``
climbs it with BFGS and then, for the problems that did not meet ``moment_tol``, with
Newton, keeping the better answer. Rungs are padded to a few shape classes
(:func:`jaxopt_lab.maxent.config.padded_sizes`), so they share compiled programs.

The driver is written once over a leading batch axis ``[B]``: every rung solves the rows
not yet done, either one at a time with the jitted fixed-rule solve (``batched=False``:
:func:`jaxopt_lab.maxent.solve`) or all at once with its ``jax.vmap`` (``batched=True``:
:func:`jaxopt_lab.maxent.solve_batch`).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import numpy as np

from jaxopt_lab.core import Result
from jaxopt_lab.maxent import fixed_rule
from jaxopt_lab.maxent.densities import integrability
from jaxopt_lab.maxent.config import (COARSE_STEPS, COARSE_TOL, FALLBACK_SIGMA,
                                      FIRST_RUNG_STEPS, Config, attempts, ladder,
                                      padded_sizes, rung_dtypes)
from jaxopt_lab.maxent.fixed_rule import Problem, RuleOutput
from jaxopt_lab.maxent.precondition import alpha
from jaxopt_lab.maxent.rules import adaptive_sigma

__all__ = ["Outcome", "run"]

#: A rung's answer warm-starts the next rung if it is finite, integrable and its moments are
#: within this error (enough to place the nodes), or if it converged on its own rule.
USABLE_MOMENT_ERROR = 0.3
#: A box rung is placed again (warm-started) on the box of its answers when that box differs
#: from its own by more than this factor, at most BOX_REPLACEMENTS times.
BOX_RESIZE = 1.1
BOX_REPLACEMENTS = 2
#: Pad the rungs to the shape classes of :func:`jaxopt_lab.maxent.config.padded_sizes`
#: (fewer programs to compile; answers equal up to round-off).
PAD_RUNGS = True


class Outcome(NamedTuple):
    """Per-row result of the ladder (``[B, ...]`` NumPy; alpha frame): the fields of
    :class:`jaxopt_lab.maxent.fixed_rule.RuleOutput` from each row's last rung (steps and
    rebuilds summed over rungs and attempts), plus that rung's ``quad_points`` and ``sigma``
    (NaN for a box rung) and the half-width ``box_radius`` of a box rung (alpha frame; NaN
    for a Gauss-Hermite rung)."""

    multipliers: np.ndarray
    basis: np.ndarray
    result: np.ndarray
    iterations: np.ndarray
    reorthonormalisations: np.ndarray
    grad_norm: np.ndarray
    moment_error: np.ndarray
    top_form_max: np.ndarray
    integrable: np.ndarray
    quad_points: np.ndarray
    sigma: np.ndarray
    box_radius: np.ndarray


def run(config: Config, problem: Problem, todo: np.ndarray, batched: bool,
        log_prior: Callable | None = None, start: np.ndarray | None = None) -> Outcome:
    """Solves the rows ``todo [B]`` of ``problem`` (``[B, ...]``) on the ladder.

    Args:
      config: the options.
      problem: the preconditioned problems.
      todo: ``[B]`` bool, the rows to solve (the others keep default fields).
      batched: vmap the rows of each rung (else solve them one at a time).
      log_prior: ``log Pi(x[dim])`` of a relative-entropy problem, else None.
      start: ``[B, K]`` alpha-frame multipliers to start the first rung from (a warm
        start); rows that are not finite, or whose density is not integrable, start from
        the Gaussian. None: every row starts from the Gaussian.
    """
    out = None
    if start is not None:
        start = _usable_start(start, config)
    for method in attempts(config, batched):
        redo = todo if out is None else todo & ~_met(out, config.moment_tol)
        if not np.any(redo):
            break
        new = _climb(config, method, problem, redo, batched, log_prior, start)
        out = new if out is None else _better(out, new, redo, config.moment_tol)
    return _default(config, todo.shape[0]) if out is None else out


def _usable_start(start: np.ndarray, config: Config) -> np.ndarray:
    """``start`` with unusable rows (not finite, not integrable) set to NaN."""
    start = np.array(start, np.float64)
    finite = np.all(np.isfinite(start), axis=-1)
    safe = np.where(finite[:, None], start, fixed_rule.gaussian_start(config.dim, config.order))
    ok = finite & np.asarray(integrability(safe, config.dim, config.order)[0])
    start[~ok] = np.nan
    return start


def _met(out, moment_tol) -> np.ndarray:
    """The optimiser converged and the moment error meets ``moment_tol`` (integrability is
    judged on the final answer only: a rung that fails it still stops the ladder)."""
    ok = (out.result == int(Result.converged)) | (out.result == int(Result.not_integrable))
    return ok & (out.moment_error <= moment_tol)


def _optimiser_converged(result) -> np.ndarray:
    # The checks only ever turn a converged optimiser into these two codes.
    return np.isin(result, [int(Result.converged), int(Result.not_integrable),
                            int(Result.inaccurate_quadrature)])


def _better(first: Outcome, second: Outcome, redo, moment_tol) -> Outcome:
    """Per row of ``redo``: ``second`` if it met ``moment_tol`` or has the smaller moment
    error (``first`` if it met ``moment_tol``); steps and rebuilds of both are counted."""
    take = redo & (_met(second, moment_tol) | ~(
        _met(first, moment_tol) | (first.moment_error <= second.moment_error)))
    merged = {name: np.where(take.reshape(take.shape + (1,) * (a.ndim - 1)),
                             getattr(second, name), a)
              for name, a in first._asdict().items()}
    for name in ("iterations", "reorthonormalisations"):
        merged[name] = getattr(first, name) + np.where(redo, getattr(second, name), 0)
    return Outcome(**merged)


def _default(config: Config, batch: int) -> Outcome:
    dim, order, num = config.dim, config.order, config.num_moments
    return Outcome(
        multipliers=np.broadcast_to(fixed_rule.gaussian_start(dim, order), (batch, num)).copy(),
        basis=np.broadcast_to(fixed_rule.start_basis(dim, order), (batch, num, num)).copy(),
        result=np.full(batch, int(Result.max_steps), np.int32),
        iterations=np.zeros(batch, np.int64), reorthonormalisations=np.zeros(batch, np.int64),
        grad_norm=np.full(batch, np.nan), moment_error=np.full(batch, np.inf),
        top_form_max=np.full(batch, np.nan), integrable=np.zeros(batch, bool),
        quad_points=np.zeros(batch, np.int64), sigma=np.ones(batch),
        box_radius=np.full(batch, np.nan))


def _pick_sigma(sigma, lam, dim, order, num_points, scale, informed):
    """A rung's contraction: its own, or adaptive (the widest support among ``lam [n, K]``)
    when every row has a usable previous answer, else :data:`FALLBACK_SIGMA`."""
    if sigma is not None:
        return sigma
    if not informed:
        return FALLBACK_SIGMA
    return max(adaptive_sigma(row, dim, order, num_points, scale) for row in lam)


def padded_rows(num: int, batch: int) -> int:
    """Rows a vmapped rung solves for ``num`` of a ``batch``: the next power of two, at most
    ``batch``. The rows left for a later rung vary from call to call; padding them to a few
    sizes bounds the compiled programs (a new size compiles again, 3-4 s for 3-D order 4)."""
    return min(batch, 1 << max(0, num - 1).bit_length())


def _solve_rows(fn, batched, problem, rule, lam0, basis0, limits, size=None) -> RuleOutput:
    """The fixed-rule solve of every row: vmapped (padded to ``size`` rows by repeating the
    first, whose copies are dropped), or one row at a time."""
    if batched:
        num = lam0.shape[0]
        if size is not None and size > num:
            def pad(a):
                return np.concatenate([a, np.repeat(a[:1], size - num, axis=0)])
            problem, lam0 = jax.tree.map(pad, problem), pad(lam0)
        out = fn(problem, rule, lam0, basis0, limits)
        return jax.tree.map(lambda a: _float64(a)[:num], out)
    rows = [fn(jax.tree.map(lambda a: a[i], problem), rule, lam0[i], basis0, limits)
            for i in range(lam0.shape[0])]
    return jax.tree.map(lambda *a: _float64(np.stack([np.asarray(v) for v in a])), *rows)


def _float64(a) -> np.ndarray:
    """A rung's output on the host, floats widened to float64 (a float32 rung's answer)."""
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype == np.float32 else a


def _climb(config, method, problem, todo, batched, log_prior, start=None) -> Outcome:
    dim, order = config.dim, config.order
    scale = alpha(order)
    fn = fixed_rule.compiled(fixed_rule.solver(config, method, log_prior), batched)
    out = _default(config, todo.shape[0])._asdict()
    initial = out["multipliers"][0].copy()
    basis0 = out["basis"][0].copy()
    lam = out["multipliers"].copy()
    informed = np.zeros(todo.shape, bool)  # lam holds a usable previous answer
    if start is not None:
        informed = np.all(np.isfinite(start), axis=-1)
        lam[informed] = start[informed]
    todo = todo.copy()
    rules = ladder(config)
    # Explicit rules are not padded: a padded rung pays for its class's largest grid.
    pad = PAD_RUNGS and config.rules is None
    sizes = padded_sizes(config) if pad else tuple(t for t, _ in rules)
    dtypes = rung_dtypes(config)
    queue, placed = list(range(len(rules))), [0] * len(rules)
    while queue:
        rung = queue.pop(0)
        t, sigma = rules[rung]
        sel = np.flatnonzero(todo)
        if sel.size == 0:
            break
        if dtypes[rung] != "box":
            sigma = _pick_sigma(sigma, lam[sel], dim, order, t, scale, np.all(informed[sel]))
        cap = config.max_steps
        if config.quad_points is None and config.rules is None and rung == 0 and len(rules) > 1:
            cap = min(cap, FIRST_RUNG_STEPS)
        lim = fixed_rule.limits(config, method, cap)
        radius = np.nan
        if dtypes[rung] == "box":  # the box around the widest previous answer
            sigma, radius = np.nan, fixed_rule.box_radius(lam[sel], dim, order)
            rule = fixed_rule.box_rule(t, radius, config.check_ratio)
        else:
            rule = fixed_rule.rule(t, scale, sigma, sizes[rung], config.check_ratio)
        args = (jax.tree.map(lambda a: a[sel], problem), rule, lam[sel], basis0)
        if dtypes[rung] == "float32":  # a coarse rung: seeds the next one
            lim = lim._replace(tol=max(lim.tol, COARSE_TOL),
                               max_steps=min(lim.max_steps, COARSE_STEPS))
            args = jax.tree.map(lambda a: np.asarray(a, np.float32), args)
        res = _solve_rows(fn, batched, *args, lim, padded_rows(sel.size, todo.shape[0]))
        usable = np.all(np.isfinite(res.multipliers), axis=-1) & (
            (res.moment_error <= USABLE_MOMENT_ERROR) | _optimiser_converged(res.result))
        usable &= res.integrable  # a warm start for a later rung (or a box re-placement)
        # Otherwise that problem restarts from the Gaussian.
        lam[sel] = np.where(usable[:, None], res.multipliers, initial)
        informed[sel] = usable
        for name, value in res._asdict().items():
            if name in ("iterations", "reorthonormalisations"):
                out[name][sel] += value
            else:
                out[name][sel] = value
        out["quad_points"][sel], out["sigma"][sel] = t, sigma
        out["box_radius"][sel] = radius
        todo[sel] = ~_met(res, config.moment_tol)
        if dtypes[rung] == "box" and _replace_box(res, usable & todo[sel], radius, placed, rung,
                                                 dim, order):
            queue.insert(0, rung)
    return Outcome(**out)


def _replace_box(res, again, radius, placed, rung, dim, order) -> bool:
    """A box rung runs again, on the box of its own answers, for the rows ``again`` (not
    met, usable) when that box differs from the one it was placed on by more than
    :data:`BOX_RESIZE` (a box placed from a poor start wastes its nodes on empty space), at
    most :data:`BOX_REPLACEMENTS` times."""
    placed[rung] += 1
    if not again.any() or placed[rung] > BOX_REPLACEMENTS:
        return False
    new = fixed_rule.box_radius(res.multipliers[again], dim, order)
    return abs(np.log(new / radius)) > np.log(BOX_RESIZE)
