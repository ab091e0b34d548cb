"""Public entry points: solve, solve_batch, relative_entropy_solve and fit.

Each one validates the input before anything is traced (``ValueError`` naming the argument
for structural faults), prepares the problems on the host (checks of their values,
preconditioning, section 4: :mod:`jaxopt_lab.maxent.prepare`), climbs the quadrature ladder
over the fixed-rule solve (:mod:`jaxopt_lab.maxent.ladder`, :mod:`jaxopt_lab.maxent.fixed_rule`)
and maps the answer back to the original frame (section 2.4). The answer is a
:class:`jaxopt_lab.core.Solution`, a pytree of NumPy arrays; faults of a problem's values
(non-finite moments, moments that no density has) are result codes, never exceptions.

float64: the solver needs it (moments up to order 2M and exp of the exponent). If
``jax_enable_x64`` is off, every entry point runs inside the local context manager
``jax.enable_x64(True)``, so the rest of a float32 program is untouched; a ``ValueError``
says so if float64 still cannot be had.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.core import Result, Solution
from jaxopt_lab.maxent import densities
from jaxopt_lab.maxent import ladder, pointset
from jaxopt_lab.maxent.config import Config
from jaxopt_lab.maxent.multiindex import moments_from_samples
from jaxopt_lab.maxent.precondition import backward_multipliers, forward_multipliers
from jaxopt_lab.maxent.prepare import Prepared, as_moments, prepare

__all__ = ["State", "Density", "solve", "solve_batch", "relative_entropy_solve", "fit",
           "float64"]


class State(NamedTuple):
    """``Solution.state``: the final iterate in the solver's frame (what a warm start needs).

    Attributes:
      multipliers: ``[K]`` the answer in the alpha frame ``z = matrix @ (x - mean)``.
      basis: ``[K, K]`` coefficients of the last orthonormal basis (alpha frame).
      mean: ``[dim]`` and matrix: ``[dim, dim]``: the preconditioning map (section 4).
      prior_multipliers: ``[K]`` beta of an exp-polynomial prior (zeros for the first kind).
    """

    multipliers: np.ndarray
    basis: np.ndarray
    mean: np.ndarray
    matrix: np.ndarray
    prior_multipliers: np.ndarray


@contextlib.contextmanager
def float64():
    """Runs the body with float64 enabled (locally if it is off); raises if unavailable."""
    ctx = (contextlib.nullcontext() if jax.config.jax_enable_x64
           else jax.enable_x64(True))
    with ctx:
        _checks.check_dtype(jnp.float64, "maxent's dtype")
        yield


def solve(moments, config: Config, *, init=None) -> Solution:
    """Moment-constrained maximum entropy of the first kind (3.4a), Abramov's algorithm.

    Args:
      moments: ``[K]`` moments ``m_i`` in the graded order of
        :func:`jaxopt_lab.maxent.multi_indices`, ``m_0 = 1``.
      config: a :class:`jaxopt_lab.maxent.Config` (shape, quadrature, optimiser).
      init: optional ``[K]`` multipliers (original frame, e.g. the ``value`` of an earlier
        solve of nearby moments) to start from instead of the Gaussian; ignored (the
        Gaussian start is used) if not finite or not integrable.

    Returns:
      ``Solution(value, result, stats, state)``: ``value`` ``[K]`` the multipliers lambda
      (original frame, graded order, lambda_0 included: the density is
      ``exp(sum_i lambda_i x^i)``; NaN if the problem was not solved); ``result`` an int32
      :class:`jaxopt_lab.core.Result` code (``Result.names(result)``): converged,
      max_steps, nonfinite, line_search_failed, not_integrable, inaccurate_quadrature or
      not_realisable; ``stats`` a dict of arrays: ``iterations`` and
      ``reorthonormalisations`` (summed over the ladder), ``grad_norm`` (``max |grad|`` in
      the last orthonormal basis), ``moment_error`` (refined check rule, standardised
      frame), ``entropy`` (3.9a) ``-sum lambda_i m_i``, ``top_form_max`` (max over the unit
      sphere of the effective top-degree form, alpha frame: < 0 is integrable),
      ``quad_points``, ``sigma`` and ``box_radius`` (the rule of the answer: sigma of a
      Gauss-Hermite rung, alpha-frame half-width of a box rung, NaN otherwise); ``state``
      a :class:`State`.

    Raises:
      ValueError: ``config`` is not a Config, ``moments`` is not a numeric ``[K]`` array,
        or float64 is unavailable.
    """
    _checks.check_instance(config, Config, "config")
    m = as_moments(moments, config, batched=False)
    sol = _solve(m, config, batched=False, init=_as_init(init, config, 1))
    return jax.tree.map(lambda a: np.asarray(a[0]), sol)


def solve_batch(moments, config: Config, *, init=None) -> Solution:
    """Many problems of the same ``(dim, order)``: the same solve, vmapped over problems.

    Args:
      moments: ``[B, K]``.
      config: as :func:`solve` (``method="auto"`` means Newton here: the same work in
        every step, so no lane waits on another's branch). With ``quad_points=None`` each
        rung of the ladder re-solves only the problems that have not met ``moment_tol``.
      init: optional warm start, ``[B, K]`` or ``[K]`` multipliers in the original frame
        (e.g. ``value`` of the previous time step of a moment closure); rows that are not
        finite or not integrable start from the Gaussian.

    Returns:
      A :class:`jaxopt_lab.core.Solution` whose arrays have a leading ``[B]`` axis. A bad
      problem (non-finite moments, ``m_0 != 1``, not realisable, not integrable) gets its
      own result code; the others are unaffected.
    """
    _checks.check_instance(config, Config, "config")
    m = as_moments(moments, config, batched=True)
    return _solve(m, config, batched=True, init=_as_init(init, config, m.shape[0]))


def _as_init(init, config: Config, batch: int) -> np.ndarray | None:
    """``init`` as ``[batch, K]`` float64 (NaN allowed: no warm start for that row)."""
    if init is None:
        return None
    rows = as_moments(init, config, batched=np.ndim(init) == 2, name="init")
    if rows.shape[0] not in (1, batch):
        raise ValueError(f"init must have shape [{config.num_moments}] or "
                         f"[{batch}, {config.num_moments}], got {np.shape(init)}")
    return np.broadcast_to(rows, (batch, config.num_moments)).copy()


def relative_entropy_solve(moments, config: Config, *, prior_multipliers=None,
                           prior_log_density: Callable | None = None) -> Solution:
    """Maximum entropy of the second kind (2.3), (3.4b): minimise ``P(rho, Pi)``.

    Exactly one prior must be given:

    * ``prior_multipliers`` ``[K]`` (beta of (3.6), same graded order): reduced to the first
      kind (3.8): ``xi`` solves (3.4a) and ``theta = xi - beta``; P = (3.9b). beta is kept
      in ``state.prior_multipliers``, so :func:`jaxopt_lab.maxent.density` includes it.
    * ``prior_log_density``: ``log Pi(x)`` for ``x [dim]`` (JAX-traceable, float64). The
      dual (3.4b) is solved directly with the exponent ``theta . x^i + log Pi(x)``; pass
      it again as ``log_prior`` to :func:`jaxopt_lab.maxent.density`. The integrability
      test does not apply (the prior is part of the density).

    Returns:
      As :func:`solve`, with ``value`` = theta (original frame), density
      ``Pi(x) exp(sum theta_i x^i)``, and ``stats["entropy"]`` = P (3.9b) =
      ``sum theta_i m_i``.
    """
    _checks.check_instance(config, Config, "config")
    if (prior_multipliers is None) == (prior_log_density is None):
        raise ValueError("give exactly one of prior_multipliers and prior_log_density")
    m = as_moments(moments, config, batched=False)
    if prior_multipliers is not None:
        _checks.check_array(prior_multipliers, "prior_multipliers",
                            shape=(config.num_moments,))
        beta = np.asarray(prior_multipliers, np.float64)
        with float64():
            integrable = bool(densities.integrability(beta, config.dim, config.order)[0])
        if not integrable:
            raise ValueError("prior_multipliers: exp(sum beta_i x^i) is not integrable "
                             "(top-degree form not negative definite)")
        sol = solve(m[0], config)
        theta = sol.value - beta
        return sol._replace(value=theta, stats={**sol.stats, "entropy": np.asarray(theta @ m[0])},
                            state=sol.state._replace(prior_multipliers=beta))
    if not callable(prior_log_density):
        raise ValueError("prior_log_density must be a callable log Pi(x[dim]) -> scalar")
    config = dataclasses.replace(config, check_integrability=False)
    sol = _solve(m, config, batched=False, log_prior=prior_log_density)
    return jax.tree.map(lambda a: np.asarray(a[0]), sol)


class Density(NamedTuple):
    """A fitted maximum-entropy density (:func:`fit`): the solution and its evaluation."""

    solution: Solution

    def log_density(self, x) -> np.ndarray:
        """``log rho(x)`` at ``x [..., dim]``; returns ``[...]``."""
        return densities.log_density(self.solution, x)

    def density(self, x) -> np.ndarray:
        """``rho(x)`` at ``x [..., dim]``; returns ``[...]``."""
        return densities.density(self.solution, x)


def fit(samples, order: int, **options) -> Density:
    """The maximum-entropy density of samples: sample moments, :func:`solve`, density.

    Args:
      samples: ``[num_samples, dim]`` finite samples.
      order: M, the highest degree of the matched moments (even, >= 2).
      **options: the other :class:`jaxopt_lab.maxent.Config` fields (e.g. ``moment_tol``:
        sample moments carry an ``O(n^-1/2)`` error, so ``1e-4`` is usually ample).

    Returns:
      A :class:`Density`; check ``Result.names(density.solution.result)``.
    """
    x = _checks.concrete(samples)
    if x is None or x.ndim != 2:
        raise ValueError(f"samples must be a [num_samples, dim] array, got "
                         f"{getattr(x, 'shape', type(samples).__name__)}")
    names = {f.name for f in dataclasses.fields(Config)} - {"dim", "order"}
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError(f"fit: unknown options {unknown}; the options are {sorted(names)}")
    config = Config(dim=x.shape[1], order=order, **options)
    return Density(solve(moments_from_samples(x, order), config))


def _solve(m, config: Config, batched: bool, log_prior: Callable | None = None,
           init: np.ndarray | None = None) -> Solution:
    """Prepares, solves and back-transforms the rows of ``m [B, K]`` (warm start ``init``)."""
    with float64():
        prep = prepare(m, config)
        start = None if init is None else forward_multipliers(prep.pre, init)
        if log_prior is not None:
            probe = log_prior(jnp.asarray(prep.problem.mean[0]))
            if jnp.shape(probe) != () or not np.isfinite(float(probe)):
                raise ValueError("prior_log_density must return a finite scalar at the mean")
        todo = prep.result == int(Result.converged)
        if config.rule != "tensor":
            if log_prior is not None:
                raise ValueError('prior_log_density needs rule="tensor"')
            out = pointset.run(config, prep.problem, todo, start)
        else:
            out = ladder.run(config, prep.problem, todo, batched, log_prior, start)
    return _solution(prep, out, todo, sign=1.0 if log_prior is not None else -1.0)


def _solution(prep: Prepared, out: ladder.Outcome, solved, sign: float) -> Solution:
    """Original-frame answer (section 2.4) of every row; unsolved rows are NaN."""
    def rows(a):
        return np.where(solved.reshape(solved.shape + (1,) * (np.ndim(a) - 1)), a, np.nan)

    lam_alpha = rows(out.multipliers)
    # (3.9a) in the alpha frame: S = -lam_a . mu_a - ln|det A|, the same as -lam . m.
    entropy = sign * (np.sum(lam_alpha * prep.problem.moments, axis=-1) + prep.pre.log_det)
    stats = {"iterations": out.iterations, "reorthonormalisations": out.reorthonormalisations,
             "grad_norm": rows(out.grad_norm), "moment_error": rows(out.moment_error),
             "entropy": entropy, "top_form_max": rows(out.top_form_max),
             "quad_points": out.quad_points, "sigma": rows(out.sigma),
             "box_radius": rows(out.box_radius)}
    state = State(lam_alpha, rows(out.basis), rows(prep.pre.mean), rows(prep.pre.matrix),
                  np.zeros_like(lam_alpha))
    result = np.where(solved, out.result, prep.result).astype(np.int32)
    return Solution(backward_multipliers(prep.pre, lam_alpha), result, stats, state)
