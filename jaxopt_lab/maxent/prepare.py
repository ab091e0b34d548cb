"""Host preparation of maxent problems: input checks, preconditioning, realisability.

Structural faults of the input (not numeric, wrong shape, wrong K) raise ``ValueError``
before anything is traced. Faults of one problem's values give that problem a result code
instead, so that one bad row never fails a batch:

* ``nonfinite``: a moment is NaN or inf;
* ``not_realisable``: the moments are not those of a probability density: ``m_0 != 1``
  (they are not renormalised silently), the covariance is not positive definite, or the
  moment (Hankel) matrix ``[m_(i+j)]``, ``|i|, |j| <= M/2``, of the standardised moments is
  not positive definite.

Such a row is preconditioned as a stand-in (the moments of N(0, I)) and never solved. The
preconditioning itself (section 4) is float64 NumPy, vectorised over the batch axis, as in
:mod:`jaxopt_lab.maxent.precondition`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.core import Result
from jaxopt_lab.maxent.config import Config
from jaxopt_lab.maxent.fixed_rule import Problem
from jaxopt_lab.maxent.multiindex import _index_table, _multi_indices
from jaxopt_lab.maxent.precondition import (Preconditioner, covariance, degenerate,
                                            forward_moments, precondition)

__all__ = ["Prepared", "as_moments", "prepare", "gaussian_moments", "realisable"]


class Prepared(NamedTuple):
    """A batch of problems ready for the solver (NumPy, leading axis ``[B]``).

    Attributes:
      moments: ``[B, K]`` the moments as given (float64).
      problem: the alpha-frame :class:`jaxopt_lab.maxent.fixed_rule.Problem`.
      pre: the :class:`jaxopt_lab.maxent.precondition.Preconditioner` of every row.
      result: ``[B]`` int32: ``converged`` for a row that can be solved, else its code.
    """

    moments: np.ndarray
    problem: Problem
    pre: Preconditioner
    result: np.ndarray


def as_moments(moments, config: Config, batched: bool, name: str = "moments") -> np.ndarray:
    """Structural checks; returns float64 ``[B, K]`` (``[1, K]`` for one problem).

    Raises:
      ValueError: traced, not numeric, or not of shape ``[K]`` (``[B, K]`` if ``batched``).
    """
    value = _checks.concrete(moments)
    if value is None:
        raise ValueError(f"{name} must be a concrete array: maxent preconditions on the host, "
                         "so solve cannot be traced (jax.jit the fixed-rule solve of "
                         "jaxopt_lab.maxent.fixed_rule instead)")
    _checks.check_array(value, name, finite=False)
    if np.iscomplexobj(value):
        raise ValueError(f"{name} must be real, got dtype {value.dtype}")
    num = config.num_moments
    want = "[B, K] array with B >= 1 and" if batched else "[K] array with"
    ok = (value.ndim == 2 and value.shape[0] >= 1) if batched else value.ndim == 1
    if not ok or value.shape[-1] != num:
        raise ValueError(f"{name} must be a {want} length K = C(order + dim, dim) = {num} "
                         f"for dim={config.dim}, order={config.order} (graded order), got "
                         f"shape {value.shape}")
    value = value.astype(np.float64)
    return value if batched else value[None]


def gaussian_moments(dim: int, order: int) -> np.ndarray:
    """``[K]`` moments of N(0, I): ``prod_k (i_k - 1)!!`` for even ``i_k``, else 0."""
    idx = _multi_indices(dim, order)
    return np.array([np.prod([0.0 if p % 2 else math.prod(range(p - 1, 0, -2)) for p in row])
                     for row in idx])


def realisable(white, dim: int, order: int) -> np.ndarray:
    """``[...]``: the moment matrix of standardised moments ``[..., K]`` is positive definite."""
    half = _multi_indices(dim, order // 2)
    table = _index_table(dim, order)
    pos = np.array([[table[tuple(int(v) for v in a + b)] for b in half] for a in half])
    evals = np.linalg.eigvalsh(white[..., pos])
    return evals[..., 0] > 1e-10 * evals[..., -1]


def prepare(moments: np.ndarray, config: Config) -> Prepared:
    """Checks the values of every row of ``moments [B, K]`` and preconditions the batch."""
    dim, order = config.dim, config.order
    m = np.asarray(moments, np.float64)
    finite = np.all(np.isfinite(m), axis=-1)
    with np.errstate(invalid="ignore"):
        ok = finite & (np.abs(m[:, 0] - 1.0) <= 1e-12)
    stand_in = gaussian_moments(dim, order)
    ok &= ~degenerate(covariance(np.where(ok[:, None], m, stand_in), dim, order)[1])
    safe = np.where(ok[:, None], m, stand_in)
    pre = precondition(safe, dim, order)
    target = forward_moments(pre, safe)
    ok &= realisable(target * pre.white_scale, dim, order)
    result = np.where(ok, int(Result.converged), int(Result.not_realisable))
    result = np.where(finite, result, int(Result.nonfinite)).astype(np.int32)
    problem = Problem(target, pre.mean, np.linalg.inv(pre.matrix))
    return Prepared(m, problem, pre, result)
