"""Batched closures: the batched tensor pass, explicit and float32 rungs, Newton without a
basis rebuild, warm starts, padded subsets and closure_moments."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import maxent
from jaxopt_lab.maxent import Config, Result, dual, ladder, tensor
from jaxopt_lab.maxent.api import float64
from jaxopt_lab.maxent.cases import mixed_uniform_samples, rotated_product
from jaxopt_lab.maxent.config import rung_dtypes
from jaxopt_lab.maxent.precondition import (backward_multipliers, forward_multipliers,
                                            precondition)
from jaxopt_lab.maxent.rules import alpha_rule


def _two_d_rows():
    cases = [rotated_product(2, 4, f, [[1.0, 0.2], [0.1, 0.9]], [0.2 * i, -0.1 * i])
             for i, f in enumerate([["gauss", "skewed"], ["bimodal", "gauss"],
                                    ["skewed", "bimodal"]])]
    return np.stack([c.moments for c in cases]), np.stack([c.multipliers for c in cases])


@pytest.mark.parametrize("dim,order,out_order,points,batch_points,dtype", [
    (1, 4, 8, 12, 1 << 20, np.float64), (2, 6, 12, 20, 1 << 20, np.float64),
    (3, 4, 8, 10, 3000, np.float64), (3, 4, 4, 9, 100, np.float64),
    (4, 4, 8, 6, 1 << 20, np.float64), (3, 4, 8, 10, 3000, np.float32)])
def test_batched_pass_equals_the_one_problem_pass(dim, order, out_order, points,
                                                  batch_points, dtype):
    # 7 problems: chunks of 3 (the padded last chunk repeats the first problem), one chunk,
    # or no chunking (a grid over batch_points: the vmapped one-problem pass).
    rng = np.random.default_rng(dim)
    lam = 0.05 * rng.normal(size=(7, math.comb(order + dim, dim)))
    lam[:, 0] = -1.0
    with float64():
        nodes, weights = (np.asarray(a, dtype) for a in alpha_rule(points, 1.5, 0.5))
        tp = tensor.TensorPass(dim, order, out_order, points, 1 << 16, batch_points)
        got = np.asarray(jax.jit(jax.vmap(lambda m: tp(m, nodes, weights)))(lam.astype(dtype)))
        want = np.stack([np.asarray(tp.one_problem(jnp.asarray(m, dtype), nodes, weights))
                         for m in lam])
    assert got.dtype == dtype
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("kwargs,needle", [
    (dict(rules=()), "non-empty"), (dict(rules=((16,),)), "rungs"),
    (dict(rules=((1, 0.4),)), "rules[0][0]"), (dict(rules=((16, -1.0),)), "rules[0][1]"),
    (dict(rules=((16, 0.4, "float16"),)), "rules[0][2]"),
    (dict(rules=((16, 0.4), (32, 0.4, "float32"))), "last rung must be float64"),
    (dict(rules=((16, 0.4),), quad_points=16), "exclude each other"),
    (dict(rules=((16, 0.4),), sigma=0.5), "sigma must be None"),
    (dict(check_ratio=0.9), "check_ratio"), (dict(reorth="none"), 'method="newton"'),
    (dict(reorth="none", method="bfgs"), 'method="newton"')])
def test_config_rejects_bad_rules_and_options(kwargs, needle):
    with pytest.raises(ValueError) as err:
        Config(3, 4, **kwargs)
    assert needle in str(err.value)


def test_rules_and_their_precisions():
    config = Config(3, 4, rules=[[16, 0.45, "float32"], (32, None)], method="newton")
    assert config.rules == ((16, 0.45, "float32"), (32, None))
    assert maxent.config.ladder(config) == ((16, 0.45), (32, None))
    assert rung_dtypes(config) == ("float32", "float64")
    assert rung_dtypes(Config(3, 4)) == ("float64",) * len(maxent.config.ladder(Config(3, 4)))
    assert dual._slack(jnp.float64) == 1e-14  # float64 answers are those of before
    assert dual._slack(jnp.float32) > 1e-6


def test_newton_without_basis_rebuild_gives_the_known_multipliers():
    moments, multipliers = _two_d_rows()
    kw = dict(quad_points=40, sigma=0.5, method="newton")
    rebuilt = maxent.solve_batch(moments, Config(2, 4, **kw))
    fixed = maxent.solve_batch(moments, Config(2, 4, reorth="none", **kw))
    assert np.all(fixed.result == Result.converged)
    assert np.all(fixed.stats["reorthonormalisations"] == 0)
    assert np.all(rebuilt.stats["reorthonormalisations"] > 0)
    np.testing.assert_allclose(fixed.value, rebuilt.value, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(fixed.value, multipliers, rtol=1e-5, atol=1e-5)


def test_closure_ladder_on_flat_topped_sample_moments():
    moments = mixed_uniform_samples(12, 3000)
    closure = Config(3, 4, rules=maxent.CLOSURE_RULES, method="newton", reorth="none",
                     moment_tol=1e-8, check_ratio=1.15)
    sol = maxent.solve_batch(moments, closure)
    assert np.all(sol.result == Result.converged), Result.names(sol.result)
    assert np.max(sol.stats["moment_error"]) <= 1e-8
    # An independent rule (twice as dense, from closure_moments) reproduces the moments.
    again = maxent.closure_moments(sol, 4, check_ratio=2.0)
    assert np.max(np.abs(again - moments) / np.maximum(1, np.abs(moments))) < 1e-7
    # The float32 rung only seeds the answer: all-float64 rungs give the same multipliers.
    f64 = Config(3, 4, rules=((16, 0.45), (32, 0.4), (40, None)), method="newton",
                 reorth="none", moment_tol=1e-8, check_ratio=1.15)
    np.testing.assert_allclose(sol.value, maxent.solve_batch(moments, f64).value,
                               rtol=1e-7, atol=1e-8)


def test_closure_moments_of_a_gaussian_are_its_higher_moments():
    # Order-4 maxent of a 2-D Gaussian's moments is that Gaussian; its order-6 moments from
    # closure_moments must match an independent Gauss-Legendre integration of the density.
    lam2 = np.array([-2.0, 0.3, -0.2, -0.6, 0.2, -0.4])  # exp of a concave quadratic
    mass = maxent.moments_of_density(0, dim=2, multipliers=lam2, lower=[-8, -8],
                                     upper=[8, 8], num_points=120)[0]
    lam2[0] -= math.log(mass)
    ref6 = maxent.moments_of_density(6, dim=2, multipliers=lam2, lower=[-8, -8],
                                     upper=[8, 8], num_points=120)
    sol = maxent.solve(ref6[:15], Config(2, 4, moment_tol=1e-9))
    assert sol.result == Result.converged
    got = maxent.closure_moments(sol, 6)
    np.testing.assert_allclose(got, ref6, rtol=1e-7, atol=1e-9)
    batch = maxent.closure_moments(maxent.solve_batch(ref6[None, :15], Config(2, 4)), 6)
    np.testing.assert_allclose(batch[0], ref6, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="order"):
        maxent.closure_moments(sol, -1)


def test_warm_start_from_an_answer_takes_fewer_steps_and_bad_starts_fall_back():
    moments, _ = _two_d_rows()
    config = Config(2, 4, quad_points=40, sigma=0.5, method="newton")
    cold = maxent.solve_batch(moments, config)
    warm = maxent.solve_batch(moments, config, init=cold.value)
    assert np.all(warm.result == Result.converged)
    assert np.all(warm.stats["iterations"] <= 1) and np.all(cold.stats["iterations"] > 3)
    np.testing.assert_allclose(warm.value, cold.value, rtol=1e-9, atol=1e-10)
    # Rows whose start is NaN or not integrable start from the Gaussian: the cold answer.
    bad = cold.value.copy()
    bad[0] = np.nan
    bad[1, -1] = 5.0  # a positive quartic coefficient: not integrable
    mixed = maxent.solve_batch(moments, config, init=bad)
    np.testing.assert_array_equal(mixed.stats["iterations"][:2], cold.stats["iterations"][:2])
    assert mixed.stats["iterations"][2] <= 1
    one = maxent.solve(moments[2], Config(2, 4), init=cold.value[2])
    np.testing.assert_allclose(one.value, cold.value[2], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="init"):
        maxent.solve_batch(moments, config, init=np.zeros(7))


def test_forward_multipliers_invert_backward_multipliers():
    moments, multipliers = _two_d_rows()
    with float64():
        pre = precondition(moments, 2, 4)
        lam_alpha = forward_multipliers(pre, multipliers)
        np.testing.assert_allclose(backward_multipliers(pre, lam_alpha), multipliers,
                                   rtol=1e-10, atol=1e-10)


def test_padded_subsets_give_the_unpadded_answers():
    assert [ladder.padded_rows(n, 250) for n in (1, 2, 3, 5, 130, 250)] == [
        1, 2, 4, 8, 250, 250]
    moments, _ = _two_d_rows()
    config = Config(2, 4, quad_points=40, sigma=0.5, method="newton")
    whole = maxent.solve_batch(moments, config)
    with float64():
        from jaxopt_lab.maxent import fixed_rule, prepare as prep_module
        prep = prep_module.prepare(moments, config)
        fn = fixed_rule.compiled(fixed_rule.solver(config, "newton"), True)
        padded = ladder._solve_rows(
            fn, True, prep.problem, fixed_rule.rule(40, prep.pre.alpha, 0.5),
            np.broadcast_to(fixed_rule.gaussian_start(2, 4), (3, 15)).copy(),
            fixed_rule.start_basis(2, 4), fixed_rule.limits(config, "newton"), size=8)
    assert padded.multipliers.shape == (3, 15)
    np.testing.assert_allclose(backward_multipliers(prep.pre, padded.multipliers),
                               whole.value, rtol=1e-9, atol=1e-10)


def test_chunk_of_problems_is_sized_for_the_backend(monkeypatch):
    assert tensor.TensorPass(3, 4, 8, 32).lanes == tensor.BATCH_POINTS // 32**3
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert tensor.TensorPass(3, 4, 8, 32).lanes == tensor.ACCELERATOR_BATCH_POINTS // 32**3
    assert tensor.TensorPass(3, 4, 8, 32, batch_points=64 * 32**3).lanes == 64
