"""``experiments.maxent_sparse``: the rule-error table's approaches on a small 2-D case."""

import numpy as np

from experiments import maxent_sparse
from jaxopt_lab.maxent import cases
from jaxopt_lab.maxent.api import float64


def test_rule_errors_rank_the_approaches_2d():
    case = cases.rotated_product(2, 4, ["bimodal", "skewed"], cases._rotation(2, 3, [1.0, 1.4]),
                                 [0.2, -0.3], "2d4")
    prof = dict(sparse_levels=(6,), doubling=(), sobol=10, adapted_levels=(3,))
    with float64():
        got = maxent_sparse._rule_errors(case, prof)
    names = maxent_sparse._rule_names(prof)
    assert len(names) == got["error"].shape[1] == 3
    err = dict(zip(names, got["error"][0]))
    # the adapted grid is exact for a rotated product; Gauss-Hermite and Sobol are not
    assert err["adapted Smolyak, level 3"] < 1e-10
    assert err["Gauss-Hermite Smolyak, level 6"] > 1e-4
    assert err["Sobol, 2^10 points (Gaussian importance)"] > 1e-4
    assert np.all(got["points"][0] > 0)
