"""Gradient oracles: the DGS gradient (Zhang et al., UAI 2021, Eqs. 6-8) and its baselines.

For an orthonormal set of directions ``xi_1..xi_d`` (the columns of ``directions``) and
radii ``sigma_1..sigma_d`` (standard deviations), the nonlocal directional derivative along
``xi_i`` is ``D_i = (1 / sigma_i) E_{u ~ N(0, 1)} [F(x + sigma_i u xi_i) u]``, estimated with
an ``M``-point Gauss-Hermite rule (probabilists' nodes ``u_m``, weights ``p_m`` summing to
one; the paper's physicists' form with ``u = sqrt(2) v`` is the same rule). The centre node
(odd ``M``) has ``u = 0`` and is never evaluated, and ``±u_m`` share a weight, so

    D_i = (1 / sigma_i) sum_{u_m > 0} p_m u_m [F(x + sigma_i u_m xi_i) - F(x - sigma_i u_m xi_i)],

and ``g = sum_i D_i xi_i``: ``2 floor(M/2) d`` independent evaluations, made as batched calls
of ``jax.vmap(f)`` in chunks of at most ``chunk_size`` points (built inside each chunk, so
the full ``[(M - 1) d, d]`` batch is never materialised when chunking). Gauss-Hermite with
``M >= 2`` integrates ``u^2`` exactly, so the estimate is the exact gradient of any linear or
quadratic ``F``, for any radii.

The baselines are pure functions of an explicit key, ``oracle(key, f, x, ...)``:
:func:`es_estimate` (antithetic Gaussian smoothing, OpenAI-ES [2]), :func:`fd_estimate`
(central differences on all or a random subset of coordinates) and
:func:`nesterov_estimate` (forward differences along Gaussian directions [3]).

Arguments common to the four: ``f(x[dim]) -> scalar`` the black box (``jax.vmap``-ed
here); ``x`` ``[dim]`` the point; ``chunk_size`` at most this many points per batched call
of ``f`` (``None``: all at once); ``validate`` checks the arguments first (``False`` only
inside already-checked code). An ``f`` with a method ``along_axes(x, steps[K, dim]) ->
[2, K, dim]`` (values at ``x ± steps[k, i] e_i``, e.g.
:class:`jaxopt_lab.problems.highdim.RotatedObjective`) evaluates the axis stencils of
:func:`estimate` (identity directions) and :func:`fd_estimate` (every coordinate) itself,
and ``chunk_size`` does not apply there. Each returns an :class:`Estimate`. Non-finite
values rule: a difference involving a NaN or ±inf value contributes zero, the count of
non-finite values is reported and the best point seen only ever takes a finite value.

[1] J. Zhang, H. Tran, D. Lu, G. Zhang, "Enabling long-range exploration in minimization of
    multimodal functions", UAI 2021. https://proceedings.mlr.press/v161/zhang21a.html
[2] T. Salimans et al., "Evolution strategies as a scalable alternative to reinforcement
    learning", arXiv:1703.03864 (2017).
[3] Y. Nesterov, V. Spokoiny, "Random gradient-free minimization of convex functions",
    Found. Comput. Math. 17 (2017) 527-566.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks
from jaxopt_lab.dgs._descent import best_of, centered_ranks, map_batched
from jaxopt_lab.quadrature import gauss_hermite

__all__ = ["Estimate", "gradient", "estimate", "es_estimate", "fd_estimate",
           "nesterov_estimate", "num_evaluations", "positive_nodes", "FITNESS_SHAPINGS"]

FITNESS_SHAPINGS = ("none", "centered_rank")


class Estimate(NamedTuple):
    """What every oracle returns.

    Attributes:
      grad: ``[dim]`` the gradient estimate (dtype of ``x``).
      best_f: ``[]`` smallest finite value among the evaluations (``+inf`` if none).
      best_x: ``[dim]`` the point where ``best_f`` was found (``x`` if none is finite).
      num_nonfinite: ``[]`` int32 count of non-finite values among the evaluations.
    """

    grad: jax.Array
    best_f: jax.Array
    best_x: jax.Array
    num_nonfinite: jax.Array


def positive_nodes(num_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Positive probabilists' Gauss-Hermite nodes and their normalised weights.

    Returns:
      ``(u, p)``: float64 ``[floor(M/2)]`` nodes ``u_k > 0`` and weights ``p_k`` of the
      ``M``-node rule normalised to an ``N(0, 1)`` expectation.
    """
    _checks.check_int(num_points, "num_points", minimum=2)
    rule = gauss_hermite(num_points, "probabilists", normalized=True)
    keep = rule.nodes > 0
    return rule.nodes[keep], rule.weights[keep]


