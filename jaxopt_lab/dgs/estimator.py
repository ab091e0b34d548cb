"""The directional Gaussian smoothing (DGS) gradient, Zhang et al. (UAI 2021), Eqs. (6)-(8).

For an orthonormal set of directions ``xi_1..xi_d`` (the columns of ``directions``) and
radii ``sigma_1..sigma_d``, the nonlocal directional derivative along ``xi_i`` is

    D_i = (1 / sigma_i) E_{u ~ N(0, 1)} [ F(x + sigma_i u xi_i) u ],

estimated with an ``M``-point Gauss–Hermite rule (probabilists' nodes ``u_m``, weights
``p_m`` normalised to sum to one; identical to the paper's physicists' form with
``u = sqrt(2) v``). The centre node (odd ``M``) has ``u = 0`` and is never evaluated, and the
``±u_m`` nodes share a weight, so each directional derivative is a weighted sum of central
differences at ``floor(M/2)`` scales:

    D_i = (1 / sigma_i) sum_{u_m > 0} p_m u_m [F(x + sigma_i u_m xi_i) - F(x - sigma_i u_m xi_i)],

and the gradient is ``g = sum_i D_i xi_i``. One gradient costs ``2 floor(M/2) d`` evaluations
(``(M - 1) d`` for odd ``M``), all independent: they are evaluated as batched calls of
``jax.vmap(f)``, in chunks of at most ``chunk_size`` points (built inside each chunk, so the
full ``[(M - 1) d, d]`` batch is never materialised when chunking).

Because Gauss–Hermite with ``M >= 2`` nodes integrates ``u^2`` exactly and the odd moments
vanish, the estimate is the exact gradient of any linear or quadratic ``F``, for any radii.

Non-finite values rule: a ``±`` pair in which either value is NaN or ±inf contributes zero
to its directional derivative (it carries no usable information); the number of non-finite
values is reported by :func:`estimate` (``num_nonfinite``), so callers can see it.

[1] J. Zhang, H. Tran, D. Lu, G. Zhang, "Enabling long-range exploration in minimization of
    multimodal functions", UAI 2021. https://proceedings.mlr.press/v161/zhang21a.html
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.quadrature import gauss_hermite

__all__ = ["gradient", "estimate", "Estimate", "num_evaluations", "positive_nodes",
           "validate_inputs"]


class Estimate(NamedTuple):
    """Result of :func:`estimate`.

    Attributes:
      grad: ``[dim]`` the DGS gradient.
      directional: ``[dim]`` the directional derivatives ``D_i`` (``grad = directions @ D``).
      values: ``[2, num_pos, dim]`` objective values at ``x + s sigma_i u_k xi_i`` for
        ``s = +1`` (index 0) and ``s = -1`` (index 1), ``u_k`` the positive nodes.
      num_nonfinite: ``[]`` int32 count of non-finite values among ``values``.
      best_f: ``[]`` smallest finite value among ``values`` (``+inf`` if none is finite).
      best_x: ``[dim]`` the point where ``best_f`` was found (``x`` if none is finite).
    """

    grad: jax.Array
    directional: jax.Array
    values: jax.Array
    num_nonfinite: jax.Array
    best_f: jax.Array
    best_x: jax.Array


def positive_nodes(num_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Positive probabilists' Gauss–Hermite nodes and their normalised weights.

    Args:
      num_points: ``M``, the number of nodes of the full rule (>= 2).

    Returns:
      ``(u, p)``: float64 ``[floor(M/2)]`` nodes ``u_k > 0`` and weights ``p_k`` of the rule
      normalised to an ``N(0, 1)`` expectation (``sum`` over all ``M`` nodes is 1).
    """
    _check_num_points(num_points)
    rule = gauss_hermite(num_points, "probabilists", normalized=True)
    keep = rule.nodes > 0
    return rule.nodes[keep], rule.weights[keep]


