"""MaxEnt on a point-set rule: Smolyak sparse grids in place of the tensor grid (section 8).

``Config(rule="sparse", level=k)`` replaces the tensor Gauss-Hermite rule (``T^N`` points,
out of reach past 5-D) by the Smolyak combination of 1-D Gauss-Hermite rules
(:func:`jaxopt_lab.sparse_grid.smolyak_hermite`), divided by its Gaussian weight and
contracted to the alpha frame as the tensor rule is (nodes ``sigma xi / alpha``, weights
``w(xi) exp(|xi|^2 / 2) (2 pi)^(N/2) (sigma / alpha)^N``). The check rule is the sparse
grid two levels up, same ``sigma``.

A pass over the ``P`` points is a chunked sum ``Phi^T diag(W exp(lambda . Phi)) Phi``
(``Phi [P, K]`` the degree-``<= M`` monomials, formed chunk by chunk, never stored): the
moment matrix (Hessian of the dual) and the moments (its first column) in one go.

Newton on the dual (5.2), in the coordinates of the start Hermite basis ``C``
(``lambda = C gamma``). Smolyak weights are partly negative, so the discrete Hessian need
not be positive definite: each step uses the eigen-decomposition of ``C^T H C`` with every
eigenvalue replaced by ``max(|ev|, 1e-12 max |ev|)`` (a positive definite modification;
equal to Newton where the Hessian is positive definite), and a backtracking Armijo search
on the discrete dual, started at ``1 / (1 + Newton decrement)`` while the decrement is
above 1/4 (away from the answer a negative-weight rule's dual can be unbounded below).
:func:`solve_points` reports the smallest count of non-positive eigenvalues met
(``negative_curvature``). Stopping: ``max |grad| < tol`` in the start basis.

``Config(rule="adapted", level=k)`` uses the rule of :mod:`jaxopt_lab.maxent.adapted`
instead (built from the target moments) and starts from the product of its marginals.
"""

from __future__ import annotations

import contextlib
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.core import Result
from jaxopt_lab.maxent.densities import integrability
from jaxopt_lab.maxent import adapted
from jaxopt_lab.maxent.fixed_rule import _white_scale, gaussian_start, moment_error, start_basis
from jaxopt_lab.maxent.multiindex import monomials
from jaxopt_lab.maxent.precondition import alpha
from jaxopt_lab.maxent.tensor import EXP_CLIP
from jaxopt_lab.sparse_grid import smolyak_hermite

__all__ = ["point_rule", "point_moments", "rules", "solve_points", "run", "CHECK_LEVELS",
           "CHUNK"]

#: The check rule is the sparse grid this many levels above the solve rule.
CHECK_LEVELS = 2
#: Points per chunk of a pass.
CHUNK = 4096
MAX_LINE_SEARCH = 40


def point_rule(dim: int, level: int, sigma: float, scale: float):
    """Alpha-frame sparse rule: ``points [P, dim]``, ``weights [P]`` for ``int g(x) dx``."""
    xi, w = smolyak_hermite(dim, level)
    pts = sigma * xi / scale
    log_w = 0.5 * np.sum(xi**2, axis=1) + 0.5 * dim * math.log(2 * math.pi) \
        + dim * math.log(sigma / scale)
    return pts, w * np.exp(log_w)


