"""``python -m experiments.dgs_cosine``: its z-space DGS path equals the black-box DGS run,
its schedule variants follow their documented formulas, and Eq. (9)'s first term is the
analytic one (the readings themselves: tests/dgs/test_highdim.py)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.core import run
from jaxopt_lab.dgs import dgs, gradient
from jaxopt_lab.problems import highdim as hd
from jaxopt_lab.sweeps import seed_keys
from tests.dgs.experiment_runs import run_experiment


def _instance(fid, d):
    """The instance the experiment draws for seed 0 (root seed 0)."""
    k_inst, _ = jax.random.split(seed_keys(0, [0])[0])
    return hd.sample_instance(k_inst, fid, d)


def _per_step(out, variant, fid, d):
    data = np.load(out / f"per_step_{variant}_{fid}_d{d}_m5.npz")
    return {name: data[name][0] for name in data.files}  # seed 0


@pytest.mark.slow
def test_structured_path_equals_the_black_box_dgs_run_and_the_first_cosine(tmp_path):
    d, steps = 24, 12
    run_experiment("dgs_cosine", "--profile", "quick", "--dim", str(d), "--seeds", "1",
                   "--functions", "F1,F4", "--variants", "paper", "--iters", str(steps),
                   "--out", str(tmp_path))
    for fid in ("F1", "F4"):
        inst = _instance(fid, d)
        out = _per_step(tmp_path, "paper", fid, d)
        method = dgs.make(hd.objective(fid, inst), dgs.Config(dim=d, record_path=True))
        params = dgs.params(hd.width(fid), d, horizon=float(steps))
        _, trace = run(method, jax.random.key(0), inst.x0, params, steps)
        path = np.concatenate([np.asarray(inst.x0)[None], np.asarray(trace.x)])
        dist = np.linalg.norm(path - np.asarray(inst.x_opt)[None], axis=1)
        scale = float(np.max(np.abs(path)))
        np.testing.assert_allclose(out["dist"], dist, atol=1e-5 * scale * math.sqrt(d))
        np.testing.assert_allclose(out["f"][1:], np.asarray(trace.f_x), rtol=1e-4)
    # DGS is the exact gradient of a quadratic, so the first Eq. (9) term on F1 is
    # 1 - <-grad F, x_opt - x0> / (|grad F| |x_opt - x0|), computed here by autodiff.
    inst = _instance("F1", d)
    g = np.asarray(jax.grad(hd.objective("F1", inst))(inst.x0), np.float64)
    e = np.asarray(inst.x_opt - inst.x0, np.float64)
    ref = 1 - np.dot(-g, e) / (np.linalg.norm(g) * np.linalg.norm(e))
    assert _per_step(tmp_path, "paper", "F1", d)["eq9_terms"][0] == pytest.approx(ref, abs=2e-5)
    assert ref > 0.3  # a 1e6-conditioned ellipsoid: the gradient is far from x_opt - x


def _documented_schedule(variant, kind, t, v0, num_steps):
    """The variants of the experiment's docstring, written out again."""
    v_end, frac = 0.01 * v0, min(t / num_steps, 1.0)
    if variant == "concave":
        return v0 - (v0 - v_end) * frac**2
    if variant == "exponential":
        return v0 * 0.01**frac
    if variant == "sigma_const" and kind == "sigma":
        return v0
    return v_end + (v0 - v_end) * (1.0 - frac) ** 2


@pytest.mark.slow
def test_schedule_variants_follow_their_formulas(tmp_path):
    d, steps, fid = 8, 4, "F4"
    variants = ("concave", "exponential", "sigma_const", "raw")
    run_experiment("dgs_cosine", "--profile", "quick", "--dim", str(d), "--seeds", "1",
                   "--functions", fid, "--variants", ",".join(variants), "--iters",
                   str(steps), "--out", str(tmp_path))
    inst = _instance(fid, d)
    f = hd.objective(fid, inst)
    w = hd.width(fid)
    for variant in variants:
        x = inst.x0
        dist = [float(jnp.linalg.norm(x - inst.x_opt))]
        for t in range(steps):
            lr = _documented_schedule(variant, "lr", t, 0.05 * math.sqrt(d) * w, steps)
            sigma = _documented_schedule(variant, "sigma", t, 5.0 * w, steps)
            g = gradient(f, x, sigma)
            x = x - lr * (g if variant == "raw" else g / jnp.linalg.norm(g))
            dist.append(float(jnp.linalg.norm(x - inst.x_opt)))
        out = _per_step(tmp_path, variant, fid, d)
        np.testing.assert_allclose(out["dist"], dist, rtol=1e-4, err_msg=variant)
        np.testing.assert_allclose(out["f"][-1], float(f(x)), rtol=1e-4, err_msg=variant)
