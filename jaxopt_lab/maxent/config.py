"""The static options of a maximum-entropy solve, and the automatic quadrature ladder.

:class:`Config` holds everything that is not data: the problem's shape (``dim``, ``order``),
the quadrature (a fixed rule or the automatic ladder), the optimiser and its tolerances. It
is a frozen, hashable dataclass, validated when it is built.

Choices the review leaves open (docs/methods/maxent.md), as implemented:

* Optimiser: ``method="bfgs"`` is the review's BFGS with the inverse update (7.4) between
  reorthonormalisations (kappa_inf > 20); ``method="newton"`` is the damped Newton method
  of [A07]: the basis is rebuilt at every iterate, so the quadrature Hessian is I and the
  step is ``-grad``; every iteration has the same structure, which suits ``vmap`` (2x the
  batched throughput of BFGS). On a well-placed rule Newton is as fast or faster; on badly
  resolved rules (early ladder rungs, sample moments) it can need hundreds of steps where
  BFGS needs tens, hence ``"auto"``: BFGS then Newton for one problem, Newton for a batch
  (measured in docs/benchmarks/maxent.md).
* Quadrature passes (:mod:`jaxopt_lab.maxent.tensor`): exponent and moments separate over
  the axes of the tensor grid, so a pass is a chain of small dense contractions with the
  1-D Vandermonde matrices (about ``T^N (2M + 2)`` multiply-adds and ``T^N`` exponentials),
  blocked over the first axis (``chunk_size`` points per block).
* Quadrature: tensor Gauss-Hermite, ``T`` nodes per axis, contraction ``sigma``. With
  ``quad_points=None`` the per-dimension ladder :data:`AUTO_RULES` is climbed with warm
  starts (:mod:`jaxopt_lab.maxent.ladder`): rung 0 is the paper's rule (sigma = 1, exact for
  a Gaussian answer, capped at :data:`FIRST_RUNG_STEPS` steps), rung 1 a fixed contraction,
  later rungs put the outermost node at the per-axis extent of the previous answer's support
  (where the density is above e^-40 of its maximum). It stops at the first rung whose
  refined-rule ``moment_error <= moment_tol``. Rungs share compiled programs: consecutive
  rungs are padded with zero-weight nodes to a few shape classes (:func:`padded_sizes`), so
  a first solve compiles fewer programs; the padding changes answers only at round-off.
* Refined check rule: ``ceil(1.5 T) + 1`` nodes, same sigma. ``moment_error`` is
  ``max |mu_i - m_i| / max(1, |m_i|)`` in the standardised frame (zero mean, unit covariance).
* Line search: backtracking Armijo (c1 = 1e-4, zeta = 1, 1/2, ..., 40 trials, slack
  1e-14 (1 + |L|) for round-off); trials with non-finite moments are rejected (the exponent
  is clipped at 600 so a wild trial gives a huge finite mass). ``s . y <= 0`` or a failed
  search forces a reorthonormalisation; a failed search right after one stops with
  ``line_search_failed``.
* Stopping: ``max |grad| < tol`` (1e-10) in the current basis; ``max_steps`` per rung.
* Basis: start from the tensor Hermite basis orthonormal for N(0, alpha^-2 I); rebuild by
  Cholesky of ``C^T G C`` (default; ``C L^{-T}`` with ``L^{-1}`` by forward substitution in
  matrix products, because XLA:CPU's triangular_solve was 100x slower) or modified
  Gram-Schmidt (``reorth="mgs"``), 1 or 2 passes.
* Integrability: the effective top-degree form of the alpha-frame multipliers must be
  negative on the unit sphere (2000-20000 points; values within 1e-6 max|lambda| of zero
  are tolerated); otherwise ``not_integrable``.
* Moments that no density has (``m_0 != 1``, covariance or moment matrix not positive
  definite) give ``not_realisable``, non-finite ones ``nonfinite``; odd ``order`` is
  rejected by :class:`Config` (an odd top degree is never integrable).
"""

from __future__ import annotations

import dataclasses
import math

from jaxopt_lab import _checks

