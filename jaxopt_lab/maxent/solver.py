"""Public entry points: :func:`solve`, :func:`solve_batch`, :func:`relative_entropy_solve`.

The Python layer validates the input before anything is traced (``ValueError`` naming the
argument), preconditions on the host (section 4), picks the quadrature, runs the jitted solver
of :mod:`jaxopt_lab.maxent.core` in the alpha frame, and then checks the answer
independently: the moments of the returned density are re-integrated with a refined rule
(``ceil(1.5 T) + 1`` nodes per axis, same contraction) and compared with the input, and the
top-degree form is tested for integrability on the unit sphere.

float64: the solver needs it (moments up to order 2M and exp of the exponent). If
``jax_enable_x64`` is off, every entry point runs inside the local context manager
``jax.enable_x64(True)`` (JAX >= 0.4.36 has it at top level), so the rest of a float32
program is untouched; outputs are NumPy float64 arrays. If float64 still cannot be had
(a backend without it), a ``ValueError`` says so.

``moment_error`` is defined in the standardised frame (zero mean, identity covariance,
before alpha scaling), where every moment is O(1):
``max_i |mu_i - m_i| / max(1, |m_i|)`` with ``mu`` from the refined rule.
"""

from __future__ import annotations

import contextlib
import math
import os
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.maxent import core as _core
from jaxopt_lab.maxent.basis import hermite_basis
from jaxopt_lab.maxent.density import integrability
from jaxopt_lab.maxent.multiindex import _check_dim_order, _index_table, _multi_indices
from jaxopt_lab.maxent.precondition import (Preconditioner, backward_multipliers,
                                            forward_moments, precondition)
from jaxopt_lab.maxent.rules import adaptive_sigma, alpha_rule

__all__ = ["MaxEntSolution", "solve", "solve_batch", "relative_entropy_solve", "AUTO_RULES",
           "RESULT_NAMES", "float64_context"]

RESULT_NAMES = _core.RESULT_NAMES
_DEBUG = bool(os.environ.get("JAXOPT_LAB_MAXENT_DEBUG"))
NOT_INTEGRABLE, INACCURATE = 4, 5
#: ``"auto"`` (``solve``'s default): BFGS, then Newton if BFGS's ladder did not converge.
METHODS = ("auto", "bfgs", "newton")

#: Quadrature ladder for ``quad_points=None``: (T, sigma) per dimension, tried in turn with
#: warm starts until ``moment_error <= moment_tol``. sigma None = adaptive: the outermost
#: node is put at the support radius of the previous rung's density
#: (:func:`jaxopt_lab.maxent.rules.adaptive_sigma`). The first rung is the paper's rule
#: (sigma = 1), exact for a Gaussian solution.
AUTO_RULES = {
    1: ((24, 1.0), (48, 0.5), (80, None), (128, None), (192, None)),
    2: ((20, 1.0), (40, 0.5), (64, None), (96, None), (128, None)),
    3: ((12, 1.0), (24, 0.5), (40, None), (56, None), (72, None)),
    4: ((10, 1.0), (16, 0.55), (24, None), (32, None), (40, None), (48, None)),
    5: ((8, 1.0), (12, 0.6), (16, None), (20, None), (24, None), (28, None), (32, None)),
}
#: Iteration cap of the first (sigma = 1) rung, which only has to catch near-Gaussian cases.
FIRST_RUNG_ITERATIONS = 60

#: sigma used by an adaptive rung when no usable previous solution exists.
FALLBACK_SIGMA = 0.5


