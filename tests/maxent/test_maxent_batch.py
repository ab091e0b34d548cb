"""solve_batch (vmap of the fixed-rule solve), result codes per row, jit, and the pytree."""

import jax
import numpy as np
import pytest

from jaxopt_lab import maxent
from jaxopt_lab.maxent import Config, Result, config as config_module, fixed_rule, ladder
from jaxopt_lab.maxent.api import float64
from jaxopt_lab.maxent.cases import rotated_product
from jaxopt_lab.maxent.multiindex import index_of
from jaxopt_lab.maxent.prepare import prepare

FIXED = dict(quad_points=40, sigma=0.5, method="newton")


def _good_rows():
    cases = [rotated_product(2, 4, f, [[1.0, 0.2], [0.1, 0.9]], [0.2 * i, -0.1 * i])
             for i, f in enumerate([["gauss", "skewed"], ["bimodal", "gauss"],
                                    ["skewed", "bimodal"]])]
    return np.stack([c.moments for c in cases])


def _heavy_tailed():
    """Product of a kurtosis-6 and a Gaussian axis: realisable, but the maximum-entropy
    density would need a positive quartic coefficient (kurtosis > 3), so no integrable
    answer exists and any discrete answer fails the integrability test."""
    a, b = [1, 0, 1, 0, 6.0], [1, 0, 1, 0, 3.0]
    return np.array([a[i] * b[j] for i, j in maxent.multi_indices(2, 4)])


def test_batch_equals_loop():
    moments = _good_rows()
    batch = maxent.solve_batch(moments, Config(2, 4, **FIXED))
    assert batch.value.shape == (3, 15) and batch.result.shape == (3,)
    for i, m in enumerate(moments):
        one = maxent.solve(m, Config(2, 4, **FIXED))
        np.testing.assert_allclose(batch.value[i], one.value, rtol=1e-9, atol=1e-10)
        assert batch.result[i] == one.result == Result.converged
        assert batch.stats["iterations"][i] == one.stats["iterations"]


def test_bad_rows_get_their_own_codes_and_leave_the_good_rows_alone():
    good = _good_rows()
    nonfinite = good[0].copy()
    nonfinite[3] = np.inf
    unnormalised = 2 * good[1]
    not_realisable = good[2].copy()
    not_realisable[index_of(2, 4)[(4, 0)]] = 0.5  # m_40 < m_20^2
    rows = np.stack([good[0], nonfinite, good[1], unnormalised, not_realisable,
                     _heavy_tailed(), good[2]])
    config = Config(2, 4, **FIXED)
    sol = maxent.solve_batch(rows, config)
    assert list(Result.names(sol.result)) == [
        "converged", "nonfinite", "converged", "not_realisable", "not_realisable",
        "not_integrable", "converged"]
    assert np.all(np.isnan(sol.value[[1, 3, 4]]))
    assert sol.stats["top_form_max"][5] > 0
    # The rows that were solved are exactly what a batch of those rows alone gives (bad
    # input rows never enter the vmapped solve), and the good ones their single solves to
    # round-off.
    solved = [0, 2, 5, 6]
    alone = maxent.solve_batch(rows[solved], config)
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(lambda a: a[solved], sol), alone)
    for i, row in zip((0, 2, 6), good):
        one = maxent.solve(row, config)
        np.testing.assert_allclose(sol.value[i], one.value, rtol=1e-9, atol=1e-10)
    # The single solve gives the same codes for the bad rows.
    for i in (1, 3, 4, 5):
        assert maxent.solve(rows[i], config).result == sol.result[i]


def test_auto_method_means_newton_for_a_batch():
    assert config_module.attempts(Config(2, 4), batched=True) == ("newton",)
    assert config_module.attempts(Config(2, 4), batched=False) == ("bfgs", "newton")
    assert config_module.attempts(Config(2, 4, method="bfgs"), batched=True) == ("bfgs",)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["bfgs", "newton"])