def num_evaluations(dim: int, num_points: int = 5) -> int:
    """Objective evaluations one DGS gradient costs: ``2 floor(M/2) dim``."""
    _check_num_points(num_points)
    return 2 * (num_points // 2) * dim


def _check_num_points(num_points):
    if isinstance(num_points, bool) or not isinstance(num_points, (int, np.integer)) \
            or num_points < 2:
        raise ValueError(f"num_points must be an int >= 2, got {num_points!r}")


def _concrete(a):
    """NumPy value of ``a`` if it is concrete, else ``None`` (traced under jit/vmap)."""
    if isinstance(a, jax.core.Tracer):
        return None
    try:
        return np.asarray(a)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def validate_inputs(f, x, sigma, directions, num_points, chunk_size):
    """Checks the arguments of :func:`gradient` (values only where they are concrete).

    Raises:
      ValueError: naming the argument and the constraint it breaks.
    """
    if not callable(f):
        raise ValueError(f"f must be callable f(x[dim]) -> scalar, got {type(f).__name__}")
    _check_num_points(num_points)
    if chunk_size is not None and (isinstance(chunk_size, bool)
                                   or not isinstance(chunk_size, (int, np.integer))
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size must be None or an int >= 1, got {chunk_size!r}")
    if jnp.ndim(x) != 1 or jnp.shape(x)[0] < 1:
        raise ValueError(f"x must have shape [dim] with dim >= 1, got shape {jnp.shape(x)}")
    dim = jnp.shape(x)[0]
    if jnp.shape(sigma) not in ((), (dim,)):
        raise ValueError(f"sigma must be a scalar or have shape [dim]=({dim},), "
                         f"got shape {jnp.shape(sigma)}")
    s = _concrete(sigma)
    if s is not None and not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"sigma must be finite and > 0, got {s!r}")
    if directions is not None:
        if jnp.shape(directions) != (dim, dim):
            raise ValueError(f"directions must have shape [dim, dim]=({dim}, {dim}), "
                             f"got shape {jnp.shape(directions)}")
        q = _concrete(directions)
        if q is not None:
            q = q.astype(np.float64)
            err = np.max(np.abs(q.T @ q - np.eye(dim)))
            eps = np.finfo(np.asarray(directions).dtype).eps if np.issubdtype(
                np.asarray(directions).dtype, np.floating) else 1e-16
            tol = max(1e-6, 100.0 * eps * math.sqrt(dim))
            if not np.isfinite(err) or err > tol:
                raise ValueError("directions must be an orthogonal matrix (columns orthonormal):"
                                 f" max |Q^T Q - I| = {err:.3g} > {tol:.3g}")


def estimate(
    f: Callable[[jax.Array], jax.Array],
    x: jax.Array,
    sigma,
    *,
    directions: jax.Array | None = None,
    num_points: int = 5,
    chunk_size: int | None = None,
    validate: bool = True,
) -> Estimate:
    """DGS gradient with its by-products (values, non-finite count, best point seen).

    Args:
      f: black-box objective ``f(x[dim]) -> scalar``; it is ``jax.vmap``-ed here.
      x: ``[dim]`` the point.
      sigma: smoothing radius, scalar or ``[dim]`` (one per direction), > 0.
      directions: ``[dim, dim]`` orthogonal matrix whose *columns* are the directions
        ``xi_i``; ``None`` means the identity (then no matrix product is formed).
      num_points: ``M``, Gauss–Hermite nodes per direction (>= 2).
      chunk_size: at most this many points per batched call of ``f`` (rounded down to a
        whole number of directions, at least one); ``None`` evaluates all in one call.
      validate: check the arguments first (set ``False`` only inside already-checked code).

    Returns:
      An :class:`Estimate`; its ``grad`` has the dtype of ``x``.
    """
    if validate:
        validate_inputs(f, x, sigma, directions, num_points, chunk_size)
    try:
        hash(f)
    except TypeError:  # unhashable callable object: run without the jit wrapper
        return _estimate_impl(f, x, sigma, directions, num_points, chunk_size)
    return _estimate_jit(f, x, sigma, directions, num_points, chunk_size)


def _estimate_impl(f, x, sigma, directions, num_points, chunk_size):
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    dtype = x.dtype
    dim = x.shape[0]
    u_np, p_np = positive_nodes(num_points)
    num_pos = u_np.shape[0]
    u = jnp.asarray(u_np, dtype)
    pu = jnp.asarray(p_np * u_np, dtype)
    sigma_vec = jnp.broadcast_to(jnp.asarray(sigma, dtype), (dim,))
    batched = jax.vmap(f)

    points_per_direction = 2 * num_pos
    if chunk_size is None:
        block = dim
    else:
        block = max(1, min(dim, int(chunk_size) // points_per_direction))
    num_blocks = -(-dim // block)
    padded = num_blocks * block
    sigma_pad = jnp.concatenate([sigma_vec, jnp.ones((padded - dim,), dtype)])
    if directions is not None:
        q = jnp.asarray(directions, dtype)
        q_pad = jnp.concatenate([q, jnp.zeros((dim, padded - dim), dtype)], axis=1)

    def block_values(b):
        """Values ``[2, num_pos, block]`` for directions ``b*block .. b*block+block-1``."""
        start = b * block
        if directions is None:
            idx = start + jnp.arange(block)
            cols = (idx[:, None] == jnp.arange(dim)[None, :]).astype(dtype)  # [block, dim]
        else:
            cols = jax.lax.dynamic_slice_in_dim(q_pad, start, block, axis=1).T
        sig = jax.lax.dynamic_slice_in_dim(sigma_pad, start, block)
        scale = u[:, None] * sig[None, :]  # [num_pos, block]
        offsets = scale[:, :, None] * cols[None, :, :]  # [num_pos, block, dim]
        pts = jnp.stack([x[None, None, :] + offsets, x[None, None, :] - offsets])
        vals = batched(pts.reshape(2 * num_pos * block, dim))
        return jnp.asarray(vals).reshape(2, num_pos, block)

    if num_blocks == 1:
        values = block_values(0)
    else:
        per_block = jax.lax.map(block_values, jnp.arange(num_blocks))  # [nb, 2, K, block]
        values = jnp.moveaxis(per_block, 0, 2).reshape(2, num_pos, padded)
    values = values[:, :, :dim]
    finite = jnp.isfinite(values)
    pair_ok = finite[0] & finite[1]  # [num_pos, dim]
    diff = jnp.where(pair_ok, values[0] - values[1], jnp.zeros((), values.dtype))
    directional = (jnp.sum(pu[:, None] * diff, axis=0) / sigma_vec).astype(dtype)
    if directions is None:
        grad = directional
    else:
        grad = jnp.asarray(directions, dtype) @ directional

    num_nonfinite = jnp.sum(~finite, dtype=jnp.int32)
    masked = jnp.where(finite, values, jnp.inf).reshape(-1)
    flat = jnp.argmin(masked)
    best_f = masked[flat]
    sgn_i, rest = jnp.divmod(flat, num_pos * dim)
    k_i, dir_i = jnp.divmod(rest, dim)
    sign = jnp.where(sgn_i == 0, 1.0, -1.0).astype(dtype)
    if directions is None:
        col = (jnp.arange(dim) == dir_i).astype(dtype)
    else:
        col = jnp.asarray(directions, dtype)[:, dir_i]
    cand = x + sign * u[k_i] * sigma_vec[dir_i] * col
    best_x = jnp.where(jnp.isfinite(best_f), cand, x)
    return Estimate(grad=grad, directional=directional, values=values,
                    num_nonfinite=num_nonfinite, best_f=best_f.astype(dtype), best_x=best_x)


# One compiled program per (f, shapes, M, chunk): eager calls do not dispatch op by op;
# inside an outer jit this is simply inlined.
_estimate_jit = jax.jit(_estimate_impl, static_argnums=(0, 4, 5))


def gradient(
    f: Callable[[jax.Array], jax.Array],
    x: jax.Array,
    sigma,
    *,
    directions: jax.Array | None = None,
    num_points: int = 5,
    chunk_size: int | None = None,
) -> jax.Array:
    """The DGS gradient of ``f`` at ``x`` (Zhang et al. 2021, Eqs. 6-8).

    Args:
      f: black-box objective ``f(x[dim]) -> scalar``; the library ``jax.vmap``-s it.
      x: ``[dim]`` point (float32 or float64; integers are promoted to float32).
      sigma: smoothing radius, a scalar or ``[dim]`` (one per direction), > 0.
      directions: ``[dim, dim]`` orthogonal matrix, columns are the directions;
        ``None`` = identity.
      num_points: Gauss–Hermite nodes per direction ``M`` (>= 2); costs
        ``2 floor(M/2) dim`` evaluations.
      chunk_size: maximum points per batched call of ``f`` (bounds memory); ``None`` = one
        call.

    Returns:
      ``[dim]`` gradient estimate; exact for linear and quadratic ``f`` for any ``sigma``.
      Pairs with a non-finite value contribute zero (see the module docstring).

    Raises:
      ValueError: bad ``num_points``, ``chunk_size``, shapes, ``sigma <= 0`` or
        non-orthogonal ``directions`` (values checked when concrete, before tracing).

    Example:
      >>> g = gradient(lambda x: jnp.sum(x**2), jnp.ones(3), 2.0)   # == [2, 2, 2]
    """
    return estimate(f, x, sigma, directions=directions, num_points=num_points,
                    chunk_size=chunk_size).grad
