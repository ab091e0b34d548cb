"""Multi-indices in the graded order, monomial evaluation and sample moments.

Abramov's review, section 3 (notation (3.1)-(3.3)): a monomial is ``x^i = prod_k x_k^{i_k}``
and the moment constraints run over ``I_M = {i : |i| <= M}``. The public order is *graded*:
total degree ascending and, within one degree, lexicographically descending, e.g. for 2D
degree 2: ``(2, 0), (1, 1), (0, 2)``. Because the order is graded, the indices of degree
``<= M`` are a prefix of the indices of degree ``<= 2M``; the solver relies on that.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax.numpy as jnp
import numpy as np

from jaxopt_lab import _checks

__all__ = [
    "multi_indices",
    "num_multi_indices",
    "index_of",
    "moments_from_samples",
    "monomial_blocks",
    "monomials",
]


def _check_dim_order(dim, order):
    _checks.check_int(dim, "dim", minimum=1)
    _checks.check_int(order, "order", minimum=0)
    return int(dim), int(order)


def num_multi_indices(dim: int, order: int) -> int:
    """``K = C(order + dim, dim)``: the number of multi-indices with ``|i| <= order``."""
    dim, order = _check_dim_order(dim, order)
    return math.comb(order + dim, dim)


@functools.lru_cache(maxsize=64)
def _multi_indices(dim, order):
    rows = []
    for degree in range(order + 1):
        block = [c for c in itertools.product(range(degree, -1, -1), repeat=dim)
                 if sum(c) == degree]
        # itertools.product over descending ranges is already lexicographically descending.
        rows.extend(block)
    out = np.asarray(rows, dtype=np.int64).reshape(-1, dim)
    out.setflags(write=False)
    return out


def multi_indices(dim: int, order: int) -> np.ndarray:
    """All multi-indices ``i`` with ``|i| <= order`` in the graded order.

    Args:
      dim: space dimension N (>= 1).
      order: maximum total degree M (>= 0).

    Returns:
      ``[K, dim]`` int64 array, ``K = C(order + dim, dim)``; degree ascending, and
      lexicographically descending within a degree (2D degree 2: (2,0), (1,1), (0,2)).
    """
    dim, order = _check_dim_order(dim, order)
    return _multi_indices(dim, order).copy()


@functools.lru_cache(maxsize=64)
def _index_table(dim, order):
    return {tuple(int(v) for v in row): k for k, row in enumerate(_multi_indices(dim, order))}


def index_of(dim: int, order: int) -> dict:
    """Mapping ``tuple(multi-index) -> position`` in :func:`multi_indices` (a fresh dict)."""
    return dict(_index_table(*_check_dim_order(dim, order)))


@functools.lru_cache(maxsize=64)
def _blocks(dim, order):
    """Per degree d >= 1: (parent positions within block d-1, variable index)."""
    idx = _multi_indices(dim, order)
    table = _index_table(dim, order)
    degrees = idx.sum(axis=1)
    starts = [int(np.searchsorted(degrees, d)) for d in range(order + 2)]
    blocks = []
    for d in range(1, order + 1):
        parents, variables = [], []
        for row in idx[starts[d]:starts[d + 1]]:
            k = int(np.flatnonzero(row)[0])  # first non-zero coordinate
            parent = row.copy()
            parent[k] -= 1
            parents.append(table[tuple(int(v) for v in parent)] - starts[d - 1])
            variables.append(k)
        blocks.append((np.asarray(parents, np.int32), np.asarray(variables, np.int32)))
    return tuple(blocks)


def monomial_blocks(dim: int, order: int):
    """Recurrence tables for :func:`monomials` (cached; exposed for testing)."""
    return _blocks(*_check_dim_order(dim, order))


def monomials(x: jnp.ndarray, order: int) -> jnp.ndarray:
    """All graded monomials ``x^i``, ``|i| <= order``, of points ``x``.

    Built degree by degree (``x^i = x^{i - e_k} x_k``), so the cost is one multiply per
    monomial and no powers are formed.

    Args:
      x: ``[..., dim]`` points (JAX or NumPy).
      order: maximum total degree.

    Returns:
      ``[..., K]`` monomial values in the order of :func:`multi_indices`.
    """
    x = jnp.asarray(x)
    dim = x.shape[-1]
    prev = jnp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    out = [prev]
    for parents, variables in _blocks(dim, order):
        prev = prev[..., parents] * x[..., variables]
        out.append(prev)
    return jnp.concatenate(out, axis=-1)


def _monomials_np(x, order):
    prev = np.ones(x.shape[:-1] + (1,), dtype=np.float64)
    out = [prev]
    for parents, variables in _blocks(x.shape[-1], order):
        prev = prev[..., parents] * x[..., variables]
        out.append(prev)
    return np.concatenate(out, axis=-1)


def moments_from_samples(x, order: int, *, chunk_size: int = 65536) -> np.ndarray:
    """Empirical moments ``(1/n) sum_s x_s^i`` for ``|i| <= order`` (float64, on the host).

    Args:
      x: ``[num_samples, dim]`` samples (finite).
      order: maximum total degree M.
      chunk_size: samples per block (memory ``chunk_size * K`` floats).

    Returns:
      ``[K]`` float64 moments in the graded order; entry 0 is exactly 1.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"x must be a [num_samples, dim] array with num_samples >= 1, "
                         f"got shape {x.shape}")
    _check_dim_order(x.shape[1], order)
    _checks.check_array(x, "x")
    total = np.zeros(num_multi_indices(x.shape[1], order))
    for start in range(0, x.shape[0], chunk_size):
        total += _monomials_np(x[start:start + chunk_size], order).sum(axis=0)
    out = total / x.shape[0]
    out[0] = 1.0
    return out
