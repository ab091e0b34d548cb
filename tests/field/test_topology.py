"""FE solver of jaxopt_lab.problems.topology against beam theory, a dense solve and FD."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.problems import topology as T


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def dense_stiffness(problem, modulus):
    """Independent global assembly with explicit element dof lists (numpy, node-by-node)."""
    ke = T.element_stiffness(problem.nu)
    k = np.zeros((problem.num_dofs, problem.num_dofs))
    for ex in range(problem.nelx):
        for ey in range(problem.nely):
            nodes = [(ex, ey), (ex + 1, ey), (ex + 1, ey + 1), (ex, ey + 1)]
            dofs = [int(T.dof_index(problem, ix, iy, d)) for ix, iy in nodes for d in (0, 1)]
            k[np.ix_(dofs, dofs)] += modulus[ey, ex] * ke
    return k


def test_element_stiffness_is_symmetric_with_three_rigid_modes():
    ke = T.element_stiffness(0.3)
    np.testing.assert_allclose(ke, ke.T, atol=1e-15)
    eig = np.linalg.eigvalsh(ke)
    assert np.sum(np.abs(eig) < 1e-12) == 3 and eig[3] > 0.1
    # Rigid translation and rotation produce no force.
    tx = np.tile([1.0, 0.0], 4)
    rot = np.array([[-y, x] for x, y in [(0, 0), (1, 0), (1, 1), (0, 1)]]).reshape(-1)
    np.testing.assert_allclose(ke @ tx, 0, atol=1e-14)
    np.testing.assert_allclose(ke @ rot, 0, atol=1e-14)


@pytest.mark.parametrize("nelx,nely,tol", [(40, 4, 0.04), pytest.param(80, 8, 0.015, marks=pytest.mark.slow)])
def test_cantilever_tip_deflection_matches_timoshenko_beam(x64, nelx, nely, tol):
    # Timoshenko cantilever: delta = P L^3/(3 E I) + P L/(kappa G A), kappa = 5/6, unit depth.
    problem = T.cantilever(nelx, nely, load=1.0)
    u = T.displacements(problem, jnp.ones(problem.num_design, jnp.float64))
    e, nu, length, height = 1.0, 0.3, nelx, nely
    shear = e / (2 * (1 + nu))
    exact = length**3 / (3 * e * height**3 / 12) + length / (5 / 6 * shear * height)
    tip = -float(u[nelx, nely // 2, 1])
    assert abs(tip / exact - 1) < tol


@pytest.mark.slow
def test_cantilever_converges_towards_beam_theory_under_refinement(x64):
    ratios = []
    for n in (1, 2, 3):
        problem = T.cantilever(40 * n, 4 * n)
        u = T.displacements(problem, jnp.ones(problem.num_design, jnp.float64))
        length, height = 40 * n, 4 * n
        exact = length**3 / (height**3 / 4) + length / (5 / 6 / 2.6 * height)
        ratios.append(-float(u[length, height // 2, 1]) / exact)
    assert ratios[0] < ratios[1] < ratios[2] < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["direct", "cg"])
def test_displacements_match_dense_solve(x64, solver):
    problem = T.bridge(8, 4, 0.3, rmin=1.5, solver=solver)
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.uniform(0.05, 1.0, problem.num_design))
    rho = np.asarray(T.physical_density(problem, x))
    modulus = problem.emin + rho**3 * (problem.e0 - problem.emin)
    k = dense_stiffness(problem, modulus)
    f = problem.force().reshape(-1)
    free = np.setdiff1d(np.arange(problem.num_dofs), problem.fixed)
    u_ref = np.zeros(problem.num_dofs)
    u_ref[free] = np.linalg.solve(k[np.ix_(free, free)], f[free])
    u = np.asarray(T.displacements(problem, x)).reshape(-1)
    np.testing.assert_allclose(u, u_ref, rtol=1e-7, atol=1e-9 * np.abs(u_ref).max())
    np.testing.assert_allclose(float(T.compliance(problem, x)), f @ u_ref, rtol=1e-9)
    # matrix-free product agrees with the dense matrix on the free dofs
    ku = np.asarray(T.apply_stiffness(problem, jnp.asarray(modulus),
                                      jnp.asarray(u_ref.reshape(problem.nelx + 1, -1))))
    np.testing.assert_allclose(ku.reshape(-1)[free], f[free], atol=1e-8 * np.abs(f).max())


def test_block_tridiagonal_solve_matches_numpy(x64):
    rng = np.random.default_rng(2)
    n, b = 5, 3
    a = rng.normal(size=(n * b, n * b))
    band = np.kron(np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1), np.ones((b, b))) > 0
    a = np.where(band, a + a.T, 0.0) + 4 * b * np.eye(n * b)
    rhs = rng.normal(size=(n, b))
    diag = np.stack([a[i * b:(i + 1) * b, i * b:(i + 1) * b] for i in range(n)])
    lower = np.stack([a[(i + 1) * b:(i + 2) * b, i * b:(i + 1) * b] for i in range(n - 1)])
    got = T.block_tridiagonal_solve(jnp.asarray(diag), jnp.asarray(lower), jnp.asarray(rhs))
    np.testing.assert_allclose(np.asarray(got).reshape(-1), np.linalg.solve(a, rhs.reshape(-1)),
                               rtol=1e-10)


@pytest.mark.slow
def test_adjoint_gradient_matches_central_differences(x64):
    problem = T.bridge(10, 4, 0.3, rmin=1.5)
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.uniform(0.1, 0.9, problem.num_design))
    c, g = T.compliance_and_grad(problem, x)
    h = 1e-6
    eye = np.eye(problem.num_design)
    batch = jax.jit(jax.vmap(lambda z: T.compliance(problem, z)))
    fd = np.asarray(batch(x[None] + h * eye) - batch(x[None] - h * eye)) / (2 * h)
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())
    assert np.all(np.asarray(g) < 0)  # more material is always stiffer
    vol, dvol = T.volume_and_grad(problem, x)
    np.testing.assert_allclose(float(vol), float(jnp.mean(T.physical_density(problem, x))))
    np.testing.assert_allclose(float(jnp.sum(dvol)), 1.0, rtol=1e-12)  # filter keeps the mean


def test_symmetry_and_filter():
    problem = T.bridge(12, 5, 0.2, rmin=2.0)
    x = jnp.asarray(np.random.default_rng(4).uniform(size=problem.num_design))
    rho = np.asarray(T.physical_density(problem, x))
    np.testing.assert_allclose(rho, rho[:, ::-1], atol=1e-6)
    # a constant design is a fixed point of the normalised filter
    np.testing.assert_allclose(T.physical_density(problem, jnp.full(problem.num_design, 0.3)),
                               0.3, rtol=1e-6)


@pytest.mark.slow
def test_compliance_clips_and_stays_finite_under_vmap(x64):
    problem = T.bridge(8, 4, 0.3)
    rng = np.random.default_rng(5)
    xs32 = jnp.asarray(rng.normal(0.5, 2.0, (6, problem.num_design)), jnp.float32)
    c32 = jax.jit(jax.vmap(lambda z: T.compliance(problem, z)))(xs32)
    assert c32.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(c32)))
    xs = xs32.astype(jnp.float64)
    c = jax.jit(jax.vmap(lambda z: T.compliance(problem, z)))(xs)
    assert np.all(np.isfinite(np.asarray(c)))
    np.testing.assert_allclose(c, jax.vmap(lambda z: T.compliance(problem, z))(jnp.clip(xs, 0, 1)),
                               rtol=1e-9)
    # full material is the stiffest design
    full = T.compliance(problem, jnp.ones(problem.num_design))
    assert np.all(np.asarray(c) >= float(full) * (1 - 1e-5))


@pytest.mark.parametrize("kwargs,match", [
    (dict(nelx=0, nely=4, volfrac=0.5, fixed=(0, 1, 2, 3), loads=((5, 1.0),)), "nelx"),
    (dict(nelx=4, nely=4, volfrac=0.0, fixed=(0, 1, 2, 3), loads=((5, 1.0),)), "volfrac"),
    (dict(nelx=4, nely=4, volfrac=1.5, fixed=(0, 1, 2, 3), loads=((5, 1.0),)), "volfrac"),
    (dict(nelx=4, nely=4, volfrac=0.5, fixed=(), loads=((5, 1.0),)), "singular"),
    (dict(nelx=4, nely=4, volfrac=0.5, fixed=(0, 1), loads=((5, 1.0),)), "singular"),
    (dict(nelx=4, nely=4, volfrac=0.5, fixed=(0, 1, 2, 3), loads=()), "loads"),
    (dict(nelx=4, nely=4, volfrac=0.5, fixed=(0, 1, 2, 999), loads=((5, 1.0),)), "fixed"),
    (dict(nelx=5, nely=4, volfrac=0.5, symmetric=True, fixed=(0, 1, 2, 3), loads=((5, 1.0),)),
     "even"),
    (dict(nelx=4, nely=4, volfrac=0.5, emin=2.0, fixed=(0, 1, 2, 3), loads=((5, 1.0),)), "emin"),
    (dict(nelx=4, nely=4, volfrac=0.5, solver="lu", fixed=(0, 1, 2, 3), loads=((5, 1.0),)),
     "solver"),
])
def test_bad_problem_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.TopologyProblem(**kwargs)


def test_bad_bridge_and_design_raise():
    with pytest.raises(ValueError, match="nelx"):
        T.bridge(7, 4)
    with pytest.raises(ValueError, match="support_fraction"):
        T.bridge(8, 4, support_fraction=0.0)
    problem = T.bridge(8, 4)
    with pytest.raises(ValueError, match="shape"):
        T.compliance(problem, jnp.ones(problem.num_design + 1))


@pytest.mark.slow
def test_out_of_box_rule_negative_density_would_make_stiffness_indefinite(x64):
    # Why compliance() clips: DGS's quadrature nodes x +- u sigma leave [0, 1] (u up to 2.86,
    # sigma up to 0.45). Unclipped, SIMP gives a negative element modulus for a negative
    # density (rho^3 < 0) and the assembled stiffness has a negative eigenvalue.
    problem = T.bridge(6, 3, 0.3, rmin=1.0)  # rmin = 1: the filter is the identity
    x = np.full(problem.num_design, 0.5)
    x[4] = -0.6
    rho = np.asarray(T.physical_density(problem, jnp.asarray(x)))
    assert rho.min() == pytest.approx(-0.6)
    modulus = problem.emin + rho**3 * (problem.e0 - problem.emin)
    free = np.setdiff1d(np.arange(problem.num_dofs), problem.fixed)
    k = dense_stiffness(problem, modulus)[np.ix_(free, free)]
    assert np.linalg.eigvalsh(k).min() < -1e-3
    # The documented rule: evaluate the clipped design, whose stiffness is positive definite.
    rho_c = np.asarray(T.physical_density(problem, jnp.clip(jnp.asarray(x), 0.0, 1.0)))
    k_c = dense_stiffness(problem, problem.emin + rho_c**3 * (problem.e0 - problem.emin))
    assert np.linalg.eigvalsh(k_c[np.ix_(free, free)]).min() > 0
    c = float(T.compliance(problem, jnp.asarray(x)))
    f = problem.force().reshape(-1)[free]
    np.testing.assert_allclose(c, f @ np.linalg.solve(k_c[np.ix_(free, free)], f), rtol=1e-8)


@pytest.mark.slow
def test_dgs_sees_the_clipped_compliance_at_a_void_element(x64):
    # At x_i = 0 every node on the minus side is clipped back to x: the DGS directional
    # derivative is the one-sided sum (1/sigma) sum_k p_k u_k [C(x + u_k sigma e_i) - C(x)].
    from jaxopt_lab.dgs import estimate
    from jaxopt_lab.dgs.estimator import positive_nodes

    problem = T.bridge(8, 4, 0.3, rmin=1.5)
    rng = np.random.default_rng(6)
    x = rng.uniform(0.2, 0.8, problem.num_design)
    x[3] = 0.0
    sigma = 0.25
    f = lambda z: T.compliance(problem, z)  # noqa: E731
    est = estimate(f, jnp.asarray(x), sigma, num_points=5)
    u, p = positive_nodes(5)
    c_x = float(f(jnp.asarray(x)))
    one_sided = sum(pk * uk * (float(f(jnp.asarray(x + uk * sigma * np.eye(x.size)[3]))) - c_x)
                    for uk, pk in zip(u, p)) / sigma
    # with the axes as directions the gradient is the vector of directional derivatives
    np.testing.assert_allclose(float(est.grad[3]), one_sided, rtol=1e-8)
    assert one_sided < 0  # adding material at a void element still lowers compliance