__all__ = ["Config", "AUTO_RULES", "CLOSURE_RULES", "COARSE_STEPS", "COARSE_TOL", "DTYPES",
           "rung_dtypes", "FIRST_RUNG_STEPS", "FALLBACK_SIGMA", "METHODS", "ladder",
           "attempts", "PAD_POINTS", "PAD_RATIO", "padded_sizes", "RULE_FAMILIES",
           "SPARSE_SIGMA"]

#: ``"auto"``: BFGS with a Newton fallback for one problem, Newton for a batch.
METHODS = ("auto", "bfgs", "newton")

#: Quadrature ladder for ``quad_points=None``: (T, sigma) per dimension, tried in turn with
#: warm starts until ``moment_error <= moment_tol``. sigma None = adaptive: the outermost
#: node is put at the support radius of the previous rung's density
#: (:func:`jaxopt_lab.maxent.rules.adaptive_sigma`). The first rung is the paper's rule
#: (sigma = 1), exact for a Gaussian solution. Dimensions above 5 use the 5-D ladder. The
#: 3-D ladder ends at 104 nodes: the trimodal order-6 case of the envelope needs more than 72
#: (its moment error stalls at 1.5e-6 there; 104 nodes converge to 3e-11).
AUTO_RULES = {
    1: ((24, 1.0), (48, 0.5), (80, None), (128, None), (192, None)),
    2: ((20, 1.0), (40, 0.5), (64, None), (96, None), (128, None)),
    3: ((12, 1.0), (24, 0.5), (40, None), (56, None), (72, None), (104, None)),
    4: ((10, 1.0), (16, 0.55), (24, None), (32, None), (40, None), (48, None)),
    5: ((8, 1.0), (12, 0.6), (16, None), (20, None), (24, None), (28, None), (32, None)),
}
#: Precisions a rung of ``Config.rules`` may name.
DTYPES = ("float64", "float32")
#: What the third entry of a rung of ``Config.rules`` may name: a precision of the tensor
#: Gauss-Hermite rule, or ``"box"``: a float64 composite Gauss-Legendre rule on the box that
#: holds the previous rung's density (:func:`jaxopt_lab.maxent.fixed_rule.box_rule`).
RUNG_KINDS = DTYPES + ("box",)
#: Gauss-Legendre nodes per panel of a box rung (its T must be a multiple).
BOX_PANEL_NODES = 8
#: A ladder for 2-D order-8 estimates from sample moments (Fig. 10.1 of the review): the
#: automatic 2-D ladder brings the answer close, then box rungs of 800 and 1600 nodes per
#: axis resolve the sharp edges and thin ridges of its density (docs/methods/maxent.md).
BOX_RULES_2D = ((20, 1.0), (40, 0.5), (64, None), (96, None), (128, None),
                (800, None, "box"), (1600, None, "box"))
#: Gradient tolerance of a float32 rung (float32 cannot resolve the float64 default; 1e-4
#: was reached in 6 Newton steps by every lane of the 3-D order-4 closure benchmark).
COARSE_TOL = 1e-4
#: A ladder for batches of 3-D order-4 closures from sample moments (measured in
#: docs/benchmarks/maxent.md): a float32 rung on 16^3 nodes, then 32^3 nodes with sigma =
#: 0.4, whose rule error on flat-topped (platykurtic) densities is below 5e-9, and for the
#: few rows whose tails reach past that rule (closer to Gaussian), an adaptive 40^3 rung.
#: Step cap of a float32 rung: a lane that float32 cannot bring to COARSE_TOL in this many
#: steps hands its iterate on (rather than holding every lane of the batch for 1000 steps).
COARSE_STEPS = 12
CLOSURE_RULES = ((16, 0.45, "float32"), (32, 0.4), (40, None))
#: Step cap of the ladder's first (sigma = 1) rung, which only has to catch near-Gaussian
#: cases.
FIRST_RUNG_STEPS = 60
#: sigma of an adaptive rung when no usable previous solution exists.
FALLBACK_SIGMA = 0.5
#: Shape classes of the ladder (:func:`padded_sizes`): a group of consecutive rungs is
#: padded to its largest T while that grid has at most ``max(PAD_POINTS, PAD_RATIO * n0)``
#: points, ``n0`` the grid of the group's first rung (each class compiles once).
PAD_POINTS = 1 << 12
#: Rule families of ``Config.rule``.
RULE_FAMILIES = ("tensor", "sparse", "adapted")
#: Default contraction of the sparse rule (``Config(rule="sparse", sigma=None)``).
SPARSE_SIGMA = 0.6
PAD_RATIO = 3.0


