"""GradSearch: greedy discrete search driven by Taylor estimates of single-variable moves.

Each step takes one forward/backward pass of the task's differentiable program at the
current program's one-hot point, estimates the loss change of every single-variable move
from the gradient (:mod:`~jaxopt_lab.gradsearch.moves`; Lu 2021 [1], §2.3) and applies
the move with the smallest score, ties broken uniformly at random (Algorithm 1; the move is
applied even when no score is negative). Variants (:class:`Config`): the running average of
§3.1 in both readings, and GradSearch+ (§3.2: epsilon-greedy moves, smoothing of the
one-hot point, random exponential loss scaling) with its soft variant.

Example::

    from jaxopt_lab import run
    from jaxopt_lab.gradsearch import gradsearch
    from jaxopt_lab.problems import circuits
    task = circuits.circuit("swap")
    method = gradsearch.make(task, gradsearch.Config.plus())
    x0 = task.space.sample(jax.random.key(0))          # one program [num_vars]
    final, trace = run(method, jax.random.key(1), x0, gradsearch.params(), 2000)

[1] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.gradsearch import _shared, moves
from jaxopt_lab.problems import programs

__all__ = ["Config", "Params", "State", "Info", "params", "make", "RULES", "SMOOTHING"]

RULES = ("greedy", "avg_grad", "avg_move")
SMOOTHING = (None, "sum_to_one", "literal")


@dataclasses.dataclass(frozen=True)
class Config:
    """Static configuration: the variant.

    Attributes:
      rule: how moves are scored, with ``g`` the gradient at the one-hot point:
        ``"greedy"``: the switch estimate ``g[v, j] - g[v, x_v]`` (Algorithm 1);
        ``"avg_grad"``: the same estimate of the running average of the gradient,
        ``m <- (1 - beta) m + beta g`` (§3.1, "running average of the gradient");
        ``"avg_move"``: the running average of every move's estimate, a move being
        indexed by (variable, target value) so that for a binary variable "go to 1" keeps
        its history after the flip (the literal reading of §3.1).
      epsilon_greedy: with probability ``params.epsilon`` apply a uniformly random move
        (random variable, random other value) instead (GradSearch+ 1).
      smoothing: ``None``, or evaluate the gradient at a smoothed one-hot point
        (GradSearch+ 2): ``"sum_to_one"`` puts ``1 - smooth`` on the chosen value and
        ``smooth / (M - 1)`` on each other value of an ``M``-way variable; ``"literal"``
        every 0 becomes ``smooth`` (does not sum to one for ``M > 2``).
      loss_scaling: random exponential loss scaling (GradSearch+ 3): after ``stall_steps``
        steps without a new best loss, one misfit example (loss > ``misfit_loss``; any
        example if none) chosen at random has its loss weight multiplied by ``e``.
      stall_steps: steps without a new best loss before a loss-scaling event.
      misfit_loss: an example whose discrete loss exceeds this counts as misfit.
      soft_loss: score moves (and judge programs) with the binary cross-entropy of the
        task's outputs against its targets with ``params.loss_eps`` inside the logs
        instead of the task's own loss (the soft variant: with ``loss_eps = 0.3`` a wrong
        bit costs ``-log 0.3`` instead of about 16, so a few wrong bits do not dominate
        every estimate).
      stop_when_solved: once the program fits every example, stop moving.
      exact_top_k: 0 (the paper), or check the Taylor ranking: the ``exact_top_k`` moves
        with the smallest scores (ties by random priority) are evaluated exactly (the
        weighted loss of each moved program, one batched forward pass) and the one with the
        smallest exact loss is taken. ``exact_top_k >= V * M`` is plain steepest-descent
        local search over the Hamming-1 neighbourhood.
      tabu_steps: 0 (the paper), or a variable changed by a step may not be moved by the
        next ``tabu_steps`` Taylor-ranked steps (random moves ignore it).
      walk: WalkSAT-like noise: when the chosen move is not predicted to lower the loss
        (exact change with ``exact_top_k``, else the Taylor score, ``>= 0``), take a
        uniformly random move instead with probability ``params.walk``.
    """

    rule: str = "greedy"
    epsilon_greedy: bool = False
    smoothing: str | None = None
    loss_scaling: bool = False
    stall_steps: int = 50
    misfit_loss: float = 1.0
    soft_loss: bool = False
    stop_when_solved: bool = True
    exact_top_k: int = 0
    tabu_steps: int = 0
    walk: bool = False

    def __post_init__(self):
        _checks.check_choice(self.rule, "rule", RULES)
        _checks.check_bool(self.epsilon_greedy, "epsilon_greedy")
        _checks.check_choice(self.smoothing, "smoothing", SMOOTHING)
        _checks.check_bool(self.loss_scaling, "loss_scaling")
        _checks.check_int(self.stall_steps, "stall_steps")
        _checks.check_number(self.misfit_loss, "misfit_loss", positive=True)
        _checks.check_bool(self.soft_loss, "soft_loss")
        _checks.check_bool(self.stop_when_solved, "stop_when_solved")
        _checks.check_int(self.exact_top_k, "exact_top_k", minimum=0)
        _checks.check_int(self.tabu_steps, "tabu_steps", minimum=0)
        _checks.check_bool(self.walk, "walk")

    @classmethod
    def plus(cls, **changes) -> "Config":
        """GradSearch+ (§3.2): greedy rule, epsilon-greedy, ``"sum_to_one"`` smoothing and
        loss scaling (use with ``params(epsilon=0.1, smooth=0.01)``, the defaults)."""
        return cls(**{"rule": "greedy", "epsilon_greedy": True, "smoothing": "sum_to_one",
                      "loss_scaling": True, **changes})

    @classmethod
    def plus_soft(cls, **changes) -> "Config":
        """The soft variant of GradSearch+: running average of the gradient and the soft
        cross-entropy on top of GradSearch+ (the circuits and DNF experiments use it with
        ``params(beta=0.5)``; ``loss_eps`` 0.3 is the default)."""
        return cls.plus(**{"rule": "avg_grad", "soft_loss": True, **changes})

    @classmethod
    def plus_checked(cls, **changes) -> "Config":
        """Ours, beyond the paper: the soft variant whose 16 best Taylor-ranked moves are
        evaluated exactly before one is taken (``exact_top_k=16``; use with
        ``params(beta=0.5)``). It solves the 2-bit adder on all 16 inputs."""
        return cls.plus_soft(**{"exact_top_k": 16, **changes})


class Params(NamedTuple):
    """Numeric hyper-parameters (float scalars; each is used by the variants that name it).

    Attributes:
      beta: running-average rate in [0, 1] (``"avg_*"`` rules).
      epsilon: probability in [0, 1] of a random move (``epsilon_greedy``).
      smooth: mass in [0, 1) moved off the chosen value (``smoothing``).
      loss_eps: > 0, inside the logs of the soft cross-entropy (``soft_loss``).
      walk: probability in [0, 1] of a random move at a local minimum (``walk``).
    """

    beta: jax.Array
    epsilon: jax.Array
    smooth: jax.Array
    loss_eps: jax.Array
    walk: jax.Array


def params(*, beta=0.1, epsilon=0.1, smooth=0.01, loss_eps=0.3, walk=0.0,
           dtype=jnp.float32) -> Params:
    """Builds :class:`Params`.

    Defaults: ``beta`` 0.1 (the paper does not report it; 0.01 and 0.5 are worth a sweep),
    ``epsilon`` 0.1 and ``smooth`` 0.01 (GradSearch+ as in the paper), ``loss_eps`` 0.3
    (the soft variant), ``walk`` 0.
    """
    dtype = _checks.check_dtype(dtype)
    p = Params(*(jnp.asarray(v, dtype) for v in (beta, epsilon, smooth, loss_eps, walk)))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    _checks.check_params(p, Params, {
        "beta": dict(lo=0.0, hi=1.0), "epsilon": dict(lo=0.0, hi=1.0),
        "smooth": dict(lo=0.0, hi=1.0, hi_open=True), "loss_eps": dict(positive=True),
        "walk": dict(lo=0.0, hi=1.0)})


class State(NamedTuple):
    """Carried state. ``V = num_vars``, ``M = max_card``, ``E = num_examples``."""

    program: jax.Array  # [V] int32 current program
    best_x: jax.Array  # [V] int32 program with the smallest loss seen
    best_f: jax.Array  # [] its loss (mean over examples; the soft loss under soft_loss)
    num_evals: jax.Array  # [] int32 loss/gradient evaluations
    avg: jax.Array  # [V, M] running average (of the gradient or of the move estimates)
    log_w: jax.Array  # [E] log loss-scaling weights
    stall: jax.Array  # [] int32 steps since the last new best
    tabu: jax.Array  # [V] int32 steps each variable stays tabu (tabu_steps)


class Info(NamedTuple):
    """Per-step diagnostics, about the program at the start of the step.

    ``current_nonfinite`` is ``[]`` bool: the current program's loss, as this step computed
    it (the program at the start of the step: the step evaluates nothing else), is not
    finite (NaN or +-inf; ``f`` is then ``+inf``).
    """

    f: jax.Array  # [] its loss
    solved: jax.Array  # [] bool: it fits every example
    min_estimate: jax.Array  # [] smallest move score (>= 0: a local minimum of the scores)
    num_moved: jax.Array  # [] int32 variables changed by this step
    random: jax.Array  # [] bool: an epsilon-greedy random move was taken
    current_nonfinite: jax.Array  # [] bool: its loss is not finite


def make(task: programs.ProgramTask, config: Config = Config()) -> Method:
    """Builds GradSearch for ``task``.

    Args:
      task: a :class:`~jaxopt_lab.problems.programs.ProgramTask` (the objective; it defines
        the number of variables).
      config: :class:`Config`.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init(key, x0, params)`` takes one program
      ``x0 [num_vars]`` (ints, ``0 <= x0[v] < num_values[v]``; e.g.
      ``task.space.sample(key)``) and evaluates it (1 evaluation); a ``step`` costs 1
      evaluation (2 with ``smoothing``: the gradient at the smoothed point and the loss of
      the program).
    """
    _checks.check_instance(config, Config, "config")
    soft = None
    if config.soft_loss:
        def soft(mat, p):
            out = task.predict(task.space.to_dict(mat))
            return jnp.sum(programs.cross_entropy(out, task.targets, p.loss_eps), axis=-1)
    loss = _shared.loss_functions(task, soft)
    space = task.space
    valid = jnp.asarray(space.valid)
    cards = jnp.asarray(space.cards)
    num_moves = valid.shape[0] * valid.shape[1]
    num_examples = int(task.targets.shape[0])

    def init(key, x0, params):
        del key
        x0 = space.check(x0, "x0")
        _validate_params(params)
        f = loss.program_loss(x0, params)
        return State(program=x0, best_x=x0, best_f=f, num_evals=jnp.ones((), jnp.int32),
                     avg=jnp.zeros(valid.shape, jnp.float32),
                     log_w=jnp.zeros((num_examples,), jnp.float32),
                     stall=jnp.zeros((), jnp.int32),
                     tabu=jnp.zeros(x0.shape, jnp.int32))

    def scores_of(grad, state, params):
        """``(avg, scores [V, M])``: the rule's move scores, ``+inf`` for non-moves."""
        x, beta = state.program, params.beta
        if config.rule == "greedy":
            avg, scores = state.avg, moves.switch_estimates(grad, x)
        elif config.rule == "avg_grad":
            avg = (1.0 - beta) * state.avg + beta * grad
            scores = moves.switch_estimates(avg, x)
        else:
            avg = (1.0 - beta) * state.avg + beta * moves.switch_estimates(grad, x)
            scores = avg
        ok = moves.candidate_mask(x, valid) & jnp.isfinite(scores)
        return avg, jnp.where(ok, scores, jnp.inf)

    def weighted_loss(program, log_w, params):
        return _shared.weighted_mean(log_w, loss.program_losses(program, params))

    def checked_move(scores, priority, x, log_w, losses, params):
        """``(flat move, exact loss change)``: of the ``exact_top_k`` best-scored moves
        (ties by ``priority``), the one with the smallest exact weighted loss."""
        k = min(config.exact_top_k, num_moves)
        flat_scores, flat_prio = scores.reshape(-1), priority.reshape(-1)
        top = jnp.lexsort((-flat_prio, flat_scores))[:k]  # [k] by score, then priority
        cand = jax.vmap(lambda i: moves.apply_move(x, i // valid.shape[1],
                                                   i % valid.shape[1]))(top)  # [k, V]
        exact = jax.vmap(lambda z: weighted_loss(z, log_w, params))(cand)  # [k]
        exact = jnp.where(jnp.isfinite(flat_scores[top]) & jnp.isfinite(exact), exact,
                          jnp.inf)
        best = moves.argmin_by_priority(exact, flat_prio[top])
        return top[best], exact[best] - _shared.weighted_mean(log_w, losses)

    def step(key, state, params):
        # one uniform draw per step: [tie priorities V*M | epsilon | variable | value | E]
        u = jax.random.uniform(key, (num_moves + 3 + num_examples,), jnp.float32)
        x = state.program
        if config.smoothing is None:
            point = programs.onehot(space, x)
        else:
            point = moves.smoothed_onehot(x, valid, params.smooth, config.smoothing)
        losses, grad = loss.weighted_grad(point, state.log_w, params)
        if config.smoothing is not None:
            losses = loss.program_losses(x, params)
        mean_loss = jnp.mean(losses)
        f = _shared.finite_or_inf(mean_loss)
        solved = task.solved(x)

        avg, scores = scores_of(grad, state, params)
        if config.tabu_steps:
            scores = jnp.where(state.tabu[:, None] > 0, jnp.inf, scores)
        priority = u[:num_moves].reshape(valid.shape)
        if config.exact_top_k:
            flat, delta = checked_move(scores, priority, x, state.log_w, losses, params)
        else:
            flat = moves.argmin_by_priority(scores, priority)
            delta = scores.reshape(-1)[flat]
        min_estimate = scores.reshape(-1)[flat]
        proposal = jnp.where(jnp.isfinite(delta),
                             moves.apply_move(x, flat // valid.shape[1], flat % valid.shape[1]),
                             x)
        take_random = jnp.zeros((), bool)
        if config.epsilon_greedy:
            take_random = u[num_moves] < params.epsilon
        if config.walk:
            u_walk = jax.random.uniform(jax.random.fold_in(key, 1), (), jnp.float32)
            take_random = take_random | ((delta >= 0.0) & (u_walk < params.walk))
        if config.epsilon_greedy or config.walk:
            rv, rj = moves.move_from_uniforms(u[num_moves + 1], u[num_moves + 2], x, cards)
            proposal = jnp.where(take_random, moves.apply_move(x, rv, rj), proposal)
        frozen = solved if config.stop_when_solved else jnp.zeros((), bool)
        new_x = jnp.where(frozen, x, proposal)

        best_x, best_f, improved = _shared.improve(state.best_x, state.best_f, x, f)
        log_w, stall = state.log_w, jnp.where(improved, 0, state.stall + 1)
        if config.loss_scaling:
            trigger = stall >= config.stall_steps
            misfit = losses > config.misfit_loss
            pool = jnp.where(jnp.any(misfit), misfit, jnp.ones_like(misfit))
            pick = jnp.argmax(jnp.where(pool, u[num_moves + 3:], -1.0))
            log_w = jnp.where(trigger, log_w.at[pick].add(1.0), log_w)
            stall = jnp.where(trigger, 0, stall)
        evals = 1 if config.smoothing is None else 2
        if config.exact_top_k:
            evals += min(config.exact_top_k, num_moves)
        tabu = state.tabu
        if config.tabu_steps:
            tabu = jnp.where(new_x != x, config.tabu_steps, jnp.maximum(tabu - 1, 0))
        new = State(program=new_x, best_x=best_x, best_f=best_f,
                    num_evals=state.num_evals + evals, avg=avg, log_w=log_w,
                    stall=stall.astype(jnp.int32), tabu=tabu.astype(jnp.int32))
        info = Info(f=f, solved=solved, min_estimate=min_estimate,
                    num_moved=jnp.sum(new_x != x, dtype=jnp.int32),
                    random=take_random & ~frozen,
                    current_nonfinite=~jnp.isfinite(mean_loss))
        return new, info

    return Method(init=init, step=step, config=config, name="gradsearch")
