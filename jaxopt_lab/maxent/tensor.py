"""Tensor-product quadrature passes for the dual (Abramov review, sections 5 and 8).

On a tensor grid ``x_a = (z_{a_1}, ..., z_{a_N})`` of a 1-D rule ``(z_j, W_j)`` both the
exponent and the moments separate over the axes:

    f(x_a)  = sum_i lambda_i x_a^i = sum_{i_1..i_N} Lam[i_1, ..., i_N] prod_k z_{a_k}^{i_k}
    mu_j    = sum_a exp(f(x_a)) prod_k W_{a_k} z_{a_k}^{j_k}

where ``Lam`` is the ``[(M+1)]^N`` tensor holding ``lambda`` at the graded positions (zero
where ``|i| > M``). Each is a chain of ``N`` small dense contractions with the 1-D Vandermonde
matrices ``V[a, i] = z_a^i`` and ``U[a, j] = W_a z_a^j``: the cost of one pass is about
``T^N (M + 1 + P + 1)`` multiply-adds and ``T^N`` exponentials, instead of
``T^N * C(P + N, N)`` monomial evaluations point by point. All moments of degree ``<= P``
come out of one pass (``P = 2M`` gives the Gram matrix of section 6, ``P = 0`` the mass
needed by a line search).

Memory: the exponent grid is built in blocks of the first axis (``block`` rows of
``T^(N-1)`` points, chosen so a block holds about ``max_points`` values), so only
``O(T^(N-1) (M + 1) + max_points)`` numbers are live; the grid itself is never stored.

Batches: under ``jax.vmap`` over ``lam`` (``solve_batch``) a pass has its own batching
rule (:func:`jax.custom_batching.custom_vmap`). Vmapping the one-problem pass would run
each contraction over the whole batch at once: the exponent grid of every problem goes
through memory three times (dot, exp, dot) with transposes between, and that traffic, not
the arithmetic, set the cost (a 32^3 pass over 256 problems: 40-65 ms). The batched pass
instead takes the problems ``lanes`` at a time (``lax.map``), so a chunk's grid stays in
cache, forms the exponent in Horner form fused with the ``exp``, and orders the
grid so that every contraction is over the first or last axis (no transposing copies):
17-24 ms for the same pass on the development machine. Its sums run in another order, so a
batched answer equals the one-problem answer up to round-off.

The exponent is clipped at 600 before ``exp`` so that a wild line-search trial gives a huge
but finite mass (rejected by the Armijo test) instead of inf/NaN.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.maxent.multiindex import _multi_indices

__all__ = ["dense_positions", "TensorPass", "make_pass", "grid_values", "num_moments", "EXP_CLIP",
           "DEFAULT_MAX_POINTS", "BATCH_POINTS", "ACCELERATOR_BATCH_POINTS"]

EXP_CLIP = 600.0
#: Points per block of the exponent grid (cache-sized: measured 3-4x faster than one block
#: on a 40^4 grid on CPU; the minimum block is one row of T^(N-1) points).
DEFAULT_MAX_POINTS = 1 << 16
#: Grid points per chunk of problems in the batched pass on a CPU (``lanes = BATCH_POINTS
#: // T^N``; measured on a 32^3 grid: 16-64 problems per chunk, 0.5-2 M points, were within
#: 20 % of each other and 2-2.6x faster than vmapping the one-problem pass). A problem whose
#: grid is larger uses the vmapped one-problem pass, blocked by ``max_points``.
BATCH_POINTS = 1 << 20
#: The same on an accelerator, where a chunk must fill the device rather than a cache: about
#: 256 MB of float64 per grid-sized array (not measured here; no accelerator was at hand).
ACCELERATOR_BATCH_POINTS = 1 << 25


@functools.lru_cache(maxsize=128)
def _dense_positions(dim, order, width):
    idx = _multi_indices(dim, order)
    strides = width ** np.arange(dim - 1, -1, -1)
    out = (idx * strides[None, :]).sum(axis=1).astype(np.int32)
    out.setflags(write=False)
    return out


def dense_positions(dim: int, order: int, width: int | None = None) -> np.ndarray:
    """``[K]`` flat C-order positions of the graded multi-indices in a ``[width]^dim`` tensor.

    ``width`` defaults to ``order + 1``.
    """
    return _dense_positions(int(dim), int(order), int(order + 1 if width is None else width)
                            ).copy()


def _block_size(num_points: int, dim: int, max_points: int) -> int:
    rest = num_points ** (dim - 1)
    return int(max(1, min(num_points, max_points // max(1, rest))))


class TensorPass:
    """One quadrature pass ``lam -> moments of degree <= out_order`` on a tensor grid.

    Built once per static shape; call :meth:`__call__` inside jit (it is pure JAX and
    vmappable over ``lam`` and ``extra``).

    Args:
      dim: N. order: M (degree of the exponent). out_order: P (degree of the moments).
      num_points: T, nodes per axis (static: it fixes the blocking).
      max_points: points per block of the exponent grid (one problem).
      batch_points: grid points per chunk of problems under ``vmap``; None:
        :data:`BATCH_POINTS` on a CPU, :data:`ACCELERATOR_BATCH_POINTS` otherwise.
    """

    def __init__(self, dim: int, order: int, out_order: int, num_points: int,
                 max_points: int = DEFAULT_MAX_POINTS, batch_points: int | None = None):
        self.dim, self.order, self.out_order = int(dim), int(order), int(out_order)
        self.num_points = int(num_points)
        self.block = _block_size(self.num_points, self.dim, int(max_points))
        self.num_blocks = -(-self.num_points // self.block)
        self.pad = self.num_blocks * self.block - self.num_points
        # NumPy constants (a cached pass may be first built inside a trace).
        self.lam_pos = _dense_positions(self.dim, self.order, self.order + 1)
        self.out_pos = _dense_positions(self.dim, self.out_order,
                                        self.out_order + 1)
        if batch_points is None:
            batch_points = (BATCH_POINTS if jax.default_backend() == "cpu"
                            else ACCELERATOR_BATCH_POINTS)
        self.lanes = int(batch_points) // self.num_points**self.dim
        self._batchable = jax.custom_batching.custom_vmap(
            lambda lam, nodes, weights: self.one_problem(lam, nodes, weights))
        self._batchable.def_vmap(self._vmap_rule)

    def _vandermonde(self, nodes, weights):
        top = max(self.order, self.out_order)
        # z^p by repeated multiplication (exact z^0 = 1; no float powers of negative z).
        cols = jnp.concatenate([jnp.ones_like(nodes)[:, None],
                                jnp.broadcast_to(nodes[:, None], (nodes.shape[0], top))], axis=1)
        powers = jnp.cumprod(cols, axis=1)
        vand = powers[:, :self.order + 1]
        uand = weights[:, None] * powers[:, :self.out_order + 1]
        return vand, uand

    def __call__(self, lam, nodes, weights, extra=None):
        """Moments ``[C(P + N, N)]`` (graded order) of ``exp(f)`` on the grid.

        Args:
          lam: ``[K]`` multipliers of degree ``<= M`` (graded order).
          nodes: ``[T]`` the 1-D rule's nodes (may be traced).
          weights: ``[T]`` its weights.
          extra: optional ``[T, T^(N-1)]`` additive term of the exponent on the grid (C
            order), e.g. a log-prior; None for none.
        """
        if extra is None:
            return self._batchable(lam, nodes, weights)
        return self.one_problem(lam, nodes, weights, extra)

    def _vmap_rule(self, axis_size, in_batched, lam, nodes, weights):
        """Batching rule: problems ``lanes`` at a time when only ``lam`` is batched."""
        lam_batched, nodes_batched, weights_batched = in_batched
        if nodes_batched or weights_batched or not lam_batched or self.lanes < 1:
            axes = tuple(0 if b else None for b in in_batched)
            return jax.vmap(self.one_problem, in_axes=axes)(lam, nodes, weights), True
        chunks = -(-axis_size // self.lanes)
        lanes = -(-axis_size // chunks)  # equal chunks: at most chunks - 1 padded problems
        pad = chunks * lanes - axis_size
        if pad:  # repeat the first problem; its extra answers are dropped
            lam = jnp.concatenate([lam, jnp.broadcast_to(lam[:1], (pad,) + lam.shape[1:])])
        vand, uand = self._vandermonde(nodes, weights)
        out = jax.lax.map(lambda chunk: self._lanes_moments(chunk, nodes, vand, uand),
                          lam.reshape((chunks, lanes) + lam.shape[1:]))
        return out.reshape((chunks * lanes,) + out.shape[2:])[:axis_size], True

    def _lanes_moments(self, lam, nodes, vand, uand):
        """Moments ``[c, C(P + N, N)]`` of ``c`` problems ``lam [c, K]`` on one grid.

        Layout ``[c, t_2, ..., t_N, t_1]``: the exponent's first-axis contraction is Horner's
        rule in ``z_1`` (fused with the ``exp``), the moment contractions take ``t_1`` (last
        axis) and then ``t_2, ..., t_N`` (first axis after ``c``) in turn.
        """
        dim, width, t = self.dim, self.order + 1, self.num_points
        lam_dense = jnp.zeros((lam.shape[0], width**dim), lam.dtype).at[:, self.lam_pos].set(lam)
        h = lam_dense.reshape((lam.shape[0],) + (width,) * dim)  # [c, i_1, ..., i_N]
        for _ in range(dim - 1):  # i_2, ..., i_N -> t_2, ..., t_N (each new axis goes last)
            h = jnp.tensordot(h, vand, axes=([2], [1]))
        # h [c, i_1, t_2, ..., t_N]
        # Horner in z_1 (as one loop fusion it ran 2x faster than a sum of products).
        z = nodes.reshape((1,) * dim + (t,))
        f = h[:, width - 1, ..., None]
        for i in range(width - 2, -1, -1):
            f = f * z + h[:, i, ..., None]  # [c, t_2, ..., t_N, t_1]
        r = jnp.exp(jnp.minimum(f, EXP_CLIP))
        m = r @ uand  # [c, t_2, ..., t_N, q_1]
        for _ in range(dim - 1):  # t_k -> q_k, appended last
            m = jnp.tensordot(m, uand[:t], axes=([1], [0]))
        return m.reshape(lam.shape[0], -1)[:, self.out_pos]

    def one_problem(self, lam, nodes, weights, extra=None):
        """The one-problem pass (see :meth:`__call__`), blocked over the first axis."""
        dim, width = self.dim, self.order + 1
        t = self.num_points
        vand, uand = self._vandermonde(nodes, weights)
        lam_dense = jnp.zeros(width**dim, lam.dtype).at[self.lam_pos].set(lam)
        # Contract axes 2..N of Lam with V: h [M+1, T^(N-1)].
        h = lam_dense.reshape((width,) * dim)
        for _ in range(dim - 1):
            h = jnp.tensordot(h, vand, axes=([1], [1]))
        h = h.reshape(width, -1)
        if self.pad:
            vand = jnp.concatenate([vand, jnp.zeros((self.pad, width), vand.dtype)])
            uand = jnp.concatenate([uand, jnp.zeros((self.pad, uand.shape[1]), uand.dtype)])
            if extra is not None:
                extra = jnp.concatenate(
                    [extra, jnp.zeros((self.pad, extra.shape[1]), extra.dtype)])
        out_width = self.out_order + 1

        def block_moments(v_blk, u_blk, e_blk):
            f = v_blk @ h  # [b, T^(N-1)]
            if e_blk is not None:
                f = f + e_blk
            r = jnp.exp(jnp.minimum(f, EXP_CLIP))
            r = r.reshape((v_blk.shape[0],) + (t,) * (dim - 1))
            for _ in range(dim - 1):
                r = jnp.tensordot(r, uand[:t], axes=([1], [0]))
            return jnp.tensordot(u_blk, r, axes=([0], [0]))  # [(P+1)]^N

        if self.num_blocks == 1:
            dense = block_moments(vand, uand, extra)
        else:
            b = self.block
            vb = vand.reshape(self.num_blocks, b, width)
            ub = uand.reshape(self.num_blocks, b, out_width)
            eb = None if extra is None else extra.reshape(self.num_blocks, b, -1)

            def body(acc, xs):
                v_blk, u_blk = xs[0], xs[1]
                e_blk = xs[2] if len(xs) > 2 else None
                return acc + block_moments(v_blk, u_blk, e_blk), None

            xs = (vb, ub) if eb is None else (vb, ub, eb)
            init = jnp.zeros((out_width,) * dim, lam.dtype)
            dense, _ = jax.lax.scan(body, init, xs)
        return dense.reshape(-1)[self.out_pos]


@functools.lru_cache(maxsize=256)
def make_pass(dim: int, order: int, out_order: int, num_points: int,
              max_points: int = DEFAULT_MAX_POINTS) -> TensorPass:
    """Cached :class:`TensorPass` for one static shape."""
    return TensorPass(dim, order, out_order, num_points, max_points)


def grid_values(fn: Callable, nodes, dim: int):
    """``fn(x)`` at every point of the tensor grid, as ``[T, T^(N-1)]`` (C order).

    Used once per solve for a general log-prior; ``fn`` maps ``x [dim]`` to a scalar.
    """
    t = nodes.shape[0]
    grids = jnp.meshgrid(*([nodes] * dim), indexing="ij")
    pts = jnp.stack([g.reshape(-1) for g in grids], axis=-1)
    vals = jax.lax.map(jax.vmap(fn), pts.reshape(t, -1, dim))
    return vals.reshape(t, -1)


def num_moments(dim: int, order: int) -> int:
    """``C(order + dim, dim)``."""
    return math.comb(order + dim, dim)
