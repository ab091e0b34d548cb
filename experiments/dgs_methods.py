"""Method line-up of the DGS benchmark study, at equal evaluation budgets (no EXPERIMENT here).

Shared by ``dgs_benchmarks`` and ``dgs_scaling``. Every method runs on the same instance
(``highdim.sample_instance`` from the seed's key) through one driver that records, at
``num_checkpoints`` points of the evaluation budget, the best value so far and the loss at
the current iterate, and accumulates the cosine distance of paper Eq. (9) online over every
step (zero-length steps skipped and counted), so nothing of size ``steps x dim`` is stored.

Budget: ``B = T (M - 1) d`` evaluations (``T = 200``, ``M = 5``: the distinct evaluations DGS
needs; the paper counts ``M d``). Each method gets ``floor(B / evals_per_step)`` steps.

Hyper-parameters of the baselines are ours (the paper's supplement is not available; see
docs/benchmarks/dgs.md): the JAX gradient baselines use DGS's normalised step and quadratic
learning-rate decay; evosax methods their defaults with ``std_init = 0.25 w``.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.dgs import adadgs, dgs, es, fd, nesterov
from jaxopt_lab.problems import highdim as hd

JAX_METHODS = ("DGS", "AdaDGS", "ES-Bpop", "Nesterov", "FD")
EVOSAX_METHODS = ("CMA-ES", "Sep-CMA-ES", "ASEBO", "PSO", "DE")
SCIPY_METHODS = ("Powell", "Cobyla")
# run one seed at a time in Python (not vmapped): SciPy, and IPOP-CMA-ES whose restarts
# change the population size (a static shape)
PYTHON_METHODS = SCIPY_METHODS + ("IPOP-CMA-ES",)
ALL_METHODS = JAX_METHODS + EVOSAX_METHODS + PYTHON_METHODS
NUM_POINTS = 5


class Adapter(NamedTuple):
    """A method seen by the driver: ``init(key) -> carry``, ``step(key, carry) -> carry``."""

    init: Callable
    step: Callable
    x: Callable  # carry -> [dim] current iterate (mean / incumbent for populations)
    best: Callable  # carry -> [] best value so far
    evals_per_step: int
    init_evals: int


def budget(dim: int, num_iters: int = 200) -> int:
    return num_iters * (NUM_POINTS - 1) * dim


def _contract_adapter(method, x0, params, evals_per_step):
    return Adapter(init=lambda k: method.init(k, x0, params),
                   step=lambda k, s: method.step(k, s, params)[0],
                   x=lambda s: s.x, best=lambda s: s.best_f,
                   evals_per_step=evals_per_step, init_evals=1)


def make_adapter(name: str, fname: str, dim: int, inst: hd.Instance, total: int,
                 chunk_size: int | None = None, dgs_sigma: float = 5.0) -> tuple[Adapter, int]:
    """The adapter of method ``name`` on instance ``inst`` and its number of steps.

    ``dgs_sigma``: DGS's initial radius in units of the domain width ``w`` (the paper's 5;
    other values are diagnostics, see docs/benchmarks/dgs.md §2.3). The JAX methods' other
    hyper-parameters are their ``params`` defaults for the width ``w``.
    """
    f = hd.objective(fname, inst)
    w = hd.width(fname)
    lo, hi = hd.domain(fname)
    if name == "DGS":
        cfg = dgs.Config(dim=dim, num_points=NUM_POINTS, chunk_size=chunk_size)
        steps = total // (cfg.evals_per_step - 1)
        p = dgs.params(w, dim, sigma=dgs_sigma * w, horizon=float(steps))
        return _contract_adapter(dgs.make(f, cfg), inst.x0, p, cfg.evals_per_step), steps
    if name == "AdaDGS":
        cfg = adadgs.Config(dim=dim, num_points=NUM_POINTS, chunk_size=chunk_size)
        steps = total // cfg.evals_per_step
        p = adadgs.params(w, dim)
        return _contract_adapter(adadgs.make(f, cfg), inst.x0, p, cfg.evals_per_step), steps
    if name == "ES-Bpop":
        pairs = (NUM_POINTS - 1) * dim // 2
        cfg = es.Config(dim=dim, num_pairs=pairs, fitness_shaping="centered_rank",
                            chunk_size=chunk_size)
        steps = total // (2 * pairs)
        p = es.params(w, dim, horizon=float(steps))
        return _contract_adapter(es.make(f, cfg), inst.x0, p, cfg.evals_per_step), steps
    if name == "Nesterov":
        nd = max(1, dim // 100)
        cfg = nesterov.Config(dim=dim, num_directions=nd, chunk_size=chunk_size)
        steps = total // cfg.evals_per_step
        p = nesterov.params(w, horizon=float(steps))
        return _contract_adapter(nesterov.make(f, cfg), inst.x0, p,
                                 cfg.evals_per_step), steps
    if name == "FD":
        cfg = fd.Config(dim=dim, radius_schedule="constant", chunk_size=chunk_size)
        steps = total // (2 * dim)
        p = fd.params(w, dim, horizon=float(steps))
        return _contract_adapter(fd.make(f, cfg), inst.x0, p, cfg.evals_per_step), steps
    if name in EVOSAX_METHODS:
        return _evosax_adapter(name, f, dim, inst, w, lo, hi, total)
    raise ValueError(f"unknown method {name!r}")


def _evosax_adapter(name, f, dim, inst, w, lo, hi, total):
    import optax
    from evosax import algorithms as ea

    batched = jax.vmap(f)
    pop = 4 + int(3 * math.log(dim))
    pop += pop % 2
    if name in ("PSO", "DE"):
        pop = 50
        algo = ea.PSO(pop, inst.x0) if name == "PSO" else ea.DifferentialEvolution(pop, inst.x0)
        params = algo.default_params

        def init(k):
            x = jax.random.uniform(k, (pop, dim), inst.x0.dtype, lo, hi)
            x = x.at[0].set(inst.x0)
            return algo.init(k, x, batched(x), params)

        x_of = lambda s: s.best_solution  # noqa: E731  (the incumbent)
    else:
        if name == "CMA-ES":
            algo = ea.CMA_ES(pop, inst.x0)
        elif name == "Sep-CMA-ES":
            algo = ea.Sep_CMA_ES(pop, inst.x0)
        else:
            algo = ea.ASEBO(pop, inst.x0, optimizer=optax.adam(0.01 * w),
                            std_schedule=optax.constant_schedule(0.1 * w))
        params = algo.default_params
        if hasattr(params, "std_init"):
            params = params.replace(std_init=jnp.asarray(0.25 * w))

        def init(k):
            return algo.init(k, inst.x0, params)

        x_of = lambda s: s.mean  # noqa: E731

    def step(k, s):
        k1, k2 = jax.random.split(k)
        xs, s = algo.ask(k1, s, params)
        fit = batched(xs)
        fit = jnp.where(jnp.isfinite(fit), fit, jnp.inf)
        new, _ = algo.tell(k2, xs, fit, s, params)
        # CMA-type states can turn NaN once the step size collapses (no restarts here):
        # freeze the last finite state instead of propagating NaN.
        ok = jnp.all(jnp.isfinite(x_of(new)))
        return jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, s)

    init_evals = pop if name in ("PSO", "DE") else 0
    steps = (total - init_evals) // pop
    return Adapter(init=init, step=step, x=x_of, best=lambda s: s.best_fitness,
                   evals_per_step=pop, init_evals=init_evals), steps


def drive(adapter: Adapter, key, steps: int, num_checkpoints: int, objective, x_opt):
    """Runs ``adapter`` for ``steps`` steps (rounded down to checkpoints); returns outputs.

    Returns:
      dict with ``best_f``, ``final_f`` (loss at the final iterate), ``cos_dist``,
      ``cos_steps``, ``cos_skipped``, ``num_evals``, ``trace_best [K]``, ``trace_f [K]``,
      ``trace_evals [K]``.
    """
    k_points = max(1, min(num_checkpoints, steps))
    inner = max(1, steps // k_points)
    k_init, k_loop = jax.random.split(key)
    carry = adapter.init(k_init)
    dtype = x_opt.dtype

    def inner_body(c, t):
        state, x_prev, s, n = c
        state = adapter.step(jax.random.fold_in(k_loop, t), state)
        x = adapter.x(state)
        step = x - x_prev
        to = x_opt - x_prev
        ns = jnp.sqrt(jnp.sum(step * step))
        no = jnp.sqrt(jnp.sum(to * to))
        ok = (ns > 0) & (no > 0) & jnp.isfinite(ns)
        cos = jnp.sum(step * to) / jnp.where(ok, ns * no, 1.0)
        s = s + jnp.where(ok, 1.0 - cos, 0.0)
        return (state, x, s, n + ok.astype(jnp.int32)), None

    def outer_body(c, k):
        c, _ = jax.lax.scan(inner_body, c, k * inner + jnp.arange(inner))
        state = c[0]
        return c, (adapter.best(state), objective(adapter.x(state)))

    c0 = (carry, adapter.x(carry), jnp.zeros((), dtype), jnp.zeros((), jnp.int32))
    c, (tb, tf) = jax.lax.scan(outer_body, c0, jnp.arange(k_points))
    total_steps = k_points * inner
    evals = adapter.init_evals + adapter.evals_per_step * (jnp.arange(k_points) + 1) * inner
    _, _, s, n = c
    return {
        "best_f": tb[-1], "final_f": tf[-1],
        "cos_dist": jnp.where(n > 0, s / jnp.maximum(n, 1), jnp.nan),
        "cos_steps": n, "cos_skipped": total_steps - n,
        "num_evals": evals[-1],
        "trace_best": tb, "trace_f": tf, "trace_evals": evals,
    }


def run_fn(name: str, fname: str, dim: int, total: int, num_checkpoints: int,
           chunk_size: int | None = None, dgs_sigma: float = 5.0):
    """``run_fn(key) -> dict`` for the sweep: instance from the key, then the method."""

    def fn(key):
        k_inst, k_run = jax.random.split(key)
        inst = hd.sample_instance(k_inst, fname, dim)
        adapter, steps = make_adapter(name, fname, dim, inst, total, chunk_size, dgs_sigma)
        return drive(adapter, k_run, steps, num_checkpoints, hd.objective(fname, inst),
                     inst.x_opt)

    return fn


# ------------------------------------------------------------------ IPOP-CMA-ES (evosax)


@functools.lru_cache(maxsize=None)
def _instance_loss(fname: str):
    """``loss(x, inst)``: one function object per benchmark, so compiled loops are reused."""
    f = hd.standard(fname)

    def loss(x, inst):
        return f(inst.rotation @ (x - inst.x_opt))

    return loss


def ipop_run(fname: str, dim: int, key, total: int, num_checkpoints: int):
    """IPOP-CMA-ES (:mod:`jaxopt_lab.dgs.ipop`) on the instance drawn from ``key``.

    First run from the instance's ``x0``, ``std_init = 0.25 w`` (as our plain CMA-ES),
    population ``4 + 3 ln d`` doubled at every restart; the cosine distance is taken on the
    path of distribution means (restart jumps included).
    """
    from jaxopt_lab.dgs.ipop import ipop_cma_es

    k_inst, k_run = jax.random.split(key)
    inst = hd.sample_instance(k_inst, fname, dim)
    lo, hi = hd.domain(fname)
    res = ipop_cma_es(_instance_loss(hd.IDS.get(fname, fname)), dim, k_run, total, lo, hi,
                      x0=inst.x0, std_init=0.25 * (hi - lo), record_mean=True, aux=inst)
    path = np.concatenate([np.asarray(inst.x0)[None], res.trace_mean])
    x_opt = np.asarray(inst.x_opt, np.float64)
    p = path.astype(np.float64)
    steps, to = p[1:] - p[:-1], x_opt[None, :] - p[:-1]
    ns, no = np.linalg.norm(steps, axis=1), np.linalg.norm(to, axis=1)
    ok = (ns > 0) & (no > 0)
    cosd = 1 - np.sum(steps * to, axis=1)[ok] / (ns[ok] * no[ok])
    grid = np.linspace(total / num_checkpoints, total, num_checkpoints).astype(int)
    idx = np.searchsorted(res.trace_evals, grid, side="right") - 1
    tb = np.where(idx >= 0, res.trace_best[np.maximum(idx, 0)], np.inf)
    final = float(hd.objective(fname, inst)(jnp.asarray(p[-1], inst.x0.dtype)))
    return {"best_f": res.best_f, "final_f": final,
            "cos_dist": float(np.mean(cosd)) if ok.any() else np.nan,
            "cos_steps": int(ok.sum()), "cos_skipped": int((~ok).sum()),
            "num_evals": res.num_evals, "trace_best": tb, "trace_f": tb,
            "trace_evals": grid, "restarts": len(res.population_sizes) - 1,
            "final_popsize": res.population_sizes[-1]}


def python_run(name: str, fname: str, dim: int, key, total: int, num_checkpoints: int):
    """One seed of a method of :data:`PYTHON_METHODS`."""
    if name == "IPOP-CMA-ES":
        return ipop_run(fname, dim, key, total, num_checkpoints)
    return scipy_run(name, fname, dim, key, total, num_checkpoints)


# ------------------------------------------------------------------ SciPy (NumPy, float64)


def scipy_run(name: str, fname: str, dim: int, key, total: int, num_checkpoints: int):
    """Powell or COBYLA on the same instance (drawn from the same key), NumPy float64."""
    from scipy.optimize import minimize

    k_inst, _ = jax.random.split(key)
    inst = hd.sample_instance(k_inst, fname, dim)
    rot = np.asarray(inst.rotation, np.float64)
    x_opt = np.asarray(inst.x_opt, np.float64)
    x0 = np.asarray(inst.x0, np.float64)
    f_np = hd.standard_numpy(fname)
    values = []

    def loss(x):
        v = float(f_np(rot @ (x - x_opt)))
        values.append(v)
        return v

    path = [x0.copy()]
    cb = lambda xk, *a: path.append(np.array(xk, copy=True))  # noqa: E731
    if name == "Powell":
        minimize(loss, x0, method="Powell", callback=cb,
                 options={"maxfev": total, "xtol": 1e-8, "ftol": 1e-12})
    else:
        minimize(loss, x0, method="COBYLA", callback=cb,
                 options={"maxiter": total, "rhobeg": 0.1 * hd.width(fname)})
    vals = np.asarray(values[:total])
    best = np.minimum.accumulate(vals)
    grid = np.linspace(total / num_checkpoints, total, num_checkpoints).astype(int)
    idx = np.minimum(grid, len(best)) - 1
    p = np.asarray(path)
    steps, to = p[1:] - p[:-1], x_opt[None, :] - p[:-1]
    ns, no = np.linalg.norm(steps, axis=1), np.linalg.norm(to, axis=1)
    ok = (ns > 0) & (no > 0)
    cosd = 1 - np.sum(steps * to, axis=1)[ok] / (ns[ok] * no[ok])
    final = float(f_np(rot @ (p[-1] - x_opt)))
    return {"best_f": best[-1], "final_f": final,
            "cos_dist": float(np.mean(cosd)) if ok.any() else np.nan,
            "cos_steps": int(ok.sum()), "cos_skipped": int((~ok).sum()),
            "num_evals": len(vals), "trace_best": best[idx], "trace_f": best[idx],
            "trace_evals": grid}