@dataclasses.dataclass(frozen=True)
class Config:
    """Options of :func:`jaxopt_lab.maxent.solve` (static: hashable, compared by value).

    Attributes:
      dim: N, the space dimension (>= 1).
      order: M, the highest total degree of the moments (even, >= 2: an odd top degree is
        never integrable). The problem has ``K = C(M + N, N)`` moments.
      quad_points: T, Gauss-Hermite nodes per axis (``T^N`` points, >= 2). None: climb the
        automatic ladder :data:`AUTO_RULES` with warm starts until
        ``moment_error <= moment_tol``.
      sigma: node contraction of the rule (docs/methods/maxent.md; > 0). None: 1 (the paper's rule)
        for a fixed ``quad_points``, the ladder's values otherwise.
      method: ``"bfgs"`` (the review's BFGS between reorthonormalisations, section 7),
        ``"newton"`` (a reorthonormalisation at every iterate, so the step is ``-grad``:
        the algorithm of [A07]; the same work every step, which suits ``vmap``) or
        ``"auto"``: for one problem the BFGS ladder, then the Newton ladder if BFGS's did
        not meet ``moment_tol`` (the better answer is kept, steps of both counted); for a
        batch Newton (about 2x the batched throughput of BFGS).
      tol: stopping tolerance on ``max |grad|`` in the orthonormal basis (> 0).
      moment_tol: the moment error on the refined check rule that ``converged`` needs (> 0).
      kappa_max: reorthonormalise when ``kappa_inf`` of the BFGS pseudo-Hessian exceeds it
        (7.6); > 1.
      max_steps: cap on BFGS/Newton steps per rung of the ladder (>= 1).
      reorth: ``"cholesky"`` (weighted QR through the Gram matrix), ``"mgs"`` (the
        review's modified Gram-Schmidt, section 6) or, with ``method="newton"`` only,
        ``"none"``: keep each rung's start basis and take the Newton step by two triangular
        solves with the Cholesky factor of the Gram matrix in it (the same iterates up to
        round-off, and cheaper per step in a batch: no ``[K, K]`` inverse factor).
      passes: 1, or 2 (re-orthogonalisation).
      chunk_size: quadrature points per block of the exponent grid (memory; at least one
        row of ``T^(N-1)`` points is used); None: ``tensor.DEFAULT_MAX_POINTS``.
      check_integrability: give ``not_integrable`` when the top-degree form of the answer
        is not negative on the unit sphere.
      rules: the ladder's rungs ``((T, sigma), ...)`` in place of :data:`AUTO_RULES` (sigma
        None = adaptive), climbed with warm starts as the automatic ladder is; needs
        ``quad_points=None``. A rung may name its precision as a third entry,
        ``(T, sigma, "float32")``: a coarse rung that only seeds the next one runs in
        float32 (half the memory traffic and twice the SIMD width) and stops at
        ``max(tol, COARSE_TOL)`` or after ``COARSE_STEPS`` steps; the last rung must be
        float64. Explicit rules are not padded to shape classes. A batch of similar
        problems (moment closures) is fastest on a coarse float32 rung that brings every
        lane close and one accurate rung that polishes it in two Newton steps
        (:data:`CLOSURE_RULES`, docs/methods/maxent.md).
        A rung ``(T, None, "box")`` is a composite Gauss-Legendre rule of ``T / 8`` panels
        of 8 nodes per axis on the box that holds the previous rung's density (its support
        at ``exp(-40)`` of the peak, widened by :data:`jaxopt_lab.maxent.fixed_rule.BOX_MARGIN`):
        densities with sharp edges or thin ridges, whose error on a Gauss-Hermite rule falls
        only like ``1 / T``, converge spectrally once the panels resolve them
        (:data:`BOX_RULES_2D`). A box rung whose answers need a box of another size is
        placed again on theirs (:data:`jaxopt_lab.maxent.ladder.BOX_RESIZE`).
      rule: the rule family: ``"tensor"`` (default: the tensor Gauss-Hermite rules above)
        or ``"sparse"``: a Smolyak sparse grid of 1-D Gauss-Hermite rules of ``level``
        (:mod:`jaxopt_lab.maxent.pointset`; one rule, no ladder; ``sigma`` defaults to
        :data:`SPARSE_SIGMA`; damped Newton; needs ``quad_points`` and ``rules`` None).
        ``"adapted"``: a Smolyak grid of the Gauss rules of the 1-D maxent marginals in the
        frame that diagonalises the fourth cumulants (:mod:`jaxopt_lab.maxent.adapted`;
        ``sigma`` unused).
      level: the sparse grid's level (>= 0); only with, and needed by, the point-set rules.
      check_ratio: the refined check rule has ``ceil(check_ratio T) + 1`` nodes per axis
        (>= 1; 1.5 by default). The check costs as much as several solver steps in 3-D, so
        a tight rule may afford a smaller ratio.
    """

    dim: int
    order: int
    quad_points: int | None = None
    sigma: float | None = None
    method: str = "auto"
    tol: float = 1e-10
    moment_tol: float = 1e-6
    kappa_max: float = 20.0
    max_steps: int = 1000
    reorth: str = "cholesky"
    passes: int = 1
    chunk_size: int | None = None
    check_integrability: bool = True
    rules: tuple[tuple[int, float | None], ...] | None = None
    check_ratio: float = 1.5
    rule: str = "tensor"
    level: int | None = None

    def __post_init__(self):
        _checks.check_int(self.dim, "config.dim", minimum=1)
        _checks.check_int(self.order, "config.order", minimum=2)
        if self.order % 2:
            raise ValueError(f"config.order must be even (an odd top degree is never "
                             f"integrable), got {self.order}")
        _checks.check_int(self.quad_points, "config.quad_points", minimum=2, allow_none=True)
        _checks.check_number(self.sigma, "config.sigma", positive=True, allow_none=True)
        _checks.check_choice(self.method, "config.method", METHODS)
        _checks.check_number(self.tol, "config.tol", positive=True)
        _checks.check_number(self.moment_tol, "config.moment_tol", positive=True)
        _checks.check_number(self.kappa_max, "config.kappa_max", lo=1.0, lo_open=True)
        _checks.check_int(self.max_steps, "config.max_steps", minimum=1)
        _checks.check_choice(self.reorth, "config.reorth", ("cholesky", "mgs", "none"))
        if self.reorth == "none" and self.method != "newton":
            raise ValueError(f'config.reorth="none" needs method="newton" (BFGS relies on '
                             f'rebuilding the basis), got method={self.method!r}')
        _checks.check_int(self.passes, "config.passes", minimum=1, maximum=2)
        _checks.check_int(self.chunk_size, "config.chunk_size", minimum=1, allow_none=True)
        _checks.check_bool(self.check_integrability, "config.check_integrability")
        _checks.check_number(self.check_ratio, "config.check_ratio", lo=1.0)
        _check_rule_family(self)
        if self.rules is not None:
            object.__setattr__(self, "rules", _check_rules(self.rules))
            if self.sigma is not None:
                raise ValueError("config.sigma must be None when config.rules is given: each "
                                 "rung of rules carries its own sigma")
            if self.quad_points is not None:
                raise ValueError("config.rules and config.quad_points exclude each other: "
                                 "rules is a ladder, quad_points a single fixed rule")

    @property
    def num_moments(self) -> int:
        """``K = C(order + dim, dim)``."""
        return math.comb(self.order + self.dim, self.dim)


