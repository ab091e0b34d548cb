"""Random walk and skipping chain: geometry, sigma as a standard deviation, halting,
boundaries, masking, and bit-identity with the recorded chains."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.basin_hopping import perturb

LO = jnp.asarray([-5.0, -3.0])
HI = jnp.asarray([5.0, 7.0])


def _never(x):  # nothing is below f(X) = -1: the chain runs to K
    return jnp.sum(x * 0.0)


def _chain(key, boundary="none", radii="equal", k=10, x=None, fx=-1.0, objective=_never,
           sigma=1.5, active=True):
    x = jnp.asarray([0.5, 1.0]) if x is None else x
    return _jitted_chain(key, x, fx, objective, sigma, k, radii, boundary, active)


@functools.partial(jax.jit, static_argnums=(3, 5, 6, 7, 8))
def _jitted_chain(key, x, fx, objective, sigma, k, radii, boundary, active):
    return perturb.skipping_chain(key, x, jnp.float32(fx), objective, jnp.float32(sigma), LO,
                                  HI, max_skips=k, radii=radii, boundary=boundary,
                                  active=active)


@pytest.mark.parametrize("radii", ["equal", "iid"])
def test_points_lie_on_one_ray(radii):
    for seed in range(5):
        res = _chain(jax.random.key(seed), radii=radii)
        d = np.asarray(res.points, np.float64) - np.array([0.5, 1.0])
        cross = d[:, 0] * d[0, 1] - d[:, 1] * d[0, 0]  # 2-D cross product with the first step
        assert np.max(np.abs(cross)) < 1e-3 * np.max(np.sum(d ** 2, axis=1))
        assert np.all(d @ d[0] > 0)  # same direction, not backwards
        steps = np.linalg.norm(np.diff(np.concatenate([np.zeros((1, 2)), d]), axis=0), axis=1)
        if radii == "equal":
            np.testing.assert_allclose(steps, steps[0], rtol=1e-4)
        else:
            assert np.std(steps) > 1e-3
        assert int(res.num_steps) == 10 and not bool(res.found)
        np.testing.assert_array_equal(res.y, jnp.asarray([0.5, 1.0]))


def test_periodic_wrap_stays_inside_and_matches_unwrapped_modulo_width():
    for seed in range(5):
        res = _chain(jax.random.key(seed), boundary="periodic", sigma=8.0)
        raw = _chain(jax.random.key(seed), boundary="none", sigma=8.0)
        pts = np.asarray(res.points)
        assert np.all(pts >= np.asarray(LO)) and np.all(pts < np.asarray(HI))
        width = np.asarray(HI - LO)
        shift = (np.asarray(raw.points) - pts) / width
        np.testing.assert_allclose(shift, np.round(shift), atol=1e-4)


def test_wrap_agrees_with_single_wrap_for_short_steps():
    rng = np.random.default_rng(0)
    lo, hi = np.asarray(LO), np.asarray(HI)
    x = rng.uniform(2 * lo - hi + 1e-3, 2 * hi - lo - 1e-3, size=(1000, 2)).astype(np.float32)
    single = np.where(x > hi, x - (hi - lo), np.where(x < lo, x + (hi - lo), x))
    np.testing.assert_allclose(perturb.wrap(jnp.asarray(x), LO[None], HI[None]), single, atol=1e-5)


def test_first_only_boundary_wraps_z1_and_continues_outside():
    res = _chain(jax.random.key(3), boundary="first", sigma=6.0)
    pts = np.asarray(res.points)
    assert np.all(pts[0] >= np.asarray(LO)) and np.all(pts[0] <= np.asarray(HI))
    assert np.any((pts[1:] < np.asarray(LO)) | (pts[1:] > np.asarray(HI)))
    d = pts - pts[0]
    cross = d[2:, 0] * d[1, 1] - d[2:, 1] * d[1, 0]
    assert np.max(np.abs(cross)) < 1e-3 * np.max(np.sum(d ** 2, axis=1))


def test_halts_at_first_strict_sublevel_point():
    # f = distance along e1; X at 0 with f(X) = 0; only points with x1 < 0 are below.
    def f(x):
        return x[0]

    for seed in range(20):
        res = _chain(jax.random.key(seed), x=jnp.zeros(2), fx=0.0, objective=f, k=10)
        pts = np.asarray(res.points)
        below = pts[:, 0] < 0
        if below.any():
            first = int(np.argmax(below))
            assert bool(res.found) and int(res.num_steps) == first + 1
            np.testing.assert_array_equal(res.y, pts[first])
        else:
            assert not bool(res.found) and int(res.num_steps) == 10


def test_strict_test_rejects_ties():
    res = _chain(jax.random.key(0), fx=0.0)  # f == 0 == f(X) everywhere
    assert not bool(res.found) and int(res.num_steps) == 10


def test_k_equal_one_is_a_single_gaussian_proposal():
    # K = 1: one point Z_1 = X + W, accepted iff f(Z_1) < f(X): monotone BH's proposal.
    def f(x):
        return jnp.sum(x ** 2)

    x = jnp.asarray([1.0, 1.0])
    for seed in range(20):
        res = _chain(jax.random.key(seed), x=x, fx=2.0, objective=f, k=1)
        z1 = np.asarray(res.points[0])
        assert int(res.num_steps) == 1
        assert bool(res.found) == (np.sum(z1 ** 2) < 2.0)
        np.testing.assert_array_equal(res.y, z1 if res.found else np.asarray(x))


@pytest.mark.parametrize("sigma,expected_std", [(2.0, 2.0),
                                                (perturb.std_from_variance(2.0), np.sqrt(2.0))])
def test_sigma_is_a_standard_deviation(sigma, expected_std):
    # std_from_variance reads a published variance (the authors' BH sigma) as sqrt of it
    keys = jax.random.split(jax.random.key(0), 20000)
    walk = jax.vmap(lambda k: perturb.random_walk(k, jnp.zeros(2), jnp.float32(sigma), LO,
                                                  HI))(keys)
    # E|W| for W ~ N(0, s^2 I_2) is s sqrt(pi/2) (Rayleigh mean)
    np.testing.assert_allclose(np.mean(walk.radius), expected_std * np.sqrt(np.pi / 2), rtol=0.02)
    np.testing.assert_allclose(np.std(np.asarray(walk.y), axis=0), expected_std, rtol=0.03)
    chains = jax.vmap(lambda k: _chain(k, sigma=float(sigma), k=1))(keys)
    np.testing.assert_allclose(np.mean(chains.first_radius), expected_std * np.sqrt(np.pi / 2),
                               rtol=0.02)


def test_random_walk_periodic_wraps():
    keys = jax.random.split(jax.random.key(1), 500)
    walk = jax.vmap(lambda k: perturb.random_walk(k, jnp.asarray([4.9, 6.9]), jnp.float32(3.0),
                                                  LO, HI, periodic=True))(keys)
    y = np.asarray(walk.y)
    assert np.all(y >= np.asarray(LO)) and np.all(y < np.asarray(HI))


def test_nonfinite_values_are_never_sublevel_and_are_counted():
    def f(x):
        return jnp.where(x[0] > 0.5, jnp.nan, -10.0)

    res = _chain(jax.random.key(2), x=jnp.asarray([0.0, 0.0]), fx=0.0, objective=f, k=10)
    pts = np.asarray(res.points)
    finite_below = pts[:, 0] <= 0.5
    if finite_below.any():
        first = int(np.argmax(finite_below))
        assert int(res.num_steps) == first + 1
        assert int(res.num_nonfinite) == first
    assert np.all(np.isfinite(np.asarray(res.y)))


def _wavy(x):
    return jnp.sin(3.0 * x[0]) + jnp.cos(2.0 * x[1])


@functools.partial(jax.jit, static_argnums=(0, 1))
def _wavy_chain(block_size, k, key):
    x = jnp.asarray([0.3, -0.2])
    return perturb.skipping_chain(key, x, _wavy(x) - 0.4, _wavy, jnp.float32(0.8), LO, HI,
                                  max_skips=k, block_size=block_size)


@pytest.mark.slow
def test_blocked_evaluation_matches_one_batch():
    for k in (1, 7, 16, 23):
        for seed in range(6):
            key = jax.random.key(seed)
            one = _wavy_chain(None, k, key)
            blocked = _wavy_chain(5, k, key)
            for a, b in zip(one, blocked):
                np.testing.assert_array_equal(a, b)


def test_inactive_chain_evaluates_nothing():
    res = _chain(jax.random.key(0), fx=0.0, objective=_wavy, active=False)
    assert not bool(res.found) and int(res.num_steps) == 0 and int(res.num_nonfinite) == 0
    np.testing.assert_array_equal(res.y, jnp.asarray([0.5, 1.0]))
    # vmapped over lanes, an inactive lane is masked: the active lane's result is unchanged
    keys = jax.random.split(jax.random.key(1), 2)
    both = jax.vmap(lambda k, a: perturb.skipping_chain(
        k, jnp.asarray([0.5, 1.0]), jnp.float32(0.0), _wavy, jnp.float32(1.5), LO, HI,
        max_skips=10, active=a))(keys, jnp.asarray([True, False]))
    alone = _chain(keys[0], boundary="periodic", fx=0.0, objective=_wavy)
    for a, b in zip(both, alone):  # vmap may round the cumulative radii differently
        np.testing.assert_allclose(np.asarray(a)[0], b, rtol=1e-6)
    assert int(both.num_steps[1]) == 0


# Recorded from the implementation before chains became one per init: the skipping chain
# given a key is bit-identical (halting at k = 16 across a block boundary; i.i.d. radii
# with the first-point wrap finding nothing in K = 10).
GOLDEN = {
    ("equal", "periodic", 25, 16, -1.9): dict(
        y=[-4.833564758300781, 1.5533447265625], found=True, k=16, path=117.08118438720703,
        points=[[4.354150772094727, 5.53458309173584], [-1.5916976928710938, 1.2691659927368164],
                [2.462453842163086, -2.9962501525878906],
                [-3.4833946228027344, 2.738332748413086]]),
    ("iid", "first", 10, None, -1.6): dict(
        y=[0.30000001192092896, -0.20000000298023224], found=False, k=10, path=0.0,
        points=[[4.354151725769043, 5.53458309173584], [0.4010328948497772, 2.6987054347991943],
                [-0.22802163660526276, 2.247436046600342],
                [-2.510098457336426, 0.6103259921073914]]),
}


@pytest.mark.parametrize("case", list(GOLDEN))
def test_skipping_chain_is_bit_identical_to_the_recorded_one(case):
    radii, boundary, k, block, threshold = case
    want = GOLDEN[case]
    x = jnp.asarray([0.3, -0.2])
    res = jax.jit(lambda key: perturb.skipping_chain(
        key, x, jnp.float32(threshold), lambda z: jnp.sin(3.0 * z[0]) + jnp.cos(2.0 * z[1]),
        jnp.float32(2.5), LO, HI, max_skips=k, radii=radii, boundary=boundary,
        block_size=block))(jax.random.key(3))
    np.testing.assert_array_equal(np.asarray(res.y), np.asarray(want["y"], np.float32))
    np.testing.assert_array_equal(np.asarray(res.points[:4]),
                                  np.asarray(want["points"], np.float32))
    assert bool(res.found) == want["found"] and int(res.num_steps) == want["k"]
    assert float(res.path_length) == np.float32(want["path"])


def test_random_walk_is_bit_identical_to_the_recorded_one():
    walk = perturb.random_walk(jax.random.key(5), jnp.asarray([0.3, -0.2]), jnp.float32(1.7),
                               LO, HI, periodic=True)
    np.testing.assert_array_equal(np.asarray(walk.y),
                                  np.asarray([0.15656566619873047, 2.1987390518188477],
                                             np.float32))
    assert float(walk.radius) == np.float32(2.4030234813690186)


def test_bad_choices():
    with pytest.raises(ValueError, match="radii"):
        _chain(jax.random.key(0), radii="mixed")
    with pytest.raises(ValueError, match="boundary"):
        _chain(jax.random.key(0), boundary="reflect")
    with pytest.raises(ValueError, match="max_skips"):
        _chain(jax.random.key(0), k=0)
    with pytest.raises(ValueError, match="variance must be finite and > 0"):
        perturb.std_from_variance(0.0)


@functools.partial(jax.jit, static_argnums=(1, 3, 4))
def _axes_chain(key, directions, x, k=6, boundary="none"):
    lo, hi = -10.0 * jnp.ones_like(x), 10.0 * jnp.ones_like(x)
    return perturb.skipping_chain(key, x, jnp.float32(-1.0), _never, jnp.float32(1.5), lo, hi,
                                  max_skips=k, radii="equal", boundary=boundary,
                                  directions=directions)


def test_axes_directions_move_one_coordinate_with_the_sphere_radius():
    x = jnp.asarray([0.5, -1.0, 2.0, 0.0, 3.0])
    axes, signs = [], []
    for seed in range(200):
        key = jax.random.key(seed)
        res = _axes_chain(key, "axes", x)
        moved = np.asarray(res.points, np.float64) - np.asarray(x, np.float64)
        nonzero = np.abs(moved) > 0
        assert np.all(nonzero.sum(axis=1) == 1)  # one coordinate per point, the same one
        assert len(set(np.argmax(nonzero, axis=1))) == 1
        j = int(np.argmax(nonzero[0]))
        axes.append(j)
        signs.append(np.sign(moved[0, j]))
        # the radius law is the sphere's: the same key gives the same R_1
        assert float(res.first_radius) == float(_axes_chain(key, "sphere", x).first_radius)
        np.testing.assert_allclose(np.abs(moved[:, j]), float(res.first_radius)
                                   * np.arange(1, 7), rtol=1e-5)
    counts = np.bincount(axes, minlength=5)
    assert counts.min() > 15 and counts.max() < 65  # uniform over 5 axes: 40 +- 6
    assert 65 < np.sum(np.asarray(signs) > 0) < 135


def test_axes_directions_are_rejected_unless_known():
    with pytest.raises(ValueError, match="directions"):
        _axes_chain(jax.random.key(0), "diagonal", jnp.zeros(3))
