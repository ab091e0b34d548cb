"""Continuous relaxation baselines of Table 1 (Lu 2021 [1]), trained with optax Adam.

Every variable ``v`` gets a distribution over its values that the differentiable program
consumes; the discrete program read off at every step is the argmax. Kinds
(``RelaxationConfig.kind``; spec ``shared/specs/gradsearch.md`` §1):

  * ``"fmgd"``: ``softmax(s)`` of free logits ``s[num_vars, max_card]`` (TerpreT's FMGD [2]);
  * ``"fmgd_reg"``: plus ``reg * sum_v sum_{i<j} mu_v[i] mu_v[j]`` (for binary variables
    ``reg * mu[0] mu[1]``; pushes towards vertices, symmetric) [proposed in the spec];
  * ``"temp_softmax"`` / ``"temp_softmax_reg"``: ``softmax(s / T)`` with ``T`` annealed
    geometrically from ``temp_start`` to ``temp_end`` over ``num_anneal_steps``;
  * ``"gumbel"``: one relaxed Gumbel-softmax sample per step, temperature
    ``gumbel_temp * gumbel_decay**t`` (2.5 and 0.9999 in the author's 2020 code);
  * ``"neural"``: logits ``= MLP(u)`` of a fixed random input ``u`` (one hidden ReLU layer);
  * ``"ste"``: binary variables only; latent ``w`` in ``U(0.45, 0.55)``, forward uses
    ``1[w > 0.5]``, backward passes the gradient straight through where ``0 <= w <= 1``
    (Bengio et al. 2013).

Non-finite losses: the Adam update of that step is skipped (the latent parameters stay) and
the loss counts as ``+inf`` for ``best_f``.

[1] Lu, "Mitigating the failures of gradient-based program synthesis" (2021).
[2] Gaunt et al., "TerpreT", arXiv:1608.04428 (2016).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.core import Method
from jaxopt_lab.gradsearch import moves

__all__ = ["RelaxationConfig", "RelaxationParams", "RelaxationState", "RelaxationInfo",
           "KINDS", "make", "make_params", "initial_latent"]

KINDS = ("fmgd", "fmgd_reg", "temp_softmax", "temp_softmax_reg", "gumbel", "neural", "ste")
INITS = ("log_dirichlet", "uniform")


@dataclasses.dataclass(frozen=True)
class RelaxationConfig:
    """Static configuration.

    Attributes:
      kind: one of :data:`KINDS`.
      init: logits initialiser, ``"log_dirichlet"`` (TerpreT/Selsam: elementwise log of one
        Dirichlet(1) draw over all entries) or ``"uniform"`` (U(0, 1), the 2020 code).
      num_anneal_steps: length of the temperature schedule of ``temp_softmax*``.
      hidden: hidden width of ``"neural"``; ``input_dim``: size of its fixed input.
      stop_when_solved: freeze the parameters once the argmax program fits every example.
    """

    kind: str = "fmgd"
    init: str = "log_dirichlet"
    num_anneal_steps: int = 1000
    hidden: int = 64
    input_dim: int = 16
    stop_when_solved: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        for name in ("num_anneal_steps", "hidden", "input_dim"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")


class RelaxationParams(NamedTuple):
    """Numeric hyper-parameters (float32 scalars)."""

    learning_rate: jax.Array
    reg: jax.Array
    temp_start: jax.Array
    temp_end: jax.Array
    gumbel_temp: jax.Array
    gumbel_decay: jax.Array


def make_params(learning_rate=1e-3, reg=1.0, temp_start=1.0, temp_end=0.1, gumbel_temp=2.5,
                gumbel_decay=0.9999) -> RelaxationParams:
    """Validated :class:`RelaxationParams`."""
    for name, v in (("learning_rate", learning_rate), ("temp_start", temp_start),
                    ("temp_end", temp_end), ("gumbel_temp", gumbel_temp)):
        if not v > 0:
            raise ValueError(f"{name} must be > 0, got {v!r}")
    if not reg >= 0:
        raise ValueError(f"reg must be >= 0, got {reg!r}")
    if not 0 < gumbel_decay <= 1:
        raise ValueError(f"gumbel_decay must be in (0, 1], got {gumbel_decay!r}")
    return RelaxationParams(*(jnp.float32(v) for v in (learning_rate, reg, temp_start, temp_end,
                                                       gumbel_temp, gumbel_decay)))


class RelaxationState(NamedTuple):
    latent: Any  # trained parameters (logits [V, M], MLP weights, or STE weights [V])
    opt_state: Any  # Adam state
    z: jax.Array  # [V] int32 argmax program of ``latent``
    f: jax.Array  # [] discrete loss of z
    best_f: jax.Array  # [] best discrete loss seen
    solved_at: jax.Array  # [] int32 updates before the first solved argmax program, or -1
    num_evals: jax.Array  # [] int32
    step: jax.Array  # [] int32


class RelaxationInfo(NamedTuple):
    loss: jax.Array  # [] relaxed training loss at the start of the step
    f: jax.Array  # [] discrete loss of the argmax program at the start of the step
    solved: jax.Array  # [] bool


def initial_latent(key: jax.Array, space, config: RelaxationConfig):
    """Random initial latent parameters for ``config.kind`` (the ``x0`` of ``init``)."""
    valid = jnp.asarray(space.valid)
    shape = valid.shape
    if config.kind == "ste":
        if space.max_card != 2:
            raise ValueError("kind 'ste' needs binary parameters only (all cardinalities 2)")
        return jax.random.uniform(key, (space.num_vars,), minval=0.45, maxval=0.55)
    if config.kind == "neural":
        k_in, k1, k2 = jax.random.split(key, 3)
        d, h = config.input_dim, config.hidden
        return {"input": jax.random.normal(k_in, (d,)),
                "w1": jax.random.normal(k1, (d, h)) / np.sqrt(d), "b1": jnp.zeros((h,)),
                "w2": jax.random.normal(k2, (h, shape[0] * shape[1])) / np.sqrt(h),
                "b2": jnp.zeros((shape[0] * shape[1],))}
    if config.init == "uniform":
        return jax.random.uniform(key, shape)
    e = jax.random.exponential(key, shape)  # Dirichlet(1) = normalised Exp(1) draws
    e = jnp.where(valid, e, 1.0)
    total = jnp.sum(jnp.where(valid, e, 0.0))
    return jnp.log(e) - jnp.log(total)


def make(task, config: RelaxationConfig = RelaxationConfig()) -> Method:
    """Builds a relaxation baseline for ``task`` (a ``ProgramTask``).

    ``init(key, latent0, params)`` takes the initial latent parameters
    (:func:`initial_latent`); ``step(key, state, params)`` does one Adam update.
    """
    if not isinstance(config, RelaxationConfig):
        raise ValueError(f"config must be a RelaxationConfig, got {type(config).__name__}")
    space = task.space
    valid = jnp.asarray(space.valid)
    kind = config.kind
    if kind == "ste" and space.max_card != 2:
        raise ValueError("kind 'ste' needs binary parameters only (all cardinalities 2)")

    def loss_of(mat):
        return jnp.mean(task.example_losses(space.to_dict(mat)))

    def masked_softmax(logits):
        return jax.nn.softmax(jnp.where(valid, logits, -jnp.inf), axis=-1)

    def temperature(params, t):
        frac = jnp.minimum(t.astype(jnp.float32) / config.num_anneal_steps, 1.0)
        return params.temp_start * (params.temp_end / params.temp_start) ** frac

    def logits_of(latent):
        if kind == "neural":
            u = jax.lax.stop_gradient(latent["input"])
            hidden = jax.nn.relu(u @ latent["w1"] + latent["b1"])
            return (hidden @ latent["w2"] + latent["b2"]).reshape(valid.shape)
        return latent

    def argmax_program(latent):
        if kind == "ste":
            return (latent > 0.5).astype(jnp.int32)
        return jnp.argmax(jnp.where(valid, logits_of(latent), -jnp.inf), axis=-1).astype(jnp.int32)

    def relaxed(latent, key, params, t):
        """Point fed to the program, ``[V, M]``."""
        if kind == "ste":
            hard = (latent > 0.5).astype(jnp.float32)
            inside = (latent >= 0.0) & (latent <= 1.0)
            x = jax.lax.stop_gradient(hard) + jnp.where(
                inside, latent - jax.lax.stop_gradient(latent), 0.0)
            return jnp.stack([1.0 - x, x], axis=-1)
        logits = logits_of(latent)
        if kind in ("temp_softmax", "temp_softmax_reg"):
            return masked_softmax(logits / temperature(params, t))
        if kind == "gumbel":
            g = jax.random.gumbel(key, valid.shape, dtype=logits.dtype)
            tau = params.gumbel_temp * params.gumbel_decay ** t.astype(jnp.float32)
            return masked_softmax((logits + g) / tau)
        return masked_softmax(logits)

    def objective(latent, key, params, t):
        mu = relaxed(latent, key, params, t)
        loss = loss_of(mu)
        if kind in ("fmgd_reg", "temp_softmax_reg"):
            s = jnp.sum(mu, axis=-1)
            pairwise = 0.5 * (s**2 - jnp.sum(mu**2, axis=-1))  # sum_{i<j} mu_i mu_j
            loss = loss + params.reg * jnp.sum(pairwise)
        return loss

    def discrete(z):
        f = loss_of(moves.onehot_padded(z, space.max_card))
        return jnp.where(jnp.isfinite(f), f, jnp.inf)

    expected = (space.num_vars,) if kind == "ste" else valid.shape

    def init(key, x0, params):
        del key
        if kind != "neural" and tuple(jnp.shape(x0)) != tuple(expected):
            raise ValueError(f"x0 must have shape {tuple(expected)} for kind {kind!r}, "
                             f"got {jnp.shape(x0)} (see initial_latent)")
        adam = optax.adam(params.learning_rate)
        z = argmax_program(x0)
        f = discrete(z)
        return RelaxationState(latent=x0, opt_state=adam.init(x0), z=z, f=f, best_f=f,
                               solved_at=jnp.where(task.solved(z), 0, -1).astype(jnp.int32),
                               num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        adam = optax.adam(params.learning_rate)
        loss, grads = jax.value_and_grad(objective)(state.latent, key, params, state.step)
        solved = task.solved(state.z)
        updates, opt_state = adam.update(grads, state.opt_state, state.latent)
        latent = optax.apply_updates(state.latent, updates)
        ok = jnp.isfinite(loss) & jnp.all(jnp.asarray(
            [jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
        keep = ~ok
        if config.stop_when_solved:
            keep = keep | solved
        latent = jax.tree.map(lambda new, old: jnp.where(keep, old, new), latent, state.latent)
        opt_state = jax.tree.map(lambda new, old: jnp.where(keep, old, new), opt_state,
                                 state.opt_state)
        z = argmax_program(latent)
        f = discrete(z)
        solved_at = jnp.where((state.solved_at < 0) & solved, state.step, state.solved_at)
        new = RelaxationState(latent=latent, opt_state=opt_state, z=z, f=f,
                              best_f=jnp.minimum(state.best_f, f),
                              solved_at=solved_at.astype(jnp.int32),
                              num_evals=state.num_evals + 1, step=state.step + 1)
        return new, RelaxationInfo(loss=loss, f=state.f, solved=solved)

    return Method(init=init, step=step, config=config, name=f"relaxation_{kind}")