class MaxEntSolution(NamedTuple):
    """Result of a maximum-entropy solve (fields batched ``[B, ...]`` for solve_batch).

    Attributes:
      multipliers: ``[K]`` lambda in the original coordinates, graded order, lambda_0
        included: the density is ``exp(sum_i lambda_i x^i)`` (times the prior for the
        relative-entropy problem, where these are theta of (3.5b)).
      entropy: Shannon entropy (3.9a) ``-sum lambda_i m_i``; for the relative problem the
        relative entropy (3.9b) ``sum theta_i m_i``.
      converged: True iff the optimiser converged, the density is integrable (top-form test)
        and ``moment_error <= moment_tol``.
      result: name of the result code (``RESULT_NAMES``).
      result_code: int code.
      iterations: BFGS/Newton steps (summed over the quadrature ladder).
      reorthonormalisations: basis rebuilds (summed over the ladder).
      grad_norm: ``max |grad|`` in the last orthonormal basis.
      moment_error: max relative moment error under the refined rule (standardised frame).
      quad_points: T of the rule used for the final solve.
      sigma: node contraction of that rule.
      top_form_max: max over the unit sphere of the effective top-degree form of the
        alpha-frame multipliers (< 0: integrable; see ``density.integrability``).
      dim, order: the problem shape.
      prior_multipliers: ``[K]`` beta for an exp-polynomial prior, else None.
      prior_log_density: the prior log-density function, else None.
    """

    multipliers: np.ndarray
    entropy: np.ndarray
    converged: np.ndarray
    result: object
    result_code: np.ndarray
    iterations: np.ndarray
    reorthonormalisations: np.ndarray
    grad_norm: np.ndarray
    moment_error: np.ndarray
    quad_points: int
    sigma: float
    top_form_max: np.ndarray
    dim: int
    order: int
    prior_multipliers: np.ndarray | None = None
    prior_log_density: Callable | None = None


@contextlib.contextmanager
def float64_context():
    """Runs the body with float64 enabled (locally if it is off); raises if unavailable."""
    ctx = (contextlib.nullcontext() if jax.config.jax_enable_x64
           else jax.enable_x64(True))
    with ctx:
        if jnp.zeros((), jnp.float64).dtype != jnp.float64:
            raise ValueError("float64 is unavailable: maxent needs jax_enable_x64 "
                             "(set JAX_ENABLE_X64=1) on a backend with float64 support")
        yield


# --------------------------------------------------------------------------- validation

def _check_order_even(dim, order):
    dim, order = _check_dim_order(dim, order, min_order=2)
    if order % 2:
        raise ValueError(f"order must be even (an odd top degree is never integrable), "
                         f"got {order}")
    return dim, order


