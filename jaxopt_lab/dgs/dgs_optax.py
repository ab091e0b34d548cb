"""DGS as the gradient source of any optax transformation (e.g. DGS + Adam).

Each step computes the DGS gradient (Zhang et al., UAI 2021, Eqs. 6-8;
:func:`~jaxopt_lab.dgs.estimator.estimate`) at radius ``sigma``, along the coordinate axes
or along a fresh Haar-random set of directions, and hands it to
``config.optimizer.update(g, opt_state, x)`` in place of ``jax.grad(f)(x)``. The
transformation's own hyper-parameters live in it (use ``optax.inject_hyperparams`` to sweep
them without recompiling); ``sigma`` is the method's ``Params``.

[1] J. Zhang, H. Tran, D. Lu, G. Zhang, UAI 2021, https://proceedings.mlr.press/v161/zhang21a.html

Example::

    from jaxopt_lab import run
    from jaxopt_lab.dgs import dgs_optax
    method = dgs_optax.make(f, dgs_optax.Config(dim=50, optimizer=optax.adam(0.1)))
    final, trace = run(method, key, x0, dgs_optax.params(sigma=1.0), num_steps=300)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab import _checks
from jaxopt_lab.core import Method
from jaxopt_lab.dgs import _descent
from jaxopt_lab.dgs.estimator import estimate, num_evaluations
from jaxopt_lab.linalg import haar_orthogonal

__all__ = ["Config", "Params", "State", "Info", "params", "make", "DIRECTIONS"]

DIRECTIONS = ("identity", "random")


@dataclasses.dataclass(frozen=True)
class Config:
    """Static configuration.

    Attributes:
      dim: number of coordinates.
      optimizer: an ``optax.GradientTransformation``, called as
        ``optimizer.update(g, opt_state, x)`` (default ``optax.adam(0.1)``).
      num_points: Gauss-Hermite nodes per direction ``M`` (>= 2).
      directions: ``"identity"`` (fixed axes) or ``"random"`` (a fresh Haar rotation per
        step, drawn from the step's key).
      chunk_size: at most this many points per batched evaluation (``None``: one batch).
    """

    dim: int
    optimizer: Any = optax.adam(0.1)
    num_points: int = 5
    directions: str = "identity"
    chunk_size: int | None = None

    def __post_init__(self):
        _checks.check_int(self.dim, "dim")
        if not (callable(getattr(self.optimizer, "init", None))
                and callable(getattr(self.optimizer, "update", None))):
            raise ValueError("optimizer must be an optax.GradientTransformation, got "
                             f"{type(self.optimizer).__name__}")
        _checks.check_int(self.num_points, "num_points", minimum=2)
        _checks.check_choice(self.directions, "directions", DIRECTIONS)
        _checks.check_int(self.chunk_size, "chunk_size", allow_none=True)

    @property
    def evals_per_step(self) -> int:
        """The gradient's ``2 floor(M/2) dim`` plus ``f`` at the new iterate."""
        return num_evaluations(self.dim, self.num_points) + 1


class Params(NamedTuple):
    """``sigma``: ``[]`` smoothing radius (a standard deviation), > 0."""

    sigma: jax.Array


def params(sigma=None, *, width=None, dtype=jnp.float32) -> Params:
    """Builds :class:`Params`; ``sigma`` defaults to ``5 w`` (DGS's ``sigma_0``) for an
    initial domain of width ``w`` per coordinate.

    Raises:
      ValueError: ``sigma`` not finite and > 0, or neither ``sigma`` nor ``width`` given.
    """
    dtype = _checks.check_dtype(dtype)
    p = Params(jnp.asarray(_descent.from_domain(sigma, "sigma", width, None, 5.0), dtype))
    _validate_params(p)
    return p


def _validate_params(p) -> None:
    _checks.check_params(p, Params, {"sigma": dict(positive=True)})


class State(NamedTuple):
    """Carried state: iterate, its value, the optax state, best-so-far and counters."""

    x: jax.Array  # [dim]
    f_x: jax.Array  # []
    opt_state: optax.OptState  # the transformation's state
    best_x: jax.Array  # [dim]
    best_f: jax.Array  # []
    num_evals: jax.Array  # [] int32
    step: jax.Array  # [] int32


class Info(NamedTuple):
    """Per-step diagnostics; ``current_nonfinite`` is True when ``f_x``, the value at the
    new iterate (the current point), is not finite (NaN or +-inf)."""

    f_x: jax.Array  # [] value at the new iterate
    best_f: jax.Array  # [] best value so far
    grad_norm: jax.Array  # [] ||g||
    num_nonfinite: jax.Array  # [] int32
    current_nonfinite: jax.Array  # [] bool, f_x (value at the new iterate) not finite


def make(objective: Callable[[jax.Array], jax.Array], config: Config) -> Method:
    """DGS + ``config.optimizer`` for ``objective(x[dim]) -> scalar``.

    Returns:
      A :class:`~jaxopt_lab.core.Method`: ``init`` evaluates ``f(x0)`` (1 evaluation); each
      ``step`` costs ``config.evals_per_step``.
    """
    _checks.check_instance(config, Config, "config")
    _checks.check_objective(objective, config.dim)
    dim, optimizer = config.dim, config.optimizer

    def init(key, x0, params):
        del key
        x0 = _checks.check_point(x0, "x0", dim)
        _validate_params(params)
        f0, best_f = _descent.evaluate_start(objective, x0)
        return State(x=x0, f_x=f0, opt_state=optimizer.init(x0), best_x=x0, best_f=best_f,
                     num_evals=jnp.ones((), jnp.int32), step=jnp.zeros((), jnp.int32))

    def step(key, state, params):
        x, dtype = state.x, state.x.dtype
        dirs = haar_orthogonal(key, dim, dtype) if config.directions == "random" else None
        est = estimate(objective, x, jnp.asarray(params.sigma, dtype), directions=dirs,
                       num_points=config.num_points, chunk_size=config.chunk_size,
                       validate=False)
        updates, opt_state = optimizer.update(est.grad, state.opt_state, x)
        x_new = optax.apply_updates(x, updates).astype(dtype)
        f_new, best_f, best_x, num_bad = _descent.advance(objective, state, x_new, est)
        new = State(x=x_new, f_x=f_new, opt_state=opt_state, best_x=best_x, best_f=best_f,
                    num_evals=state.num_evals + config.evals_per_step, step=state.step + 1)
        return new, Info(f_x=f_new, best_f=best_f, grad_norm=_descent.safe_norm(est.grad),
                         num_nonfinite=num_bad, current_nonfinite=~jnp.isfinite(f_new))

    return Method(init=init, step=step, config=config, name="dgs_optax")
