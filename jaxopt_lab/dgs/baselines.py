"""Gradient-estimation baselines of the DGS study, written in JAX as init/step methods.

All three share the descent machinery of DGS (:mod:`jaxopt_lab.dgs.schedules`): a learning
rate and a smoothing/difference radius that follow a schedule, and a raw or normalised step
``x <- x - lr g`` / ``x <- x - lr g/||g||``; they differ only in how ``g`` is estimated:

  * :func:`make_es` — OpenAI evolution strategy (Salimans et al. 2017 [1]) with antithetic
    Gaussian samples; ``num_pairs`` pairs per step (``2 num_pairs`` evaluations; the paper's
    ES-Bpop uses as many as DGS, ``num_pairs = (M - 1) d / 2``); optional centred-rank
    fitness shaping.
  * :func:`make_nesterov` — Nesterov & Spokoiny's random gradient-free oracle [2]:
    ``g = (f(x + mu u) - f(x)) / mu * u``, ``u ~ N(0, I)``, averaged over
    ``num_directions`` draws per step (``f(x)`` is carried in the state, not re-evaluated).
  * :func:`make_finite_differences` — central differences ``(f(x + h e_i) - f(x - h e_i))/2h``
    on all coordinates (``2 d`` evaluations) or on a random subset of ``num_coordinates``.

Every step also evaluates ``f`` at the new iterate (one evaluation, counted) for the loss
trace. Non-finite values rule: a difference involving a non-finite value contributes zero
(the sample is dropped); with rank shaping non-finite values rank worst. ``best_f`` only
ever takes finite values. Counts are reported in ``Info.num_nonfinite``.

[1] T. Salimans et al., "Evolution strategies as a scalable alternative to reinforcement
    learning", arXiv:1703.03864 (2017).
[2] Y. Nesterov, V. Spokoiny, "Random gradient-free minimization of convex functions",
    Found. Comput. Math. 17 (2017) 527-566.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.core import Method
from jaxopt_lab.dgs.schedules import check_schedule, descend, schedule_value

__all__ = [
    "DescentParams", "DescentState", "DescentInfo",
    "ESConfig", "make_es",
    "NesterovConfig", "make_nesterov",
    "FDConfig", "make_finite_differences",
    "descent_params",
]


class DescentParams(NamedTuple):
    """Numeric hyper-parameters shared by the descent methods (all ``[]`` arrays).

    Attributes:
      learning_rate: initial learning rate ``lambda_0`` (a length when normalised).
      learning_rate_final: final value (quadratic) / floor (exponential).
      sigma: initial radius (ES: smoothing std; Nesterov: ``mu``; FD: ``h``; DGS: ``sigma``).
      sigma_final: final value / floor of the radius.
      horizon: ``T`` of the quadratic decay.
      decay: per-step factor of the exponential decay.
    """

    learning_rate: jax.Array
    learning_rate_final: jax.Array
    sigma: jax.Array
    sigma_final: jax.Array
    horizon: jax.Array
    decay: jax.Array


def descent_params(learning_rate, sigma, *, learning_rate_final=None, sigma_final=None,
                   horizon=1.0, decay=1.0, dtype=jnp.float32) -> DescentParams:
    """Builds :class:`DescentParams` (finals default to 1% of the initial values).

    Raises:
      ValueError: if ``learning_rate`` or ``sigma`` is not > 0, or ``horizon`` not > 0.
    """
    for name, v in (("learning_rate", learning_rate), ("sigma", sigma), ("horizon", horizon)):
        if not np.all(np.asarray(v) > 0):
            raise ValueError(f"{name} must be > 0, got {v!r}")
    lr_end = 0.01 * learning_rate if learning_rate_final is None else learning_rate_final
    s_end = 0.01 * sigma if sigma_final is None else sigma_final
    c = lambda v: jnp.asarray(v, dtype)  # noqa: E731
    return DescentParams(c(learning_rate), c(lr_end), c(sigma), c(s_end), c(horizon), c(decay))


class DescentState(NamedTuple):
    """State of a descent baseline.

    Attributes:
      x: ``[dim]`` current iterate.
      f_x: ``[]`` objective at ``x``.
      best_x: ``[dim]`` best point evaluated so far.
      best_f: ``[]`` its value (finite, or ``+inf`` if nothing finite was seen).
      num_evals: ``[]`` int32 objective evaluations so far.
      step: ``[]`` int32 iteration counter.
    """

    x: jax.Array
    f_x: jax.Array
    best_x: jax.Array
    best_f: jax.Array
    num_evals: jax.Array
    step: jax.Array


class DescentInfo(NamedTuple):
    """Per-step diagnostics.

    Attributes:
      f_x: ``[]`` objective at the new iterate.
      best_f: ``[]`` best value so far.
      grad_norm: ``[]`` norm of the estimated gradient.
      step_norm: ``[]`` length of the step taken.
      learning_rate: ``[]`` scheduled learning rate used.
      sigma: ``[]`` scheduled radius used.
      num_nonfinite: ``[]`` int32 non-finite evaluations in this step.
      x: ``[dim]`` the new iterate, only when the config asks ``record_path`` (else ``None``).
    """

    f_x: jax.Array
    best_f: jax.Array
    grad_norm: jax.Array
    step_norm: jax.Array
    learning_rate: jax.Array
    sigma: jax.Array
    num_nonfinite: jax.Array
    x: jax.Array | None = None


def _check_int(value, name, minimum=1, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class _DescentConfig:
    """Fields every descent method shares (see subclasses)."""

    dim: int
    lr_schedule: str = "quadratic"
    sigma_schedule: str = "quadratic"
    normalize: bool = True
    chunk_size: int | None = None
    record_path: bool = False

    def _check_common(self):
        _check_int(self.dim, "dim")
        check_schedule(self.lr_schedule, "lr_schedule")
        check_schedule(self.sigma_schedule, "sigma_schedule")
        _check_int(self.chunk_size, "chunk_size", allow_none=True)
        if not isinstance(self.normalize, bool):
            raise ValueError(f"normalize must be a bool, got {self.normalize!r}")


def _schedules(config, params, t):
    lr = schedule_value(config.lr_schedule, t, params.learning_rate, params.learning_rate_final,
                        params.horizon, params.decay)
    sigma = schedule_value(config.sigma_schedule, t, params.sigma, params.sigma_final,
                           params.horizon, params.decay)
    return lr, sigma


def _evaluate(batched, xs):
    """``batched(xs)`` with the non-finite mask ``[n]``."""
    fs = batched(xs)
    return fs, jnp.isfinite(fs)


def _map_batched(f, items, chunk_size):
    """``jax.vmap(f)(items)`` evaluated in batches of ``chunk_size`` (``None``: one batch)."""
    if chunk_size is None or chunk_size >= items.shape[0]:
        return jax.vmap(f)(items)
    return jax.lax.map(f, items, batch_size=int(chunk_size))


def _init_fn(objective, dim):
    def init(key, x0, params):
        del key, params
        x0 = jnp.asarray(x0)
        if x0.shape != (dim,):
            raise ValueError(f"x0 must have shape [dim]=({dim},), got {x0.shape}")
        if not jnp.issubdtype(x0.dtype, jnp.floating):
            x0 = x0.astype(jnp.float32)
        f0 = jnp.asarray(objective(x0), x0.dtype)
        ok = jnp.isfinite(f0)
        return DescentState(x=x0, f_x=f0, best_x=x0, best_f=jnp.where(ok, f0, jnp.inf),
                            num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32))

    return init


def _finish(objective, config, state, x_new, gnorm, snorm, lr, sigma, cand_f, cand_x,
            evals, num_bad):
    """Evaluates ``f(x_new)``, updates best-so-far and counters, builds the Info."""
    f_new = jnp.asarray(objective(x_new), x_new.dtype)
    new_ok = jnp.isfinite(f_new)
    num_bad = num_bad + jnp.where(new_ok, 0, 1).astype(jnp.int32)
    best_f, best_x = state.best_f, state.best_x
    better = jnp.isfinite(cand_f) & (cand_f < best_f)
    best_f = jnp.where(better, cand_f, best_f)
    best_x = jnp.where(better, cand_x, best_x)
    better = new_ok & (f_new < best_f)
    best_f = jnp.where(better, f_new, best_f)
    best_x = jnp.where(better, x_new, best_x)
    new = DescentState(x=x_new, f_x=f_new, best_x=best_x, best_f=best_f,
                       num_evals=state.num_evals + evals + 1, step=state.step + 1)
    info = DescentInfo(f_x=f_new, best_f=best_f, grad_norm=gnorm, step_norm=snorm,
                       learning_rate=jnp.asarray(lr, x_new.dtype),
                       sigma=jnp.asarray(sigma, x_new.dtype), num_nonfinite=num_bad,
                       x=x_new if config.record_path else None)
    return new, info


# ----------------------------------------------------------------------------- ES


@dataclasses.dataclass(frozen=True)
class ESConfig(_DescentConfig):
    """OpenAI-ES configuration.

    Attributes:
      dim: number of coordinates.
      num_pairs: antithetic pairs per step (``2 num_pairs`` evaluations).
      fitness_shaping: ``"none"`` (raw differences) or ``"centered_rank"`` (Salimans 2017).
      lr_schedule, sigma_schedule: see :mod:`~jaxopt_lab.dgs.schedules`.
      normalize: normalised (``lr`` is a length) or raw step.
      chunk_size: max points per batched evaluation (memory bound).
      record_path: put the iterate ``x`` in every ``Info``.
    """

    num_pairs: int = 8
    fitness_shaping: str = "none"

    def __post_init__(self):
        self._check_common()
        _check_int(self.num_pairs, "num_pairs")
        if self.fitness_shaping not in ("none", "centered_rank"):
            raise ValueError("fitness_shaping must be 'none' or 'centered_rank', "
                             f"got {self.fitness_shaping!r}")


def _centered_ranks(values):
    """Centred ranks in ``[-0.5, 0.5]`` of a flat array (non-finite ranked worst)."""
    v = jnp.where(jnp.isfinite(values), values, jnp.inf)
    ranks = jnp.argsort(jnp.argsort(v)).astype(values.dtype)
    n = values.shape[0]
    return ranks / max(n - 1, 1) - 0.5


def make_es(objective: Callable[[jax.Array], jax.Array], config: ESConfig) -> Method:
    """OpenAI-ES with antithetic sampling, as an init/step :class:`~jaxopt_lab.core.Method`.

    The estimate is ``g = 1/(2 P sigma) sum_j (f(x + sigma e_j) - f(x - sigma e_j)) e_j``
    (or, with rank shaping, the same with the pair's centred-rank difference in place of
    the value difference, divided by ``P sigma``), ``e_j ~ N(0, I_dim)``.

    Args:
      objective: ``f(x[dim]) -> scalar``.
      config: :class:`ESConfig`.

    Returns:
      A method with :class:`DescentParams`, :class:`DescentState`, :class:`DescentInfo`.
    """
    if not isinstance(config, ESConfig):
        raise ValueError(f"config must be an ESConfig, got {type(config).__name__}")
    dim, num_pairs = config.dim, config.num_pairs
    chunk_pairs = num_pairs if config.chunk_size is None else max(
        1, min(num_pairs, config.chunk_size // 2))
    num_chunks = -(-num_pairs // chunk_pairs)
    batched = jax.vmap(objective)

    def noise(key, c, dtype):
        return jax.random.normal(jax.random.fold_in(key, c), (chunk_pairs, dim), dtype)

    def step(key, state, params):
        x = state.x
        dtype = x.dtype
        lr, sigma = _schedules(config, params, state.step)
        sigma = jnp.asarray(sigma, dtype)

        def chunk_values(c, eps=None):
            eps = noise(key, c, dtype) if eps is None else eps
            pts = jnp.concatenate([x[None, :] + sigma * eps, x[None, :] - sigma * eps])
            return batched(pts).reshape(2, chunk_pairs).astype(dtype)

        if num_chunks == 1:
            # one chunk: draw the noise once and keep it for the gradient (the chunked path
            # redraws it from the same key to bound memory; the values are identical)
            eps_all = noise(key, 0, dtype)
            vals = chunk_values(0, eps_all)[None]  # [1, 2, cp]
        else:
            eps_all = None
            vals = jax.lax.map(chunk_values, jnp.arange(num_chunks))  # [nc, 2, cp]
        valid = (jnp.arange(num_chunks * chunk_pairs) < num_pairs).reshape(num_chunks,
                                                                          chunk_pairs)
        finite = jnp.isfinite(vals)
        num_bad = jnp.sum(~finite & valid[:, None, :], dtype=jnp.int32)
        if config.fitness_shaping == "centered_rank":
            flat = jnp.where(valid[:, None, :], vals, jnp.inf)
            ranks = _centered_ranks(flat.reshape(-1)).reshape(vals.shape)
            weights = (ranks[:, 0] - ranks[:, 1]) / (num_pairs * sigma)
        else:
            ok = finite[:, 0] & finite[:, 1]
            diff = jnp.where(ok, vals[:, 0] - vals[:, 1], 0.0)
            weights = diff / (2.0 * num_pairs * sigma)
        weights = jnp.where(valid, weights, 0.0)

        def accumulate(g, c):
            return g + weights[c] @ noise(key, c, dtype), None

        if eps_all is not None:
            g = weights[0] @ eps_all
        else:
            g, _ = jax.lax.scan(accumulate, jnp.zeros((dim,), dtype), jnp.arange(num_chunks))
        x_new, gnorm, snorm = descend(x, g, lr, config.normalize)
        # best evaluated sample (for best-so-far tracking)
        masked = jnp.where(finite & valid[:, None, :], vals, jnp.inf)
        flat_i = jnp.argmin(masked.reshape(-1))
        cand_f = masked.reshape(-1)[flat_i]
        c_i, rest = jnp.divmod(flat_i, 2 * chunk_pairs)
        s_i, j_i = jnp.divmod(rest, chunk_pairs)
        eps_best = (eps_all[j_i] if eps_all is not None else noise(key, c_i, dtype)[j_i])
        cand_x = x + jnp.where(s_i == 0, 1.0, -1.0).astype(dtype) * sigma * eps_best
        return _finish(objective, config, state, x_new, gnorm, snorm, lr, sigma, cand_f,
                       cand_x, 2 * num_pairs, num_bad)

    return Method(init=_init_fn(objective, dim), step=step, config=config, name="es")


# ------------------------------------------------------------------------ Nesterov


@dataclasses.dataclass(frozen=True)
class NesterovConfig(_DescentConfig):
    """Nesterov–Spokoiny random search configuration.

    Attributes:
      num_directions: random directions per step, each one forward difference
        (``num_directions`` evaluations + 1 at the new iterate).
      (others as :class:`ESConfig`.)
    """

    num_directions: int = 1

    def __post_init__(self):
        self._check_common()
        _check_int(self.num_directions, "num_directions")


def make_nesterov(objective: Callable[[jax.Array], jax.Array],
                  config: NesterovConfig) -> Method:
    """Nesterov & Spokoiny's gradient-free random search (forward-difference oracle).

    ``g = (1/B) sum_b (f(x + mu u_b) - f(x)) / mu * u_b``, ``u_b ~ N(0, I_dim)``, with
    ``mu`` the scheduled radius (``params.sigma``); then a (normalised) descent step.

    Args:
      objective: ``f(x[dim]) -> scalar``.
      config: :class:`NesterovConfig`.
    """
    if not isinstance(config, NesterovConfig):
        raise ValueError(f"config must be a NesterovConfig, got {type(config).__name__}")
    dim, nd = config.dim, config.num_directions

    def step(key, state, params):
        x, dtype = state.x, state.x.dtype
        lr, mu = _schedules(config, params, state.step)
        mu = jnp.asarray(mu, dtype)
        u = jax.random.normal(key, (nd, dim), dtype)
        pts = x[None, :] + mu * u
        vals = _map_batched(objective, pts, config.chunk_size).astype(dtype)
        ok = jnp.isfinite(vals) & jnp.isfinite(state.f_x)
        diff = jnp.where(ok, vals - state.f_x, 0.0) / mu
        g = (diff @ u) / nd
        x_new, gnorm, snorm = descend(x, g, lr, config.normalize)
        masked = jnp.where(jnp.isfinite(vals), vals, jnp.inf)
        i = jnp.argmin(masked)
        num_bad = jnp.sum(~jnp.isfinite(vals), dtype=jnp.int32)
        return _finish(objective, config, state, x_new, gnorm, snorm, lr, mu, masked[i],
                       pts[i], nd, num_bad)

    return Method(init=_init_fn(objective, dim), step=step, config=config, name="nesterov")


# ------------------------------------------------------------------ finite differences


@dataclasses.dataclass(frozen=True)
class FDConfig(_DescentConfig):
    """Central finite-difference descent configuration.

    Attributes:
      num_coordinates: ``None`` = all ``dim`` coordinates every step (deterministic,
        ``2 dim`` evaluations); an int ``n < dim`` = a uniformly random subset of ``n``
        coordinates per step (randomised coordinate descent, ``2 n`` evaluations).
      (others as :class:`ESConfig`; ``params.sigma`` is the difference step ``h``.)
    """

    num_coordinates: int | None = None

    def __post_init__(self):
        self._check_common()
        _check_int(self.num_coordinates, "num_coordinates", allow_none=True)
        if self.num_coordinates is not None and self.num_coordinates > self.dim:
            raise ValueError(f"num_coordinates must be <= dim={self.dim}, "
                             f"got {self.num_coordinates}")


def make_finite_differences(objective: Callable[[jax.Array], jax.Array],
                            config: FDConfig) -> Method:
    """Descent along the central-difference gradient ``(f(x+h e_i) - f(x-h e_i)) / 2h``.

    Args:
      objective: ``f(x[dim]) -> scalar``.
      config: :class:`FDConfig`.
    """
    if not isinstance(config, FDConfig):
        raise ValueError(f"config must be an FDConfig, got {type(config).__name__}")
    dim = config.dim
    n = dim if config.num_coordinates is None else config.num_coordinates
    chunk = None if config.chunk_size is None else max(1, config.chunk_size // 2)

    def step(key, state, params):
        x, dtype = state.x, state.x.dtype
        lr, h = _schedules(config, params, state.step)
        h = jnp.asarray(h, dtype)
        if n == dim:
            idx = jnp.arange(dim)
        else:
            idx = jax.random.permutation(key, dim)[:n]

        def pair(i):
            e = (jnp.arange(dim) == i).astype(dtype) * h
            return jnp.stack([objective(x + e), objective(x - e)]).astype(dtype)

        vals = _map_batched(pair, idx, chunk)  # [n, 2]
        finite = jnp.isfinite(vals)
        ok = finite[:, 0] & finite[:, 1]
        d = jnp.where(ok, vals[:, 0] - vals[:, 1], 0.0) / (2.0 * h)
        g = jnp.zeros((dim,), dtype).at[idx].set(d)
        x_new, gnorm, snorm = descend(x, g, lr, config.normalize)
        masked = jnp.where(finite, vals, jnp.inf)
        flat = jnp.argmin(masked.reshape(-1))
        r, s = jnp.divmod(flat, 2)
        cand_x = x + jnp.where(s == 0, 1.0, -1.0).astype(dtype) * h * (
            jnp.arange(dim) == idx[r]).astype(dtype)
        num_bad = jnp.sum(~finite, dtype=jnp.int32)
        return _finish(objective, config, state, x_new, gnorm, snorm, lr, h,
                       masked.reshape(-1)[flat], cand_x, 2 * n, num_bad)

    return Method(init=_init_fn(objective, dim), step=step, config=config, name="fd")
