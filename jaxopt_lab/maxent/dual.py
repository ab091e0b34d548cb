"""The dual solvers on one quadrature rule, in the alpha frame (Abramov review, sections 5, 7, 9).

State is kept as the monomial multipliers ``lam`` (alpha frame) plus the basis coefficients
``C``; the basis coordinates are ``gamma = C^{-1} lam``, never formed, so re-expressing
gamma after a reorthonormalisation (section 9, step 4) is exact by construction.

Two solvers share the quadrature pass (:mod:`jaxopt_lab.maxent.tensor`) and the basis code.

**Newton** (``newton=True``): every loop iteration rebuilds the orthonormal basis from the
degree-2M moments at the current point, takes ``g = C^T (mu - m)``, and, unless converged,
backtracks along ``-g`` (the Newton step, since the quadrature Hessian is I in that basis);
each trial computes the degree-2M moments, so the accepted trial feeds the next iteration.
Same work every iteration; finished problems are frozen by masks (for ``vmap``).

**BFGS** (``newton=False``, the review's section 7): one loop iteration is either

* a **reorthonormalisation**: one quadrature pass for the moments of degree ``<= 2M``,
  the Gram matrix ``G``, a new orthonormal basis (Cholesky or MGS), the gradient
  ``g = C^T (mu - m)`` (5.5), and ``H = H^{-1} = I``; or
* a **BFGS step** (7.2)-(7.5): ``d = -H^{-1} g``, backtracking Armijo line search on the
  dual (5.2) ``L = Q(1) - lam . m`` (trial zeta = 1, halved up to ``MAX_LINE_SEARCH`` times,
  a trial with non-finite moments is rejected), then the updates (7.3) and (7.4). A
  reorthonormalisation is requested when ``kappa_inf(H) > kappa_max`` (7.6), when
  ``s . y <= 0`` or when the line search fails.

Stopping: ``max_k |g_k| < tol`` in the current basis. Result codes
(:class:`jaxopt_lab.core.Result`): converged; max_steps; nonfinite (a quadrature or
factorisation gave NaN/inf at an accepted point); line_search_failed (no decrease along the
steepest-descent direction right after a reorthonormalisation: the discrete dual cannot be
decreased further).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from jaxopt_lab.core import Result
from jaxopt_lab.maxent.basis import _gram_index, cholesky_orthonormalise, mgs_gram
from jaxopt_lab.maxent.tensor import DEFAULT_MAX_POINTS, grid_values, make_pass

__all__ = ["CoreResult", "build_core", "moments_fn", "prior_grid", "MAX_LINE_SEARCH"]

CONVERGED, MAX_STEPS, NONFINITE, LINE_SEARCH_FAILED = (
    int(Result.converged), int(Result.max_steps), int(Result.nonfinite),
    int(Result.line_search_failed))
MAX_LINE_SEARCH = 40
ARMIJO_C1 = 1e-4


def _slack(dtype) -> float:
    """Relative round-off slack of the Armijo test: 1e-14 in float64 (about 45 ulp), the
    same number of ulp in float32 (a float32 rung that met round-off otherwise halved its
    step 40 times per iteration)."""
    return 1e-14 * float(jnp.finfo(dtype).eps / jnp.finfo(jnp.float64).eps)


class CoreResult(NamedTuple):
    """Output of the jitted solver (alpha frame).

    Attributes:
      lam: ``[K]`` multipliers in the alpha frame.
      coeffs: ``[K, K]`` final basis.
      code: int32 result code.
      iterations: BFGS (or Newton) steps taken.
      reorthonormalisations: number of basis rebuilds.
      grad_norm: ``max |g|`` in the last orthonormal basis.
      mass: quadrature ``Q(1)`` at ``lam``.
    """

    lam: jax.Array
    coeffs: jax.Array
    code: jax.Array
    iterations: jax.Array
    reorthonormalisations: jax.Array
    grad_norm: jax.Array
    mass: jax.Array


class _State(NamedTuple):
    lam: jax.Array
    coeffs: jax.Array
    hmat: jax.Array
    hinv: jax.Array
    grad: jax.Array
    mu: jax.Array
    value: jax.Array
    iterations: jax.Array
    num_reorth: jax.Array
    steps_since: jax.Array
    need_reorth: jax.Array
    done: jax.Array
    code: jax.Array


def moments_fn(dim, order, out_order, log_prior, chunk, batch_rule: bool = True):
    """``moments(lam, nodes, weights, prior_args) -> [C(out_order + N, N)]`` (tensor pass).

    ``batch_rule=False``: vmap the one-problem pass rather than use the pass's own batching
    rule (the BFGS core: JAX cannot batch a ``custom_vmap`` inside the ``lax.cond`` of a
    vmapped ``while_loop``).
    """
    max_points = chunk or DEFAULT_MAX_POINTS

    def moments(lam, nodes, weights, prior_args, extra=None):
        tpass = make_pass(dim, order, out_order, nodes.shape[0], max_points)
        if extra is None and log_prior is not None:
            extra = prior_grid(log_prior, nodes, dim, prior_args)
        if not batch_rule:
            return tpass.one_problem(lam, nodes, weights, extra)
        return tpass(lam, nodes, weights, extra)

    return moments


def prior_grid(log_prior, nodes, dim, prior_args):
    """``log Pi(A^{-1} z + mean)`` on the alpha-frame tensor grid, ``[T, T^(N-1)]``."""
    ainv, shift = prior_args
    return grid_values(lambda z: log_prior(ainv @ z + shift), nodes, dim)


@functools.lru_cache(maxsize=128)
def build_core(dim: int, order: int, *, newton: bool, reorth: str, passes: int,
               chunk_size: int | None,
               log_prior=None):
    """The (unjitted, vmappable) solver for one static configuration.

    ``newton=True`` is the damped Newton method (section 5, (5.4)): every iteration
    reorthonormalises at the current iterate, so the quadrature Hessian is the identity and
    the step is ``-grad`` in the new basis; ``newton=False`` is the review's BFGS between
    reorthonormalisations (section 7).

    Returns:
      ``core(target[K], lam0[K], coeffs0[K, K], nodes[T], weights[T], tol, kappa_max,
      prior_args, max_steps, max_reorth) -> CoreResult`` (the caps are traced).
    """
    if newton:
        return _build_newton(dim, order, reorth, passes, chunk_size, log_prior)
    return _build_bfgs(dim, order, reorth, passes, chunk_size, log_prior)


def _orthonormaliser(reorth, passes):
    return (functools.partial(cholesky_orthonormalise, passes=passes) if reorth == "cholesky"
            else functools.partial(mgs_gram, passes=passes))


def _rebuilt_basis_step(orth):
    """Newton's step with the basis rebuilt at the iterate: ``H = I``, so the step is
    ``-C grad`` with ``grad = C^T (mu - m)`` in the new basis ``C``."""
    def step(gram, coeffs, residual):
        coeffs = orth(gram, coeffs)
        grad = coeffs.T @ residual
        return coeffs, grad, -(coeffs @ grad)  # -G^{-1} (mu - m): the Newton step (5.4)

    return step


def _fixed_basis_step(gram, coeffs, residual):
    """The same Newton step without rebuilding the basis (``reorth="none"``).

    With ``C^T G C = L L^T`` the rebuilt basis would be ``C L^{-T}``, so its gradient is
    ``L^{-1} C^T (mu - m)`` and the step ``-C L^{-T} grad``: two triangular solves with a
    vector instead of forming ``L^{-1}``, and ``C`` is kept. Equal to the rebuilt-basis step
    up to round-off while ``C^T G C`` stays well conditioned (the start basis of a rung
    close to its answer).
    """
    h = coeffs.T @ gram @ coeffs
    chol = jnp.linalg.cholesky(0.5 * (h + h.T))
    grad = solve_triangular(chol, coeffs.T @ residual, lower=True)
    step = -(coeffs @ solve_triangular(chol, grad, lower=True, trans=1))
    return coeffs, grad, step


class _NewtonState(NamedTuple):
    lam: jax.Array
    coeffs: jax.Array
    mu2: jax.Array
    grad: jax.Array
    iterations: jax.Array
    num_reorth: jax.Array
    done: jax.Array
    code: jax.Array


def _build_newton(dim, order, reorth, passes, chunk_size, log_prior):
    """Damped Newton with a reorthonormalisation at every iterate, fixed structure.

    Every loop iteration does the same work (so that ``vmap`` over problems wastes nothing
    on branches): build the basis from the moments of degree <= 2M at the current point
    (Cholesky or MGS), take the gradient, test convergence, and run a backtracking Armijo
    search along ``-grad`` whose trials compute the degree-2M moments directly, so that the
    accepted trial's moments feed the next iteration (one quadrature pass per iteration when
    the full step is accepted). Finished problems are frozen by masks.
    """
    gidx = jnp.asarray(_gram_index(dim, order))
    mom_2m = moments_fn(dim, order, 2 * order, log_prior, chunk_size)
    rebuilds = reorth != "none"
    newton_step = (_fixed_basis_step if reorth == "none"
                   else _rebuilt_basis_step(_orthonormaliser(reorth, passes)))

    def core(target, lam0, coeffs0, nodes, weights, tol, kappa_max, prior_args=None,
             max_steps=1000, max_reorth=500):
        del kappa_max, max_reorth  # every iterate is reorthonormalised (or none is)
        num = target.shape[0]
        extra = (prior_grid(log_prior, nodes, dim, prior_args) if log_prior is not None
                 else None)

        def moments(lam):
            return mom_2m(lam, nodes, weights, prior_args, extra)

        def body(s):
            active = ~s.done
            coeffs, grad, step_lam = newton_step(s.mu2[gidx], s.coeffs, s.mu2[:num] - target)
            value = s.mu2[0] - s.lam @ target
            finite = (jnp.all(jnp.isfinite(coeffs)) & jnp.all(jnp.isfinite(grad))
                      & jnp.isfinite(value))
            conv = finite & (jnp.max(jnp.abs(grad)) < tol)
            capped = s.iterations >= max_steps
            search = active & finite & ~conv & ~capped
            slope = -(grad @ grad)
            slack = _slack(target.dtype) * (1.0 + jnp.abs(value))

            def ls_cond(c):
                k, accepted, _ = c
                return search & ~accepted & (k < MAX_LINE_SEARCH)

            def ls_body(c):
                k, _, _ = c
                zeta = 0.5 ** k.astype(target.dtype)
                lam_t = s.lam + zeta * step_lam
                mu_t = moments(lam_t)
                value_t = mu_t[0] - lam_t @ target
                ok = (jnp.all(jnp.isfinite(mu_t)) & jnp.isfinite(value_t)
                      & (value_t <= value + ARMIJO_C1 * zeta * slope + slack))
                return k + 1, ok, mu_t

            k, accepted, mu_t = jax.lax.while_loop(
                ls_cond, ls_body, (jnp.zeros((), jnp.int32), jnp.zeros((), bool), s.mu2))
            zeta = 0.5 ** (k - 1).astype(target.dtype)
            take = search & accepted
            code = jnp.where(~finite, NONFINITE,
                             jnp.where(conv, CONVERGED,
                                       jnp.where(capped, MAX_STEPS, LINE_SEARCH_FAILED)))
            return _NewtonState(
                lam=jnp.where(take, s.lam + zeta * step_lam, s.lam),
                coeffs=jnp.where(active & finite, coeffs, s.coeffs),
                mu2=jnp.where(take, mu_t, s.mu2),
                grad=jnp.where(active & finite, grad, s.grad),
                iterations=s.iterations + take.astype(jnp.int32),
                num_reorth=s.num_reorth + (active & rebuilds).astype(jnp.int32),
                done=s.done | ~take,
                code=jnp.where(active & ~take, code, s.code).astype(jnp.int32))

        mu2 = moments(lam0)
        state = _NewtonState(
            lam=lam0, coeffs=coeffs0, mu2=mu2, grad=jnp.full_like(target, jnp.inf),
            iterations=jnp.zeros((), jnp.int32), num_reorth=jnp.zeros((), jnp.int32),
            done=jnp.zeros((), bool), code=jnp.asarray(MAX_STEPS, jnp.int32))
        s = jax.lax.while_loop(lambda s: ~s.done, body, state)
        return CoreResult(lam=s.lam, coeffs=s.coeffs, code=s.code, iterations=s.iterations,
                          reorthonormalisations=s.num_reorth,
                          grad_norm=jnp.max(jnp.abs(s.grad)), mass=s.mu2[0])

    return core


def _build_bfgs(dim, order, reorth, passes, chunk_size, log_prior):
    """BFGS with the inverse update (7.4) between reorthonormalisations (section 7)."""
    gidx = jnp.asarray(_gram_index(dim, order))
    mom_m = moments_fn(dim, order, order, log_prior, chunk_size, batch_rule=False)
    mom_2m = moments_fn(dim, order, 2 * order, log_prior, chunk_size, batch_rule=False)
    orth = _orthonormaliser(reorth, passes)

    def core(target, lam0, coeffs0, nodes, weights, tol, kappa_max, prior_args=None,
             max_steps=1000, max_reorth=500):
        num = target.shape[0]
        eye = jnp.eye(num, dtype=target.dtype)
        extra = (prior_grid(log_prior, nodes, dim, prior_args) if log_prior is not None
                 else None)

        def reorth_step(s):
            mu2 = mom_2m(s.lam, nodes, weights, prior_args, extra)
            coeffs = orth(mu2[gidx], s.coeffs)
            mu = mu2[:num]
            grad = coeffs.T @ (mu - target)
            value = mu[0] - s.lam @ target
            finite = (jnp.all(jnp.isfinite(coeffs)) & jnp.all(jnp.isfinite(grad))
                      & jnp.isfinite(value))
            gnorm = jnp.max(jnp.abs(grad))
            conv = finite & (gnorm < tol)
            num_reorth = s.num_reorth + 1
            code = jnp.where(~finite, NONFINITE, jnp.where(conv, CONVERGED, MAX_STEPS))
            done = (~finite) | conv | (num_reorth >= max_reorth)
            return s._replace(
                coeffs=jnp.where(finite, coeffs, s.coeffs),
                hmat=eye, hinv=eye,
                grad=jnp.where(finite, grad, s.grad),
                mu=jnp.where(finite, mu, s.mu),
                value=jnp.where(finite, value, s.value),
                num_reorth=num_reorth, steps_since=jnp.zeros_like(s.steps_since),
                need_reorth=jnp.zeros_like(s.need_reorth), done=done,
                code=code.astype(jnp.int32))

        def bfgs_step(s):
            direction = -s.hinv @ s.grad
            slope = s.grad @ direction
            step_lam = s.coeffs @ direction
            descent = slope < 0
            slack = _slack(target.dtype) * (1.0 + jnp.abs(s.value))

            def ls_cond(c):
                k, accepted, _, _ = c
                return (~accepted) & (k < MAX_LINE_SEARCH) & descent

            def ls_body(c):
                k, _, _, _ = c
                zeta = 0.5 ** k.astype(target.dtype)
                lam_t = s.lam + zeta * step_lam
                mu_t = mom_m(lam_t, nodes, weights, prior_args, extra)
                value_t = mu_t[0] - lam_t @ target
                ok = (jnp.all(jnp.isfinite(mu_t)) & jnp.isfinite(value_t)
                      & (value_t <= s.value + ARMIJO_C1 * zeta * slope + slack))
                return k + 1, ok, mu_t, value_t

            init = (jnp.zeros((), jnp.int32), jnp.zeros((), bool), s.mu, s.value)
            k, accepted, mu_t, value_t = jax.lax.while_loop(ls_cond, ls_body, init)
            zeta = 0.5 ** (k - 1).astype(target.dtype)
            svec = zeta * direction
            lam_new = s.lam + zeta * step_lam
            grad_new = s.coeffs.T @ (mu_t - target)
            yvec = grad_new - s.grad
            sy = svec @ yvec
            good = sy > 0
            sy_safe = jnp.where(good, sy, 1.0)
            hs = s.hmat @ svec
            shs = jnp.where(good, svec @ hs, 1.0)
            hmat = s.hmat + jnp.outer(yvec, yvec) / sy_safe - jnp.outer(hs, hs) / shs  # (7.3)
            hy = s.hinv @ yvec
            hinv = (s.hinv + ((sy + yvec @ hy) / sy_safe**2) * jnp.outer(svec, svec)
                    - (jnp.outer(hy, svec) + jnp.outer(svec, hy)) / sy_safe)  # (7.4)
            kappa = (jnp.max(jnp.sum(jnp.abs(hmat), axis=1))
                     * jnp.max(jnp.sum(jnp.abs(hinv), axis=1)))  # (7.6)
            iterations = s.iterations + accepted.astype(jnp.int32)
            gnorm = jnp.max(jnp.abs(grad_new))
            conv = accepted & (gnorm < tol)
            stalled = (~accepted) & (s.steps_since == 0)
            out_of_steps = iterations >= max_steps
            need = (~accepted) | (~good) | (kappa > kappa_max)
            code = jnp.where(conv, CONVERGED,
                             jnp.where(stalled, LINE_SEARCH_FAILED, MAX_STEPS))
            keep = accepted & good
            return s._replace(
                lam=jnp.where(accepted, lam_new, s.lam),
                hmat=jnp.where(keep, hmat, s.hmat), hinv=jnp.where(keep, hinv, s.hinv),
                grad=jnp.where(accepted, grad_new, s.grad),
                mu=jnp.where(accepted, mu_t, s.mu),
                value=jnp.where(accepted, value_t, s.value),
                iterations=iterations, steps_since=s.steps_since + 1,
                need_reorth=need, done=conv | stalled | out_of_steps,
                code=code.astype(jnp.int32))

        def body(s):
            return jax.lax.cond(s.need_reorth, reorth_step, bfgs_step, s)

        state = _State(
            lam=lam0, coeffs=coeffs0, hmat=eye, hinv=eye, grad=jnp.zeros_like(target),
            mu=jnp.zeros_like(target), value=jnp.asarray(jnp.inf, target.dtype),
            iterations=jnp.zeros((), jnp.int32), num_reorth=jnp.zeros((), jnp.int32),
            steps_since=jnp.zeros((), jnp.int32), need_reorth=jnp.ones((), bool),
            done=jnp.zeros((), bool), code=jnp.asarray(MAX_STEPS, jnp.int32))
        s = jax.lax.while_loop(lambda s: ~s.done, body, state)
        return CoreResult(lam=s.lam, coeffs=s.coeffs, code=s.code, iterations=s.iterations,
                          reorthonormalisations=s.num_reorth,
                          grad_norm=jnp.max(jnp.abs(s.grad)), mass=s.mu[0])

    return core
