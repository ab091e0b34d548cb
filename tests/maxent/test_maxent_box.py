"""Box rungs of the maxent ladder: composite Gauss-Legendre rules on the density's box.

The reference is a thin ring, ``rho(x) = exp(lambda_0 - c (|x|^2 - 1)^2)``: an order-4
exp-polynomial whose moments are 1-D integrals in polar coordinates (SciPy's adaptive
``quad`` for the radial part, Beta functions for the angular part), so its multipliers and
moments are known without any 2-D rule.
"""

import math

import numpy as np
import pytest
from scipy import integrate, special

from jaxopt_lab import maxent, quadrature
from jaxopt_lab.maxent import Config, fixed_rule
from jaxopt_lab.maxent.config import rung_dtypes
from jaxopt_lab.maxent.precondition import alpha

RING_C = 300.0


def _radial(c, n):
    """``int_0^inf r^(n+1) exp(-c (r^2 - 1)^2) dr`` (substituting s = r^2)."""
    upper = 1.0 + 40.0 / math.sqrt(c)
    return integrate.quad(lambda s: 0.5 * s ** (n / 2) * math.exp(-c * (s - 1.0) ** 2), 0.0,
                          upper, points=[1.0], epsabs=0.0, epsrel=1e-13, limit=200)[0]


def ring_moments(c, order):
    """``[K]`` moments (graded order) and the mass of ``exp(-c (|x|^2 - 1)^2)``."""
    raw = []
    for a, b in maxent.multi_indices(2, order):
        if a % 2 or b % 2:
            raw.append(0.0)
            continue
        angular = 2.0 * math.exp(special.gammaln((a + 1) / 2) + special.gammaln((b + 1) / 2)
                                 - special.gammaln((a + b + 2) / 2))
        raw.append(_radial(c, a + b) * angular)
    raw = np.array(raw)
    return raw / raw[0], raw[0]


def ring_multipliers(c):
    """Exact ``[15]`` order-4 multipliers: ``-c (x^4 + 2 x^2 y^2 + y^4 - 2 x^2 - 2 y^2 + 1)``
    minus the log-mass."""
    _, mass = ring_moments(c, 0)
    lam = np.zeros(15)
    index = {tuple(int(v) for v in row): k for k, row in enumerate(maxent.multi_indices(2, 4))}
    for powers, coef in {(0, 0): -1.0, (2, 0): 2.0, (0, 2): 2.0, (4, 0): -1.0,
                         (2, 2): -2.0, (0, 4): -1.0}.items():
        lam[index[powers]] = c * coef
    lam[0] -= math.log(mass)
    return lam


def test_box_rungs_solve_a_thin_ring_that_gauss_hermite_rules_do_not():
    moments, _ = ring_moments(RING_C, 4)
    hermite = maxent.solve(moments, Config(2, 4, rules=((64, None), (128, None)),
                                           method="newton", moment_tol=1e-8))
    assert maxent.Result.names(hermite.result) == "inaccurate_quadrature"
    assert float(hermite.stats["moment_error"]) > 1e-6  # the ring is too thin for 128 nodes
    config = Config(2, 4, rules=((64, None), (400, None, "box")), method="newton",
                    moment_tol=1e-8)
    sol = maxent.solve(moments, config)
    assert maxent.Result.names(sol.result) == "converged"
    assert int(sol.stats["quad_points"]) == 400 and np.isnan(sol.stats["sigma"])
    radius = float(sol.stats["box_radius"])
    # The box holds the ring (radius 1, 1/sqrt(var) = sqrt(2) standardised units) with room.
    assert 1.0 < radius * alpha(4) / math.sqrt(2.0) < 5.0
    want = ring_multipliers(RING_C)
    np.testing.assert_allclose(np.asarray(sol.value), want, rtol=0, atol=1e-5 * RING_C)
    # Moments of order 6 of the answer (its box check rule) against the ring's own.
    got = maxent.closure_moments(sol, 6)
    np.testing.assert_allclose(got, ring_moments(RING_C, 6)[0], rtol=0, atol=1e-8)


def test_box_rule_is_exact_per_panel_and_resolves_a_narrow_gaussian():
    rule = fixed_rule.box_rule(800, 3.0)
    panels = quadrature.composite_gauss_legendre(4, 8, -1.0, 2.0)
    # Piecewise degree 15 on panels of width 3/4: x^15 and |x - 0.5|^15 (a kink at an edge).
    np.testing.assert_allclose(np.sum(panels.weights * panels.nodes**15),
                               (2.0**16 - 1.0) / 16, rtol=1e-13)
    np.testing.assert_allclose(np.sum(panels.weights * np.abs(panels.nodes - 0.5) ** 15),
                               (1.5**16 + 1.5**16) / 16, rtol=1e-13)
    # int exp(-(x - 0.3)^2 / (2 w^2)) dx = w sqrt(2 pi), w = 0.03, on both rules of a rung.
    w = 0.03
    for nodes, weights in ((rule.nodes, rule.weights), (rule.check_nodes, rule.check_weights)):
        got = np.sum(weights * np.exp(-0.5 * ((nodes - 0.3) / w) ** 2))
        assert abs(got - w * math.sqrt(2 * math.pi)) < 1e-13
    assert rule.check_nodes.max() > 1.19 * 3.0 and len(rule.check_nodes) > 1.5 * 1.2 * 800


@pytest.mark.parametrize("rules,needle", [
    (((64, None), (400, 0.5, "box")), "rules[1]"),
    (((64, None), (404, None, "box")), "multiple of 8"),
    (((64, None), (400, None, "bxo")), "rules[1][2]")])
def test_config_rejects_bad_box_rungs(rules, needle):
    with pytest.raises(ValueError) as err:
        Config(2, 4, rules=rules)
    assert needle in str(err.value)


def test_box_rungs_are_float64_and_may_end_the_ladder():
    config = Config(2, 8, rules=maxent.BOX_RULES_2D)
    assert rung_dtypes(config)[-2:] == ("box", "box")
    assert maxent.config.ladder(config)[-1] == (1600, None)
    with pytest.raises(ValueError, match="quad_points"):
        fixed_rule.box_rule(12, 1.0)
    with pytest.raises(ValueError, match="radius"):
        fixed_rule.box_rule(16, -1.0)
    with pytest.raises(ValueError, match="num_panels"):
        quadrature.composite_gauss_legendre(0, 8, -1.0, 1.0)
    with pytest.raises(ValueError, match="lower < upper"):
        quadrature.composite_gauss_legendre(2, 8, 1.0, -1.0)