def test_jit_of_the_fixed_rule_solve_equals_eager(method):
    config = Config(2, 4, quad_points=40, sigma=0.5, method=method)
    with float64():
        prep = prepare(_good_rows()[1:2], config)
        problem = jax.tree.map(lambda a: a[0], prep.problem)
        args = (problem, fixed_rule.rule(40, prep.pre.alpha, 0.5),
                fixed_rule.gaussian_start(2, 4), fixed_rule.start_basis(2, 4),
                fixed_rule.limits(config, method))
        fn = fixed_rule.solver(config)
        eager = fn(*args)
        jitted = jax.jit(fn)(*args)
        vmapped = jax.vmap(fn, in_axes=(0, None, None, None, None))(
            jax.tree.map(lambda a: a[None], problem), *args[1:])
    assert int(eager.result) == Result.converged
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12),
                 eager, jitted)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[0], rtol=1e-10, atol=1e-12),
                 eager, vmapped)
    assert int(eager.iterations) == int(jitted.iterations) > 0


def test_solution_is_a_pytree_of_arrays():
    sol = maxent.solve(_good_rows()[0], Config(2, 4, **FIXED))
    batch = maxent.solve_batch(_good_rows(), Config(2, 4, **FIXED))
    assert jax.tree.structure(sol) == jax.tree.structure(batch)
    assert all(isinstance(leaf, np.ndarray) for leaf in jax.tree.leaves(batch))
    shapes = jax.tree.map(np.shape, sol)
    assert shapes.value == (15,) and shapes.result == () and shapes.state.basis == (15, 15)
    assert all(np.shape(v) == () for v in sol.stats.values())
    doubled = jax.tree.map(lambda a: 2 * a, sol)
    np.testing.assert_array_equal(doubled.value, 2 * sol.value)
    # Row i of a batch is a solution of its own.
    row = jax.tree.map(lambda a: a[1], batch)
    pts = np.zeros((3, 2))
    np.testing.assert_allclose(maxent.log_density(row, pts),
                               maxent.log_density(maxent.solve(_good_rows()[1],
                                                               Config(2, 4, **FIXED)), pts),
                               rtol=1e-9)
    with pytest.raises(ValueError, match="single solution"):
        maxent.log_density(batch, pts)


def _outcome(code, err, iterations, batch=1):
    fill = ladder._default(Config(1, 2), batch)._asdict()
    fill.update(result=np.full(batch, code, np.int32), moment_error=np.full(batch, err),
                iterations=np.full(batch, iterations), multipliers=np.full((batch, 3), err))
    return ladder.Outcome(**fill)


def test_auto_method_keeps_the_attempt_that_met_the_tolerance():
    redo = np.ones(1, bool)
    failed = _outcome(Result.max_steps, 1e-2, 500)
    good = _outcome(Result.converged, 1e-9, 40)
    chosen = ladder._better(failed, good, redo, 1e-6)
    assert chosen.multipliers[0, 0] == 1e-9 and chosen.iterations[0] == 540
    # neither met the tolerance: the smaller moment error wins
    worse = _outcome(Result.max_steps, 5e-1, 10)
    assert ladder._better(failed, worse, redo, 1e-6).multipliers[0, 0] == 1e-2
    assert ladder._better(worse, failed, redo, 1e-6).multipliers[0, 0] == 1e-2
    # a row that is not redone keeps its first answer and its step count
    kept = ladder._better(failed, good, np.zeros(1, bool), 1e-6)
    assert kept.multipliers[0, 0] == 1e-2 and kept.iterations[0] == 500


@pytest.mark.slow
def test_batch_auto_ladder():
    cases = [rotated_product(2, 4, f, np.eye(2), [0.0, 0.0])
             for f in (["gauss", "gauss"], ["bimodal", "skewed"])]
    sol = maxent.solve_batch(np.stack([c.moments for c in cases]), Config(2, 4))
    assert np.all(sol.result == Result.converged)
    for i, c in enumerate(cases):
        np.testing.assert_allclose(sol.value[i], c.multipliers, atol=1e-6)