def num_evaluations(dim: int, num_points: int = 5) -> int:
    """Objective evaluations one DGS gradient costs: ``2 floor(M/2) dim``."""
    _checks.check_int(dim, "dim")
    _checks.check_int(num_points, "num_points", minimum=2)
    return 2 * (num_points // 2) * dim


def _check_common(f, x, radius, radius_name, chunk_size):
    """Checks ``x`` ``[dim]``, ``f`` scalar-valued, ``radius`` ``[]`` or ``[dim]`` and > 0.

    Returns:
      ``x`` as a floating JAX array.
    """
    x = _checks.check_point(x, "x")
    dim = x.shape[0]
    _checks.check_objective(f, dim, "f", dtype=x.dtype)
    if jnp.shape(radius) not in ((), (dim,)):
        raise ValueError(f"{radius_name} must be a scalar or have shape [dim]=({dim},), "
                         f"got shape {jnp.shape(radius)}")
    _checks.check_array(radius, radius_name, positive=True)
    _checks.check_int(chunk_size, "chunk_size", allow_none=True)
    return x


# ------------------------------------------------------------------------------------ DGS


def estimate(f: Callable[[jax.Array], jax.Array], x: jax.Array, sigma, *,
             directions: jax.Array | None = None, num_points: int = 5,
             chunk_size: int | None = None, validate: bool = True) -> Estimate:
    """The DGS gradient with its by-products (best point seen, non-finite count).

    Args:
      sigma: smoothing radius (a standard deviation), ``[]`` or ``[dim]`` (one per
        direction), > 0.
      directions: ``[dim, dim]`` orthogonal matrix whose *columns* are the directions
        ``xi_i``; ``None`` means the identity (then no matrix product is formed).
      num_points: ``M``, Gauss-Hermite nodes per direction (>= 2).
      chunk_size: rounded down to a whole number of directions (at least one).

    Returns:
      An :class:`Estimate` over the ``2 floor(M/2) dim`` evaluations (``f``, ``x`` and
      ``validate`` as in the module docstring).

    Raises:
      ValueError: bad ``num_points``, ``chunk_size``, shapes, ``sigma <= 0``, a non-scalar
        ``f`` or non-orthogonal ``directions`` (values checked where concrete).
    """
    if validate:
        _checks.check_int(num_points, "num_points", minimum=2)
        x = _check_common(f, x, sigma, "sigma", chunk_size)
        _checks.check_orthogonal(directions, "directions", x.shape[0])
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

    if chunk_size is None:
        block = dim
    else:
        block = max(1, min(dim, int(chunk_size) // (2 * num_pos)))
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

    if directions is None and hasattr(f, "along_axes"):
        # the objective evaluates the axis stencil itself (e.g. highdim.RotatedObjective)
        values = jnp.asarray(f.along_axes(x, u[:, None] * sigma_vec[None, :]), dtype)
    elif num_blocks == 1:
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

    def point(flat):
        sgn_i, rest = jnp.divmod(flat, num_pos * dim)
        k_i, dir_i = jnp.divmod(rest, dim)
        sign = jnp.where(sgn_i == 0, 1.0, -1.0).astype(dtype)
        if directions is None:
            col = (jnp.arange(dim) == dir_i).astype(dtype)
        else:
            col = jnp.asarray(directions, dtype)[:, dir_i]
        return x + sign * u[k_i] * sigma_vec[dir_i] * col

    best_f, best_x, num_bad = best_of(values, point, x)
    return Estimate(grad=grad, best_f=best_f.astype(dtype), best_x=best_x,
                    num_nonfinite=num_bad)


# One compiled program per (f, shapes, M, chunk): eager calls do not dispatch op by op;
# inside an outer jit this is simply inlined.
_estimate_jit = jax.jit(_estimate_impl, static_argnums=(0, 4, 5))


def gradient(f: Callable[[jax.Array], jax.Array], x: jax.Array, sigma, *,
             directions: jax.Array | None = None, num_points: int = 5,
             chunk_size: int | None = None) -> jax.Array:
    """The DGS gradient of ``f`` at ``x`` (Zhang et al. 2021, Eqs. 6-8).

    Arguments as :func:`estimate`. Exact for linear and quadratic ``f`` for any ``sigma``.

    Returns:
      ``[dim]`` gradient estimate.

    Example:
      >>> g = gradient(lambda x: jnp.sum(x**2), jnp.ones(3), 2.0)   # == [2, 2, 2]
    """
    return estimate(f, x, sigma, directions=directions, num_points=num_points,
                    chunk_size=chunk_size).grad


# ----------------------------------------------------------------------------- baselines


def es_estimate(key: jax.Array, f: Callable[[jax.Array], jax.Array], x: jax.Array, sigma, *,
                num_pairs: int, fitness_shaping: str = "none",
                chunk_size: int | None = None, validate: bool = True) -> Estimate:
    """Antithetic Gaussian-smoothing (OpenAI-ES) gradient, ``2 num_pairs`` evaluations.

    ``g = 1/(2 P sigma) sum_j (f(x + sigma e_j) - f(x - sigma e_j)) e_j``, ``e_j ~ N(0, I)``;
    with ``fitness_shaping="centered_rank"`` the pair's centred-rank difference replaces the
    value difference and the sum is divided by ``P sigma`` (Salimans et al. 2017). Pairs are
    drawn in chunks of ``chunk_size // 2``; chunk ``c`` draws its noise from
    ``fold_in(key, c)`` (one chunk: the noise is drawn once and kept).

    Args:
      key: PRNG key of this estimate.
      sigma: ``[]`` standard deviation of the Gaussian perturbations, > 0.
      num_pairs: ``P``, antithetic pairs (>= 1).
      fitness_shaping: ``"none"`` or ``"centered_rank"``.
    """
    if validate:
        x = _check_common(f, x, sigma, "sigma", chunk_size)
        _checks.check_array(sigma, "sigma", shape=())
        _checks.check_int(num_pairs, "num_pairs")
        _checks.check_choice(fitness_shaping, "fitness_shaping", FITNESS_SHAPINGS)
    dtype, dim = x.dtype, x.shape[0]
    sigma = jnp.asarray(sigma, dtype)
    chunk_pairs = num_pairs if chunk_size is None else max(1, min(num_pairs, chunk_size // 2))
    num_chunks = -(-num_pairs // chunk_pairs)
    batched = jax.vmap(f)

    def noise(c):
        return jax.random.normal(jax.random.fold_in(key, c), (chunk_pairs, dim), dtype)

    def chunk_values(c, eps=None):
        eps = noise(c) if eps is None else eps
        pts = jnp.concatenate([x[None, :] + sigma * eps, x[None, :] - sigma * eps])
        return batched(pts).reshape(2, chunk_pairs).astype(dtype)

    if num_chunks == 1:
        eps_all = noise(0)
        vals = chunk_values(0, eps_all)[None]  # [1, 2, cp]
    else:
        eps_all = None
        vals = jax.lax.map(chunk_values, jnp.arange(num_chunks))  # [nc, 2, cp]
    valid = (jnp.arange(num_chunks * chunk_pairs) < num_pairs).reshape(num_chunks, chunk_pairs)
    finite = jnp.isfinite(vals)
    if fitness_shaping == "centered_rank":
        flat = jnp.where(valid[:, None, :], vals, jnp.inf)
        ranks = centered_ranks(flat.reshape(-1)).reshape(vals.shape)
        weights = (ranks[:, 0] - ranks[:, 1]) / (num_pairs * sigma)
    else:
        ok = finite[:, 0] & finite[:, 1]
        diff = jnp.where(ok, vals[:, 0] - vals[:, 1], 0.0)
        weights = diff / (2.0 * num_pairs * sigma)
    weights = jnp.where(valid, weights, 0.0)
    if eps_all is not None:
        g = weights[0] @ eps_all
    else:
        g, _ = jax.lax.scan(lambda g, c: (g + weights[c] @ noise(c), None),
                            jnp.zeros((dim,), dtype), jnp.arange(num_chunks))

    def point(flat):
        c_i, rest = jnp.divmod(flat, 2 * chunk_pairs)
        s_i, j_i = jnp.divmod(rest, chunk_pairs)
        eps = eps_all[j_i] if eps_all is not None else noise(c_i)[j_i]
        return x + jnp.where(s_i == 0, 1.0, -1.0).astype(dtype) * sigma * eps

    best_f, best_x, _ = best_of(jnp.where(valid[:, None, :], vals, jnp.inf), point, x)
    num_bad = jnp.sum(~finite & valid[:, None, :], dtype=jnp.int32)
    return Estimate(grad=g, best_f=best_f, best_x=best_x, num_nonfinite=num_bad)


def fd_estimate(key: jax.Array, f: Callable[[jax.Array], jax.Array], x: jax.Array, h, *,
                num_coordinates: int | None = None, chunk_size: int | None = None,
                validate: bool = True) -> Estimate:
    """Central differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` on coordinates ``i``.

    Args:
      key: PRNG key; picks the random subset (unused when every coordinate is taken).
      h: ``[]`` difference step, > 0.
      num_coordinates: ``None`` (or ``dim``): every coordinate, ``2 dim`` evaluations; an
        int ``n < dim``: a uniformly random subset of ``n`` coordinates (the others get a
        zero derivative), ``2 n`` evaluations.
    """
    if validate:
        x = _check_common(f, x, h, "h", chunk_size)
        _checks.check_array(h, "h", shape=())
        _checks.check_int(num_coordinates, "num_coordinates", maximum=x.shape[0],
                          allow_none=True)
    dtype, dim = x.dtype, x.shape[0]
    n = dim if num_coordinates is None else num_coordinates
    h = jnp.asarray(h, dtype)
    idx = jnp.arange(dim) if n == dim else jax.random.permutation(key, dim)[:n]

    def pair(i):
        e = (jnp.arange(dim) == i).astype(dtype) * h
        return jnp.stack([f(x + e), f(x - e)]).astype(dtype)

    if n == dim and hasattr(f, "along_axes"):  # the objective evaluates the stencil
        vals = jnp.asarray(f.along_axes(x, jnp.full((1, dim), h, dtype))[:, 0].T, dtype)
    else:
        chunk = None if chunk_size is None else max(1, chunk_size // 2)
        vals = map_batched(pair, idx, chunk)  # [n, 2]
    finite = jnp.isfinite(vals)
    ok = finite[:, 0] & finite[:, 1]
    d = jnp.where(ok, vals[:, 0] - vals[:, 1], 0.0) / (2.0 * h)
    g = jnp.zeros((dim,), dtype).at[idx].set(d)

    def point(flat):
        r, s = jnp.divmod(flat, 2)
        return x + jnp.where(s == 0, 1.0, -1.0).astype(dtype) * h * (
            jnp.arange(dim) == idx[r]).astype(dtype)

    best_f, best_x, num_bad = best_of(vals, point, x)
    return Estimate(grad=g, best_f=best_f, best_x=best_x, num_nonfinite=num_bad)


def nesterov_estimate(key: jax.Array, f: Callable[[jax.Array], jax.Array], x: jax.Array,
                      sigma, *, num_directions: int = 1, f_x=None,
                      chunk_size: int | None = None, validate: bool = True) -> Estimate:
    """Nesterov-Spokoiny forward differences along Gaussian directions.

    ``g = (1/B) sum_b (f(x + sigma u_b) - f(x)) / sigma * u_b``, ``u_b ~ N(0, I)``: an
    estimate of the gradient of the Gaussian smoothing of ``f`` with standard deviation
    ``sigma`` (the paper's ``mu``). ``num_directions`` evaluations, plus ``f(x)`` if
    ``f_x`` is not given.

    Args:
      key: PRNG key of this estimate.
      sigma: ``[]`` standard deviation of the Gaussian step, > 0.
      num_directions: ``B`` (>= 1).
      f_x: ``f(x)`` if known (a non-finite ``f_x`` gives a zero gradient).
    """
    if validate:
        x = _check_common(f, x, sigma, "sigma", chunk_size)
        _checks.check_array(sigma, "sigma", shape=())
        _checks.check_int(num_directions, "num_directions")
    dtype, dim = x.dtype, x.shape[0]
    f_x = jnp.asarray(f(x) if f_x is None else f_x, dtype)
    sigma = jnp.asarray(sigma, dtype)
    u = jax.random.normal(key, (num_directions, dim), dtype)
    pts = x[None, :] + sigma * u
    vals = map_batched(f, pts, chunk_size).astype(dtype)
    ok = jnp.isfinite(vals) & jnp.isfinite(f_x)
    diff = jnp.where(ok, vals - f_x, 0.0) / sigma
    g = (diff @ u) / num_directions
    best_f, best_x, num_bad = best_of(vals, lambda i: pts[i], x)
    return Estimate(grad=g, best_f=best_f, best_x=best_x, num_nonfinite=num_bad)
