"""The DGS paper's high-dimensional benchmark functions F1-F6, rotated and shifted, any d.

Zhang, Tran, Lu & Zhang (UAI 2021), Sec. 4.1; F1-F5 as the authors' public code, F6
(Schwefel) is our reading. An instance is ``loss(x) = f(R (x - x_opt))`` with ``f`` the
standard function (minimum 0 at ``z = 0``), ``R`` a Haar-random rotation and ``x_opt``
uniform in the inner box ``[lb + 0.1 w, ub - 0.1 w]^d``; the start ``x0`` is uniform in
``[lb, ub]^d``. All three come from one explicit key (:func:`sample_instance`, an
:class:`Instance` pytree that ``vmap`` batches); :func:`problem` gives an instance as a
:class:`~jaxopt_lab.problems.Problem`. For Schwefel (minimiser of the standard function at
``z_i = 420.9687``) the loss is evaluated at ``z + 420.9687`` so that ``x_opt`` is again the
global minimiser, with a penalty outside the ``[-500, 500]`` box (:func:`schwefel`).

Also here: the cosine distance of the paper's Eq. (9) (Table 1) and its readings.

    problem, x0 = sample(jax.random.key(0), "rastrigin", 2000)
    problem.fn(x0)      # loss(x[2000]) -> scalar, a black box for the methods
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.linalg import haar_orthogonal
from jaxopt_lab.problems.problem import Problem

__all__ = ["FUNCTIONS", "DOMAINS", "IDS", "Instance", "RotatedObjective", "standard",
           "standard_numpy", "sample_instance", "objective", "problem", "sample",
           "cosine_distance", "cosine_readings", "READINGS", "width", "domain",
           "SCHWEFEL_SHIFT"]

SCHWEFEL_SHIFT = 420.968746


def ellipsoidal(z):
    """F1: ``sum_i 10^(6 (i-1)/(d-1)) z_i^2``."""
    d = z.shape[0]
    expo = 6.0 * jnp.arange(d, dtype=z.dtype) / max(d - 1, 1)
    return jnp.sum(10.0**expo * z * z)


def sharp_ridge(z):
    """F2: ``z_1^2 + 100 sqrt(sum_{i>=2} z_i^2)``."""
    return z[0] ** 2 + 100.0 * jnp.sqrt(jnp.sum(z[1:] ** 2))


def ackley(z):
    """F3: ``-20 exp(-0.2 sqrt(mean z^2)) - exp(mean cos 2 pi z) + 20 + e``."""
    return (-20.0 * jnp.exp(-0.2 * jnp.sqrt(jnp.mean(z * z)))
            - jnp.exp(jnp.mean(jnp.cos(2.0 * jnp.pi * z))) + 20.0 + math.e)


def rastrigin(z):
    """F4: ``10 d + sum (z_i^2 - 10 cos 2 pi z_i)``."""
    return 10.0 * z.shape[0] + jnp.sum(z * z - 10.0 * jnp.cos(2.0 * jnp.pi * z))


def schaffer_f7(z):
    """F5 as the authors' code: ``(sum_i sqrt(s_i)(1 + sin^2(50 s_i^0.2)))^2 / (d - 1)``.

    ``s_i = sqrt(z_i^2 + z_{i+1}^2)``, ``i = 1..d-1``. The textbook form divides the sum by
    ``d - 1`` before squaring; see docs/methods/dgs.md.
    """
    s = jnp.sqrt(z[:-1] ** 2 + z[1:] ** 2)
    r = jnp.sqrt(s)
    terms = r + r * jnp.sin(50.0 * s**0.2) ** 2
    return jnp.sum(terms) ** 2 / max(z.shape[0] - 1, 1)


def schwefel(z):
    """F6 [assumption]: Schwefel 2.26 with a boundary penalty, shifted to ``z = 0``.

    ``418.9829 d - sum c_i sin(sqrt|c_i|) + sum max(0, |y_i| - 500)^2`` with
    ``y = z + 420.968746`` and ``c = clip(y, -500, 500)``. The textbook function is only
    meaningful on ``[-500, 500]^d`` (outside it is unbounded below); since no box is
    enforced during the optimisation, the quadratic penalty (as in BBOB's f20) keeps the
    global minimum (0) at ``z = 0``.
    """
    y = z + SCHWEFEL_SHIFT
    c = jnp.clip(y, -500.0, 500.0)
    penalty = jnp.sum(jnp.maximum(jnp.abs(y) - 500.0, 0.0) ** 2)
    return (418.9828872724338 * z.shape[0] - jnp.sum(c * jnp.sin(jnp.sqrt(jnp.abs(c))))
            + penalty)


FUNCTIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "ellipsoidal": ellipsoidal,
    "sharp_ridge": sharp_ridge,
    "ackley": ackley,
    "rastrigin": rastrigin,
    "schaffer_f7": schaffer_f7,
    "schwefel": schwefel,
}
IDS = {"F1": "ellipsoidal", "F2": "sharp_ridge", "F3": "ackley", "F4": "rastrigin",
       "F5": "schaffer_f7", "F6": "schwefel"}
DOMAINS: dict[str, tuple[float, float]] = {
    "ellipsoidal": (-2.0, 2.0),
    "sharp_ridge": (-10.0, 10.0),
    "ackley": (-32.5, 32.5),
    "rastrigin": (-5.12, 5.12),
    "schaffer_f7": (-100.0, 100.0),
    "schwefel": (-500.0, 500.0),
}


def _name(name: str) -> str:
    name = IDS.get(name, name)
    if name not in FUNCTIONS:
        raise ValueError(f"name must be one of {sorted(FUNCTIONS)} or {sorted(IDS)}, "
                         f"got {name!r}")
    return name


def standard(name: str) -> Callable[[jax.Array], jax.Array]:
    """The un-rotated, un-shifted function ``f(z[dim]) -> scalar`` (minimum 0 at ``z=0``)."""
    return FUNCTIONS[_name(name)]


def standard_numpy(name: str) -> Callable[[np.ndarray], float]:
    """The same function in NumPy, ``f(z[dim]) -> float`` (for SciPy peers; float64)."""
    return _NUMPY[_name(name)]


def domain(name: str) -> tuple[float, float]:
    """``(lb, ub)`` of the initial domain per coordinate."""
    return DOMAINS[_name(name)]


def width(name: str) -> float:
    """Width ``w = ub - lb`` of the initial domain per coordinate."""
    lo, hi = domain(name)
    return hi - lo


class Instance(NamedTuple):
    """One random problem instance (a pytree: vmap over keys to get a batch).

    Attributes:
      rotation: ``[dim, dim]`` orthogonal ``R`` (identity if not rotated).
      x_opt: ``[dim]`` the global minimiser.
      x0: ``[dim]`` a uniform start in the initial domain.
    """

    rotation: jax.Array
    x_opt: jax.Array
    x0: jax.Array


def sample_instance(key: jax.Array, name: str, dim: int, *, rotate: bool = True,
                    shift: bool = True, dtype=jnp.float32) -> Instance:
    """Draws ``R``, ``x_opt`` and ``x0`` for function ``name`` in ``dim`` dimensions.

    Args:
      key: PRNG key; split three ways (rotation, optimum, start).
      name: a key of :data:`FUNCTIONS` or an id ``"F1".."F6"``.
      dim: dimension (>= 2).
      rotate: draw ``R`` (Haar, :func:`jaxopt_lab.linalg.haar_orthogonal`; else identity).
      shift: draw ``x_opt`` in the inner box (else the origin).
      dtype: float dtype of the arrays.
    """
    lo, hi = domain(name)
    _checks.check_int(dim, "dim", minimum=2)
    dtype = _checks.check_dtype(dtype)
    w = hi - lo
    k_rot, k_opt, k_x0 = jax.random.split(key, 3)
    rot = haar_orthogonal(k_rot, dim, dtype) if rotate else jnp.eye(dim, dtype=dtype)
    if shift:
        x_opt = jax.random.uniform(k_opt, (dim,), dtype, lo + 0.1 * w, hi - 0.1 * w)
    else:
        x_opt = jnp.zeros((dim,), dtype)
    x0 = jax.random.uniform(k_x0, (dim,), dtype, lo, hi)
    return Instance(rotation=rot, x_opt=x_opt, x0=x0)


class RotatedObjective:
    """The loss ``x[dim] -> f(R (x - x_opt))`` of an instance, with a fast path along axes.

    Called as a black box it forms ``R (x - x_opt)``: one ``[dim, dim]`` product per point.
    :meth:`along_axes` evaluates a whole stencil of points ``x ± s e_i`` on the coordinate
    axes (DGS with identity directions, Eqs. 6-8; central differences) from one product:
    ``R (x ± s e_i - x_opt) = z ± s R[:, i]`` with ``z = R (x - x_opt)``, so ``K d`` points
    cost ``O(K d^2)`` instead of ``O(K d^3)``. The values agree with ``__call__`` to float
    rounding (the sums are associated differently).

    Attributes:
      function: the standard function ``f(z[dim]) -> scalar``.
      rotation: ``[dim, dim]`` ``R``.
      x_opt: ``[dim]`` the minimiser.
    """

    def __init__(self, function: Callable[[jax.Array], jax.Array], rotation: jax.Array,
                 x_opt: jax.Array):
        self.function = function
        self.rotation = rotation
        self.x_opt = x_opt

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.function(self.rotation @ (x - self.x_opt))

    def along_axes(self, x: jax.Array, steps: jax.Array) -> jax.Array:
        """Values at ``x + steps[k, i] e_i`` and ``x - steps[k, i] e_i``.

        Args:
          x: ``[dim]`` the centre.
          steps: ``[K, dim]`` step lengths per node ``k`` and axis ``i``.

        Returns:
          ``[2, K, dim]``: ``[0]`` the plus side, ``[1]`` the minus side.
        """
        z = self.rotation @ (x - self.x_opt)
        images = self.rotation.T  # row i is R e_i
        batched = jax.vmap(self.function)

        def one_node(s):  # s [dim] -> [2, dim]; one [dim, dim] batch per side
            offsets = s[:, None] * images
            return jnp.stack([batched(z[None, :] + offsets), batched(z[None, :] - offsets)])

        return jnp.moveaxis(jax.lax.map(one_node, steps), 0, 1)


def objective(name: str, instance: Instance) -> RotatedObjective:
    """The black-box loss ``x[dim] -> f(R (x - x_opt))`` of an instance of ``name``
    (a :class:`RotatedObjective`: a callable with the axis fast path)."""
    return RotatedObjective(FUNCTIONS[_name(name)], instance.rotation, instance.x_opt)


def problem(name: str, instance: Instance) -> Problem:
    """An instance as a :class:`~jaxopt_lab.problems.Problem`: its loss (JAX and NumPy),
    the initial domain as the box, ``x_star = [x_opt]`` and ``f_star = 0``."""
    name = _name(name)
    dim = instance.x0.shape[0]
    lo, hi = DOMAINS[name]
    rot = np.asarray(instance.rotation, np.float64)
    x_opt = np.asarray(instance.x_opt, np.float64)
    f_np = _NUMPY[name]
    note = ("the penalty outside [-500, 500] around the shifted optimum is ours"
            if name == "schwefel" else "")
    fid = next(k for k, v in IDS.items() if v == name)
    return Problem(name=fid,
                   fn=objective(name, instance), dim=dim, lower=np.full(dim, lo),
                   upper=np.full(dim, hi), x_star=x_opt[None], f_star=0.0,
                   np_fn=lambda x: float(f_np(rot @ (np.asarray(x, np.float64) - x_opt))),
                   note=note)


def sample(key: jax.Array, name: str, dim: int, **options) -> tuple[Problem, jax.Array]:
    """``(problem, x0)`` of the instance :func:`sample_instance` draws from ``key``."""
    inst = sample_instance(key, name, dim, **options)
    return problem(name, inst), inst.x0


def cosine_distance(path: jax.Array, x_opt: jax.Array, *, eps: float = 0.0):
    """Average cosine distance of the steps to the direction of ``x_opt`` (paper Eq. 9).

    ``(1/T') sum_t [1 - <s_t, o_t> / (||s_t|| ||o_t||)]``, ``s_t = x_t - x_{t-1}``,
    ``o_t = x_opt - x_{t-1}``,
    over the steps with nonzero length (zero-length steps are skipped, and counted).

    Args:
      path: ``[T + 1, dim]`` iterates ``x_0..x_T``.
      x_opt: ``[dim]`` the instance's minimiser.
      eps: steps no longer than ``eps`` count as zero-length.

    Returns:
      ``(mean_distance [], num_skipped [] int32)``; the mean is NaN if every step is skipped.
    """
    path = jnp.asarray(path)
    steps = path[1:] - path[:-1]
    to_opt = x_opt[None, :] - path[:-1]
    ns = jnp.sqrt(jnp.sum(steps * steps, axis=1))
    no = jnp.sqrt(jnp.sum(to_opt * to_opt, axis=1))
    ok = (ns > eps) & (no > 0)
    cos = jnp.sum(steps * to_opt, axis=1) / jnp.where(ok, ns * no, 1.0)
    dist = jnp.where(ok, 1.0 - cos, 0.0)
    count = jnp.sum(ok)
    mean = jnp.where(count > 0, jnp.sum(dist) / jnp.maximum(count, 1), jnp.nan)
    return mean, (path.shape[0] - 1 - count).astype(jnp.int32)


READINGS = ("eq9", "eq9_from_start", "displacement", "eq9_first_10", "eq9_first_quarter",
            "eq9_approach")


def cosine_readings(path, x_opt) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Readings of Eq. (9) that the paper leaves open, on one path (NumPy float64).

    * ``eq9``: as printed, ``1 - cos(x_t - x_{t-1}, x_opt - x_{t-1})`` over the ``T`` steps.
    * ``eq9_from_start``: the reference direction fixed at ``x_opt - x_0``.
    * ``displacement``: ``1 - cos(x_t - x_0, x_opt - x_0)`` averaged over ``t``.
    * ``eq9_first_10`` / ``eq9_first_quarter``: Eq. (9) over the first 10 / ``T/4`` steps.
    * ``eq9_approach``: Eq. (9) over the steps until the iterate is closest to ``x_opt``.

    Zero-length steps are left out (NaN terms).

    Args:
      path: ``[T + 1, dim]`` iterates.
      x_opt: ``[dim]`` the instance's minimiser.

    Returns:
      ``(readings, per_step)``: each reading of :data:`READINGS`, and ``eq9_terms [T]``
      and ``dist [T + 1]`` (distance of each iterate to ``x_opt``).
    """
    p = np.asarray(path, np.float64)
    xo = np.asarray(x_opt, np.float64)
    num = p.shape[0] - 1

    def cos_dist(a, b):
        na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
        ok = (na > 0) & (nb > 0)
        c = np.sum(a * b, axis=-1) / np.where(ok, na * nb, 1.0)
        return np.where(ok, 1.0 - c, np.nan)

    steps = p[1:] - p[:-1]
    per_step = cos_dist(steps, xo[None] - p[:-1])
    dist = np.linalg.norm(xo[None] - p, axis=1)
    closest = int(np.argmin(dist))  # steps 1..closest approach the optimum
    readings = {
        "eq9": float(np.nanmean(per_step)),
        "eq9_from_start": float(np.nanmean(cos_dist(steps, (xo - p[0])[None]))),
        "displacement": float(np.nanmean(cos_dist(p[1:] - p[0][None], (xo - p[0])[None]))),
        "eq9_first_10": float(np.nanmean(per_step[:10])),
        "eq9_first_quarter": float(np.nanmean(per_step[:max(1, num // 4)])),
        "eq9_approach": float(np.nanmean(per_step[:max(1, closest)])),
    }
    return readings, {"eq9_terms": per_step, "dist": dist}


# ----------------------------------------------------------------- NumPy formulas (float64)


def _np_ellipsoidal(z):
    d = z.size
    return np.sum(10.0 ** (6.0 * np.arange(d) / (d - 1)) * z * z)


def _np_sharp_ridge(z):
    return z[0] ** 2 + 100 * np.sqrt(np.sum(z[1:] ** 2))


def _np_ackley(z):
    return (-20 * np.exp(-0.2 * np.sqrt(np.mean(z * z)))
            - np.exp(np.mean(np.cos(2 * np.pi * z))) + 20 + np.e)


def _np_rastrigin(z):
    return 10 * z.size + np.sum(z * z - 10 * np.cos(2 * np.pi * z))


def _np_schaffer_f7(z):
    s = np.sqrt(z[:-1] ** 2 + z[1:] ** 2)
    return np.sum(np.sqrt(s) * (1 + np.sin(50 * s**0.2) ** 2)) ** 2 / (z.size - 1)


def _np_schwefel(z):
    y = z + SCHWEFEL_SHIFT
    c = np.clip(y, -500, 500)
    pen = np.sum(np.maximum(np.abs(y) - 500, 0) ** 2)
    return 418.9828872724338 * z.size - np.sum(c * np.sin(np.sqrt(np.abs(c)))) + pen


_NUMPY = {"ellipsoidal": _np_ellipsoidal, "sharp_ridge": _np_sharp_ridge,
          "ackley": _np_ackley, "rastrigin": _np_rastrigin, "schaffer_f7": _np_schaffer_f7,
          "schwefel": _np_schwefel}
