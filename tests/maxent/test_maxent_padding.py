"""The ladder's shape classes: rungs padded with zero-weight nodes share a compiled program
and give the unpadded rule's answer up to round-off."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxopt_lab.maxent import Config, fixed_rule
from jaxopt_lab.maxent.cases import make_case
from jaxopt_lab.maxent.config import ladder, padded_sizes
from jaxopt_lab.maxent.precondition import alpha
from jaxopt_lab.maxent.prepare import prepare


@pytest.mark.parametrize("dim, order", [(1, 8), (2, 8), (2, 4), (3, 6), (4, 4), (5, 4)])
def test_padded_sizes_are_classes_of_consecutive_rungs(dim, order):
    config = Config(dim, order)
    sizes = padded_sizes(config)
    rungs = [t for t, _ in ladder(config)]
    assert len(sizes) == len(rungs)
    assert all(s >= t for s, t in zip(sizes, rungs))
    assert list(sizes) == sorted(sizes) and set(sizes) <= set(rungs)
    assert len(set(sizes)) < len(rungs) or dim >= 3
    assert padded_sizes(Config(dim, order, quad_points=17)) == (17,)


def test_two_dimensional_ladder_up_to_64_is_one_class():
    assert padded_sizes(Config(2, 8))[:3] == (64, 64, 64)


def test_padded_rule_has_zero_weights_and_the_same_answer():
    case = make_case("2d8_bimodal")
    config = Config(case.dim, case.order, method="newton")
    with jax.enable_x64(True):
        prep = prepare(np.asarray(case.moments)[None], config)
        problem = jax.tree.map(lambda a: a[0], prep.problem)
        fn = fixed_rule.compiled(fixed_rule.solver(config, "newton"), False)
        lam0 = fixed_rule.gaussian_start(case.dim, case.order)
        basis0 = fixed_rule.start_basis(case.dim, case.order)
        lim = fixed_rule.limits(config, "newton")
        scale = alpha(case.order)
        plain = fixed_rule.rule(40, scale, 0.35)
        padded = fixed_rule.rule(40, scale, 0.35, size=64)
        assert padded.nodes.shape == (64,)
        assert padded.check_nodes.shape == (fixed_rule.check_points(64),)
        np.testing.assert_array_equal(padded.weights[40:], 0.0)
        np.testing.assert_array_equal(padded.nodes[:40], plain.nodes)
        a = jax.tree.map(np.asarray, fn(problem, plain, lam0, basis0, lim))
        b = jax.tree.map(np.asarray, fn(problem, padded, lam0, basis0, lim))
    assert int(a.result) == int(b.result)
    scale_lam = np.max(np.abs(a.multipliers))
    np.testing.assert_allclose(b.multipliers, a.multipliers, rtol=0, atol=1e-10 * scale_lam)
    np.testing.assert_allclose(b.moment_error, a.moment_error, rtol=1e-6, atol=1e-14)
