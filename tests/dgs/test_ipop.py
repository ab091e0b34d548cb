"""IPOP-CMA-ES (jaxopt_lab.dgs.ipop): restarts with a doubling population, and they help.

Reference facts: Rastrigin's global minimum is 0 at the origin and its other local minima
lie at integer points with values >= 0.99 (Auger & Hansen 2005 use it to motivate IPOP:
larger populations see its global structure).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("evosax")  # an `experiments` extra, not a `test` one

from jaxopt_lab.dgs.ipop import default_population, ipop_cma_es


def rastrigin(x):
    return 10.0 * x.shape[0] + jnp.sum(x * x - 10.0 * jnp.cos(2.0 * jnp.pi * x))


@pytest.mark.slow
def test_restarts_double_the_population_respect_the_budget_and_help_on_rastrigin():
    dim, budget = 6, 12000
    first_runs, finals = [], []
    for s in range(3):
        res = ipop_cma_es(rastrigin, dim, jax.random.key(s), budget, -5.12, 5.12,
                          max_restarts=3)
        pops = res.population_sizes
        assert pops[0] == default_population(dim)
        assert len(pops) >= 2  # at least one restart happened
        assert all(b == 2 * a for a, b in zip(pops, pops[1:]))
        assert res.num_evals <= budget
        assert all(r != "budget" for r in res.stop_reasons[:-1])  # stopped by a criterion
        # the reported best is a real evaluation
        np.testing.assert_allclose(float(rastrigin(jnp.asarray(res.best_x))), res.best_f,
                                   rtol=1e-5, atol=1e-4)
        assert res.best_f == min(res.run_best)
        assert np.all(np.diff(res.trace_best) <= 0)
        assert res.trace_evals[-1] == res.num_evals
        first_runs.append(res.run_best[0])
        finals.append(res.best_f)
    first_runs, finals = np.array(first_runs), np.array(finals)
    # plain CMA-ES (= the first run) ends in a local minimum; restarts find better basins
    assert np.all(first_runs > 0.9)
    assert np.mean(finals) < np.mean(first_runs) - 1.0
    assert np.sum(finals < first_runs - 0.5) >= 2


@pytest.mark.parametrize("kwargs, name", [
    ({"budget": 0}, "budget"), ({"dim": 1}, "dim"), ({"lower": 1.0, "upper": 1.0}, "upper"),
    ({"inc_popsize": 0}, "inc_popsize")])
def test_bad_arguments_name_the_argument(kwargs, name):
    args = {"dim": 4, "budget": 100, "lower": -1.0, "upper": 1.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        ipop_cma_es(rastrigin, args["dim"], jax.random.key(0), args["budget"], args["lower"],
                    args["upper"], **{k: v for k, v in kwargs.items()
                                      if k == "inc_popsize"})


def test_a_missing_evosax_is_a_clear_import_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "evosax.algorithms", None)  # import now fails
    with pytest.raises(ImportError, match="needs evosax"):
        ipop_cma_es(rastrigin, 4, jax.random.key(0), 100, -1.0, 1.0)
