"""BH, BH-S and their hybrid over a batch of independent chains (init/step contract).

One ``step`` advances every chain by one basin-hopping iteration [1]:

1. perturb ``X_n`` (a Gaussian random walk for BH, a skipping chain for BH-S; the hybrid
   picks one from a counter ``s`` exactly as the authors' ``AlternatingPertubation``:
   ratio ``m > 0`` skips when ``s mod m != 0`` ((m-1) skips : 1 BH step), ``m < 0`` skips
   when ``s mod |m| == 0`` (1 skip : (|m|-1) BH steps); ``m = 1`` is pure BH, ``m = -1``
   pure BH-S; ``s`` counts the batch's steps from 1 and is never reset);
2. bounded local minimisation ``U_n = LocalMin(Y_n)`` (projected L-BFGS, vmapped);
3. Metropolis acceptance at temperature ``T`` (``T = 0``: accept iff ``f(U) <= f(X)``;
   ties are accepted as in SciPy);
4. the run's best minimum is updated when ``f(U)`` is strictly lower, which resets the
   stall counter; a run ends when the counter exceeds ``patience`` (SciPy's
   ``niter_success``: ``patience = 50`` stops after 51 non-improving perturbations).

With ``restart=True`` a chain whose run ended starts a new run at the next step, from a
point drawn uniformly in the box (minimised first, as SciPy's ``basinhopping`` does), so
every lane stays busy: this is the paper's protocol of back-to-back runs, vectorised.
Finished runs are tallied per chain (``num_runs``, successes against ``params.x_star``
within ``params.radius`` and against ``f* + f_tol max(1, |f*|)``), together with the jump
statistics of Table 5.1 (pooled sums for nu_1 and nu_s, see ``metrics``). With
``restart=False`` a finished chain is frozen.

Non-finite objective values are ``+inf``: never accepted, never best; they are counted in
``Info.num_nonfinite``.

A step is two pure halves (:func:`make_phases`): the perturbation, then the local
minimisation with acceptance and tallies; ``step`` composes them, and
:func:`~jaxopt_lab.basin_hopping.metrics.time_split` times them apart (Table 3.1).

[1] Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.basin_hopping import perturb
from jaxopt_lab.basin_hopping.local import (LBFGSConfig, LBFGSState, LocalParams, blank_state,
                                           make_lbfgs)
from jaxopt_lab.core import Method

__all__ = ["BHConfig", "BHParams", "BHState", "BHInfo", "Proposal", "Phases", "make",
           "make_phases", "make_params", "restart_state",
           "metropolis_accept", "validate_params", "KINDS"]

KINDS = ("bh", "bhs", "hybrid")


@dataclasses.dataclass(frozen=True)
class BHConfig:
    """Static configuration of a batch of basin-hopping chains.

    Attributes:
      dim: number of coordinates.
      kind: ``"bh"`` (random walk), ``"bhs"`` (skipping chain) or ``"hybrid"``
        (alternating, ratio ``params.ratio``).
      max_skips: static upper bound on the halting index ``K`` (``params.num_skips``).
      bh_sigma: convention of ``params.sigma_bh``: ``"variance"`` (authors' code, Table 5.1)
        or ``"std"`` (the paper's text).
      skip_sigma: convention of ``params.sigma_skip`` (``"std"`` in Table 5.1; the
        dimension script used ``"variance"``).
      skip_radii: ``"equal"`` (authors' code) or ``"iid"`` (paper's text, dimension script).
      skip_boundary: ``"periodic"``, ``"first"`` (only ``Z_1`` wrapped) or ``"none"``.
      bh_periodic: wrap the random-walk proposal into the box (the hybrid notebooks do
        when periodic; Table 5.1's BH does not, L-BFGS-B then clips).
      restart: start a new run in a chain whose run ended (see module docstring).
      skip_block: evaluate skipping chains in blocks of this many points (``None``: all
        ``max_skips`` at once); results do not depend on it.
      local_steps: ``None`` (default): every step runs each chain's local minimisation to
        completion, so the batch waits for its slowest chain. An int ``m``: asynchronous
        mode, each step does ``m`` local-minimiser steps for every chain (one line-search
        trial each with the default Moré-Thuente search, one L-BFGS iteration each with
        ``line_search="backtracking"``), and a chain whose
        minimisation has finished is accepted/rejected and perturbed again at once, so no
        lane idles (the same algorithm per chain; a step is then a "tick", not one BH
        iteration). Much faster for large batches.
      skip_dtype: ``None`` (the chains' dtype) or a floating dtype name (e.g.
        ``"float32"`` for float64 chains) in which the skipping chain is evaluated. The
        chain only tests ``f(Z_k) < f(X)`` and usually holds most of the evaluations
        (Schwefel-07 in d >= 8: over 90%), so this halves its cost on a CPU while the
        local minimisation, the acceptance and the success test stay in the chains' dtype.
        The found point is cast back; a chain that finds nothing returns ``X`` exactly.
      local: settings of the projected L-BFGS.
    """

    dim: int
    kind: str = "bhs"
    max_skips: int = 25
    bh_sigma: str = "variance"
    skip_sigma: str = "std"
    skip_radii: str = "equal"
    skip_boundary: str = "periodic"
    bh_periodic: bool = False
    restart: bool = True
    skip_block: int | None = 16
    local_steps: int | None = None
    skip_dtype: str | None = None
    local: LBFGSConfig = LBFGSConfig()

    def __post_init__(self):
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be an int >= 1, got {self.dim!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if (isinstance(self.max_skips, bool) or not isinstance(self.max_skips, int)
                or self.max_skips < 1):
            raise ValueError(f"max_skips must be an int >= 1 (K >= 1), got {self.max_skips!r}")
        for name in ("bh_sigma", "skip_sigma"):
            if getattr(self, name) not in perturb.CONVENTIONS:
                raise ValueError(f"{name} must be one of {perturb.CONVENTIONS}, "
                                 f"got {getattr(self, name)!r}")
        if self.skip_radii not in perturb.RADII:
            raise ValueError(f"skip_radii must be one of {perturb.RADII}, got {self.skip_radii!r}")
        if self.skip_boundary not in perturb.BOUNDARIES:
            raise ValueError(f"skip_boundary must be one of {perturb.BOUNDARIES}, "
                             f"got {self.skip_boundary!r}")
        if self.skip_block is not None and (isinstance(self.skip_block, bool) or not isinstance(
                self.skip_block, int) or self.skip_block < 1):
            raise ValueError(f"skip_block must be None or an int >= 1, got {self.skip_block!r}")
        if self.local_steps is not None and (isinstance(self.local_steps, bool) or not
                                             isinstance(self.local_steps, int)
                                             or self.local_steps < 1):
            raise ValueError(f"local_steps must be None or an int >= 1, got "
                             f"{self.local_steps!r}")
        if self.skip_dtype is not None and self.skip_dtype not in ("float16", "bfloat16",
                                                                   "float32", "float64"):
            raise ValueError(f"skip_dtype must be None or a floating dtype name, got "
                             f"{self.skip_dtype!r}")
        if not isinstance(self.local, LBFGSConfig):
            raise ValueError(f"local must be an LBFGSConfig, got {type(self.local).__name__}")


class BHParams(NamedTuple):
    """Numeric hyper-parameters (arrays; changing values never recompiles).

    Attributes:
      lower, upper: ``[dim]`` box, ``lower < upper``.
      sigma_bh: ``[]`` random-walk step size (> 0), convention ``config.bh_sigma``.
      sigma_skip: ``[]`` skipping step size (> 0), convention ``config.skip_sigma``.
      num_skips: ``[]`` int32 halting index ``K``, ``1 <= K <= config.max_skips``.
      temperature: ``[]`` Metropolis temperature ``T >= 0``.
      patience: ``[]`` int32, a run ends after ``patience + 1`` non-improving perturbations.
      ratio: ``[]`` int32 hybrid ratio ``m != 0`` (ignored unless ``kind == "hybrid"``).
      ftol, gtol: ``[]`` local-minimiser tolerances.
      x_star: ``[num_min, dim]`` global minimisers for the success tally (NaN: none).
      f_star: ``[]`` global minimum for the f-gap tally (NaN: none).
      radius: ``[]`` success radius (paper: 1e-5).
      f_tol: ``[]`` relative f-gap tolerance.
    """

    lower: jax.Array
    upper: jax.Array
    sigma_bh: jax.Array
    sigma_skip: jax.Array
    num_skips: jax.Array
    temperature: jax.Array
    patience: jax.Array
    ratio: jax.Array
    ftol: jax.Array
    gtol: jax.Array
    x_star: jax.Array
    f_star: jax.Array
    radius: jax.Array
    f_tol: jax.Array


class BHState(NamedTuple):
    """State of a batch of chains; every field has a leading ``[num_chains]`` axis except
    ``counter`` (``[num_chains]`` too: each chain's hybrid counter).

    Attributes:
      x: ``[num_chains, dim]`` current local minimum ``X_n``; fx: ``[num_chains]``.
      run_best_x, run_best_f: best minimum of each chain's current run.
      best_x, best_f: best minimum each chain has seen over all its runs.
      stall: int32 perturbations since the run's best last improved.
      finished: bool, the run ended (``restart=False``: the chain is frozen).
      counter: int32 hybrid counter ``s`` (the chain's perturbations so far + 1).
      num_evals: int32 objective evaluations (perturbation + local minimisation).
      num_evals_perturb, num_evals_local: the split of ``num_evals``.
      num_runs, num_success, num_success_f: finished runs and their successes (ball, f-gap).
      nu1_sum, nu1_count, nus_sum, nus_count: accepted moves with ``k = 1`` / ``k > 1``.
      num_accepted: accepted perturbations.
      num_nonfinite: non-finite evaluations seen.
      ls: the chains' local-minimiser states (``[num_chains, ...]``).
      busy: a local minimisation is in progress (asynchronous mode only).
      pending_length, pending_k, pending_restart: jump length, halting index and restart
        flag of the perturbation whose minimisation is in progress.
    """

    x: jax.Array
    fx: jax.Array
    run_best_x: jax.Array
    run_best_f: jax.Array
    best_x: jax.Array
    best_f: jax.Array
    stall: jax.Array
    finished: jax.Array
    counter: jax.Array
    num_evals: jax.Array
    num_evals_perturb: jax.Array
    num_evals_local: jax.Array
    num_runs: jax.Array
    num_success: jax.Array
    num_success_f: jax.Array
    nu1_sum: jax.Array
    nu1_count: jax.Array
    nus_sum: jax.Array
    nus_count: jax.Array
    num_accepted: jax.Array
    num_nonfinite: jax.Array
    ls: LBFGSState
    busy: jax.Array
    pending_length: jax.Array
    pending_k: jax.Array
    pending_restart: jax.Array


class BHInfo(NamedTuple):
    """Per-step diagnostics, ``[num_chains]`` each (``skipped`` is ``[]``).

    Attributes:
      f_proposal: value of the local minimum ``U_n`` reached from the proposal.
      accepted: the move was accepted (restart steps count as accepted).
      restarted: the chain started a new run this step.
      run_ended: the chain's run ended this step.
      skipped: this step used the skipping chain.
      skip_steps: halting index ``k`` of the skipping chain (0 for a random-walk step).
      local_iterations: L-BFGS iterations of this step's local minimisation.
      num_nonfinite: non-finite evaluations in this step.
    """

    f_proposal: jax.Array
    accepted: jax.Array
    restarted: jax.Array
    run_ended: jax.Array
    skipped: jax.Array
    skip_steps: jax.Array
    local_iterations: jax.Array
    num_nonfinite: jax.Array


def metropolis_accept(key: jax.Array, f_new: jax.Array, f_old: jax.Array,
                      temperature: jax.Array) -> jax.Array:
    """Metropolis test: accept with probability ``min(1, exp(-(f_new - f_old) / T))``.

    ``T = 0`` is monotone (accept iff ``f_new <= f_old``); ties are always accepted;
    ``f_new = +inf`` is never accepted.

    Args:
      key: PRNG key.
      f_new, f_old: ``[...]`` energies.
      temperature: ``[]`` ``T >= 0``.

    Returns:
      ``[...]`` bool.
    """
    u = jax.random.uniform(key, jnp.shape(f_new), dtype=jnp.result_type(f_new))
    delta = f_new - f_old
    safe_t = jnp.where(temperature > 0, temperature, 1.0)
    prob = jnp.where(temperature > 0, jnp.exp(-jnp.maximum(delta, 0.0) / safe_t), 0.0)
    return (delta <= 0) | ((u < prob) & jnp.isfinite(f_new))


def _is_concrete(*arrays) -> bool:
    return not any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(arrays))


def validate_params(params: BHParams, config: BHConfig) -> None:
    """Raises ``ValueError`` naming the argument when concrete ``params`` are invalid."""
    if not isinstance(params, BHParams):
        raise ValueError(f"params must be BHParams, got {type(params).__name__}")
    if not _is_concrete(params):
        return
    lower, upper = np.asarray(params.lower), np.asarray(params.upper)
    if lower.shape != (config.dim,) or upper.shape != (config.dim,):
        raise ValueError(f"params.lower and params.upper must have shape ({config.dim},), got "
                         f"{lower.shape} and {upper.shape}")
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper)) and np.all(lower < upper)):
        raise ValueError("params.lower must be finite and < params.upper (finite) in every "
                         "coordinate")
    for name in ("sigma_bh", "sigma_skip"):
        value = np.asarray(getattr(params, name))
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"params.{name} must be finite and > 0, got {value}")
    k = np.asarray(params.num_skips)
    if not 1 <= k <= config.max_skips:
        raise ValueError(f"params.num_skips (K) must satisfy 1 <= K <= max_skips="
                         f"{config.max_skips}, got {k}")
    if not np.asarray(params.temperature) >= 0:
        raise ValueError(f"params.temperature must be >= 0, got {params.temperature}")
    if not np.asarray(params.patience) >= 0:
        raise ValueError(f"params.patience must be >= 0, got {params.patience}")
    if config.kind == "hybrid" and np.asarray(params.ratio) == 0:
        raise ValueError("params.ratio (hybrid m) must be a non-zero int")
    for name in ("ftol", "gtol", "radius", "f_tol"):
        value = np.asarray(getattr(params, name))
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"params.{name} must be finite and >= 0, got {value}")
    if np.asarray(params.x_star).ndim != 2 or np.asarray(params.x_star).shape[1] != config.dim:
        raise ValueError(f"params.x_star must have shape [num_min, {config.dim}], got "
                         f"{np.asarray(params.x_star).shape}")


def make_params(lower, upper, *, sigma_bh=1.0, sigma_skip=1.0, num_skips=25, temperature=1.0,
                patience=50, ratio=1, tol=None, ftol=2.2e-9, gtol=1e-5, x_star=None,
                f_star=np.nan, radius=1e-5, f_tol=1e-6, dtype=jnp.float32) -> BHParams:
    """Builds :class:`BHParams` from Python numbers (``tol`` sets ``ftol`` and ``gtol``
    as SciPy's ``minimize(tol=...)`` does)."""
    lower = jnp.asarray(lower, dtype)
    upper = jnp.asarray(upper, dtype)
    if tol is not None:
        ftol = gtol = tol
    dim = lower.shape[-1] if lower.ndim else 1
    xs = np.full((1, dim), np.nan) if x_star is None else np.atleast_2d(np.asarray(x_star))
    return BHParams(lower=lower, upper=upper, sigma_bh=jnp.asarray(sigma_bh, dtype),
                    sigma_skip=jnp.asarray(sigma_skip, dtype),
                    num_skips=jnp.asarray(num_skips, jnp.int32),
                    temperature=jnp.asarray(temperature, dtype),
                    patience=jnp.asarray(patience, jnp.int32),
                    ratio=jnp.asarray(ratio, jnp.int32), ftol=jnp.asarray(ftol, dtype),
                    gtol=jnp.asarray(gtol, dtype), x_star=jnp.asarray(xs, dtype),
                    f_star=jnp.asarray(f_star, dtype), radius=jnp.asarray(radius, dtype),
                    f_tol=jnp.asarray(f_tol, dtype))


def _blank_ls(num_chains: int, dim: int, memory: int, dtype) -> LBFGSState:
    return blank_state(num_chains, dim, memory, dtype)


def restart_state(num_chains: int, dim: int, dtype=jnp.float32, memory: int = 10) -> BHState:
    """A state whose chains all start a new run at the first step (``restart=True`` only).

    Nothing is evaluated here (so nothing is compiled): the first step draws every chain's
    start uniformly in the box and minimises it, as the paper's protocol does.
    """
    zi = jnp.zeros((num_chains,), jnp.int32)
    zf = jnp.zeros((num_chains,), dtype)
    inf = jnp.full((num_chains,), jnp.inf, dtype)
    x = jnp.zeros((num_chains, dim), dtype)
    return BHState(x=x, fx=inf, run_best_x=x, run_best_f=inf, best_x=x, best_f=inf, stall=zi,
                   finished=jnp.ones((num_chains,), bool), counter=jnp.ones_like(zi),
                   num_evals=zi, num_evals_perturb=zi, num_evals_local=zi, num_runs=zi,
                   num_success=zi, num_success_f=zi, nu1_sum=zf, nu1_count=zi, nus_sum=zf,
                   nus_count=zi, num_accepted=zi, num_nonfinite=zi,
                   ls=_blank_ls(num_chains, dim, memory, dtype),
                   busy=jnp.zeros((num_chains,), bool), pending_length=zf, pending_k=zi,
                   pending_restart=jnp.zeros((num_chains,), bool))


def _use_skip(config: BHConfig, counter, ratio):
    if config.kind == "bh":
        return jnp.zeros((), bool)
    if config.kind == "bhs":
        return jnp.ones((), bool)
    m = jnp.abs(ratio)
    rem = jnp.mod(counter, jnp.maximum(m, 1))
    return jnp.where(ratio > 0, rem != 0, rem == 0)


def _tally_runs(state, run_ended, ball, gap, is_one_move, is_skip_move, length, accepted,
                num_bad) -> dict:
    """Per-chain run and jump statistics after one step, shared by the sync and async steps.

    ``run_ended``/``ball``/``gap``/``is_*_move``/``accepted`` are ``[num_chains]`` masks,
    ``length`` the ``[num_chains]`` jump length, ``num_bad`` the non-finite evaluations.
    """
    return dict(
        num_runs=state.num_runs + run_ended,
        num_success=state.num_success + (run_ended & ball),
        num_success_f=state.num_success_f + (run_ended & gap),
        nu1_sum=state.nu1_sum + jnp.where(is_one_move, length, 0.0),
        nu1_count=state.nu1_count + is_one_move,
        nus_sum=state.nus_sum + jnp.where(is_skip_move, length, 0.0),
        nus_count=state.nus_count + is_skip_move,
        num_accepted=state.num_accepted + accepted,
        num_nonfinite=state.num_nonfinite + num_bad,
    )


class Proposal(NamedTuple):
    """Output of the perturbation phase of a step (``[num_chains]`` leading axes).

    Attributes:
      y: ``[num_chains, dim]`` proposals ``Y_n`` (a uniform start for restarting chains).
      length: jump length (random walk ``|W|``, skip path ``R_1 + ... + R_k``).
      k: halting index of a successful skip chain (1 for a random-walk step, 0 if none).
      num_evals, num_nonfinite: int32 evaluations of the perturbation (0 on restart).
      skipped: the skipping chain was used (``[]`` synchronous, ``[num_chains]`` async).
      restart: the chain starts a new run.
    """

    y: jax.Array
    length: jax.Array
    k: jax.Array
    num_evals: jax.Array
    num_nonfinite: jax.Array
    skipped: jax.Array
    restart: jax.Array


class Phases(NamedTuple):
    """A step split in two pure functions, ``step = finish(key, s, p, perturb(key, s, p))``.

    ``perturb(key, state, params) -> Proposal`` runs the random walk / skipping chain;
    ``finish(key, state, params, proposal) -> (BHState, BHInfo)`` the local minimisation
    (in asynchronous mode: ``local_steps`` L-BFGS iterations), the acceptance and the
    tallies. Used to time the two parts separately (Table 3.1, :func:`metrics.time_split`).
    """

    perturb: Callable
    finish: Callable


def make(objective: Callable[[jax.Array], jax.Array], config: BHConfig,
         local=None) -> Method:
    """Builds BH / BH-S / hybrid over a batch of chains for ``objective(x[dim]) -> []``.

    Args:
      objective: JAX function of one point (differentiable for the default local step).
      config: :class:`BHConfig`.
      local: optional replacement :class:`~jaxopt_lab.basin_hopping.local.LocalMinimizer`
        (its ``minimize(x0, lower, upper, LocalParams)`` must return a state with ``x``,
        ``f``, ``iteration``, ``num_evals``, ``num_nonfinite``); default projected L-BFGS.

    Returns:
      :class:`~jaxopt_lab.core.Method` with ``init(key, x0[num_chains, dim], params)`` and
      ``step(key, state, params) -> (BHState, BHInfo)``.
    """
    return _build(objective, config, local)[0]


def make_phases(objective: Callable[[jax.Array], jax.Array], config: BHConfig,
                local=None) -> tuple[Method, Phases]:
    """Like :func:`make`, plus the step's two :class:`Phases` (same arguments)."""
    return _build(objective, config, local)


def _build(objective, config, local):
    if not isinstance(config, BHConfig):
        raise ValueError(f"config must be a BHConfig, got {type(config).__name__}")
    if not callable(objective):
        raise ValueError("objective must be callable")
    local = make_lbfgs(objective, config.local) if local is None else local
    minimize = jax.vmap(local.minimize, in_axes=(0, None, None, None))

    def local_min(ys, params):
        return minimize(ys, params.lower, params.upper, LocalParams(params.ftol, params.gtol))

    def tally(params, xs, fs):
        dist = jnp.sqrt(jnp.sum((xs[:, None, :] - params.x_star[None, :, :]) ** 2, axis=-1))
        ball = jnp.any(dist <= params.radius, axis=-1)
        gap = fs - params.f_star <= params.f_tol * jnp.maximum(1.0, jnp.abs(params.f_star))
        return ball, gap

    def init(key, x0, params):
        del key
        validate_params(params, config)
        x0 = jnp.asarray(x0)
        if x0.ndim != 2 or x0.shape[-1] != config.dim:
            raise ValueError(f"x0 must have shape [num_chains, {config.dim}], got {x0.shape}")
        if not jnp.issubdtype(x0.dtype, jnp.floating):
            raise ValueError(f"x0 must be floating point, got {x0.dtype}")
        if _is_concrete(x0, params.lower, params.upper):
            inside = np.all((np.asarray(x0) >= np.asarray(params.lower)[None, :])
                            & (np.asarray(x0) <= np.asarray(params.upper)[None, :]))
            if not inside:
                raise ValueError("x0 must lie inside [params.lower, params.upper]")
        n = x0.shape[0]
        ls = local_min(x0, params)
        zi = jnp.zeros((n,), jnp.int32)
        zf = jnp.zeros((n,), x0.dtype)
        return BHState(x=ls.x, fx=ls.f, run_best_x=ls.x, run_best_f=ls.f, best_x=ls.x,
                       best_f=ls.f, stall=zi, finished=jnp.zeros((n,), bool),
                       counter=jnp.ones_like(zi), num_evals=ls.num_evals,
                       num_evals_perturb=zi, num_evals_local=ls.num_evals, num_runs=zi,
                       num_success=zi, num_success_f=zi, nu1_sum=zf, nu1_count=zi,
                       nus_sum=zf, nus_count=zi, num_accepted=zi,
                       num_nonfinite=ls.num_nonfinite, ls=ls, busy=jnp.zeros((n,), bool),
                       pending_length=zf, pending_k=zi, pending_restart=jnp.zeros((n,), bool))

    def propose_walk(keys, state, params):
        res = jax.vmap(lambda k, x: perturb.random_walk(
            k, x, params.sigma_bh, params.lower, params.upper, convention=config.bh_sigma,
            periodic=config.bh_periodic))(keys, state.x)
        n = state.x.shape[0]
        ones = jnp.ones((n,), jnp.int32)
        return res.y, res.radius, ones, jnp.zeros((n,), jnp.int32), jnp.zeros((n,), jnp.int32)

    def propose_skip(keys, state, params, num_skips=None):
        num_skips = (jnp.broadcast_to(params.num_skips, state.fx.shape) if num_skips is None
                     else num_skips)
        dt = state.x.dtype if config.skip_dtype is None else jnp.dtype(config.skip_dtype)
        cast = lambda a: jnp.asarray(a).astype(dt)  # noqa: E731
        res = jax.vmap(lambda k, x, fx, kk: perturb.skipping_chain(
            k, x, fx, objective, cast(params.sigma_skip), kk, cast(params.lower),
            cast(params.upper), max_skips=config.max_skips, convention=config.skip_sigma,
            radii=config.skip_radii, boundary=config.skip_boundary,
            block_size=config.skip_block))(keys, cast(state.x), cast(state.fx), num_skips)
        k = jnp.where(res.found, res.num_steps, 0)
        y = jnp.where(res.found[:, None], res.y.astype(state.x.dtype), state.x)
        return (y, res.path_length.astype(state.x.dtype), k, res.num_steps,
                res.num_nonfinite)

    def chain_keys(key, n):
        # Chain i draws from fold_in(key, i): a chain's path does not depend on the batch.
        ck = jax.vmap(lambda i: jax.random.split(jax.random.fold_in(key, i), 3))(jnp.arange(n))
        return ck[:, 0], ck[:, 1], ck[:, 2]

    def uniform_start(key_u, state, params):
        dim = state.x.shape[1]
        u = jax.vmap(lambda kk: jax.random.uniform(kk, (dim,), state.x.dtype))(key_u)
        return params.lower[None, :] + u * (params.upper - params.lower)[None, :]

    def perturb_sync(key, state, params):
        n = state.x.shape[0]
        keys, key_u, _ = chain_keys(key, n)
        use_skip = _use_skip(config, state.counter[0], params.ratio)
        if config.kind == "bh":
            proposal = propose_walk(keys, state, params)
        elif config.kind == "bhs":
            proposal = propose_skip(keys, state, params)
        else:
            proposal = jax.lax.cond(use_skip, propose_skip, propose_walk, keys, state, params)
        y, length, k, p_evals, p_bad = proposal
        restart = state.finished & config.restart
        y = jnp.where(restart[:, None], uniform_start(key_u, state, params), y)
        return Proposal(y=y, length=length, k=k, num_evals=jnp.where(restart, 0, p_evals),
                        num_nonfinite=jnp.where(restart, 0, p_bad), skipped=use_skip,
                        restart=restart)

    def finish_sync(key, state, params, prop):
        n = state.x.shape[0]
        _, _, key_a = chain_keys(key, n)
        y, length, k, p_evals = prop.y, prop.length, prop.k, prop.num_evals
        restart, use_skip = prop.restart, prop.skipped
        frozen = state.finished & (not config.restart)
        ls = local_min(y, params)
        accept = jax.vmap(metropolis_accept, in_axes=(0, 0, 0, None))(
            key_a, ls.f, state.fx, params.temperature)
        accept = (accept | restart) & ~frozen
        x = jnp.where(accept[:, None], ls.x, state.x)
        fx = jnp.where(accept, ls.f, state.fx)
        improved = ((ls.f < state.run_best_f) & ~frozen) | restart
        run_best_x = jnp.where(improved[:, None], ls.x, state.run_best_x)
        run_best_f = jnp.where(improved, ls.f, state.run_best_f)
        stall = jnp.where(improved, 0, state.stall + 1)
        active = ~frozen
        run_ended = active & (stall > params.patience)
        ball, gap = tally(params, run_best_x, run_best_f)
        better = run_best_f < state.best_f
        moved = accept & ~restart & (length > 0)
        is_skip_move = moved & (k > 1)
        is_one_move = moved & ~(k > 1)
        evals = (p_evals + ls.num_evals) * active
        num_bad = (prop.num_nonfinite + ls.num_nonfinite) * active
        new = BHState(
            x=x, fx=fx, run_best_x=run_best_x, run_best_f=run_best_f,
            best_x=jnp.where(better[:, None], run_best_x, state.best_x),
            best_f=jnp.where(better, run_best_f, state.best_f),
            stall=jnp.where(active, stall, state.stall),
            finished=state.finished & (not config.restart) | run_ended,
            counter=state.counter + 1,
            num_evals=state.num_evals + evals,
            num_evals_perturb=state.num_evals_perturb + p_evals * active,
            num_evals_local=state.num_evals_local + ls.num_evals * active,
            **_tally_runs(state, run_ended, ball, gap, is_one_move, is_skip_move, length,
                          accept & ~restart, num_bad),
            ls=ls, busy=state.busy, pending_length=state.pending_length,
            pending_k=state.pending_k, pending_restart=state.pending_restart,
        )
        info = BHInfo(f_proposal=ls.f, accepted=accept, restarted=restart, run_ended=run_ended,
                      skipped=use_skip, skip_steps=jnp.where(use_skip & ~restart, p_evals, 0),
                      local_iterations=ls.iteration, num_nonfinite=num_bad)
        return new, info

    lparams = lambda params: LocalParams(params.ftol, params.gtol)  # noqa: E731
    local_init = jax.vmap(local.init, in_axes=(0, None, None, None))
    local_step = jax.vmap(local.step, in_axes=(0, None, None, None))

    def select(mask, a, b):
        return jax.tree.map(lambda u, v: jnp.where(
            mask.reshape(mask.shape + (1,) * (u.ndim - 1)), u, v), a, b)

    def async_masks(state):
        frozen = state.finished & (not config.restart)
        idle = ~state.busy & ~frozen
        restart = idle & state.finished & config.restart
        return frozen, idle, restart, idle & ~restart

    def perturb_async(key, state, params):
        # Idle chains perturb (or restart); busy chains' proposals are ignored.
        n = state.x.shape[0]
        keys, key_u, _ = chain_keys(key, n)
        _, idle, restart, perturbing = async_masks(state)
        use_skip = _use_skip(config, state.counter, params.ratio) & perturbing
        if config.kind == "bh":
            y, length, k, p_evals, p_bad = propose_walk(keys, state, params)
        else:
            k_eff = jnp.where(use_skip, params.num_skips, 0).astype(jnp.int32)
            sk = propose_skip(keys, state, params, k_eff)
            if config.kind == "bhs":
                y, length, k, p_evals, p_bad = sk
            else:
                wk = propose_walk(keys, state, params)
                y, length, k, p_evals, p_bad = select(use_skip, sk, wk)
        y = jnp.where(restart[:, None], uniform_start(key_u, state, params), y)
        return Proposal(y=y, length=length, k=k, num_evals=jnp.where(perturbing, p_evals, 0),
                        num_nonfinite=jnp.where(perturbing, p_bad, 0), skipped=use_skip,
                        restart=restart)

    def finish_async(key, state, params, prop):
        # A tick: idle chains start a local minimisation from their proposal; every busy
        # chain does `local_steps` L-BFGS iterations; chains whose minimisation ended are
        # accepted / rejected, exactly as in the synchronous step.
        n = state.x.shape[0]
        _, _, key_a = chain_keys(key, n)
        frozen, idle, restart, perturbing = async_masks(state)
        y, length, k, p_evals, p_bad = prop.y, prop.length, prop.k, prop.num_evals, \
            prop.num_nonfinite
        lp = lparams(params)
        ls = select(idle, local_init(y, params.lower, params.upper, lp), state.ls)
        ls = jax.lax.fori_loop(0, config.local_steps,
                               lambda i, s: local_step(s, params.lower, params.upper, lp), ls)
        l_evals = jnp.where(idle, ls.num_evals, ls.num_evals - state.ls.num_evals) * ~frozen
        l_bad = jnp.where(idle, ls.num_nonfinite,
                          ls.num_nonfinite - state.ls.num_nonfinite) * ~frozen
        pend_len = jnp.where(idle, length, state.pending_length)
        pend_k = jnp.where(idle, k, state.pending_k)
        pend_restart = jnp.where(idle, restart, state.pending_restart)
        busy = (state.busy | idle) & ~frozen
        finish = busy & ls.done
        accept = jax.vmap(metropolis_accept, in_axes=(0, 0, 0, None))(
            key_a, ls.f, state.fx, params.temperature)
        accept = finish & (accept | pend_restart)
        x = jnp.where(accept[:, None], ls.x, state.x)
        fx = jnp.where(accept, ls.f, state.fx)
        improved = finish & ((ls.f < state.run_best_f) | pend_restart)
        run_best_x = jnp.where(improved[:, None], ls.x, state.run_best_x)
        run_best_f = jnp.where(improved, ls.f, state.run_best_f)
        stall = jnp.where(improved, 0, jnp.where(finish, state.stall + 1, state.stall))
        run_ended = finish & (stall > params.patience)
        ball, gap = tally(params, run_best_x, run_best_f)
        better = run_best_f < state.best_f
        moved = accept & ~pend_restart & (pend_len > 0)
        is_skip_move = moved & (pend_k > 1)
        is_one_move = moved & ~(pend_k > 1)
        finished = jnp.where(restart, False, state.finished) | run_ended
        num_bad = p_bad + l_bad
        new = BHState(
            x=x, fx=fx, run_best_x=run_best_x, run_best_f=run_best_f,
            best_x=jnp.where(better[:, None], run_best_x, state.best_x),
            best_f=jnp.where(better, run_best_f, state.best_f), stall=stall,
            finished=finished, counter=state.counter + perturbing,
            num_evals=state.num_evals + p_evals + l_evals,
            num_evals_perturb=state.num_evals_perturb + p_evals,
            num_evals_local=state.num_evals_local + l_evals,
            **_tally_runs(state, run_ended, ball, gap, is_one_move, is_skip_move, pend_len,
                          accept & ~pend_restart, num_bad),
            ls=ls, busy=busy & ~finish, pending_length=pend_len, pending_k=pend_k,
            pending_restart=pend_restart)
        info = BHInfo(f_proposal=ls.f, accepted=accept, restarted=restart, run_ended=run_ended,
                      skipped=prop.skipped, skip_steps=jnp.where(prop.skipped, p_evals, 0),
                      local_iterations=ls.iteration, num_nonfinite=num_bad)
        return new, info

    if config.local_steps is None:
        perturb_phase, finish_phase = perturb_sync, finish_sync
    else:
        perturb_phase, finish_phase = perturb_async, finish_async

    def step(key, state, params):
        return finish_phase(key, state, params, perturb_phase(key, state, params))

    name = {"bh": "bh", "bhs": "bhs", "hybrid": "bh_hybrid"}[config.kind]
    method = Method(init=init, step=step, config=config, name=name)
    return method, Phases(perturb=perturb_phase, finish=finish_phase)
