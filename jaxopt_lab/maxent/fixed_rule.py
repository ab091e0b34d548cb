"""One maximum-entropy solve on one quadrature rule: a pure, jit- and vmap-able function.

Given a preconditioned problem (alpha-frame moments, section 4), a tensor rule (Gauss-Hermite,
section 8, or composite Gauss-Legendre on a box, :func:`box_rule`) and a start,
:func:`solver` runs the dual optimiser of :mod:`jaxopt_lab.maxent.dual` (BFGS or Newton), then
checks the answer independently:

* the moments of the answer are re-integrated with a refined rule (``ceil(1.5 T) + 1``
  nodes per axis, same contraction) and compared with the target in the standardised frame
  (zero mean, identity covariance, before alpha scaling), where every moment is O(1):
  ``moment_error = max_i |mu_i - m_i| / max(1, |m_i|)``;
* the top-degree form is tested for integrability on the unit sphere
  (:func:`jaxopt_lab.maxent.densities.integrability`; review section 8).

A converged answer that fails a check gets ``not_integrable`` or ``inaccurate_quadrature``.
Everything is arrays, so ``jax.jit`` applies and ``jax.vmap`` batches problems; the
quadrature ladder (:mod:`jaxopt_lab.maxent.ladder`) is a host driver around this function.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.core import Result
from jaxopt_lab.maxent import dual
from jaxopt_lab.maxent.basis import hermite_basis
from jaxopt_lab.maxent.config import BOX_PANEL_NODES, Config
from jaxopt_lab.maxent.densities import integrability
from jaxopt_lab.maxent.multiindex import _index_table, _multi_indices
from jaxopt_lab.maxent.precondition import alpha
from jaxopt_lab.maxent.rules import alpha_rule, support_radius
from jaxopt_lab.quadrature import composite_gauss_legendre

__all__ = ["Problem", "Rule", "Limits", "RuleOutput", "solver", "compiled", "rule", "box_rule",
           "box_radius",
           "check_points", "limits", "gaussian_start", "start_basis", "moment_error"]


class Problem(NamedTuple):
    """One preconditioned problem (arrays; ``[B, ...]`` for a batch).

    Attributes:
      moments: ``[K]`` target moments in the alpha frame (graded order).
      mean: ``[dim]`` and inverse: ``[dim, dim]``: ``x = inverse @ z + mean`` maps the alpha
        frame back to the original one (used by a general prior's log-density).
    """

    moments: jax.Array
    mean: jax.Array
    inverse: jax.Array


class Rule(NamedTuple):
    """Per-axis nodes and weights ``[T]`` of the solve rule and ``[T']`` of its check rule."""

    nodes: jax.Array
    weights: jax.Array
    check_nodes: jax.Array
    check_weights: jax.Array


class Limits(NamedTuple):
    """Numeric options (scalars; changing them never recompiles)."""

    tol: jax.Array
    kappa_max: jax.Array
    moment_tol: jax.Array
    max_steps: jax.Array
    max_reorth: jax.Array


class RuleOutput(NamedTuple):
    """What one fixed-rule solve returns (alpha frame; ``[B, ...]`` for a batch).

    Attributes:
      multipliers: ``[K]`` the answer, alpha frame.
      basis: ``[K, K]`` coefficients of the last orthonormal basis.
      result: int32 :class:`jaxopt_lab.core.Result` code after both checks.
      iterations: BFGS/Newton steps. reorthonormalisations: basis rebuilds.
      grad_norm: ``max |grad|`` in the last orthonormal basis.
      moment_error: on the refined check rule (inf if not finite).
      top_form_max: max over the unit sphere of the effective top-degree form.
      integrable: the integrability test passed.
    """

    multipliers: jax.Array
    basis: jax.Array
    result: jax.Array
    iterations: jax.Array
    reorthonormalisations: jax.Array
    grad_norm: jax.Array
    moment_error: jax.Array
    top_form_max: jax.Array
    integrable: jax.Array


def check_points(num_points: int, ratio: float = 1.5) -> int:
    """Nodes per axis of the refined check rule: ``ceil(ratio T) + 1`` (``Config.check_ratio``)."""
    return int(math.ceil(ratio * num_points)) + 1


def rule(num_points: int, scale: float, sigma: float, size: int | None = None,
         check_ratio: float = 1.5) -> Rule:
    """The alpha-frame rule with ``num_points`` nodes per axis and its check rule (NumPy).

    ``size`` (>= ``num_points``): pad the rule to ``[size]`` and the check rule to
    ``[check_points(size)]`` with nodes at 0 of weight 0. They add exact zeros to every
    quadrature sum, so the answer is that of the unpadded rule up to round-off, and rules of
    one size share a compiled solve. ``check_ratio``: see :func:`check_points`.
    """
    nodes, weights = alpha_rule(num_points, scale, sigma)
    check_nodes, check_weights = alpha_rule(check_points(num_points, check_ratio), scale, sigma)
    if size is not None and size > num_points:
        nodes, weights = _pad(nodes, size), _pad(weights, size)
        check_nodes = _pad(check_nodes, check_points(size, check_ratio))
        check_weights = _pad(check_weights, check_points(size, check_ratio))
    return Rule(nodes, weights, check_nodes, check_weights)


#: A box rung's half-width is the previous answer's support radius times this.
BOX_MARGIN = 1.15
#: The check rule of a box rung spans a box this much wider (it sees mass the solve box cut).
CHECK_BOX_WIDEN = 1.2


def box_radius(lam_alpha, dim: int, order: int) -> float:
    """Half-width (alpha frame) of a box rung for the answers ``lam_alpha [n, K]``: the
    widest support at ``exp(-40)`` of the peak (:func:`jaxopt_lab.maxent.rules.support_radius`,
    scanned to 12 standardised units) times :data:`BOX_MARGIN`."""
    scale = alpha(order)
    rows = np.atleast_2d(np.asarray(lam_alpha, np.float64))
    return BOX_MARGIN * max(support_radius(row, dim, order, r_max=12.0 / scale) for row in rows)


def box_rule(num_points: int, radius: float, check_ratio: float = 1.5) -> Rule:
    """A box rung's rule (NumPy): composite Gauss-Legendre per axis on ``[-radius, radius]``
    (alpha frame), ``num_points / BOX_PANEL_NODES`` panels of :data:`BOX_PANEL_NODES` nodes.

    Its check rule spans a box :data:`CHECK_BOX_WIDEN` wider with panels ``check_ratio``
    times narrower: other nodes, and the mass that the solve box cuts off, so an answer that
    only fits the box fails the check.
    """
    _checks.check_int(num_points, "quad_points", minimum=BOX_PANEL_NODES)
    _checks.check_number(radius, "radius", positive=True)
    if num_points % BOX_PANEL_NODES:
        raise ValueError(f"quad_points of a box rule must be a multiple of {BOX_PANEL_NODES}, "
                         f"got {num_points}")
    panels = num_points // BOX_PANEL_NODES
    solve = composite_gauss_legendre(panels, BOX_PANEL_NODES, -radius, radius)
    wide = CHECK_BOX_WIDEN * radius
    check = composite_gauss_legendre(int(math.ceil(check_ratio * CHECK_BOX_WIDEN * panels)) + 1,
                                     BOX_PANEL_NODES, -wide, wide)
    return Rule(solve.nodes, solve.weights, check.nodes, check.weights)


def _pad(a: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([a, np.zeros(size - a.shape[0], a.dtype)])


def limits(config: Config, method: str, max_steps: int | None = None) -> Limits:
    """:class:`Limits` from ``config`` (``max_steps`` overrides ``config.max_steps``).

    The reorthonormalisation cap is ``max_steps + 1`` for Newton (one per step) and
    ``max(50, max_steps // 2)`` for BFGS.
    """
    steps = config.max_steps if max_steps is None else max_steps
    max_reorth = steps + 1 if method == "newton" else max(50, steps // 2)
    return Limits(config.tol, config.kappa_max, config.moment_tol, steps, max_reorth)


def gaussian_start(dim: int, order: int) -> np.ndarray:
    """Multipliers ``[K]`` of N(0, alpha^{-2} I) in the alpha frame (review sec. 9, step 3)."""
    scale = alpha(order)
    table = _index_table(dim, order)
    lam = np.zeros(len(table))
    lam[0] = 0.5 * dim * math.log(scale**2 / (2 * math.pi))
    for k in range(dim):
        e = [0] * dim
        e[k] = 2
        lam[table[tuple(e)]] = -0.5 * scale**2
    return lam


def start_basis(dim: int, order: int) -> np.ndarray:
    """``[K, K]`` the tensor Hermite basis, orthonormal for the Gaussian start."""
    return hermite_basis(dim, order, alpha(order))


def moment_error(mu, target, dim: int, order: int):
    """``max_i |mu_i - m_i| / max(1, |m_i|)`` in the standardised frame, ``[...]``.

    ``mu`` and ``target`` are alpha-frame moments ``[..., K]``; a standardised moment is the
    alpha-frame one times ``alpha^{|i|}``. Not finite: inf.
    """
    white_scale = _white_scale(dim, order)
    white_t = target * white_scale
    err = jnp.max(jnp.abs(mu * white_scale - white_t) / jnp.maximum(1.0, jnp.abs(white_t)),
                  axis=-1)
    return jnp.where(jnp.isfinite(err), err, jnp.inf)


@functools.lru_cache(maxsize=64)
def _white_scale(dim, order):
    out = alpha(order) ** _multi_indices(dim, order).sum(axis=1).astype(np.float64)
    out.setflags(write=False)
    return out


def solver(config: Config, method: str | None = None,
           log_prior: Callable | None = None) -> Callable:
    """The fixed-rule solve for ``config``: a pure function of arrays.

    Args:
      config: the problem shape and options (its ``quad_points``, ``sigma`` and the ladder
        are the caller's business: the rule is an argument).
      method: ``"bfgs"`` or ``"newton"``; None: ``config.method`` (``"auto"`` reads as
        ``"bfgs"``).
      log_prior: ``log Pi(x[dim])`` for the relative-entropy problem (3.4b), else None.

    Returns:
      ``fn(problem: Problem, rule: Rule, lam0 [K], basis0 [K, K], limits: Limits) ->
      RuleOutput``, jit- and vmap-able (no Python control flow on values).
    """
    method = method or ("bfgs" if config.method == "auto" else config.method)
    return _solver(config.dim, config.order, method, config.reorth, config.passes,
                   config.chunk_size, config.check_integrability, log_prior)


@functools.lru_cache(maxsize=128)
def _solver(dim, order, method, reorth, passes, chunk_size, check_integrability, log_prior):
    optimise = dual.build_core(dim, order, newton=method == "newton", reorth=reorth,
                               passes=passes, chunk_size=chunk_size, log_prior=log_prior)
    check = dual.moments_fn(dim, order, order, log_prior, chunk_size)

    def solve_rule(problem: Problem, rule: Rule, lam0, basis0, limits: Limits) -> RuleOutput:
        prior_args = None if log_prior is None else (problem.inverse, problem.mean)
        res = optimise(problem.moments, lam0, basis0, rule.nodes, rule.weights, limits.tol,
                       limits.kappa_max, prior_args, limits.max_steps, limits.max_reorth)
        mu = check(res.lam, rule.check_nodes, rule.check_weights, prior_args)
        err = moment_error(mu, problem.moments, dim, order)
        ok, top, _ = integrability(res.lam, dim, order)
        code = res.code
        converged = code == int(Result.converged)
        if check_integrability:
            code = jnp.where(converged & ~ok, int(Result.not_integrable), code)
        code = jnp.where((code == int(Result.converged)) & ~(err <= limits.moment_tol),
                         int(Result.inaccurate_quadrature), code)
        return RuleOutput(res.lam, res.coeffs, code.astype(jnp.int32), res.iterations,
                          res.reorthonormalisations, res.grad_norm, err, top, ok)

    return solve_rule


@functools.lru_cache(maxsize=128)
def compiled(fn: Callable, batched: bool) -> Callable:
    """``jax.jit`` of a :func:`solver` function, vmapped over problems and starts if
    ``batched`` (the rule, the start basis and the limits are shared)."""
    if batched:
        fn = jax.vmap(fn, in_axes=(Problem(0, 0, 0), None, 0, None, None))
    return jax.jit(fn)