def _padded(points, weights, chunk):
    num = points.shape[0]
    size = -(-num // chunk) * chunk
    pts = np.zeros((size, points.shape[1]))
    wts = np.zeros(size)
    pts[:num], wts[:num] = points, weights
    return (jnp.asarray(pts.reshape(-1, chunk, points.shape[1])),
            jnp.asarray(wts.reshape(-1, chunk)))


@functools.partial(jax.jit, static_argnames=("order", "hessian"))
def _pass(lam, pts, wts, order, hessian):
    """Mass-weighted sums over the chunks ``pts [c, n, N]``: ``(Phi^T r, Phi^T diag(r) Phi)``
    (the second only if ``hessian``), ``r = W exp(lam . Phi)``."""
    def chunk(args):
        x, w = args
        phi = monomials(x, order)
        r = w * jnp.exp(jnp.minimum(phi @ lam, EXP_CLIP))
        mom = phi.T @ r
        return (mom, (phi * r[:, None]).T @ phi) if hessian else (mom, jnp.zeros(()))

    mom, hess = jax.lax.map(chunk, (pts, wts))
    return mom.sum(0), hess.sum(0)


def point_moments(lam, points, weights, order: int, chunk: int = CHUNK) -> np.ndarray:
    """``[K]`` rule moments ``sum_p W_p exp(lam . x_p^i) x_p^j``, ``|j| <= order`` (float64).

    Args:
      lam: ``[K_lam]`` multipliers (graded order, degree ``<= order``).
      points: ``[P, N]``; weights: ``[P]``; chunk: points per chunk of the pass.
    """
    with _float64():
        pts, wts = _padded(np.asarray(points), np.asarray(weights), chunk)
        return np.asarray(_pass(jnp.asarray(lam, jnp.float64), pts, wts, order, False)[0])


def _float64():
    return contextlib.nullcontext() if jax.config.jax_enable_x64 else jax.enable_x64(True)


def rules(family: str, target, dim: int, order: int, level: int, sigma: float):
    """Solve and check rules ``((points, weights), (points, weights))`` of a family:
    ``"sparse"`` (:func:`point_rule`) or ``"adapted"``
    (:func:`jaxopt_lab.maxent.adapted.adapted_rule`, from the alpha-frame ``target [K]``);
    the check rule is ``CHECK_LEVELS`` levels up; and the start ``[K]``: the Gaussian, or
    for ``"adapted"`` the product of the marginals (:func:`adapted.product_start`)."""
    if family == "sparse":
        scale = alpha(order)
        return (point_rule(dim, level, sigma, scale),
                point_rule(dim, level + CHECK_LEVELS, sigma, scale), gaussian_start(dim, order))
    white = np.asarray(target) * _white_scale(dim, order)
    pts, wts, frame = adapted.adapted_rule(white, dim, order, level)
    cpts, cwts, _ = adapted.adapted_rule(white, dim, order, level + CHECK_LEVELS, frame)
    return (pts, wts), (cpts, cwts), adapted.product_start(dim, order, frame)


def solve_points(target, dim: int, order: int, rule, check, *, tol: float,
                 moment_tol: float, max_steps: int, lam0=None):
    """One alpha-frame problem on a point rule.

    Args:
      target: ``[K]`` alpha-frame moments. lam0: ``[K]`` start (None: the Gaussian).
      rule, check: ``(points [P, dim], weights [P])`` of the solve and the check rule.

    Returns:
      dict: ``multipliers [K]``, ``basis [K, K]``, ``result``, ``iterations``,
      ``grad_norm``, ``moment_error`` (check rule), ``top_form_max``, ``integrable``,
      ``num_points``, ``negative_curvature``.
    """
    pts, wts = _padded(*rule, CHUNK)
    num_points = int(rule[1].shape[0])
    coeffs = jnp.asarray(start_basis(dim, order))
    target = jnp.asarray(target)
    lam = jnp.asarray(gaussian_start(dim, order) if lam0 is None else lam0)
    rhs = coeffs.T @ target

    def value(lam):
        mom, _ = _pass(lam, pts, wts, order, False)
        return mom[0] - lam @ target

    code, steps, gnorm, neg = int(Result.max_steps), 0, np.inf, 10**9
    for steps in range(max_steps + 1):
        mom, hess = _pass(lam, pts, wts, order, True)
        grad = coeffs.T @ mom - rhs
        gnorm = float(jnp.max(jnp.abs(grad)))
        if not np.isfinite(gnorm):
            code = int(Result.nonfinite)
            break
        if gnorm < tol:
            code = int(Result.converged)
            break
        if steps == max_steps:
            break
        ev, vec = jnp.linalg.eigh(coeffs.T @ hess @ coeffs)
        neg = min(neg, int(jnp.sum(ev <= 0)))
        ev = jnp.maximum(jnp.abs(ev), 1e-12 * jnp.max(jnp.abs(ev)))
        step = coeffs @ (vec @ (-(vec.T @ grad) / ev))
        f0, slope = float(value(lam)), float((mom - target) @ step)
        # damped Newton: zeta0 = 1 / (1 + decrement) while far from the minimum (a
        # negative-weight rule's dual can be unbounded below away from the answer).
        decrement = math.sqrt(max(-slope, 0.0))
        zeta, accepted = (1.0 if decrement < 0.25 else 1.0 / (1.0 + decrement)), False
        for _ in range(MAX_LINE_SEARCH):
            trial = lam + zeta * step
            ft = float(value(trial))
            if np.isfinite(ft) and ft <= f0 + 1e-4 * zeta * slope + 1e-14 * (1 + abs(f0)):
                accepted = True
                break
            zeta *= 0.5
        if not accepted:
            code = int(Result.line_search_failed)
            break
        lam = trial
    mu = point_moments(lam, check[0], check[1], order)
    err = float(moment_error(jnp.asarray(mu), target, dim, order))
    ok, top, _ = integrability(lam, dim, order)
    ok = bool(ok)
    if code == int(Result.converged) and not ok:
        code = int(Result.not_integrable)
    if code == int(Result.converged) and not err <= moment_tol:
        code = int(Result.inaccurate_quadrature)
    return dict(multipliers=np.asarray(lam), basis=np.asarray(coeffs), result=code,
                iterations=steps, grad_norm=gnorm, moment_error=err,
                top_form_max=float(top), integrable=ok, num_points=num_points,
                negative_curvature=None if neg == 10**9 else neg)


def run(config, problem, todo: np.ndarray, start: np.ndarray | None = None):
    """The rows ``todo [B]`` of ``problem`` solved one at a time on the sparse rule of
    ``config.level``; a :class:`jaxopt_lab.maxent.ladder.Outcome` (``quad_points`` holds
    the number of points ``P``; ``reorthonormalisations`` is 0: the basis is fixed)."""
    from jaxopt_lab.maxent.ladder import Outcome
    from jaxopt_lab.maxent.config import SPARSE_SIGMA

    dim, order = config.dim, config.order
    sigma = SPARSE_SIGMA if config.sigma is None else float(config.sigma)
    batch = todo.shape[0]
    rows = []
    for b in range(batch):
        lam0 = None
        if start is not None and np.all(np.isfinite(start[b])):
            lam0 = start[b]
        if todo[b]:
            target = np.asarray(problem.moments[b])
            rule, check, start0 = rules(config.rule, target, dim, order, config.level, sigma)
            rows.append(solve_points(target, dim, order, rule, check, tol=config.tol,
                                     moment_tol=config.moment_tol, max_steps=config.max_steps,
                                     lam0=start0 if lam0 is None else lam0))
        else:
            rows.append(dict(multipliers=gaussian_start(dim, order),
                             basis=start_basis(dim, order), result=int(Result.max_steps),
                             iterations=0, grad_norm=np.nan, moment_error=np.nan,
                             top_form_max=np.nan, integrable=False, num_points=0,
                             negative_curvature=0))

    def stack(key, dtype=np.float64):
        return np.asarray([r[key] for r in rows], dtype)

    return Outcome(stack("multipliers"), stack("basis"), stack("result", np.int32),
                   stack("iterations", np.int32),
                   np.zeros(batch, np.int32),
                   stack("grad_norm"), stack("moment_error"), stack("top_form_max"),
                   stack("integrable", bool), stack("num_points", np.int64),
                   np.full(batch, sigma), np.full(batch, np.nan))
