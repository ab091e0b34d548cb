"""jaxopt_lab.dgs.minimize: one call over make/run, equal to the run it stands for."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import dgs as family
from jaxopt_lab.core import MinimizeResult, run
from jaxopt_lab.dgs import dgs, es

D = 5


def sphere(x):
    return jnp.sum((x - 0.5) ** 2)


def test_minimize_is_the_run_with_the_papers_defaults():
    x0 = jnp.linspace(-1.0, 1.0, D)
    key = jax.random.key(3)
    res = family.minimize(sphere, x0, num_steps=30, width=2.0, key=key)
    assert isinstance(res, MinimizeResult)
    method = dgs.make(sphere, dgs.Config(dim=D))
    final, trace = run(method, jax.random.split(key, 1)[0], x0,
                       dgs.params(2.0, D, horizon=30.0), 30)
    # the same run, vmapped and jitted in minimize: equal to float32 rounding
    np.testing.assert_allclose(float(res.f), float(final.best_f), rtol=1e-3, atol=1e-9)
    np.testing.assert_allclose(np.asarray(res.x), np.asarray(final.best_x), atol=1e-5)
    assert int(res.num_evals) == int(final.num_evals) == 1 + 30 * (4 * D + 1)
    assert res.trace.best_f.shape == (30,)
    assert float(res.f) < 1e-2 * float(sphere(x0))


@pytest.mark.slow
def test_many_starts_bounds_and_options():
    starts = jax.random.uniform(jax.random.key(0), (3, D), minval=-2.0, maxval=2.0)
    res = family.minimize(sphere, starts, method="es", num_steps=40, bounds=(-2.0, 2.0),
                          key=jax.random.key(1), num_pairs=6)
    assert res.trace.best_f.shape == (3, 40)
    per_start = np.asarray(res.stats["best_f_per_start"])
    assert float(res.f) == per_start.min() and int(res.stats["best_start"]) == per_start.argmin()
    assert int(res.num_evals) == 3 * (1 + 40 * 13)
    np.testing.assert_allclose(float(sphere(res.x)), float(res.f), rtol=1e-5)
    # explicit params and config are used as given
    p = es.params(learning_rate=0.1, sigma=0.1)
    again = family.minimize(sphere, starts[0], method="es", num_steps=5, params=p,
                            config=es.Config(dim=D, num_pairs=2), key=jax.random.key(1))
    assert int(again.num_evals) == 1 + 5 * 5


@pytest.mark.parametrize("kwargs,match", [
    (dict(method="lbfgs", width=1.0), "method"),
    (dict(), "give width, bounds or params"),
    (dict(width=-1.0), "width"),
    (dict(bounds=(1.0, -1.0)), "bounds"),
    (dict(width=1.0, bounds=(-1.0, 1.0)), "not both"),
    (dict(width=1.0, num_steps=0), "num_steps"),
    (dict(width=1.0, config=dgs.Config(dim=D), num_points=3), "not both"),
    (dict(width=1.0, x0=jnp.zeros((2, 2, D))), "x0"),
    (dict(width=1.0, x0=jnp.full(D, jnp.nan)), "x0"),
])
def test_bad_input_names_the_argument(kwargs, match):
    args = dict(x0=jnp.zeros(D), num_steps=3, key=jax.random.key(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        family.minimize(sphere, args.pop("x0"), **args)
