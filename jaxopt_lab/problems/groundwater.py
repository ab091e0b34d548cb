"""Steady 2D groundwater flow (Darcy, finite volumes) and a conductivity-inversion black box.

Stand-in for MODFLOW in the DGS paper's §4.3 (Zhang et al., UAI 2021): a confined, steady,
single-layer aquifer on the unit square, ``nx x ny`` square cells (cell ``(iy, ix)`` has its
centre at ``((ix + 1/2)/nx, (iy + 1/2)/ny)``, ``nx == ny`` not required; cells are
``1/nx x 1/ny``). Heads ``h`` at cell centres solve the finite-volume balance

    sum_faces T_f (h_neighbour - h_cell) + Q_cell = 0,

with face transmissibilities from the harmonic mean of the two cells' conductivities
(``T = (dy/dx) 2 K_1 K_2 / (K_1 + K_2)`` across a vertical face), fixed heads on the left
(``x = 0``) and right (``x = 1``) boundaries imposed at the face (half-cell distance,
``T = (dy/dx) 2 K_cell``), no flow through top and bottom, and wells as point sources
``Q`` (positive = injection, per unit thickness) in their cells. This is MODFLOW's
block-centred scheme for one layer [1] with harmonic interblock conductance. The matrix is
symmetric positive definite and block tridiagonal by grid columns; it is solved exactly with
:func:`jaxopt_lab.linalg.block_tridiagonal_solve` (``O(nx ny^3)``).

Conductivity parameterisation (paper §4.3): a fully connected network, 2 inputs (cell
centre mapped to ``[-1, 1]^2``), one hidden layer of 64 ``tanh`` units, 1 output ``z``;
**positive link** ``K = exp(clip(z, -max_log_k, max_log_k))`` (``"exp"``, default) or
``K = softplus(z) + k_floor`` (``"softplus"``), so every parameter vector gives a finite,
strictly positive field. Parameters are one flat ``[num_params]`` vector (257 for 64 units):
``W1 [2, H]`` (row-major), ``b1 [H]``, ``w2 [H]``, ``b2 []``.

Non-finite rule: :func:`solve_heads` validates concrete conductivities (finite, > 0) and
raises ``ValueError``; inside ``jit`` it cannot, and a non-positive conductivity makes the
solve non-finite. :func:`inversion_loss` reports a non-finite loss as ``+inf``.

[1] Harbaugh, "MODFLOW-2005, the U.S. Geological Survey modular ground-water model — the
    Ground-Water Flow Process", USGS Techniques and Methods 6-A16 (2005), ch. 2.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.linalg import block_tridiagonal_solve

__all__ = [
    "Aquifer", "MLPField", "Inversion", "solve_heads", "assemble_blocks", "boundary_inflow",
    "cell_balance", "true_log_conductivity", "make_inversion", "inversion_loss", "LINKS",
    "predicted_conductivity", "default_wells",
]

LINKS = ("exp", "softplus")


@dataclasses.dataclass(frozen=True)
class Aquifer:
    """Grid, boundary heads and wells (static, hashable).

    Attributes:
        nx: cells along x (>= 2).
        ny: cells along y (>= 2).
        head_left, head_right: fixed heads on ``x = 0`` and ``x = 1``.
        wells: tuple of ``(ix, iy, rate)``; ``rate`` > 0 injects, < 0 pumps.
    """

    nx: int
    ny: int
    head_left: float = 1.0
    head_right: float = 0.0
    wells: tuple = ()

    def __post_init__(self):
        for name in ("nx", "ny"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 2:
                raise ValueError(f"{name} must be an int >= 2, got {v!r}")
        for name in ("head_left", "head_right"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")
        for well in self.wells:
            if len(well) != 3:
                raise ValueError(f"wells must hold (ix, iy, rate) triples, got {well!r}")
            ix, iy, rate = well
            if not (0 <= ix < self.nx and 0 <= iy < self.ny) or not np.isfinite(rate):
                raise ValueError(f"wells: cell ({ix}, {iy}) must lie in the {self.nx} x "
                                 f"{self.ny} grid and the rate must be finite, got {well!r}")

    def sources(self) -> np.ndarray:
        """``[ny, nx]`` well rates per cell."""
        q = np.zeros((self.ny, self.nx))
        for ix, iy, rate in self.wells:
            q[iy, ix] += rate
        return q

    def centres(self) -> np.ndarray:
        """``[ny, nx, 2]`` cell-centre coordinates ``(x, y)`` in the unit square."""
        xs = (np.arange(self.nx) + 0.5) / self.nx
        ys = (np.arange(self.ny) + 0.5) / self.ny
        return np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=-1)


def _harmonic(a, b):
    return 2.0 * a * b / (a + b)


def _transmissibilities(aquifer: Aquifer, k: jax.Array):
    """Face transmissibilities: ``tx [ny, nx - 1]``, ``ty [ny - 1, nx]``, boundary ``[ny]`` x2."""
    rx = aquifer.nx / aquifer.ny  # dy / dx for a vertical face
    ry = aquifer.ny / aquifer.nx  # dx / dy for a horizontal face
    tx = rx * _harmonic(k[:, :-1], k[:, 1:])
    ty = ry * _harmonic(k[:-1, :], k[1:, :])
    t_left = rx * 2.0 * k[:, 0]
    t_right = rx * 2.0 * k[:, -1]
    return tx, ty, t_left, t_right


def assemble_blocks(aquifer: Aquifer, k: jax.Array):
    """Block-tridiagonal system ``A h = b`` by grid columns.

    Args:
        aquifer: grid and boundary conditions.
        k: ``[ny, nx]`` positive conductivities.

    Returns:
        ``(diag [nx, ny, ny], lower [nx - 1, ny, ny], rhs [nx, ny])`` with ``A`` symmetric
        positive definite (the negated balance operator).
    """
    nx, ny = aquifer.nx, aquifer.ny
    tx, ty, t_left, t_right = _transmissibilities(aquifer, k)
    zero_col = jnp.zeros((ny, 1), k.dtype)
    zero_row = jnp.zeros((1, nx), k.dtype)
    # Sum of transmissibilities of each cell's faces (x-faces, y-faces, boundary faces).
    tsum = (jnp.concatenate([zero_col, tx], axis=1) + jnp.concatenate([tx, zero_col], axis=1)
            + jnp.concatenate([zero_row, ty], axis=0) + jnp.concatenate([ty, zero_row], axis=0))
    tsum = tsum.at[:, 0].add(t_left).at[:, -1].add(t_right)
    eye_up = jnp.eye(ny, k=1, dtype=k.dtype)
    eye_down = jnp.eye(ny, k=-1, dtype=k.dtype)
    typ = jnp.concatenate([ty, zero_row], axis=0).T          # [nx, ny], entry j: face j|j+1
    diag = (jax.vmap(jnp.diag)(tsum.T)
            - typ[:, :, None] * eye_up[None] - typ[:, None, :] * eye_down[None])
    lower = -jax.vmap(jnp.diag)(tx.T)
    rhs = jnp.asarray(aquifer.sources(), k.dtype)
    rhs = rhs.at[:, 0].add(t_left * aquifer.head_left).at[:, -1].add(t_right * aquifer.head_right)
    return diag, lower, rhs.T


def _check_conductivity(aquifer: Aquifer, k) -> None:
    shape = getattr(k, "shape", None)
    if shape is None or tuple(shape) != (aquifer.ny, aquifer.nx):
        raise ValueError(f"conductivity must have shape ({aquifer.ny}, {aquifer.nx}), "
                         f"got {shape}")
    try:
        values = np.asarray(k)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return  # traced: cannot check; a non-positive value gives a non-finite solve
    if not np.all(np.isfinite(values)) or not np.all(values > 0):
        bad = int(np.sum(~(np.isfinite(values) & (values > 0))))
        raise ValueError(f"conductivity must be finite and > 0 everywhere ({bad} cells are "
                         "not); use a positive link function")


def solve_heads(aquifer: Aquifer, k: jax.Array) -> jax.Array:
    """Steady heads ``[ny, nx]`` for conductivities ``k`` ``[ny, nx]`` (positive, finite)."""
    _check_conductivity(aquifer, k)
    diag, lower, rhs = assemble_blocks(aquifer, k)
    return block_tridiagonal_solve(diag, lower, rhs).T


def boundary_inflow(aquifer: Aquifer, k: jax.Array, h: jax.Array):
    """Volumetric inflow through the left and right fixed-head boundaries (``[]`` each).

    Mass conservation: ``left + right + sum(well rates) == 0`` for the solved heads.
    """
    _, _, t_left, t_right = _transmissibilities(aquifer, k)
    left = jnp.sum(t_left * (aquifer.head_left - h[:, 0]))
    right = jnp.sum(t_right * (aquifer.head_right - h[:, -1]))
    return left, right


def cell_balance(aquifer: Aquifer, k: jax.Array, h: jax.Array) -> jax.Array:
    """Net inflow into every cell (faces + boundary faces + wells), ``[ny, nx]``; ~0 if solved."""
    tx, ty, t_left, t_right = _transmissibilities(aquifer, k)
    fx = tx * (h[:, 1:] - h[:, :-1])      # flow into the left cell of each x-face
    fy = ty * (h[1:, :] - h[:-1, :])      # flow into the lower cell of each y-face
    zero_col = jnp.zeros((aquifer.ny, 1), h.dtype)
    zero_row = jnp.zeros((1, aquifer.nx), h.dtype)
    net = (jnp.concatenate([fx, zero_col], axis=1) - jnp.concatenate([zero_col, fx], axis=1)
           + jnp.concatenate([fy, zero_row], axis=0) - jnp.concatenate([zero_row, fy], axis=0))
    net = net.at[:, 0].add(t_left * (aquifer.head_left - h[:, 0]))
    net = net.at[:, -1].add(t_right * (aquifer.head_right - h[:, -1]))
    return net + jnp.asarray(aquifer.sources(), h.dtype)


@dataclasses.dataclass(frozen=True)
class MLPField:
    """``K(x, y) = link(w2 . tanh(W1 [x', y'] + b1) + b2)``, ``(x', y') = 2 (x, y) - 1``.

    Attributes:
        hidden: hidden units (paper: 64).
        link: ``"exp"`` (``exp(clip(z, -max_log_k, max_log_k))``) or ``"softplus"``
            (``softplus(z) + k_floor``).
        max_log_k: clip bound of the ``"exp"`` link (> 0).
        k_floor: additive floor of the ``"softplus"`` link (> 0).
    """

    hidden: int = 64
    link: str = "exp"
    max_log_k: float = 8.0
    k_floor: float = 1e-3

    def __post_init__(self):
        if not isinstance(self.hidden, int) or self.hidden < 1:
            raise ValueError(f"hidden must be a positive int, got {self.hidden!r}")
        if self.link not in LINKS:
            raise ValueError(f"link must be one of {LINKS}, got {self.link!r}")
        if not (self.max_log_k > 0 and self.k_floor > 0):
            raise ValueError("max_log_k and k_floor must be > 0")

    @property
    def num_params(self) -> int:
        return 4 * self.hidden + 1

    def unflatten(self, params: jax.Array):
        """``[num_params]`` -> ``(W1 [2, H], b1 [H], w2 [H], b2 [])``."""
        if getattr(params, "shape", None) != (self.num_params,):
            raise ValueError(f"params must have shape ({self.num_params},), "
                             f"got {getattr(params, 'shape', None)}")
        h = self.hidden
        return (params[: 2 * h].reshape(2, h), params[2 * h: 3 * h], params[3 * h: 4 * h],
                params[4 * h])

    def raw(self, params: jax.Array, points: jax.Array) -> jax.Array:
        """Network output ``z`` (before the link) at ``points`` ``[..., 2]`` in the unit square."""
        w1, b1, w2, b2 = self.unflatten(params)
        flat = (2.0 * points - 1.0).reshape(-1, 2)
        hidden = jnp.tanh(flat @ w1 + b1[None, :])
        return (hidden @ w2 + b2).reshape(points.shape[:-1])

    def conductivity(self, params: jax.Array, points: jax.Array) -> jax.Array:
        """Positive conductivity at ``points`` ``[..., 2]`` -> ``[...]``."""
        z = self.raw(params, points)
        if self.link == "exp":
            return jnp.exp(jnp.clip(z, -self.max_log_k, self.max_log_k))
        return jax.nn.softplus(z) + self.k_floor

    def init(self, key: jax.Array, dtype=jnp.float32) -> jax.Array:
        """Glorot-normal weights, zero biases, flat ``[num_params]``."""
        k1, k2 = jax.random.split(key)
        h = self.hidden
        w1 = jax.random.normal(k1, (2 * h,), dtype) * np.sqrt(2.0 / (2 + h))
        w2 = jax.random.normal(k2, (h,), dtype) * np.sqrt(2.0 / (h + 1))
        return jnp.concatenate([w1, jnp.zeros((h,), dtype), w2, jnp.zeros((1,), dtype)])


def true_log_conductivity(points: np.ndarray) -> np.ndarray:
    """Synthetic "true" log-conductivity: a meandering high-K channel plus a low-K lens.

    **[ASSUMPTION]** the paper's true field (its Fig. 7, left) is not given numerically.

    Args:
        points: ``[..., 2]`` coordinates in the unit square.

    Returns:
        ``[...]`` values of ``ln K`` in about ``[-1.5, 1.5]``.
    """
    x, y = points[..., 0], points[..., 1]
    channel = np.exp(-((y - 0.5 - 0.2 * np.sin(2 * np.pi * x)) ** 2) / 0.02)
    lens = np.exp(-((x - 0.7) ** 2 + (y - 0.2) ** 2) / 0.02)
    return 1.5 * channel - 1.0 * lens - 0.3


class Inversion(NamedTuple):
    """A conductivity-inversion instance (the black box of §4.3).

    Attributes:
        aquifer: grid and boundary conditions.
        field: the network parameterisation.
        obs_index: ``[num_obs]`` flat cell indices (into ``[ny * nx]``) of the observations.
        obs_heads: ``[num_obs]`` heads of the true field at those cells.
        true_k: ``[ny, nx]`` the true conductivity.
        true_heads: ``[ny, nx]`` its heads.
    """

    aquifer: Aquifer
    field: MLPField
    obs_index: np.ndarray
    obs_heads: np.ndarray
    true_k: np.ndarray
    true_heads: np.ndarray


def default_wells(nx: int, ny: int, rate: float = 0.05) -> tuple:
    """Two pumping wells and one injection well at fixed relative positions."""
    cells = [(0.3, 0.3, -rate), (0.6, 0.75, -rate), (0.45, 0.55, rate)]
    return tuple((int(cx * nx), int(cy * ny), r) for cx, cy, r in cells)


def make_inversion(seed: int = 0, *, nx: int = 32, ny: int = 32, num_obs: int = 50,
                   field: MLPField = MLPField(), wells: tuple | None = None,
                   dtype=np.float32) -> Inversion:
    """Builds the inversion problem: true field, heads, ``num_obs`` random observation cells.

    Args:
        seed: seed of the observation locations (numpy ``default_rng``).
        nx: grid cells along x.
        ny: grid cells along y.
        num_obs: observed cells, ``1 <= num_obs <= nx * ny`` (paper: 50), drawn without
            replacement.
        field: network parameterisation of the unknown field.
        wells: ``(ix, iy, rate)`` triples; default :func:`default_wells`.
        dtype: dtype of the stored arrays.
    """
    aquifer = Aquifer(nx=nx, ny=ny, wells=default_wells(nx, ny) if wells is None else wells)
    if not isinstance(num_obs, int) or not (1 <= num_obs <= nx * ny):
        raise ValueError(f"num_obs must be an int in [1, {nx * ny}], got {num_obs!r}")
    true_k = np.exp(true_log_conductivity(aquifer.centres()))
    heads = np.asarray(solve_heads(aquifer, jnp.asarray(true_k, jnp.float32)), np.float64)
    rng = np.random.default_rng(seed)
    obs_index = np.sort(rng.choice(nx * ny, size=num_obs, replace=False))
    return Inversion(aquifer, field, obs_index, heads.reshape(-1)[obs_index].astype(dtype),
                     true_k.astype(dtype), heads.astype(dtype))


def predicted_conductivity(problem: Inversion, params: jax.Array) -> jax.Array:
    """``[ny, nx]`` conductivity of network parameters ``params`` ``[num_params]``."""
    points = jnp.asarray(problem.aquifer.centres(), params.dtype)
    return problem.field.conductivity(params, points)


def inversion_loss(problem: Inversion, params: jax.Array) -> jax.Array:
    """Mean squared head error at the observation cells (black box); scalar, ``+inf`` if not finite."""
    k = predicted_conductivity(problem, params)
    diag, lower, rhs = assemble_blocks(problem.aquifer, k)
    heads = block_tridiagonal_solve(diag, lower, rhs).T.reshape(-1)
    err = heads[jnp.asarray(problem.obs_index)] - jnp.asarray(problem.obs_heads, params.dtype)
    loss = jnp.mean(err**2)
    return jnp.where(jnp.isfinite(loss), loss, jnp.inf)
