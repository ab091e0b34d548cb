"""The chain machinery shared by BH, BH-S and the hybrid: one chain's init and step.

A step of basin hopping [1] perturbs the current local minimum ``X_n`` (each algorithm
supplies its ``propose``), minimises locally from the proposal ``Y_n`` (projected L-BFGS)
and accepts ``U_n`` by Metropolis at temperature ``T``. Here live what the three share:
the acceptance, the run's bookkeeping (its best minimum and stall counter; a run ends after
``patience + 1`` perturbations without a strictly lower minimum, SciPy's ``niter_success``),
the runs' starts, and the two step modes.

``init`` evaluates nothing: it records ``x0`` as the start of the chain's first run, and
the first step minimises it (as SciPy's ``basinhopping`` minimises its start point before
its first perturbation), so a run of ``n`` steps makes ``n - 1`` perturbations. When a run
ends, the chain draws the next run's start uniformly in the box (``Config.restart``: the
paper's back-to-back runs) or freezes.

* synchronous (``Config.local_steps=None``): each step runs the local minimisation to its
  end (under ``vmap`` the batch waits for its slowest chain);
* asynchronous (``local_steps=m``): a chain is either perturbing or minimising
  (``State.phase``); each step (a "tick") does ``m`` local-minimiser steps, and a chain
  whose minimisation ended is accepted or rejected and perturbed again at the next tick,
  so under ``vmap`` every lane advances in lock-step without waiting. Same algorithm per
  chain.

A step is two pure halves (:class:`Phases`), the perturbation and the rest, so that
Table 3.1's time split can time them apart.

[1] Goodridge, Moriarty, Vogrinc, Zocca, "Hopping between distant basins", 2021,
    arXiv:2108.05229.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.basin_hopping import perturb
from jaxopt_lab.basin_hopping._settings import ChainConfig, SkipConfig
from jaxopt_lab.basin_hopping.local import LBFGSState, LocalParams, blank_state, make_lbfgs
from jaxopt_lab.core import Method

# State.phase: what the chain's next step does. STARTING: minimise ``State.x``, the start of
# a run; MINIMISING and MINIMISING_START (asynchronous mode): go on minimising from a
# perturbation or from a run's start.
PERTURBING, STARTING, MINIMISING, MINIMISING_START = range(4)


class State(NamedTuple):
    """One chain.

    Attributes:
      x, fx: ``[dim]`` current local minimum ``X_n`` and ``[]`` its value (while
        ``phase == STARTING``: the next run's start point, not yet minimised, and
        ``+inf``).
      run_best_x, run_best_f: the current run's lowest minimum (what a run returns).
      best_x, best_f: the lowest minimum over all the chain's runs.
      stall: int32 perturbations since the run's best last improved.
      finished: bool, the chain's run ended and no other will start (``restart=False``).
      counter: int32 hybrid counter ``s``: the chain's perturbations so far + 1.
      num_evals: int32 objective evaluations (a value with its gradient counts once), and
        its split ``num_evals_perturb`` / ``num_evals_local``.
      local: the local minimiser's state (of the last or the running minimisation).
      phase: int32, what the next step does: ``PERTURBING``, ``STARTING`` (minimise ``x``,
        a run's start), and in the asynchronous mode ``MINIMISING`` or
        ``MINIMISING_START`` (a minimisation in progress).
      jump_length, halting_index: ``[]`` length and int32 ``k`` of the last proposal (of
        the one being minimised, in the asynchronous mode).
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
    local: LBFGSState
    phase: jax.Array
    jump_length: jax.Array
    halting_index: jax.Array


class Info(NamedTuple):
    """Per-step diagnostics of one chain (what the metrics need).

    In the asynchronous mode the move fields describe the minimisation that ended this
    step (tick), and ``skipped`` the perturbation made this tick.

    Attributes:
      f_proposal: value of the local minimum ``U_n`` of this step's minimisation.
      accepted: a perturbation's local minimum was accepted (a run's start is not a move).
      run_started: a run started this step (its start point's minimisation ran, or began
        in the asynchronous mode).
      run_ended: the chain's run ended this step; its result is ``run_best_x`` /
        ``run_best_f``.
      run_best_x, run_best_f: ``[dim]`` and ``[]`` the run's best minimum after this step.
      jump_length: the move's length: ``|W|`` for a random-walk step, the path length
        ``R_1 + ... + R_k`` of a skipping chain that found a point (0 if it found none).
      halting_index: int32 ``k`` of that skipping chain, 1 for a random-walk step, 0 if
        the chain found nothing.
      skipped: this step's perturbation was a skipping chain.
      num_evals_perturb, num_evals_local: int32 evaluations of this step, by half.
      num_nonfinite: int32 non-finite evaluations of this step.
      current_nonfinite: bool, the value ``State.fx`` of the chain's current local minimum
        ``X_n`` after this step (its accepted state) is not finite (NaN or +-inf; the local
        minimiser reports both as ``+inf``). False while the chain has no evaluated current
        point: before a run's start has been minimised (after ``init``, after a run ended
        and the next one's start was drawn, and in the asynchronous mode while a start's
        minimisation is under way).
    """

    f_proposal: jax.Array
    accepted: jax.Array
    run_started: jax.Array
    run_ended: jax.Array
    run_best_x: jax.Array
    run_best_f: jax.Array
    jump_length: jax.Array
    halting_index: jax.Array
    skipped: jax.Array
    num_evals_perturb: jax.Array
    num_evals_local: jax.Array
    num_nonfinite: jax.Array
    current_nonfinite: jax.Array


class Proposal(NamedTuple):
    """What a perturbation returns (one chain).

    Attributes:
      y: ``[dim]`` the proposal ``Y_n`` (a run's start point where one starts).
      length, k: the jump length and halting index (see :class:`Info`).
      num_evals, num_nonfinite: int32 evaluations of the perturbation.
      skipped: bool, the skipping chain made it.
    """

    y: jax.Array
    length: jax.Array
    k: jax.Array
    num_evals: jax.Array
    num_nonfinite: jax.Array
    skipped: jax.Array


class Phases(NamedTuple):
    """A method with its step in two pure halves: ``step = finish(key, s, p, perturb(key, s,
    p))``.

    ``init`` is the method's; ``perturb(key, state, params) -> Proposal``;
    ``finish(key, state, params, proposal) -> (State, Info)``: the local minimisation
    (asynchronous: ``local_steps`` of its steps), the acceptance and the run's bookkeeping.
    All act on one chain (vmap them). ``config`` is the method's Config.
    """

    init: Callable
    perturb: Callable
    finish: Callable
    config: ChainConfig


class Built(NamedTuple):
    """What :func:`build` returns: the method and its step's halves."""

    method: Method
    phases: Phases


def metropolis_accept(key: jax.Array, f_new: jax.Array, f_old: jax.Array,
                      temperature: jax.Array) -> jax.Array:
    """Metropolis test: accept with probability ``min(1, exp(-(f_new - f_old) / T))``.

    ``T = 0`` is monotone (accept iff ``f_new <= f_old``); ties are always accepted (as
    SciPy); ``f_new = +inf`` is never accepted.

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


def walk_proposal(key, x, sigma, lower, upper, *, periodic: bool) -> Proposal:
    """The random-walk perturbation as a :class:`Proposal` (no evaluation, ``k = 1``)."""
    res = perturb.random_walk(key, x, sigma.astype(x.dtype), lower, upper, periodic=periodic)
    zero = jnp.zeros((), jnp.int32)
    return Proposal(y=res.y, length=res.radius, k=jnp.ones((), jnp.int32), num_evals=zero,
                    num_nonfinite=zero, skipped=jnp.zeros((), bool))


def skip_proposal(key, state, sigma, lower, upper, objective, config: SkipConfig,
                  active) -> Proposal:
    """The skipping chain from ``state.x`` as a :class:`Proposal` (evaluated in
    ``config.skip_dtype``; ``y = X`` exactly when it finds nothing)."""
    dt = state.x.dtype if config.skip_dtype is None else jnp.dtype(config.skip_dtype)
    res = perturb.skipping_chain(
        key, state.x.astype(dt), state.fx.astype(dt), objective, sigma.astype(dt),
        lower.astype(dt), upper.astype(dt), max_skips=config.max_skips, radii=config.radii,
        boundary=config.boundary, block_size=config.skip_block, active=active,
        directions=config.directions)
    return Proposal(y=jnp.where(res.found, res.y.astype(state.x.dtype), state.x),
                    length=res.path_length.astype(state.x.dtype),
                    k=jnp.where(res.found, res.num_steps, 0), num_evals=res.num_steps,
                    num_nonfinite=res.num_nonfinite, skipped=jnp.ones((), bool))


def build(objective: Callable, config: ChainConfig, propose: Callable, validate: Callable,
          name: str) -> Built:
    """The init/step pair of one chain, given the algorithm's perturbation.

    Args:
      objective: ``f(x[dim]) -> []``, differentiable (the local minimiser's gradient).
      config: the method's Config (a :class:`ChainConfig`).
      propose: ``propose(key, state, params, lower, upper, active) -> Proposal``; the
        proposal is discarded unless ``active`` (evaluate nothing then, where possible).
      validate: ``validate(params)`` raises ``ValueError`` for bad Params.
      name: the method's name in ``jaxopt_lab.methods``.
    """
    _checks.check_objective(objective, config.dim)
    local = make_lbfgs(objective, config.local)

    def box(params, dtype):
        lower = jnp.broadcast_to(params.lower, (config.dim,)).astype(dtype)
        upper = jnp.broadcast_to(params.upper, (config.dim,)).astype(dtype)
        return lower, upper, LocalParams(params.ftol.astype(dtype), params.gtol.astype(dtype))

    def init(key, x0, params):
        del key
        x0 = _checks.check_point(x0, "x0", config.dim)
        validate(params)
        zi = jnp.zeros((), jnp.int32)
        inf = jnp.full((), jnp.inf, x0.dtype)
        return State(x=x0, fx=inf, run_best_x=x0, run_best_f=inf, best_x=x0, best_f=inf,
                     stall=zi, finished=jnp.zeros((), bool), counter=jnp.ones((), jnp.int32),
                     num_evals=zi, num_evals_perturb=zi, num_evals_local=zi,
                     local=blank_state(config.dim, config.local.memory, x0.dtype),
                     phase=jnp.full((), STARTING, jnp.int32),
                     jump_length=jnp.zeros((), x0.dtype), halting_index=zi)

    def masks(state):
        idle = ((state.phase == PERTURBING) | (state.phase == STARTING)) & ~state.finished
        return idle, idle & (state.phase == STARTING), idle & (state.phase == PERTURBING)

    def perturb_phase(key, state, params):
        key_p, _, _ = jax.random.split(key, 3)
        lower, upper, _ = box(params, state.x.dtype)
        _, start, perturbing = masks(state)
        prop = propose(key_p, state, params, lower, upper, perturbing)
        return prop._replace(y=jnp.where(start, state.x, prop.y),
                             num_evals=jnp.where(perturbing, prop.num_evals, 0),
                             num_nonfinite=jnp.where(perturbing, prop.num_nonfinite, 0),
                             skipped=prop.skipped & perturbing)

    def minimise(state, prop, lower, upper, lp):
        """This step's local minimisation: ``(ls, done, evals, nonfinite, length, k,
        from_start, phase)``, ``phase`` the next one unless the run ends."""
        idle, start, _ = masks(state)
        active = ~state.finished
        if config.local_steps is None:
            ls = local.minimize(prop.y, lower, upper, lp)
            return (ls, active, ls.num_evals * active, ls.num_nonfinite * active, prop.length,
                    prop.k, start, jnp.full((), PERTURBING, jnp.int32))
        fresh = local.init(prop.y, lower, upper, lp)
        ls = jax.tree.map(lambda a, b: jnp.where(idle, a, b), fresh, state.local)
        ls = jax.lax.fori_loop(0, config.local_steps,
                               lambda i, s: local.step(s, lower, upper, lp), ls)
        evals = jnp.where(idle, ls.num_evals, ls.num_evals - state.local.num_evals) * active
        bad = jnp.where(idle, ls.num_nonfinite,
                        ls.num_nonfinite - state.local.num_nonfinite) * active
        from_start = jnp.where(idle, start, state.phase == MINIMISING_START)
        busy = ((state.phase == MINIMISING) | (state.phase == MINIMISING_START) | idle) & active
        done = busy & ls.done
        phase = jnp.where(busy & ~done, jnp.where(from_start, MINIMISING_START, MINIMISING),
                          PERTURBING).astype(jnp.int32)
        return (ls, done, evals, bad, jnp.where(idle, prop.length, state.jump_length),
                jnp.where(idle, prop.k, state.halting_index), from_start, phase)

    def finish_phase(key, state, params, prop):
        _, key_u, key_a = jax.random.split(key, 3)
        dtype = state.x.dtype
        lower, upper, lp = box(params, dtype)
        _, start, perturbing = masks(state)
        ls, done, l_evals, l_bad, length, k, from_start, phase = minimise(
            state, prop, lower, upper, lp)
        accept = done & (metropolis_accept(key_a, ls.f, state.fx,
                                           params.temperature.astype(dtype)) | from_start)
        improved = done & ((ls.f < state.run_best_f) | from_start)
        stall = jnp.where(improved, 0, jnp.where(done, state.stall + 1, state.stall))
        run_ended = done & (stall > params.patience)
        run_best_x = jnp.where(improved, ls.x, state.run_best_x)
        run_best_f = jnp.where(improved, ls.f, state.run_best_f)
        better = run_best_f < state.best_f
        x = jnp.where(accept, ls.x, state.x)
        fx = jnp.where(accept, ls.f, state.fx)
        if config.restart:  # the next run's start, minimised by the next step
            u = jax.random.uniform(key_u, (config.dim,), dtype)
            x = jnp.where(run_ended, lower + u * (upper - lower), x)
            fx = jnp.where(run_ended, jnp.inf, fx)
            phase = jnp.where(run_ended, STARTING, phase).astype(jnp.int32)
        new = State(
            x=x, fx=fx, run_best_x=run_best_x, run_best_f=run_best_f,
            best_x=jnp.where(better, run_best_x, state.best_x),
            best_f=jnp.where(better, run_best_f, state.best_f), stall=stall,
            finished=state.finished | (run_ended & (not config.restart)),
            counter=state.counter + perturbing,
            num_evals=state.num_evals + prop.num_evals + l_evals,
            num_evals_perturb=state.num_evals_perturb + prop.num_evals,
            num_evals_local=state.num_evals_local + l_evals, local=ls, phase=phase,
            jump_length=length, halting_index=k)
        info = Info(f_proposal=ls.f, accepted=accept & ~from_start, run_started=start,
                    run_ended=run_ended, run_best_x=run_best_x, run_best_f=run_best_f,
                    jump_length=length, halting_index=k, skipped=prop.skipped,
                    num_evals_perturb=prop.num_evals, num_evals_local=l_evals,
                    num_nonfinite=prop.num_nonfinite + l_bad,
                    current_nonfinite=~jnp.isfinite(fx) & (phase != STARTING)
                    & (phase != MINIMISING_START))
        return new, info

    def step(key, state, params):
        return finish_phase(key, state, params, perturb_phase(key, state, params))

    return Built(Method(init=init, step=step, config=config, name=name),
                 Phases(init=init, perturb=perturb_phase, finish=finish_phase,
                        config=config))
