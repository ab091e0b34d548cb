"""Smolyak sparse grids of 1-D Gauss-Hermite rules: point-set quadrature in many dimensions.

A tensor rule of ``T`` nodes per axis needs ``T^N`` points, out of reach in 8-D. The
Smolyak combination [1] of 1-D rules ``U_l`` (level ``l >= 1``)

    A(q, N) = sum_{q - N + 1 <= |l| <= q} (-1)^(q - |l|) C(N - 1, q - |l|) U_l1 x ... x U_lN

over multi-levels ``l`` with ``|l| = l_1 + ... + l_N``, ``q >= N``, integrates exactly every
polynomial in the span of the tensor spaces ``P_{d(l_1)} x ... x P_{d(l_N)}`` with
``|l| = q``, ``d(l)`` the 1-D degree of ``U_l``. For ``U_l`` the probabilists' Gauss-Hermite rule
with ``n(l) = 2 l - 1`` nodes (degree ``4 l - 3``), the rule of level ``k = q - N`` is exact
for total degree ``<= 2 k + 1`` at least. Points shared by several tensor terms (the 1-D rules
of odd size all contain 0) are merged, summing their weights. Many weights are negative.

Everything is NumPy float64 and runs once per rule.

[1] S. A. Smolyak, Quadrature and interpolation formulas for tensor products of certain
classes of functions, Soviet Math. Dokl. 4 (1963).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from jaxopt_lab.quadrature import gauss_hermite

__all__ = ["smolyak", "smolyak_blocks", "smolyak_hermite", "sparse_size", "nodes_at_level",
           "gauss_from_measure",
           "positive_rule"]


def nodes_at_level(level: int, growth: str = "linear") -> int:
    """``n(l)``: nodes of the 1-D rule at ``level >= 1``: ``2 l - 1`` (``"linear"``) or
    ``2^l - 1`` (``"doubling"``)."""
    if growth == "linear":
        return 2 * level - 1
    if growth == "doubling":
        return 2**level - 1
    raise ValueError(f"growth must be 'linear' or 'doubling', got {growth!r}")


def _levels(dim, total):
    """Multi-levels ``l >= 1`` with ``|l| == total`` (``[*, dim]``)."""
    for cut in itertools.combinations(range(1, total), dim - 1):
        bounds = (0,) + cut + (total,)
        yield tuple(bounds[k + 1] - bounds[k] for k in range(dim))


def smolyak(dim: int, level: int, rule_fn, growth: str = "linear"):
    """Smolyak combination of per-axis 1-D rules: ``points [P, dim]``, ``weights [P]``.

    Args:
      dim: N. level: k >= 0 (``q = N + k``).
      rule_fn: ``rule_fn(axis, n) -> (nodes [n], weights [n])``, the 1-D rule of ``n`` nodes
        on ``axis`` (a Gauss rule of any weight: the grid then integrates against the
        product of the axes' weights).
      growth: as :func:`nodes_at_level`.
    """
    def component(axis, lev):
        nodes, weights = rule_fn(axis, nodes_at_level(lev, growth))
        return np.asarray(nodes)[:, None], np.asarray(weights)

    return smolyak_blocks([1] * dim, level, component)


def smolyak_blocks(sizes, level: int, rule_fn):
    """Smolyak combination over components of ``sizes[c]`` coordinates each.

    ``rule_fn(c, l) -> (points [n, sizes[c]], weights [n])`` is component ``c``'s rule of
    level ``l >= 1``, exact for polynomials of degree ``>= 2 l - 1`` in its coordinates; the
    grid (over ``sum(sizes)`` coordinates, components in order) is exact to total degree
    ``2 level + 1``. Returns ``points [P, sum(sizes)]``, ``weights [P]``; coincident points
    merged.
    """
    dim = len(sizes)
    q = level + dim
    rules = {}
    pts, wts = [], []
    for total in range(max(dim, q - dim + 1), q + 1):
        coef = (-1) ** (q - total) * math.comb(dim - 1, q - total)
        for lv in _levels(dim, total):
            for c, lev in enumerate(lv):
                if (c, lev) not in rules:
                    rules[c, lev] = rule_fn(c, lev)
            parts = [rules[c, lev] for c, lev in enumerate(lv)]
            index = np.stack([g.reshape(-1) for g in np.meshgrid(
                *[np.arange(len(p[1])) for p in parts], indexing="ij")], axis=-1)
            pts.append(np.concatenate([p[0][index[:, c]] for c, p in enumerate(parts)], axis=1))
            wts.append(coef * np.prod([p[1][index[:, c]] for c, p in enumerate(parts)], axis=0))
    pts = np.concatenate(pts)
    wts = np.concatenate(wts)
    # Merge coincident points (symmetric 1-D rules share exact values such as 0).
    key = np.round(pts, 12)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    merged = np.zeros(len(uniq))
    np.add.at(merged, inverse, wts)
    first = np.zeros(len(uniq), np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    keep = merged != 0.0
    return pts[first][keep], merged[keep]


def _hermite_axis(axis, n):
    r = gauss_hermite(n, "probabilists", normalized=True)
    return r.nodes, r.weights


@functools.lru_cache(maxsize=32)
def _smolyak_hermite(dim, level, growth):
    out_p, out_w = smolyak(dim, level, _hermite_axis, growth)
    out_p.setflags(write=False)
    out_w.setflags(write=False)
    return out_p, out_w


def gauss_from_measure(nodes, weights, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n``-node Gauss rule of a discrete measure ``sum_i weights_i delta(nodes_i)``
    (a fine rule times a weight function): Stieltjes' procedure for the three-term
    recurrence, then Golub-Welsch. Weights sum to the measure's mass.

    Args:
      nodes: ``[m]``; weights: ``[m]`` >= 0, with ``m`` well above ``n``. n: >= 1.
    """
    x = np.asarray(nodes, np.float64)
    v = np.asarray(weights, np.float64)
    mass = v.sum()
    a, b = np.zeros(n), np.zeros(n)
    p_prev, p = np.zeros_like(x), np.ones_like(x) / math.sqrt(mass)
    for k in range(n):
        a[k] = np.sum(v * x * p * p)
        q = (x - a[k]) * p - (b[k] * p_prev if k else 0.0)
        if k + 1 < n:
            b[k + 1] = math.sqrt(np.sum(v * q * q))
            p_prev, p = p, q / b[k + 1]
    jac = np.diag(a) + np.diag(b[1:], 1) + np.diag(b[1:], -1)
    ev, vec = np.linalg.eigh(jac)
    return ev, mass * vec[0] ** 2


def positive_rule(points, weights, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """A positive rule on a subset of ``points [m, d]`` with the same integrals as the fine
    rule ``weights [m]`` (>= 0) for every polynomial of total degree ``<= degree``
    (Tchakaloff's theorem; non-negative least squares in a basis orthonormal for the fine
    rule, so at most ``C(degree + d, d)`` points). Returns ``points [n, d]``, ``weights [n]``.
    """
    from scipy.optimize import nnls

    x = np.asarray(points, np.float64)
    w = np.asarray(weights, np.float64)
    scale = np.max(np.abs(x)) or 1.0
    cheb = [np.polynomial.chebyshev.chebvander(x[:, k] / scale, degree) for k in range(x.shape[1])]
    exps = [e for e in itertools.product(range(degree + 1), repeat=x.shape[1]) if sum(e) <= degree]
    phi = np.stack([np.prod([cheb[k][:, e[k]] for k in range(x.shape[1])], axis=0)
                    for e in exps])
    q, _ = np.linalg.qr((phi * np.sqrt(w)).T)
    mat = (q * np.sqrt(w)[:, None]).T  # row r: psi_r(x_i) w_i
    y, _ = nnls(mat, mat.sum(axis=1), maxiter=50 * mat.shape[1])
    keep = y > 0
    return x[keep], (y * w)[keep]


def smolyak_hermite(dim: int, level: int, growth: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """Smolyak rule for ``E[f(xi)]``, ``xi ~ N(0, I_dim)``: ``sum_p w_p f(points_p)``.

    Args:
      dim: N >= 1.
      level: k >= 0 (``q = N + k``; level 0 is the one-point rule at the mean). Exact for
        polynomials of total degree ``<= 2 k + 1`` (and for the 1-D rule's degree along
        each axis alone).
      growth: 1-D rule sizes, ``"linear"`` (``2 l - 1`` nodes) or ``"doubling"``
        (``2^l - 1``).

    Returns:
      ``points [P, dim]`` and ``weights [P]`` (float64, read-only; weights sum to 1, many
      negative).
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be an int >= 1, got {dim!r}")
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or level < 0:
        raise ValueError(f"level must be an int >= 0, got {level!r}")
    nodes_at_level(1, growth)
    return _smolyak_hermite(int(dim), int(level), growth)


def sparse_size(dim: int, level: int, growth: str = "linear") -> int:
    """Number of points of :func:`smolyak_hermite` (after merging)."""
    return int(smolyak_hermite(dim, level, growth)[1].shape[0])
