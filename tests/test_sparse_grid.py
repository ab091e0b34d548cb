"""Smolyak Gauss-Hermite sparse grids against exact Gaussian moments and a tensor rule."""

import itertools
import math

import numpy as np
import pytest

from jaxopt_lab.quadrature import gauss_hermite, tensor_grid
from jaxopt_lab.sparse_grid import nodes_at_level, smolyak_hermite, sparse_size


def _gauss_moment(powers):
    # E[xi^p] for N(0, 1): (p - 1)!! for even p, else 0.
    return math.prod(0.0 if p % 2 else float(math.prod(range(p - 1, 0, -2))) for p in powers)


@pytest.mark.parametrize("dim,level,growth", [(2, 3, "linear"), (3, 3, "linear"),
                                              (3, 2, "doubling"), (5, 2, "linear")])
def test_exact_for_total_degree(dim, level, growth):
    pts, w = smolyak_hermite(dim, level, growth)
    degree = 2 * level + 1
    for powers in itertools.product(range(degree + 1), repeat=dim):
        if sum(powers) > degree:
            continue
        got = np.sum(w * np.prod(pts ** np.array(powers), axis=1))
        assert got == pytest.approx(_gauss_moment(powers), abs=1e-10, rel=1e-10), powers


def test_not_exact_past_its_degree():
    # Level 1 is exact to degree 3; E[xi_1^2 xi_2^2] = 1 is degree 4 and is missed.
    pts, w = smolyak_hermite(2, 1)
    assert abs(np.sum(w * pts[:, 0] ** 2 * pts[:, 1] ** 2) - 1.0) > 0.1


def test_against_tensor_rule_and_analytic_2d():
    # E[cos(a . xi)] = exp(-|a|^2 / 2): the sparse grid converges to it, as the tensor rule.
    a = np.array([0.9, -0.6])
    exact = math.exp(-0.5 * float(a @ a))
    tpts, tw = tensor_grid(gauss_hermite(20, "probabilists", normalized=True), 2)
    tensor = np.sum(tw * np.cos(tpts @ a))
    pts, w = smolyak_hermite(2, 6)
    assert len(w) < len(tw)
    assert np.sum(w * np.cos(pts @ a)) == pytest.approx(exact, abs=1e-10)
    assert tensor == pytest.approx(exact, abs=1e-10)


def test_sizes_weights_and_levels():
    assert sparse_size(3, 0) == 1
    # level 1: the origin and 2 nodes on each axis (the 3-node 1-D rule).
    assert sparse_size(4, 1) == 1 + 2 * 4
    pts, w = smolyak_hermite(4, 3)
    assert np.sum(w) == pytest.approx(1.0, abs=1e-12)
    assert np.any(w < 0)
    assert len(np.unique(np.round(pts, 10), axis=0)) == len(w)  # merged
    assert [nodes_at_level(k, "doubling") for k in (1, 2, 3)] == [1, 3, 7]


@pytest.mark.parametrize("kwargs,match", [(dict(dim=0, level=1), "dim"),
                                          (dict(dim=2, level=-1), "level"),
                                          (dict(dim=2, level=1, growth="cubic"), "growth")])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        smolyak_hermite(**kwargs)
