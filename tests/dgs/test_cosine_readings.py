"""experiments/dgs_cosine.py: the z-space DGS path and the readings of Eq. (9)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import dgs_cosine as dc
from jaxopt_lab import dgs
from jaxopt_lab.core import run
from jaxopt_lab.problems import highdim as hd


@pytest.mark.parametrize("fid", ["F1", "F4"])
def test_structured_path_equals_the_black_box_dgs_run(fid):
    d, steps = 24, 12
    inst = hd.sample_instance(jax.random.key(3), fid, d)
    path, values = dc.dgs_path(fid, inst, "paper", steps)
    w = hd.width(fid)
    method = dgs.make_dgs(hd.objective(fid, inst), dgs.DGSConfig(dim=d, record_path=True))
    params = dgs.dgs_params(0.05 * math.sqrt(d) * w, 5 * w, horizon=float(steps))
    _, trace = run(method, jax.random.key(0), inst.x0, params, steps)
    scale = float(jnp.max(jnp.abs(path)))
    np.testing.assert_allclose(np.asarray(path[1:]), np.asarray(trace.x), atol=1e-5 * scale)
    np.testing.assert_allclose(np.asarray(values[1:]), np.asarray(trace.f_x), rtol=1e-4)


def test_readings_on_hand_made_paths():
    x_opt = np.array([4.0, 0.0])
    straight = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    r = dc.readings(straight, x_opt)
    for name in dc.READINGS:
        assert r[name] == pytest.approx(0.0, abs=1e-12), name
    # first step orthogonal (distance 1), second points from (0, 1) straight at x_opt (0)
    bent = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 0.0]])
    r = dc.readings(bent, x_opt)
    assert r["eq9"] == pytest.approx(0.5)
    assert r["eq9_first_10"] == pytest.approx(0.5)
    # reference x_opt - x_0 = (4, 0): steps (0, 1) -> 1, (4, -1) -> 1 - 4/sqrt(17)
    assert r["eq9_from_start"] == pytest.approx(0.5 * (1 + 1 - 4 / math.sqrt(17)))
    # displacements (0, 1) -> 1 and (4, 0) -> 0
    assert r["displacement"] == pytest.approx(0.5)
    # closest approach at t = 2 (the end): both steps count
    assert r["eq9_approach"] == pytest.approx(0.5)


def test_first_dgs_step_on_f1_has_the_analytic_steepest_descent_cosine():
    # DGS is the exact gradient of a quadratic, so the first Eq. (9) term is
    # 1 - <-grad F, x_opt - x0> / (|grad F| |x_opt - x0|), computed here by autodiff.
    d = 40
    inst = hd.sample_instance(jax.random.key(7), "F1", d)
    f = hd.objective("F1", inst)
    g = np.asarray(jax.grad(f)(inst.x0), np.float64)
    e = np.asarray(inst.x_opt - inst.x0, np.float64)
    ref = 1 - np.dot(-g, e) / (np.linalg.norm(g) * np.linalg.norm(e))
    out = {}
    path, _ = dc.dgs_path("F1", inst, "paper", 3)
    dc.readings(np.asarray(path), np.asarray(inst.x_opt), out)
    assert out["eq9_terms"][0] == pytest.approx(ref, abs=2e-5)
    assert ref > 0.3  # a 1e6-conditioned ellipsoid: the gradient is far from x_opt - x


def test_schedule_variants_start_and_end_where_the_paper_says():
    for v in ("paper", "concave", "exponential"):
        assert float(dc.schedule(v, "lr", 0.0, 10.0, 200)) == pytest.approx(10.0)
        assert float(dc.schedule(v, "lr", 200.0, 10.0, 200)) == pytest.approx(0.1, rel=1e-5)
    # mid-run: convex quadratic 0.1 + 9.9/4, concave 10 - 9.9/4, geometric sqrt(10*0.1)
    assert float(dc.schedule("paper", "lr", 100.0, 10.0, 200)) == pytest.approx(2.575)
    assert float(dc.schedule("concave", "lr", 100.0, 10.0, 200)) == pytest.approx(7.525)
    assert float(dc.schedule("exponential", "lr", 100.0, 10.0, 200)) == pytest.approx(1.0)
    assert float(dc.schedule("sigma_const", "sigma", 150.0, 10.0, 200)) == 10.0
    with pytest.raises(ValueError, match="variant"):
        dc.schedule("linear", "lr", 0.0, 1.0, 10)
