"""Moré-Thuente line search against SciPy's DCSRCH and the strong Wolfe conditions, and the
projected L-BFGS with it against SciPy's L-BFGS-B."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

from jaxopt_lab.basin_hopping import linesearch
from jaxopt_lab.basin_hopping.local import (CONVERGED_FTOL, CONVERGED_GTOL, LINE_SEARCH_FAILED,
                                            NONFINITE, LBFGSConfig, LocalParams, make_lbfgs)
from jaxopt_lab.problems import landscapes

# The six test functions of Moré & Thuente (1994), Sec. 5, with their (ftol, gtol).
def _mt1(a, xp):
    return -a / (a ** 2 + 2.0)


def _mt2(a, xp):
    return (a + 0.004) ** 5 - 2.0 * (a + 0.004) ** 4


def _mt3(a, xp, b=0.01, ell=39.0):
    phi0 = xp.where(a <= 1 - b, 1 - a, xp.where(a >= 1 + b, a - 1, (a - 1) ** 2 / (2 * b) + b / 2))
    return phi0 + 2 * (1 - b) / (ell * np.pi) * xp.sin(ell * np.pi * a / 2)


def _yanai(b1, b2):
    def gam(b):
        return np.sqrt(1 + b * b) - b

    def fn(a, xp):
        return gam(b1) * xp.sqrt((1 - a) ** 2 + b2 ** 2) + gam(b2) * xp.sqrt(a ** 2 + b1 ** 2)

    return fn


CASES = [(_mt1, 1e-3, 0.1), (_mt2, 0.1, 0.1), (_mt3, 0.1, 0.1), (_yanai(1e-3, 1e-3), 1e-3, 1e-3),
         (_yanai(1e-2, 1e-3), 1e-3, 1e-3), (_yanai(1e-3, 1e-2), 1e-3, 1e-3)]


A0S = (1e-3, 1e-1, 1e1, 1e3)


def _ours(fn, a0s, ftol, gtol, max_evals=100):
    """Our search from each first step in ``a0s`` (vmapped, one compilation)."""
    def phi(t):
        f, g = jax.value_and_grad(lambda a: fn(a, jnp))(t)
        return f, g, g

    with jax.enable_x64(True):
        f0, g0 = jax.value_and_grad(lambda a: fn(a, jnp))(jnp.float64(0.0))
        res, st = jax.jit(jax.vmap(lambda a: linesearch.search(
            phi, f0, g0, a, 1e10, ftol=ftol, gtol=gtol, max_evals=max_evals)))(
                jnp.asarray(a0s, jnp.float64))
        return res, st, float(f0), float(g0)


@pytest.mark.parametrize("case", [0, 1, 3] + [pytest.param(c, marks=pytest.mark.slow)
                                             for c in (2, 4, 5)])
def test_more_thuente_follows_dcsrch_and_ends_with_strong_wolfe(case):
    # SciPy's own Python port of MINPACK-2's dcsrch (a private module) as the peer
    dcsrch = pytest.importorskip("scipy.optimize._dcsrch").DCSRCH
    fn, ftol, gtol = CASES[case]
    res, st, f0, g0 = _ours(fn, A0S, ftol, gtol)
    with jax.enable_x64(True):
        dphi = jax.jit(jax.grad(lambda a: fn(a, jnp)))
        for i, a0 in enumerate(A0S):
            calls = []

            def phi_np(a):
                calls.append(a)
                return float(fn(a, np))

            ref = dcsrch(phi_np, lambda a: float(dphi(jnp.float64(a))), ftol, gtol, 0.1, 0.0,
                         1e10)
            stp, _, _, task = ref(a0, phi0=f0, derphi0=g0, maxiter=100)
            # same number of trials (the reference evaluates phi once per trial)
            assert int(st.num_evals[i]) == len(calls), (a0, int(st.num_evals[i]), len(calls))
            assert bool(res.ok[i])
            t, f, g = float(res.step[i]), float(res.f[i]), float(res.g[i])
            assert f <= f0 + ftol * t * g0  # sufficient decrease holds in every case
            if task[:4] == b"CONV":
                assert int(st.status[i]) == linesearch.CONVERGED
                np.testing.assert_allclose(t, stp, rtol=1e-9)
                assert abs(g) <= gtol * abs(g0)  # strong curvature condition
            else:  # the reference's warnings (interval below xtol) are ours too
                assert int(st.status[i]) == linesearch.WARNING


def test_more_thuente_first_function_matches_the_published_result():
    # Moré & Thuente (1994), Table 1: phi(a) = -a / (a^2 + 2), a0 = 1e-3: 6 evaluations,
    # a = 1.4 (the minimiser is sqrt(2)).
    res, st, _, _ = _ours(_mt1, [1e-3], 1e-3, 0.1)
    assert int(st.num_evals[0]) == 6 and round(float(res.step[0]), 1) == 1.4


def test_nonfinite_trials_halve_the_step_and_exhaustion_keeps_the_best_step():
    # phi = (t - 1)^2 - 1 but NaN beyond t = 0.3: the first trial (t = 1) is NaN, the
    # step halves to 0.5 (NaN), 0.25 (finite, sufficient decrease, curvature fails) ...
    def phi(t):
        f = jnp.where(t > 0.3, jnp.nan, (t - 1.0) ** 2 - 1.0)
        return f, 2.0 * (t - 1.0), t

    with jax.enable_x64(True):
        res, st = linesearch.search(phi, jnp.float64(0.0), jnp.float64(-2.0), 1.0, 10.0,
                                    jnp.float64(0.0), gtol=0.1, max_evals=6)
    assert bool(res.ok) and 0.0 < float(res.step) <= 0.3
    assert np.isfinite(float(res.f)) and float(res.f) < 0.0
    assert float(res.aux) == float(res.step)  # the caller's data follows the step
    assert float(st.step_max) <= 0.5


@functools.lru_cache(maxsize=8)
def _minimizer(fn, config):
    lm = make_lbfgs(fn, config)
    return jax.jit(jax.vmap(lm.minimize, in_axes=(0, None, None, None)))


def _solve(fn, x0, lower, upper, tol, **config):
    with jax.enable_x64(True):
        go = _minimizer(fn, LBFGSConfig(line_search="more_thuente", **config))
        return go(jnp.asarray(x0), jnp.asarray(lower, jnp.float64),
                  jnp.asarray(upper, jnp.float64), LocalParams(*map(jnp.float64, tol)))


def _rosen(x, xp=jnp):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@pytest.mark.parametrize("dim,box", [pytest.param(2, 2.0, marks=pytest.mark.slow),
                                     pytest.param(4, 3.0, marks=pytest.mark.slow), (6, 0.8)])
def test_lbfgs_more_thuente_matches_scipy_lbfgsb(dim, box):
    # Rosenbrock, inside a box (box = 0.8 puts the solution on the faces x_i = 0.8): the
    # same final point as SciPy's L-BFGS-B and a comparable number of iterations.
    rng = np.random.default_rng(dim)
    x0 = rng.uniform(-box, box, size=(6, dim))
    lo, hi = np.full(dim, -box), np.full(dim, box)
    st = _solve(_rosen, x0, lo, hi, (1e-12, 1e-8), max_iter=500)
    its, ref_its = [], []
    for i in range(6):
        ref = minimize(lambda x: _rosen(x, np), x0[i], method="L-BFGS-B",
                       jac=lambda x: np.asarray(jax.grad(_rosen)(jnp.asarray(x))),
                       bounds=list(zip(lo, hi)), options=dict(ftol=1e-12, gtol=1e-8))
        if abs(ref.fun - float(st.f[i])) < 1e-8 * max(1.0, abs(ref.fun)):
            np.testing.assert_allclose(np.asarray(st.x[i]), ref.x, atol=1e-3)
        else:  # Rosenbrock in d >= 4 has a second local minimum: same value class
            assert float(st.f[i]) <= ref.fun + 1e-6 or ref.fun > 3.0
        its.append(int(st.iteration[i]))
        ref_its.append(ref.nit)
    assert np.all(np.asarray(st.x) >= lo) and np.all(np.asarray(st.x) <= hi)
    assert np.all(np.isin(np.asarray(st.status), (CONVERGED_GTOL, CONVERGED_FTOL)))
    assert 0.5 * sum(ref_its) <= sum(its) <= 2.0 * sum(ref_its), (its, ref_its)


@pytest.mark.slow
def test_wolfe_conditions_hold_at_every_accepted_step():
    # Step a 4-D Rosenbrock by hand: each iteration whose search converged must satisfy both
    # strong Wolfe conditions along its direction.
    ftol, gtol = 1e-3, 0.9
    with jax.enable_x64(True):
        lo, hi = jnp.full(4, -3.0, jnp.float64), jnp.full(4, 3.0, jnp.float64)
        lm = make_lbfgs(_rosen, LBFGSConfig(line_search="more_thuente"))
        params = LocalParams(jnp.float64(0.0), jnp.float64(1e-10))
        step = jax.jit(lambda s: lm.step(s, lo, hi, params))
        state = lm.init(jnp.asarray([-1.2, 1.0, -0.5, 2.0]), lo, hi, params)
        checked = 0
        for _ in range(150):
            if bool(state.done):
                break
            new = step(state)
            if not bool(new.searching) and int(new.iteration) > int(state.iteration):
                if int(new.search.status) == linesearch.CONVERGED:
                    p = new.direction
                    g0p = float(jnp.dot(state.g, p))
                    t = float(jnp.max(jnp.abs(new.x - state.x)) / jnp.max(jnp.abs(p)))
                    assert g0p < 0
                    assert float(new.f) <= float(state.f) + ftol * t * g0p + 1e-12
                    assert abs(float(jnp.dot(new.g, p))) <= gtol * abs(g0p) + 1e-12
                    checked += 1
            state = new
    assert checked >= 10


@pytest.mark.slow
def test_modified_rosenbrock_restarts_refine_like_lbfgsb():
    # BH-S at T = 0 re-minimises from X when the skipping chain finds nothing. With the
    # notebook's tol = 1e-3 L-BFGS-B's restarts from a point near x* contract towards x*
    # (its line search interpolates); the backtracking search fails there (the unit step
    # overshoots ~8000-fold) and stops. Ours with Moré-Thuente must follow L-BFGS-B.
    ls = landscapes.get("Modified Rosenbrock")
    xs = np.asarray(ls.x_star)[0] + 0.1 * np.random.default_rng(1).standard_normal((3, 2))
    bounds = list(zip(ls.lower, ls.upper))
    x = xs
    for _ in range(4):
        st = _solve(ls.fn, x, ls.lower, ls.upper, (1e-3, 1e-3))
        x = np.asarray(st.x)
    ref = []
    for x0 in xs:
        y = x0
        for _ in range(4):
            y = minimize(ls.np_fn, y, method="L-BFGS-B", bounds=bounds, tol=1e-3).x
        ref.append(y)
    dist = np.max(np.abs(x - ls.x_star[0]), axis=1)
    ref_dist = np.max(np.abs(np.asarray(ref) - ls.x_star[0]), axis=1)
    assert np.all(ref_dist < 1e-5) and np.all(dist < 1e-5), (dist, ref_dist)


@pytest.mark.slow
def test_failed_search_with_empty_memory_ends_and_nonfinite_start_is_reported():
    def fn(x):  # NaN except at the start's neighbourhood: every trial is non-finite
        return jnp.where(jnp.sum((x - 1.0) ** 2) < 1e-3, jnp.sum(x ** 2), jnp.nan)

    st = _solve(fn, np.array([[1.0, 1.0], [5.0, 5.0]]), [-10.0] * 2, [10.0] * 2,
                (1e-9, 1e-9), max_line_search=5)
    assert int(st.status[0]) == LINE_SEARCH_FAILED
    np.testing.assert_array_equal(np.asarray(st.x[0]), [1.0, 1.0])
    assert int(st.num_nonfinite[0]) == 5
    assert int(st.status[1]) == NONFINITE and float(st.f[1]) == np.inf


def test_bad_line_search_config():
    with pytest.raises(ValueError, match="line_search"):
        LBFGSConfig(line_search="wolfe")
    with pytest.raises(ValueError, match="wolfe_ftol"):
        LBFGSConfig(wolfe_ftol=0.95, wolfe_gtol=0.9)
    with pytest.raises(ValueError, match="wolfe_xtol"):
        LBFGSConfig(wolfe_xtol=0.0)
    with pytest.raises(ValueError, match="max_line_search"):
        LBFGSConfig(max_line_search=0)