def _validate_moments(moments, dim, order, name="moments"):
    """Checks shape, finiteness and m_0 = 1; returns float64 ``[..., K]``."""
    num = math.comb(order + dim, dim)
    try:
        m = np.asarray(moments, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array, got {type(moments).__name__}") from err
    if m.ndim < 1 or m.shape[-1] != num:
        raise ValueError(f"{name} must have length K = C(order + dim, dim) = {num} for "
                         f"dim={dim}, order={order} (graded order), got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        bad = np.argwhere(~np.isfinite(m))[0]
        raise ValueError(f"{name} must be finite; found {m[tuple(bad)]} at {tuple(bad)}")
    off = np.abs(m[..., 0] - 1.0) > 1e-12
    if np.any(off):
        raise ValueError(f"{name}[0] (the mass m_0) must be 1, got {m[..., 0][off].ravel()[0]!r}; "
                         "normalise the moments first (they are not renormalised silently)")
    return m


def _check_realisable(white, dim, order, name="moments"):
    """Moment (Hankel) matrix of the standardised moments must be positive definite."""
    half = _multi_indices(dim, order // 2)
    table = _index_table(dim, order)
    pos = np.array([[table[tuple(int(v) for v in a + b)] for b in half] for a in half])
    hank = white[..., pos]
    evals = np.linalg.eigvalsh(hank)
    bad = evals[..., 0] <= 1e-10 * evals[..., -1]
    if np.any(bad):
        where = "" if white.ndim == 1 else f" (problem {int(np.flatnonzero(bad)[0])})"
        raise ValueError(
            f"{name} are not realisable{where}: the moment matrix [m_(i+j)], |i|,|j| <= "
            f"{order // 2}, is not positive definite (smallest eigenvalue "
            f"{float(evals[..., 0].min()):.3e} of the standardised moments)")


def _prepare(moments, dim, order, name="moments"):
    dim, order = _check_order_even(dim, order)
    m = _validate_moments(moments, dim, order, name)
    pre = precondition(m, dim, order)
    target = forward_moments(pre, m)
    _check_realisable(target * pre.white_scale, dim, order, name)
    return dim, order, m, pre, target


def _check_options(tol, moment_tol, kappa_max, max_iterations, method, reorth, passes,
                   quad_points, sigma):
    for name, val in (("tol", tol), ("moment_tol", moment_tol), ("kappa_max", kappa_max)):
        if not (isinstance(val, (int, float)) and np.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {val!r}")
    if kappa_max <= 1:
        raise ValueError(f"kappa_max must be > 1, got {kappa_max!r}")
    if not (isinstance(max_iterations, (int, np.integer)) and max_iterations >= 1):
        raise ValueError(f"max_iterations must be an int >= 1, got {max_iterations!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if reorth not in ("cholesky", "mgs"):
        raise ValueError(f"reorth must be 'cholesky' or 'mgs', got {reorth!r}")
    if passes not in (1, 2):
        raise ValueError(f"passes must be 1 or 2, got {passes!r}")
    if quad_points is not None and not (
            isinstance(quad_points, (int, np.integer)) and quad_points >= 2):
        raise ValueError(f"quad_points must be None or an int >= 2, got {quad_points!r}")
    if sigma is not None and not (isinstance(sigma, (int, float)) and np.isfinite(sigma)
                                  and sigma > 0):
        raise ValueError(f"sigma must be None or a finite number > 0, got {sigma!r}")


def _ladder(dim, order, quad_points, sigma):
    if quad_points is not None:
        return ((int(quad_points), 1.0 if sigma is None else float(sigma)),)
    rules = AUTO_RULES.get(dim, AUTO_RULES[max(AUTO_RULES)])
    # At least M + 1 nodes (exactness for a Gaussian target, section 8).
    rules = tuple((max(t, order + 1), s) for t, s in rules)
    if sigma is not None:
        rules = tuple((t, float(sigma)) for t, _ in rules)
    return rules


def _pick_sigma(s, lam, dim, order, t, scale, informed):
    if s is not None:
        return s
    if not informed:
        return FALLBACK_SIGMA
    lam = np.asarray(lam)
    if lam.ndim == 1:
        return adaptive_sigma(lam, dim, order, t, scale)
    # Batch: the widest support among the problems still to solve.
    return max(adaptive_sigma(row, dim, order, t, scale) for row in lam)


def _gaussian_start(dim, order, scale):
    """Multipliers of N(0, alpha^{-2} I) in the alpha frame (spec section 7, step 3)."""
    table = _index_table(dim, order)
    lam = np.zeros(len(table))
    lam[0] = 0.5 * dim * math.log(scale**2 / (2 * math.pi))
    for k in range(dim):
        e = [0] * dim
        e[k] = 2
        lam[table[tuple(e)]] = -0.5 * scale**2
    return lam


def _moment_error(mu, target, white_scale):
    white_t = target * white_scale
    return np.max(np.abs(mu * white_scale - white_t) / np.maximum(1.0, np.abs(white_t)),
                  axis=-1)


def _reference_points(t):
    return int(math.ceil(1.5 * t)) + 1


# --------------------------------------------------------------------------- solving

def _run_ladder(dim, order, pre: Preconditioner, target, *, batched, quad_points, sigma, tol,
                moment_tol, kappa_max, max_iterations, method, reorth, passes, chunk_size,
                initial, log_prior=None, prior_args=None):
    """Runs the quadrature ladder; returns alpha-frame multipliers and diagnostics."""
    if method not in ("bfgs", "newton"):
        raise ValueError(f"method must be 'bfgs' or 'newton' here, got {method!r}")
    newton = method == "newton"
    max_reorth = max_iterations + 1 if newton else max(50, max_iterations // 2)
    core = _core.jitted_core(dim, order, batched, newton=newton, reorth=reorth,
                             passes=passes, chunk_size=chunk_size, log_prior=log_prior)
    num = target.shape[-1]
    lam = np.broadcast_to(initial, target.shape).copy()
    lam_out = lam.copy()
    informed = np.zeros(target.shape[:-1], bool)  # lam holds a usable previous solution
    coeffs = hermite_basis(dim, order, pre.alpha)
    batch = target.shape[:-1]
    iters = np.zeros(batch, np.int64)
    reorths = np.zeros(batch, np.int64)
    # Problems still to (re)solve; all of them at the first rung.
    todo = np.ones(batch, bool)
    out = {"lam": lam.copy(), "code": np.full(batch, _core.MAX_ITERATIONS),
           "grad_norm": np.full(batch, np.nan), "moment_error": np.full(batch, np.inf),
           "quad_points": 0, "sigma": 1.0}
    rules = _ladder(dim, order, quad_points, sigma)
    for rung, (t, s) in enumerate(rules):
        s = _pick_sigma(s, lam[todo] if batched else lam, dim, order, t, pre.alpha,
                        np.all(informed[todo]) if batched else bool(informed))
        nodes, weights = alpha_rule(t, pre.alpha, s)
        ref_nodes, ref_weights = alpha_rule(_reference_points(t), pre.alpha, s)
        moments_ref = _core.jitted_moments(dim, order, order, batched, log_prior, chunk_size)
        sel = np.flatnonzero(todo.ravel()) if batched else None
        if batched:
            args = (target[sel], lam[sel], coeffs, nodes, weights, tol, kappa_max,
                    None if prior_args is None else jax.tree.map(lambda a: a[sel], prior_args))
        else:
            args = (target, lam, coeffs, nodes, weights, tol, kappa_max, prior_args)
        cap = max_iterations
        if quad_points is None and rung == 0 and len(rules) > 1:
            cap = min(cap, FIRST_RUNG_ITERATIONS)

        res = core(*args, cap, max_reorth)
        new_lam = np.asarray(res.lam)
        mu_ref = np.asarray(moments_ref(res.lam, jnp.asarray(ref_nodes),
                                        jnp.asarray(ref_weights), args[-1]))
        err = _moment_error(mu_ref, args[0], pre.white_scale)
        err = np.where(np.isfinite(err), err, np.inf)
        code = np.asarray(res.code)
        if _DEBUG:
            print(f"rung {rung}: T={t} sigma={s:.3f} code={code} it={res.iterations} "
                  f"re={res.reorthonormalisations} err={err}", flush=True)
        ok_lam = np.all(np.isfinite(new_lam), axis=-1)
        # Warm-start the next rung only from a usable answer: finite, integrable and with
        # moments within 0.3 (enough to place the nodes) or converged on its own rule;
        # otherwise restart that problem from the Gaussian.
        usable = ok_lam & ((err <= 0.3) | (code == _core.CONVERGED))
        if rung + 1 < len(rules):  # only a later rung uses the warm start
            usable = usable & integrability(new_lam, dim, order)[0]
        if batched:
            lam_out[sel] = new_lam
            lam[sel] = np.where(usable[:, None], new_lam, initial)
            informed[sel] = usable
            iters[sel] += np.asarray(res.iterations)
            reorths[sel] += np.asarray(res.reorthonormalisations)
            out["code"][sel] = code
            out["grad_norm"][sel] = np.asarray(res.grad_norm)
            out["moment_error"][sel] = err
            good = (code == _core.CONVERGED) & (err <= moment_tol)
            todo[sel] = ~good
            if not np.any(todo):
                break
        else:
            lam_out = new_lam
            lam = new_lam if usable else np.asarray(initial, np.float64).copy()
            informed = usable
            iters += int(res.iterations)
            reorths += int(res.reorthonormalisations)
            out.update(code=int(code), grad_norm=float(res.grad_norm),
                       moment_error=float(err))
            if code == _core.CONVERGED and err <= moment_tol:
                break
        out["quad_points"], out["sigma"] = t, s
    out["quad_points"], out["sigma"] = t, s
    out.update(lam=lam_out, iterations=iters, reorthonormalisations=reorths)
    return out


def _finish(dim, order, pre, target, ladder, moment_tol, check_integrability,
            prior_multipliers=None, prior_log_density=None, sign=-1.0):
    lam_alpha = ladder["lam"]
    lam = backward_multipliers(pre, lam_alpha)
    # (3.9a) in the alpha frame: S = -lam_a . mu_a - ln|det A|, same as -lam . m.
    entropy = sign * (np.sum(lam_alpha * target, axis=-1) + pre.log_det)
    code = np.asarray(ladder["code"]).copy()
    err = np.asarray(ladder["moment_error"])
    if check_integrability:
        # Tested in the alpha frame, where the coefficients are O(1) (a Gaussian solution
        # has a vanishing degree-M form there: the effective top degree is used).
        ok, top, _ = integrability(lam_alpha, dim, order)
        code = np.where((code == _core.CONVERGED) & ~ok, NOT_INTEGRABLE, code)
    else:
        top = np.full(code.shape, np.nan)
    code = np.where((code == _core.CONVERGED) & ~(err <= moment_tol), INACCURATE, code)
    names = (RESULT_NAMES[int(code)] if code.ndim == 0
             else np.array([RESULT_NAMES[int(c)] for c in code.ravel()]).reshape(code.shape))
    return MaxEntSolution(
        multipliers=lam, entropy=np.asarray(entropy), converged=code == _core.CONVERGED,
        result=names, result_code=code, iterations=np.asarray(ladder["iterations"]),
        reorthonormalisations=np.asarray(ladder["reorthonormalisations"]),
        grad_norm=np.asarray(ladder["grad_norm"]), moment_error=err,
        quad_points=int(ladder["quad_points"]), sigma=float(ladder["sigma"]),
        top_form_max=np.asarray(top), dim=dim, order=order,
        prior_multipliers=prior_multipliers, prior_log_density=prior_log_density)


def solve(moments, dim: int, order: int, *, quad_points: int | None = None,
          sigma: float | None = None, tol: float = 1e-10, moment_tol: float = 1e-6,
          method: str = "auto", kappa_max: float = 20.0, max_iterations: int = 1000,
          reorth: str = "cholesky", passes: int = 1, chunk_size: int | None = None,
          check_integrability: bool = True) -> MaxEntSolution:
    """Moment-constrained maximum entropy of the first kind (3.4a), Abramov's algorithm.

    Args:
      moments: ``[K]`` moments ``m_i`` in the graded order of :func:`multi_indices`,
        ``m_0 = 1``.
      dim: N. order: M (even, >= 2).
      quad_points: T, Gauss-Hermite nodes per axis (``T^N`` points). None: try the
        ``AUTO_RULES`` ladder (warm-started) until ``moment_error <= moment_tol``.
      sigma: node contraction (spec section 6); None: 1 (the paper's rule) when
        ``quad_points`` is given, the ladder's values otherwise.
      tol: stopping tolerance on ``max |grad|`` in the orthonormal basis.
      moment_tol: required ``moment_error`` for ``converged``.
      method: ``"auto"`` (default: ``"bfgs"``, and if its ladder ends without meeting
        ``moment_tol``, the whole ladder again with ``"newton"``; the better of the two is
        returned, with the iterations of both counted; 3D order 8 needs the fallback),
        ``"bfgs"`` (the review's BFGS between reorthonormalisations, section 7) or ``"newton"`` (damped Newton, reorthonormalising at every iterate, so
        the quadrature Hessian is the identity and the step is ``-grad``: the algorithm of
        [A07]; the default of :func:`solve_batch`, where its fixed per-iteration structure
        makes it about 2x faster). On a well-placed rule Newton is as fast or up to ~1.3x
        faster; on badly resolved rules (early rungs of the automatic ladder, sample
        moments) it can need hundreds of steps where BFGS needs tens, so BFGS is the
        robust default for single solves (docs/benchmarks/maxent.md).
      kappa_max: reorthonormalise when ``kappa_inf`` of the pseudo-Hessian exceeds this (7.6).
      max_iterations: cap on BFGS/Newton steps per rung of the ladder.
      reorth: ``"cholesky"`` (weighted QR through the Gram matrix) or ``"mgs"`` (section 6).
      passes: 1, or 2 (reorthogonalisation).
      chunk_size: quadrature points per block of the exponent grid (memory; at least one
        row of ``T^(N-1)`` points); None: ``tensor.DEFAULT_MAX_POINTS``.
      check_integrability: test the top-degree form on the unit sphere.

    Returns:
      :class:`MaxEntSolution`.

    Raises:
      ValueError: bad shapes/values, ``m_0 != 1``, covariance not positive definite,
        moments not realisable, float64 unavailable, bad options.
    """
    _check_options(tol, moment_tol, kappa_max, max_iterations, method, reorth, passes,
                   quad_points, sigma)
    dim, order, _, pre, target = _prepare(moments, dim, order)

    def ladder_with(which):
        return _run_ladder(dim, order, pre, target, batched=False, quad_points=quad_points,
                           sigma=sigma, tol=tol, moment_tol=moment_tol, kappa_max=kappa_max,
                           max_iterations=max_iterations, method=which, reorth=reorth,
                           passes=passes, chunk_size=chunk_size,
                           initial=_gaussian_start(dim, order, pre.alpha))

    with float64_context():
        ladder = ladder_with("bfgs" if method == "auto" else method)
        if method == "auto" and not _ladder_met(ladder, moment_tol):
            ladder = _better_ladder(ladder, ladder_with("newton"), moment_tol)
    return _finish(dim, order, pre, target, ladder, moment_tol, check_integrability)


def _ladder_met(ladder, moment_tol) -> bool:
    return int(ladder["code"]) == _core.CONVERGED and ladder["moment_error"] <= moment_tol


def _better_ladder(first, second, moment_tol):
    """The ladder result to return from two attempts (``method="auto"``): one that met
    ``moment_tol`` if any, else the smaller moment error; iterations of both are counted."""
    if _ladder_met(second, moment_tol) or not (
            _ladder_met(first, moment_tol) or first["moment_error"] <= second["moment_error"]):
        best = dict(second)
    else:
        best = dict(first)
    for key in ("iterations", "reorthonormalisations"):
        best[key] = first[key] + second[key]
    return best


def solve_batch(moments, dim: int, order: int, **kwargs) -> MaxEntSolution:
    """Many problems of the same ``(dim, order)`` in one vmapped solve.

    Args:
      moments: ``[B, K]``.
      dim, order, **kwargs: as :func:`solve`, except that ``method`` defaults to
        ``"newton"`` (same work in every iteration, so no lane waits on another's branch).
        With ``quad_points=None`` each rung of the ladder re-solves only the problems that
        have not yet met ``moment_tol``.

    Returns:
      :class:`MaxEntSolution` whose array fields have a leading ``[B]`` axis
      (``quad_points``/``sigma`` are those of the last rung used).
    """
    opts = dict(quad_points=None, sigma=None, tol=1e-10, moment_tol=1e-6, method="newton",
                kappa_max=20.0, max_iterations=1000, reorth="cholesky", passes=1,
                chunk_size=None)
    check_integrability = kwargs.pop("check_integrability", True)
    unknown = set(kwargs) - set(opts)
    if unknown:
        raise ValueError(f"solve_batch: unknown options {sorted(unknown)}")
    opts.update(kwargs)
    if opts["method"] == "auto":
        raise ValueError("method 'auto' is for solve only; solve_batch takes 'bfgs' or "
                         "'newton'")
    _check_options(opts["tol"], opts["moment_tol"], opts["kappa_max"], opts["max_iterations"],
                   opts["method"], opts["reorth"], opts["passes"], opts["quad_points"],
                   opts["sigma"])
    m = np.asarray(moments, dtype=np.float64) if not isinstance(moments, str) else moments
    if not (isinstance(m, np.ndarray) and m.ndim == 2 and m.shape[0] >= 1):
        raise ValueError(f"moments must be a [B, K] array with B >= 1, got "
                         f"{getattr(m, 'shape', type(m))}")
    dim, order, _, pre, target = _prepare(m, dim, order)
    with float64_context():
        ladder = _run_ladder(dim, order, pre, target, batched=True,
                             initial=_gaussian_start(dim, order, pre.alpha), **opts)
    return _finish(dim, order, pre, target, ladder, opts["moment_tol"], check_integrability)


def relative_entropy_solve(moments, dim: int, order: int, *, prior_multipliers=None,
                           prior_log_density: Callable | None = None,
                           **kwargs) -> MaxEntSolution:
    """Maximum entropy of the second kind (2.3), (3.4b): minimise ``P(rho, Pi)``.

    Exactly one prior must be given:

    * ``prior_multipliers`` ``[K]`` (beta of (3.6), same graded order): reduced to the first
      kind (3.8): ``xi`` solves (3.4a) and ``theta = xi - beta``; P = (3.9b).
    * ``prior_log_density``: ``log Pi(x)`` for ``x [dim]`` (JAX-traceable, float64). The
      dual (3.4b) is solved directly with the exponent ``theta . x^i + log Pi(x)``.

    Returns:
      :class:`MaxEntSolution` with ``multipliers`` = theta (original frame), density
      ``Pi(x) exp(sum theta_i x^i)``, and ``entropy`` = P (3.9b) = ``sum theta_i m_i``.
    """
    if (prior_multipliers is None) == (prior_log_density is None):
        raise ValueError("give exactly one of prior_multipliers and prior_log_density")
    if prior_multipliers is not None:
        dim, order = _check_order_even(dim, order)
        beta = np.asarray(prior_multipliers, dtype=np.float64)
        num = math.comb(order + dim, dim)
        if beta.shape != (num,) or not np.all(np.isfinite(beta)):
            raise ValueError(f"prior_multipliers must be a finite [K={num}] array, "
                             f"got shape {beta.shape}")
        if not integrability(beta, dim, order)[0]:
            raise ValueError("prior_multipliers: exp(sum beta_i x^i) is not integrable "
                             "(top-degree form not negative definite)")
        sol = solve(moments, dim, order, **kwargs)
        theta = sol.multipliers - beta
        m = _validate_moments(moments, dim, order)
        return sol._replace(multipliers=theta, entropy=np.asarray(theta @ m),
                            prior_multipliers=beta)
    if not callable(prior_log_density):
        raise ValueError("prior_log_density must be a callable log Pi(x[dim]) -> scalar")
    opts = dict(quad_points=None, sigma=None, tol=1e-10, moment_tol=1e-6, method="bfgs",
                kappa_max=20.0, max_iterations=1000, reorth="cholesky", passes=1,
                chunk_size=None)
    unknown = set(kwargs) - set(opts)
    if unknown:
        raise ValueError(f"relative_entropy_solve: unknown options {sorted(unknown)}")
    opts.update(kwargs)
    if opts["method"] == "auto":
        opts["method"] = "bfgs"  # a general prior: no Newton fallback (yet)
    _check_options(opts["tol"], opts["moment_tol"], opts["kappa_max"], opts["max_iterations"],
                   opts["method"], opts["reorth"], opts["passes"], opts["quad_points"],
                   opts["sigma"])
    dim, order, _, pre, target = _prepare(moments, dim, order)
    with float64_context():
        ainv = np.linalg.inv(pre.matrix)
        probe = prior_log_density(jnp.asarray(pre.mean))
        if jnp.shape(probe) != () or not np.isfinite(float(probe)):
            raise ValueError("prior_log_density must return a finite scalar at the mean")
        prior_args = (jnp.asarray(ainv), jnp.asarray(pre.mean))
        ladder = _run_ladder(dim, order, pre, target, batched=False,
                             initial=_gaussian_start(dim, order, pre.alpha),
                             log_prior=prior_log_density, prior_args=prior_args, **opts)
    return _finish(dim, order, pre, target, ladder, opts["moment_tol"], False,
                   prior_log_density=prior_log_density, sign=1.0)
