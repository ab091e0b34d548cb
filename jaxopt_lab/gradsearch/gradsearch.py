"""GradSearch and its relatives as ``init``/``step`` methods over discrete programs.

One step = one forward/backward pass of the differentiable program at the current
discrete point ``z`` (optionally smoothed), Taylor estimates of every single-variable move
(:mod:`~jaxopt_lab.gradsearch.moves`) and an update of ``z``. Rules
(``GradSearchConfig.rule``; Lu 2021 [1], spec ``shared/specs/gradsearch.md`` §4):

  * ``"greedy"``: GradSearch (Algorithm 1): apply the move with the smallest estimate,
    ties broken uniformly at random. The move is applied even if its estimate is >= 0.
  * ``"avg_grad"``: running average of the gradient, ``m <- (1 - beta) m + beta g``, moves
    scored with ``m[v, j] - m[v, z_v]`` (the spec's default reading of §3.1).
  * ``"avg_move"``: running average of every move's estimate,
    ``a[v, j] <- (1 - beta) a[v, j] + beta D_t(v, j)``; a move is indexed by its
    (variable, target value), so for a binary variable "go to 1" keeps its history after
    the flip (the literal reading of §3.1).
  * ``"threshold"``: Algorithm 2 (Bop/STE): with ``m`` averaged as in ``"avg_grad"``
    (``beta`` = Bop's adaptivity rate), *every* variable whose best move has
    ``-score > threshold`` moves at once. ``beta = 1, threshold = 0`` is the discrete view of
    STE; ``beta = gamma, threshold = tau`` is Bop (Helwegen et al. 2019) in the {0, 1}
    convention: flip ``x`` iff ``(2x - 1) m > tau``.

Heuristics of GradSearch+ (§3.2), usable with every rule: ``epsilon``-greedy random moves
(``Params.epsilon``), smoothing of the one-hot point (``Config.smoothing``) and random
exponential loss scaling of misfit examples after ``stall_steps`` steps without a new best
(``Config.loss_scaling``).

The objective is a :class:`~jaxopt_lab.problems.programs.ProgramTask` (anything with
``space``, ``example_losses(probs) -> [num_examples]`` and ``solved(z) -> bool``). The loss
is the mean over examples; non-finite losses or gradients are treated as "no information":
the step moves nothing (non-finite estimates are replaced by ``+inf``) and the loss counts
as ``+inf`` for ``best_f``.

[1] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
[2] Helwegen et al., "Latent weights do not exist: rethinking binarized neural network
    optimization", NeurIPS 2019.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.core import Method
from jaxopt_lab.gradsearch import moves

__all__ = ["GradSearchConfig", "GradSearchParams", "GradSearchState", "GradSearchInfo",
           "make", "make_params", "RULES", "gradsearch", "gradsearch_avg", "gradsearch_plus",
           "bop", "ste_discrete", "RestartResult", "solve_with_restarts"]

RULES = ("greedy", "avg_grad", "avg_move", "threshold")
SMOOTHING = (None, "sum_to_one", "literal")


@dataclasses.dataclass(frozen=True)
class GradSearchConfig:
    """Static configuration.

    Attributes:
      rule: one of :data:`RULES`.
      smoothing: ``None``, ``"sum_to_one"`` or ``"literal"`` (GradSearch+ smoothing).
      loss_scaling: GradSearch+ random exponential loss scaling of stalled examples.
      stall_steps: steps without a new best loss before a loss-scaling event.
      misfit_loss: an example whose discrete loss exceeds this counts as misfit.
      stop_when_solved: once the program fits every example, stop moving.
    """

    rule: str = "greedy"
    smoothing: str | None = None
    loss_scaling: bool = False
    stall_steps: int = 50
    misfit_loss: float = 1.0
    stop_when_solved: bool = True

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {self.rule!r}")
        if self.smoothing not in SMOOTHING:
            raise ValueError(f"smoothing must be one of {SMOOTHING}, got {self.smoothing!r}")
        if isinstance(self.stall_steps, bool) or not isinstance(self.stall_steps, int) \
                or self.stall_steps < 1:
            raise ValueError(f"stall_steps must be an int >= 1, got {self.stall_steps!r}")
        if not self.misfit_loss > 0:
            raise ValueError(f"misfit_loss must be > 0, got {self.misfit_loss!r}")


class GradSearchParams(NamedTuple):
    """Numeric hyper-parameters (float32 scalars).

    Attributes:
      beta: running-average rate in [0, 1] (``"avg_*"``, ``"threshold"``: Bop's gamma).
      epsilon: probability in [0, 1] of a uniformly random move instead of the rule's.
      threshold: acceptance threshold >= 0 of ``"threshold"`` (Bop's tau; 0 = STE).
      smooth: smoothing mass in [0, 1) (0.01 in the paper).
    """

    beta: jax.Array
    epsilon: jax.Array
    threshold: jax.Array
    smooth: jax.Array


def make_params(beta=1.0, epsilon=0.0, threshold=0.0, smooth=0.01) -> GradSearchParams:
    """Validated :class:`GradSearchParams` (raises ``ValueError`` naming the argument)."""
    _check_params(GradSearchParams(beta, epsilon, threshold, smooth))
    return GradSearchParams(*(jnp.float32(v) for v in (beta, epsilon, threshold, smooth)))


def _check_params(params) -> None:
    checks = (("beta", 0.0, 1.0), ("epsilon", 0.0, 1.0), ("smooth", 0.0, 0.999999))
    for name, lo, hi in checks:
        value = getattr(params, name)
        if isinstance(value, jax.core.Tracer):
            continue
        arr = np.asarray(value)
        if not (np.all(arr >= lo) and np.all(arr <= hi)):
            raise ValueError(f"{name} must be in [{lo}, {hi:g}], got {value!r}")
    t = params.threshold
    if not isinstance(t, jax.core.Tracer) and not np.all(np.asarray(t) >= 0):
        raise ValueError(f"threshold must be >= 0, got {t!r}")


class GradSearchState(NamedTuple):
    """Carried state. ``V = num_vars``, ``M = max_card``, ``E = num_examples``."""

    z: jax.Array  # [V] int32 current program
    avg: jax.Array  # [V, M] running average (gradient or move estimates)
    log_w: jax.Array  # [E] log loss-scaling weights
    stall: jax.Array  # [] int32 steps since the last new best
    f: jax.Array  # [] discrete (unweighted) loss of the program at the start of the last step
    best_f: jax.Array  # [] best discrete loss seen
    best_z: jax.Array  # [V] program with best_f
    solved_at: jax.Array  # [] int32 number of updates before the first solved program, -1
    num_evals: jax.Array  # [] int32 loss/gradient evaluations
    step: jax.Array  # [] int32


class GradSearchInfo(NamedTuple):
    f: jax.Array  # [] discrete loss at the start of the step
    min_estimate: jax.Array  # [] smallest move score (>= 0: local minimum of the estimate)
    num_moved: jax.Array  # [] int32 variables changed by this step
    random: jax.Array  # [] bool: an epsilon-greedy random move was taken
    solved: jax.Array  # [] bool: program at the start of the step fits every example


def make(task, config: GradSearchConfig = GradSearchConfig()) -> Method:
    """Builds a GradSearch-family method for ``task``.

    Args:
      task: a :class:`~jaxopt_lab.problems.programs.ProgramTask`.
      config: :class:`GradSearchConfig`.

    Returns:
      ``Method`` with ``init(key, z0[num_vars] int, params) -> GradSearchState`` and
      ``step(key, state, params) -> (GradSearchState, GradSearchInfo)``.
    """
    if not isinstance(config, GradSearchConfig):
        raise ValueError(f"config must be a GradSearchConfig, got {type(config).__name__}")
    space = task.space
    valid = jnp.asarray(space.valid)
    cards = jnp.asarray(space.cards)
    num_examples = int(task.targets.shape[0])

    def example_losses(mat):
        return task.example_losses(space.to_dict(mat))

    def discrete_losses(z):
        return example_losses(moves.onehot_padded(z, space.max_card))

    def weighted_loss(mat, log_w):
        losses = example_losses(mat)
        w = jnp.exp(log_w - jnp.max(log_w))
        w = w / jnp.mean(w)
        return jnp.mean(w * losses), losses

    def init(key, x0, params):
        del key
        space.check(x0, argument="x0")
        _check_params(params)
        z = jnp.asarray(x0, jnp.int32)
        f = _finite_or_inf(jnp.mean(discrete_losses(z)))
        solved = task.solved(z)
        return GradSearchState(
            z=z, avg=jnp.zeros(valid.shape, jnp.float32),
            log_w=jnp.zeros((num_examples,), jnp.float32), stall=jnp.zeros((), jnp.int32),
            f=f, best_f=f, best_z=z, solved_at=jnp.where(solved, 0, -1).astype(jnp.int32),
            num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        # one uniform draw per step (each threefry call costs compile time):
        # [tie priorities V*M | epsilon | random variable | random value | example pick E]
        num_moves = valid.shape[0] * valid.shape[1]
        u = jax.random.uniform(key, (num_moves + 3 + num_examples,))
        priority = u[:num_moves].reshape(valid.shape)
        z = state.z
        hot = moves.onehot_padded(z, space.max_card)
        if config.smoothing is None:
            point = hot
        else:
            point = moves.smoothed_onehot(z, valid, params.smooth, config.smoothing)
        (_, losses), grad = jax.value_and_grad(weighted_loss, has_aux=True)(point, state.log_w)
        evals = 1
        if config.smoothing is not None:
            losses = discrete_losses(z)
            evals = 2
        f = _finite_or_inf(jnp.mean(losses))
        grad = jnp.where(valid & jnp.isfinite(grad), grad, 0.0)
        solved = task.solved(z)

        beta = params.beta
        if config.rule == "greedy":
            avg = state.avg
            scores = moves.switch_estimates(grad, z)
        elif config.rule in ("avg_grad", "threshold"):
            avg = (1.0 - beta) * state.avg + beta * grad
            scores = moves.switch_estimates(avg, z)
        else:  # avg_move
            avg = (1.0 - beta) * state.avg + beta * moves.switch_estimates(grad, z)
            scores = avg
        candidates = moves.candidate_mask(z, valid)
        scores = jnp.where(candidates & jnp.isfinite(scores), scores, jnp.inf)

        if config.rule == "threshold":
            # every variable's best move, accepted where the predicted decrease > threshold
            best_j = jax.vmap(moves.argmin_by_priority)(scores, priority)
            best = jnp.take_along_axis(scores, best_j[:, None], axis=1)[:, 0]
            accept = -best > params.threshold
            proposal = jnp.where(accept, best_j.astype(z.dtype), z)
            min_est = jnp.min(scores)
        else:
            flat = moves.argmin_by_priority(scores, priority)
            v, j = flat // valid.shape[1], flat % valid.shape[1]
            min_est = scores.reshape(-1)[flat]
            greedy = jnp.where(jnp.isfinite(min_est), moves.apply_move(z, v, j), z)
            proposal = greedy
        take_random = u[num_moves] < params.epsilon
        rv, rj = moves.move_from_uniforms(u[num_moves + 1], u[num_moves + 2], z, cards)
        proposal = jnp.where(take_random, moves.apply_move(z, rv, rj), proposal)
        frozen = solved if config.stop_when_solved else jnp.zeros((), bool)
        new_z = jnp.where(frozen, z, proposal)

        improved = f < state.best_f
        best_f = jnp.where(improved, f, state.best_f)
        best_z = jnp.where(improved, z, state.best_z)
        log_w, stall = state.log_w, jnp.where(improved, 0, state.stall + 1)
        if config.loss_scaling:
            trigger = stall >= config.stall_steps
            misfit = losses > config.misfit_loss
            pool = jnp.where(jnp.any(misfit), misfit, jnp.ones_like(misfit))
            pick = jnp.argmax(jnp.where(pool, u[num_moves + 3:], -1.0))
            log_w = jnp.where(trigger, log_w.at[pick].add(1.0), log_w)
            stall = jnp.where(trigger, 0, stall)
        solved_at = jnp.where((state.solved_at < 0) & solved, state.step, state.solved_at)
        new = GradSearchState(z=new_z, avg=avg, log_w=log_w, stall=stall.astype(jnp.int32),
                              f=f, best_f=best_f, best_z=best_z,
                              solved_at=solved_at.astype(jnp.int32),
                              num_evals=state.num_evals + evals, step=state.step + 1)
        info = GradSearchInfo(f=f, min_estimate=min_est,
                              num_moved=jnp.sum(new_z != z, dtype=jnp.int32),
                              random=take_random & ~frozen, solved=solved)
        return new, info

    return Method(init=init, step=step, config=config, name=f"gradsearch_{config.rule}")


def _finite_or_inf(f):
    return jnp.where(jnp.isfinite(f), f, jnp.inf)


# Named presets (spec §4). Each returns (method, params).


def gradsearch(task):
    """GradSearch, Algorithm 1 (greedy, random tie-breaking)."""
    return make(task, GradSearchConfig("greedy")), make_params()


def gradsearch_avg(task, beta=0.1, reading="avg_grad"):
    """GradSearch with running average (§3.1); ``reading`` = ``"avg_grad"`` or ``"avg_move"``."""
    if reading not in ("avg_grad", "avg_move"):
        raise ValueError(f"reading must be 'avg_grad' or 'avg_move', got {reading!r}")
    return make(task, GradSearchConfig(reading)), make_params(beta=beta)


def gradsearch_plus(task, epsilon=0.1, smoothing="sum_to_one", loss_scaling=True,
                    stall_steps=50, rule="greedy", beta=1.0):
    """GradSearch+ (§3.2): epsilon-greedy, smoothing, random exponential loss scaling."""
    cfg = GradSearchConfig(rule, smoothing=smoothing, loss_scaling=loss_scaling,
                           stall_steps=stall_steps)
    return make(task, cfg), make_params(beta=beta, epsilon=epsilon)


def bop(task, gamma=1e-5, tau=0.1):
    """Bop in the {0, 1} convention: ``m <- (1-gamma) m + gamma g``, flip iff
    ``(2x - 1) m > tau`` (Helwegen et al. 2019; the author's 2020 parity setting)."""
    return make(task, GradSearchConfig("threshold")), make_params(beta=gamma, threshold=tau)


def ste_discrete(task):
    """Algorithm 2 with threshold 0 and no averaging: flip every bit whose estimate < 0."""
    return make(task, GradSearchConfig("threshold")), make_params(beta=1.0, threshold=0.0)


class RestartResult(NamedTuple):
    """Outcome of :func:`solve_with_restarts`.

    Attributes:
      solved: whether some restart found a program that fits every example.
      program: ``[num_vars]`` the first solved program (restart with the fewest steps), or the
        best-loss program if none was solved.
      steps: updates that restart needed (``-1`` if none solved).
      num_steps_run: steps the whole batch ran (a multiple of ``chunk_steps``).
      wall_s: wall-clock seconds from the initial states to the first solution (or to the
        end of the budget), compilation excluded.
      compile_s: seconds spent compiling (first call).
      num_solved: restarts solved by the time the loop stopped.
      num_restarts: restarts in the batch (``num_solved / num_restarts`` is the success
        rate when the whole budget was run, ``stop_at_first=False``).
    """

    solved: bool
    program: np.ndarray
    steps: int
    num_steps_run: int
    wall_s: float
    compile_s: float
    num_solved: int
    num_restarts: int = 0


def solve_with_restarts(method: Method, params, start_fn, key: jax.Array, num_restarts: int,
                        max_steps: int, chunk_steps: int = 100,
                        stop_at_first: bool = True) -> RestartResult:
    """Runs ``num_restarts`` restarts as one vmapped batch until one is solved.

    The batch advances ``chunk_steps`` steps per compiled call (a ``lax.scan`` of the
    vmapped step); after each call the host checks whether any restart has solved the task
    and stops. Restart ``i`` uses ``fold_in(key, i)``: its start point is
    ``start_fn(init_key)`` and its step ``t`` key is ``fold_in(loop_key, t)``, as in
    :func:`jaxopt_lab.core.run`.

    Args:
      method: a method whose state has ``solved_at``, ``best_f`` and (``z`` or ``best_z``).
      params: the method's ``Params``.
      start_fn: ``start_fn(key) -> x0`` (a random start point of one restart).
      key: PRNG key.
      num_restarts, max_steps, chunk_steps: positive ints.
      stop_at_first: if False, run the whole budget (to measure the success rate
        ``num_solved / num_restarts``); ``wall_s`` is still the time to the end of the chunk
        in which the first restart was solved.
    """
    import time

    for name, v in (("num_restarts", num_restarts), ("max_steps", max_steps),
                    ("chunk_steps", chunk_steps)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an int >= 1, got {v!r}")
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num_restarts))
    split = jax.vmap(jax.random.split)(keys)
    init_keys, loop_keys = split[:, 0], split[:, 1]

    @jax.jit
    def init_all(init_keys):
        return jax.vmap(lambda k: method.init(k, start_fn(k), params))(init_keys)

    @jax.jit
    def advance(states, t0):
        def body(states, t):
            step_keys = jax.vmap(lambda k: jax.random.fold_in(k, t))(loop_keys)
            states, _ = jax.vmap(lambda k, s: method.step(k, s, params))(step_keys, states)
            return states, None

        states, _ = jax.lax.scan(body, states, t0 + jnp.arange(chunk_steps))
        return states

    start = time.perf_counter()
    warm = advance(init_all(init_keys), jnp.int32(0))
    jax.block_until_ready(warm)
    compile_s = time.perf_counter() - start

    start = time.perf_counter()
    states = init_all(init_keys)
    done = 0
    solved_at = np.asarray(states.solved_at)
    first_s = 0.0 if (solved_at >= 0).any() else None
    while done < max_steps and (first_s is None or not stop_at_first):
        states = advance(states, jnp.int32(done))
        done += chunk_steps
        solved_at = np.asarray(states.solved_at)
        if first_s is None and (solved_at >= 0).any():
            first_s = time.perf_counter() - start
    wall_s = time.perf_counter() - start if first_s is None else first_s
    ok = solved_at >= 0
    z = np.asarray(states.z)
    if ok.any():
        first = int(np.argmin(np.where(ok, solved_at, np.iinfo(np.int32).max)))
        return RestartResult(True, z[first], int(solved_at[first]), done, wall_s, compile_s,
                             int(ok.sum()), num_restarts)
    best = int(np.argmin(np.asarray(states.best_f)))
    best_z = np.asarray(getattr(states, "best_z", states.z))  # relaxations keep no best_z
    return RestartResult(False, best_z[best], -1, done, wall_s, compile_s, 0, num_restarts)