def _check_rule_family(config: Config) -> None:
    """``rule`` and ``level`` (the sparse rule excludes the tensor rule's options)."""
    _checks.check_choice(config.rule, "config.rule", RULE_FAMILIES)
    _checks.check_int(config.level, "config.level", minimum=0, allow_none=True)
    if config.rule == "tensor" and config.level is not None:
        raise ValueError(f'config.level is for the point-set rules only (rule="sparse" or '
                         f'"adapted"), got level={config.level}')
    if config.rule != "tensor":
        if config.level is None:
            raise ValueError(f'config.rule="{config.rule}" needs config.level (an int >= 0)')
        if config.quad_points is not None or config.rules is not None:
            raise ValueError(f'config.rule="{config.rule}" excludes config.quad_points and '
                             'config.rules (they describe tensor rules)')


def _check_rules(rules) -> tuple[tuple, ...]:
    """``rules`` as a tuple of ``(T, sigma)`` / ``(T, sigma, dtype)`` rungs, or ValueError."""
    try:
        rungs = tuple(tuple(r) for r in rules)
    except TypeError:
        rungs = None
    if not rungs or any(len(r) not in (2, 3) for r in rungs):
        raise ValueError(f"config.rules must be a non-empty sequence of (quad_points, sigma) "
                         f"or (quad_points, sigma, dtype) rungs, got {rules!r}")
    out = []
    for k, rung in enumerate(rungs):
        t, s = rung[:2]
        _checks.check_int(t, f"config.rules[{k}][0] (quad_points)", minimum=2)
        _checks.check_number(s, f"config.rules[{k}][1] (sigma)", positive=True, allow_none=True)
        rung = (int(t), None if s is None else float(s))
        if len(rungs[k]) == 3:
            kind = rungs[k][2]
            _checks.check_choice(kind, f"config.rules[{k}][2] (dtype or rule kind)", RUNG_KINDS)
            if kind == "box" and (s is not None or int(t) % BOX_PANEL_NODES):
                raise ValueError(f"config.rules[{k}]: a box rung is (T, None, 'box') with T a "
                                 f"multiple of {BOX_PANEL_NODES} (the box is placed from the "
                                 f"previous rung's answer, not by sigma), got {rungs[k]!r}")
            rung = rung + (kind,)
        out.append(rung)
    if len(out[-1]) == 3 and out[-1][2] == "float32":
        raise ValueError(f"config.rules: the last rung must be float64 (float32 cannot meet "
                         f"moment_tol; it only seeds a later rung), got {out[-1]!r}")
    return tuple(out)


