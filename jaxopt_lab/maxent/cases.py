"""Densities with known multipliers: held-out cases for the MaxEnt tests and experiments.

Each case is ``rho(x) = exp(sum_i lambda_i x^i)`` with lambda known exactly. Two kinds:

* **Rotated products**: ``rho(x) = |det A| prod_k g_k((A (x - b))_k)``, with 1-D factors
  ``g_k(y) = exp(q_k(y))``. The 1-D moments come from a 1500-node Gauss-Legendre rule,
  the product moments are products, and the moments of x follow exactly by the polynomial
  change of variables; lambda is the exact composition of the ``q_k`` with ``A (x - b)``.
  Non-Gaussian (skewed, bimodal, trimodal), correlated (A not orthogonal-diagonal) and with
  a non-zero mean b.
* **Coupled** 2-D/3-D densities (not products in any frame): moments by direct tensor
  Gauss-Legendre quadrature on a box (:func:`jaxopt_lab.maxent.moments_of_density`).
* **Block products** (:func:`block_product`, the 8-D cases): independent 1-D or coupled
  2-D blocks mixed by a dense linear map; block moments by 1-D or 2-D Legendre rules, the
  rest exact (products, then the polynomial change of variables).

No part of the solver's Gauss-Hermite path is used to make the reference moments.

Besides these, :func:`mixed_uniform_samples` gives sample moments with no known answer:
linearly mixed uniform data, the flat-topped problems of the closure benchmarks.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from jaxopt_lab.maxent.densities import moments_of_density
from jaxopt_lab.maxent.multiindex import index_of, moments_from_samples, multi_indices
from jaxopt_lab.maxent.precondition import affine_matrix

__all__ = ["Case", "make_case", "CASES", "ENVELOPE", "BEYOND", "EIGHT_D", "block_product",
           "block", "BLOCKS_2D", "BLOCKS_3D", "mixed_uniform_samples"]


class Case(NamedTuple):
    name: str
    dim: int
    order: int
    multipliers: np.ndarray  # [K] exact lambda (original frame)
    moments: np.ndarray  # [K] reference moments (m_0 = 1)
    description: str


# 1-D exponents q(y) = sum_p c[p] y^p (c[0] fixed by normalisation), leading coefficient < 0.
FACTORS = {
    2: {"gauss": [0, 0, -0.5]},
    4: {"gauss": [0, 0, -0.5, 0, 0],
        "bimodal": [0, 0, 1.5, 0, -0.5],
        "skewed": [0, 0.6, -0.4, 0.35, -0.2]},
    6: {"gauss": [0, 0, -0.5, 0, 0, 0, 0],
        "bimodal": [0, 0, 1.6, 0, -0.5, 0, -0.02],
        "skewed": [0, 0.5, -0.3, 0.4, -0.1, -0.02, -0.02],
        "trimodal": [0, 0, -0.6, 0, 0.45, 0, -0.06]},
    8: {"gauss": [0, 0, -0.5, 0, 0, 0, 0, 0, 0],
        "bimodal": [0, 0, 1.6, 0, -0.5, 0, 0, 0, -0.005],
        "skewed": [0, 0.5, -0.4, 0.3, -0.1, 0.02, -0.01, 0, -0.002],
        "trimodal": [0, 0, -1.0, 0, 1.0, 0, -0.2, 0, -0.004]},
}


@functools.lru_cache(maxsize=1)
def _legendre_1500():
    # NumPy's leggauss(1500) costs seconds (a 1500 x 1500 eigenproblem): compute it once.
    return np.polynomial.legendre.leggauss(1500)


@functools.lru_cache(maxsize=64)
def _factor_moments(coeffs: tuple, order: int):
    """Normalised c[0] and moments E[y^p], p <= order, of exp(q(y)) (Legendre, 1500 nodes)."""
    c = np.asarray(coeffs, np.float64)
    nodes, weights = _legendre_1500()
    y, weights = 14.0 * nodes, 14.0 * weights
    q = np.polynomial.polynomial.polyval(y, c)
    shift = q.max()
    w = weights * np.exp(q - shift)
    mass = w.sum()
    mom = np.array([np.sum(w * y**p) for p in range(order + 1)]) / mass
    c0 = -(np.log(mass) + shift)
    return c0, mom


def rotated_product(dim, order, factors, matrix, shift, name="", description=""):
    """Case ``|det A| prod_k g_k((A (x - b))_k)`` with 1-D factor names per axis."""
    idx = multi_indices(dim, order)
    table = index_of(dim, order)
    a = np.asarray(matrix, np.float64)
    b = np.asarray(shift, np.float64)
    lam_y = np.zeros(len(idx))
    mom_1d = []
    for k, fname in enumerate(factors):
        c = list(FACTORS[order][fname]) if fname in FACTORS[order] else None
        if c is None:
            c = next(FACTORS[o][fname] for o in sorted(FACTORS) if fname in FACTORS[o])
        c = c + [0.0] * (order + 1 - len(c))
        c0, mom = _factor_moments(tuple(c), order)
        lam_y[0] += c0
        for p in range(1, order + 1):
            e = [0] * dim
            e[k] = p
            lam_y[table[tuple(e)]] += c[p]
        mom_1d.append(mom)
    m_y = np.array([np.prod([mom_1d[k][i[k]] for k in range(dim)]) for i in idx])
    # y = A (x - b): lambda_x = T^T lambda_y + ln|det A| e0; x = A^{-1} y + b.
    t = affine_matrix(dim, order, a, b)
    lam = t.T @ lam_y
    lam[0] += np.log(abs(np.linalg.det(a)))
    ainv = np.linalg.inv(a)
    t_inv = affine_matrix(dim, order, ainv, -a @ b)
    m = t_inv @ m_y
    m[0] = 1.0
    return Case(name, dim, order, lam, m, description)


def block_product(order, blocks, matrix, shift, name="", description=""):
    """Case ``x = A^{-1} y + b`` with ``y`` a product of independent low-dimensional blocks.

    ``rho(x) = |det A| prod_b g_b(y_b)``, ``y = A (x - b)`` split into consecutive blocks;
    each block ``g_b = exp(sum_i c_i y_b^i)`` is an order-``order`` exp-polynomial density
    with its own (normalised) multipliers and moments, given as ``(dim_b, lam_b [K_b],
    m_b [K_b])`` (:func:`block`). The moments of y are products of block moments (the blocks
    are independent), those of x follow multilinearly through the affine map, and the
    exact multipliers by composing the exponent with ``y = A (x - b)``: no quadrature in
    the full dimension.
    """
    dim = sum(blk[0] for blk in blocks)
    idx = multi_indices(dim, order)
    table = index_of(dim, order)
    lam_y = np.zeros(len(idx))
    m_y = np.ones(len(idx))
    start = 0
    for bdim, lam_b, m_b in blocks:
        btable = index_of(bdim, order)
        sub = idx[:, start:start + bdim]
        pos = np.array([btable[tuple(int(v) for v in r)] for r in sub])
        m_y *= np.asarray(m_b)[pos]
        for key, k in btable.items():
            full = [0] * dim
            full[start:start + bdim] = key
            lam_y[table[tuple(full)]] += lam_b[k]
        start += bdim
    a = np.asarray(matrix, np.float64)
    b = np.asarray(shift, np.float64)
    lam = affine_matrix(dim, order, a, b).T @ lam_y
    lam[0] += np.log(abs(np.linalg.det(a)))
    m = affine_matrix(dim, order, np.linalg.inv(a), -a @ b) @ m_y
    m[0] = 1.0
    return Case(name, dim, order, lam, m, description)


def block(order, factor=None, lam_terms=None, half_width=7.0, num_points=None):
    """One block of :func:`block_product`: a 1-D factor of :data:`FACTORS` by name
    (moments by the 1500-node Legendre rule), or a 2-D or 3-D block with explicit
    multipliers ``lam_terms`` (dict multi-index -> value; moments by a tensor Legendre rule
    of ``num_points`` nodes per axis on ``[-half_width, half_width]``, default 200 in 2-D
    and 90 in 3-D). Returns ``(dim_b, lam_b, m_b)``."""
    if factor is not None:
        c = list(FACTORS[order][factor]) + [0.0] * (order + 1 - len(FACTORS[order][factor]))
        c0, mom = _factor_moments(tuple(c), order)
        return 1, np.array([c0] + c[1:]), mom
    dim = len(next(iter(lam_terms)))
    num_points = num_points or (200 if dim == 2 else 90)
    case = coupled(dim, order, lam_terms, half_width, num_points)
    return dim, case.multipliers, case.moments


#: 2-D order-4 blocks (coupled: not products in any frame) for the 8-D cases.
BLOCKS_2D = {
    "ring": {(2, 0): 1.0, (0, 2): 1.0, (4, 0): -0.25, (0, 4): -0.25, (2, 2): -0.5},
    "tilted": {(1, 0): 0.3, (2, 0): -0.3, (1, 1): 0.6, (0, 2): 0.4, (3, 0): 0.1,
               (2, 1): -0.15, (4, 0): -0.12, (0, 4): -0.2, (2, 2): -0.1},
}


#: 3-D order-4 blocks: a spherical shell and a tilted, skewed block. Not products of pairs,
#: so outside the adapted rule's assumption (:mod:`jaxopt_lab.maxent.adapted`).
BLOCKS_3D = {
    "shell": {(2, 0, 0): 1.0, (0, 2, 0): 1.0, (0, 0, 2): 1.0, (4, 0, 0): -0.25,
              (0, 4, 0): -0.25, (0, 0, 4): -0.25, (2, 2, 0): -0.5, (2, 0, 2): -0.5,
              (0, 2, 2): -0.5},
    "tilted": {(1, 0, 0): 0.3, (2, 0, 0): -0.3, (1, 1, 0): 0.6, (0, 2, 0): 0.4,
               (0, 0, 2): -0.5, (0, 1, 1): 0.3, (3, 0, 0): 0.1, (2, 1, 0): -0.15,
               (4, 0, 0): -0.12, (0, 4, 0): -0.2, (2, 2, 0): -0.1, (0, 0, 4): -0.1,
               (1, 1, 2): -0.05, (0, 2, 2): -0.1},
}


def _dense_map(dim, seed):
    """A dense, well-conditioned ``[dim, dim]`` map ``I + G / (2 sqrt(dim))``, G Gaussian."""
    rng = np.random.default_rng(seed)
    return np.eye(dim) + rng.standard_normal((dim, dim)) / (2.0 * math.sqrt(dim))


def coupled(dim, order, lam_terms, half_width, num_points, name="", description=""):
    """Case with explicit multipliers (dict multi-index -> value); moments by Legendre."""
    table = index_of(dim, order)
    lam = np.zeros(len(table))
    for key, val in lam_terms.items():
        lam[table[key]] = val
    m = moments_of_density(order, dim=dim, multipliers=lam, lower=-half_width,
                           upper=half_width, num_points=num_points)
    lam[0] -= math.log(m[0])
    return Case(name, dim, order, lam, m / m[0], description)


def _rotation(dim, seed, scales):
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))
    return np.diag(1.0 / np.asarray(scales, np.float64)) @ q.T


def _cases():
    c = {}
    # ---- 2D order 8 (44 constraints)
    c["2d8_gauss"] = lambda: rotated_product(
        2, 8, ["gauss", "gauss"], _rotation(2, 1, [2.0, 0.5]), [1.0, -0.5], "2d8_gauss",
        "correlated Gaussian, non-zero mean")
    c["2d8_bimodal"] = lambda: rotated_product(
        2, 8, ["bimodal", "skewed"], _rotation(2, 2, [1.5, 0.8]), [0.3, 2.0], "2d8_bimodal",
        "bimodal x skewed, rotated, non-zero mean")
    c["2d8_trimodal"] = lambda: rotated_product(
        2, 8, ["trimodal", "bimodal"], _rotation(2, 3, [1.0, 1.0]), [0.0, 0.0],
        "2d8_trimodal", "trimodal x bimodal (six modes), rotated")
    c["2d8_coupled"] = lambda: coupled(
        2, 8, {(2, 0): 1.0, (0, 2): 1.0, (2, 2): 0.5, (4, 0): -0.6, (0, 4): -0.6,
               (3, 0): 0.3, (1, 2): -0.4, (8, 0): -0.01, (0, 8): -0.01, (4, 4): -0.005},
        6.0, 240, "2d8_coupled", "four-mode coupled density (x^2 y^2 term), skewed")
    # ---- 3D order 6 (83 constraints)
    c["3d6_gauss"] = lambda: rotated_product(
        3, 6, ["gauss"] * 3, _rotation(3, 4, [1.0, 2.0, 0.5]), [0.5, 0.0, -1.0], "3d6_gauss",
        "correlated Gaussian, non-zero mean")
    c["3d6_mixed"] = lambda: rotated_product(
        3, 6, ["bimodal", "skewed", "bimodal"], _rotation(3, 5, [1.0, 1.5, 0.7]),
        [1.0, -1.0, 0.5], "3d6_mixed", "bimodal x skewed x bimodal, rotated, shifted")
    c["3d6_trimodal"] = lambda: rotated_product(
        3, 6, ["bimodal", "skewed", "trimodal"], _rotation(3, 5, [1.0, 1.5, 0.7]),
        [1.0, -1.0, 0.5], "3d6_trimodal",
        "bimodal x skewed x trimodal, rotated, shifted (very light sextic tails)")
    c["3d6_coupled"] = lambda: coupled(
        3, 6, {(2, 0, 0): 0.8, (0, 2, 0): 0.8, (0, 0, 2): -0.5, (1, 1, 1): 0.4,
               (2, 2, 0): 0.2, (4, 0, 0): -0.4, (0, 4, 0): -0.4, (0, 0, 4): -0.1,
               (6, 0, 0): -0.01, (0, 6, 0): -0.01, (0, 0, 6): -0.01},
        5.0, 96, "3d6_coupled", "coupled (xyz and x^2 y^2 terms), four modes")
    # ---- 4D order 4 (69 constraints)
    c["4d4_gauss"] = lambda: rotated_product(
        4, 4, ["gauss"] * 4, _rotation(4, 6, [1.0, 2.0, 0.5, 1.5]), [0.5, 0.0, -1.0, 2.0],
        "4d4_gauss", "correlated Gaussian, non-zero mean")
    c["4d4_mixed"] = lambda: rotated_product(
        4, 4, ["bimodal", "skewed", "bimodal", "skewed"], _rotation(4, 7, [1.0, 1.5, 0.7, 1.2]),
        [1.0, -1.0, 0.5, 0.0], "4d4_mixed", "bimodal/skewed product, rotated, shifted")
    # ---- beyond: 3D order 8 (164), 5D order 4 (125)
    c["3d8_mixed"] = lambda: rotated_product(
        3, 8, ["bimodal", "skewed", "trimodal"], _rotation(3, 8, [1.0, 1.5, 0.7]),
        [1.0, -1.0, 0.5], "3d8_mixed", "bimodal x skewed x trimodal, rotated, shifted")
    c["5d4_mixed"] = lambda: rotated_product(
        5, 4, ["bimodal", "skewed", "bimodal", "skewed", "gauss"],
        _rotation(5, 9, [1.0, 1.5, 0.7, 1.2, 0.9]), [1.0, -1.0, 0.5, 0.0, 0.3], "5d4_mixed",
        "bimodal/skewed/Gaussian product, rotated, shifted")
    c["5d4_quartic"] = lambda: rotated_product(
        5, 4, ["bimodal", "skewed", "bimodal", "skewed", "skewed"],
        _rotation(5, 9, [1.0, 1.5, 0.7, 1.2, 0.9]), [1.0, -1.0, 0.5, 0.0, 0.3], "5d4_quartic",
        "as 5d4_mixed with the Gaussian factor replaced by a skewed quartic one, so the "
        "quartic form is negative definite (5d4_mixed's is only semidefinite)")
    # ---- 8D order 4 (494): independent blocks mixed by a dense map
    c["8d4_blocks1"] = lambda: block_product(
        4, [block(4, f) for f in ["bimodal", "skewed", "gauss", "skewed"] * 2],
        _dense_map(8, 10), np.linspace(-1.0, 1.0, 8), "8d4_blocks1",
        "eight 1-D blocks (bimodal, skewed, Gaussian), dense mixing, shifted")
    c["8d4_blocks2"] = lambda: block_product(
        4, [block(4, lam_terms=BLOCKS_2D[k]) for k in ["ring", "tilted"] * 2],
        _dense_map(8, 11), np.linspace(0.5, -0.5, 8), "8d4_blocks2",
        "four coupled 2-D blocks (ring, tilted), dense mixing, shifted")
    c["8d4_blocks3"] = lambda: block_product(
        4, [block(4, lam_terms=BLOCKS_2D["tilted"]), block(4, "bimodal"), block(4, "skewed"),
            block(4, lam_terms=BLOCKS_2D["ring"]), block(4, "skewed"), block(4, "gauss")],
        _dense_map(8, 12), np.linspace(-0.5, 1.0, 8), "8d4_blocks3",
        "two coupled 2-D blocks and four 1-D blocks, dense mixing, shifted")
    c["8d4_blocks3d"] = lambda: block_product(
        4, [block(4, lam_terms=BLOCKS_3D["shell"]), block(4, lam_terms=BLOCKS_3D["tilted"]),
            block(4, lam_terms=BLOCKS_2D["tilted"])],
        _dense_map(8, 13), np.linspace(-0.5, 0.5, 8), "8d4_blocks3d",
        "two coupled 3-D blocks (shell, tilted) and a coupled 2-D block, dense mixing, "
        "shifted: not a product of pairs in any frame")
    return c


CASES = _cases()
ENVELOPE = ["2d8_gauss", "2d8_bimodal", "2d8_trimodal", "2d8_coupled", "3d6_gauss",
            "3d6_mixed", "3d6_coupled", "3d6_trimodal", "4d4_gauss", "4d4_mixed"]
BEYOND = ["3d8_mixed", "5d4_mixed", "5d4_quartic"]
EIGHT_D = ["8d4_blocks1", "8d4_blocks2", "8d4_blocks3", "8d4_blocks3d"]


@functools.lru_cache(maxsize=64)
def make_case(name: str) -> Case:
    """Builds (and caches) the case called ``name``."""
    if name not in CASES:
        raise ValueError(f"unknown case {name!r}; known: {sorted(CASES)}")
    return CASES[name]()


def mixed_uniform_samples(batch: int, samples: int = 4000, seed: int = 0, dim: int = 3,
                          order: int = 4) -> np.ndarray:
    """``[batch, K]`` sample moments of ``x = A u + b``, ``u`` uniform on ``[-1, 1]^dim``.

    One Gaussian ``A [dim, dim]`` and ``b [dim]`` per problem: flat-topped (platykurtic),
    correlated densities, the hard case for a Gauss-Hermite rule. Their maxent answers are
    not known; use them for throughput and for checks against a denser rule.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(batch):
        u = rng.uniform(-1, 1, (samples, dim))
        a = rng.normal(size=(dim, dim))
        out.append(moments_from_samples(u @ a.T + rng.normal(size=dim), order))
    return np.stack(out)