def rung_dtypes(config: Config) -> tuple[str, ...]:
    """The kind of each rung of :func:`ladder`: ``"float64"`` unless ``rules`` names
    ``"float32"`` or ``"box"`` (a float64 box rung)."""
    if config.rules is None:
        return ("float64",) * len(ladder(config))
    return tuple(r[2] if len(r) == 3 else "float64" for r in config.rules)


def ladder(config: Config) -> tuple[tuple[int, float | None], ...]:
    """The rules ``(T, sigma)`` a solve tries in turn (one rule for a fixed ``quad_points``)."""
    if config.quad_points is not None:
        return ((config.quad_points, 1.0 if config.sigma is None else float(config.sigma)),)
    if config.rules is not None:
        return tuple(r[:2] for r in config.rules)
    rules = AUTO_RULES.get(config.dim, AUTO_RULES[max(AUTO_RULES)])
    # At least M + 1 nodes (exactness for a Gaussian target, section 8).
    rules = tuple((max(t, config.order + 1), s) for t, s in rules)
    if config.sigma is not None:
        rules = tuple((t, float(config.sigma)) for t, _ in rules)
    return rules


def padded_sizes(config: Config) -> tuple[int, ...]:
    """Nodes per axis ``[len(ladder(config))]`` that each rung's rule is padded to.

    Padding appends zero-weight nodes (they add exact zeros to every quadrature sum), so
    rungs of one class share one compiled program. A fixed ``quad_points`` is not padded.
    """
    sizes = [t for t, _ in ladder(config)]
    out, start = [], 0
    while start < len(sizes):
        limit = max(PAD_POINTS, PAD_RATIO * sizes[start] ** config.dim)
        end = start + 1
        while end < len(sizes) and sizes[end] ** config.dim <= limit:
            end += 1
        out += [max(sizes[start:end])] * (end - start)
        start = end
    return tuple(out)


def attempts(config: Config, batched: bool) -> tuple[str, ...]:
    """The optimisers a solve runs in turn (``method="auto"``: see :class:`Config`)."""
    if config.method != "auto":
        return (config.method,)
    return ("newton",) if batched else ("bfgs", "newton")
