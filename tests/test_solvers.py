"""Solvers find saddles, match hand-written references with stateful optax optimizers, and flip y's sign."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm

CONVERGENT = {
    "extragradient": lambda lr: mm.extragradient(optax.sgd(lr)),
    "optimistic_gda": lambda lr: mm.optimistic_gda(optax.sgd(lr)),
    "past_extragradient": lambda lr: mm.past_extragradient(optax.sgd(lr)),
}


@pytest.mark.parametrize("name", sorted(CONVERGENT))
def test_finds_saddle_of_affine_bilinear_game(x64, name):
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    V, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    A = U @ np.diag([1.5, 1.0, 0.7, 0.5]) @ V.T  # singular values in [0.5, 1.5]
    b, c = rng.normal(size=4), rng.normal(size=4)
    game = games.bilinear(jnp.asarray(A), jnp.asarray(b), jnp.asarray(c))
    x_star, y_star = -np.linalg.solve(A.T, c), -np.linalg.solve(A, b)
    np.testing.assert_allclose(game.equilibrium[0], x_star, atol=1e-10)
    lr = 0.3 / np.linalg.norm(A, 2)
    res = mm.run(game, CONVERGENT[name](lr), steps=5000, key=jax.random.key(1), record_every=500)
    np.testing.assert_allclose(res.x, x_star, atol=1e-9)
    np.testing.assert_allclose(res.y, y_star, atol=1e-9)
    assert mm.classify(res) == "converged"


@pytest.mark.parametrize("name", sorted(CONVERGENT) + ["simultaneous_gda"])
def test_finds_saddle_of_strongly_monotone_quadratic(x64, name):
    rng = np.random.default_rng(1)
    n, m = 3, 2
    A = rng.normal(size=(n, m))
    Lp, Lq = rng.normal(size=(n, n)), rng.normal(size=(m, m))
    P, Q = Lp @ Lp.T + 0.5 * np.eye(n), Lq @ Lq.T + 0.5 * np.eye(m)
    b, c = rng.normal(size=n), rng.normal(size=m)
    game = games.quadratic(jnp.asarray(A), jnp.asarray(P), jnp.asarray(Q), jnp.asarray(b), jnp.asarray(c))
    J = np.block([[P, A], [-A.T, Q]])
    z_star = np.linalg.solve(J, np.concatenate([-b, c]))
    lam = np.linalg.eigvals(J)
    lr = 0.5 * float(np.min(2 * lam.real / np.abs(lam) ** 2))  # inside GDA's stability region
    make = CONVERGENT.get(name, lambda lr: mm.simultaneous_gda(optax.sgd(lr)))
    res = mm.run(game, make(lr), steps=5000, key=jax.random.key(0), record_every=500)
    np.testing.assert_allclose(np.concatenate([res.x, res.y]), z_star, atol=1e-8)
    gap = float(res.trace["gap"][-1])
    assert abs(gap) < 1e-12  # zero up to round-off at the saddle
    assert float(res.trace["gap"][0]) > 1e-3


def test_quadratic_gda_factor_is_one_minus_eta_lambda(x64):
    """For f = 1/2 p x^2 + a x y - 1/2 q y^2 the per-step radius of GDA is max |1 - eta lambda|, EG's
    max |1 - eta lambda + eta^2 lambda^2| over the Jacobian's eigenvalues."""
    p, a, q, eta = 0.5, 2.0, 1.0, 0.2
    game = games.quadratic(jnp.array([[a]]), jnp.array([[p]]), jnp.array([[q]]))
    lam = np.linalg.eigvals(np.array([[p, a], [-a, q]]))
    assert mm.spectral_radius(game, mm.simultaneous_gda(optax.sgd(eta)), *game.equilibrium) == pytest.approx(
        np.max(np.abs(1 - eta * lam)), abs=1e-12)
    assert mm.spectral_radius(game, mm.extragradient(optax.sgd(eta)), *game.equilibrium) == pytest.approx(
        np.max(np.abs(1 - eta * lam + eta**2 * lam**2)), abs=1e-12)
    np.testing.assert_allclose(mm.jacobian_eigenvalues(game, *game.equilibrium), np.sort_complex(lam), atol=1e-12)


def test_ogda_first_step_is_plain_gda_and_then_textbook(x64):
    A = jnp.array([[1.0, 2.0], [0.5, -1.0]])
    game = games.bilinear(A)
    eta = 0.1
    x, y = jnp.array([1.0, -1.0]), jnp.array([0.5, 2.0])
    res = mm.run(game, mm.optimistic_gda(optax.sgd(eta)), steps=3, x0=x, y0=y, record_every=1)
    F = lambda x, y: (A @ y, -(A.T @ x))  # noqa: E731
    zs = [(x, y)]
    gx, gy = F(x, y)
    zs.append((x - eta * gx, y - eta * gy))  # plain GDA first step
    for _ in range(2):
        (xp, yp), (xc, yc) = zs[-2], zs[-1]
        (gxp, gyp), (gxc, gyc) = F(xp, yp), F(xc, yc)
        zs.append((xc - 2 * eta * gxc + eta * gxp, yc - 2 * eta * gyc + eta * gyp))
    np.testing.assert_allclose(res.x, zs[-1][0], atol=1e-14)
    np.testing.assert_allclose(res.y, zs[-1][1], atol=1e-14)


def _adam_reference(b1=0.9, b2=0.999, eps=1e-8):
    """A NumPy Adam: update(g, state) -> (u, state), u the step to add."""

    def init(p):
        return (np.zeros_like(p), np.zeros_like(p), 0)

    def update(g, s, lr):
        m, v, t = s
        t += 1
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mh, vh = m / (1 - b1**t), v / (1 - b2**t)
        return -lr * mh / (np.sqrt(vh) + eps), (m, v, t)

    return init, update


def test_extragradient_with_adam_is_extra_adam(x64):
    """Gidel et al. 2019's Extra-Adam: moments advance at the extrapolation and at the update."""
    A = np.array([[1.0, -0.5], [0.3, 2.0]])
    game = games.bilinear(jnp.asarray(A))
    lr = 0.05
    x0, y0 = np.array([1.0, -2.0]), np.array([0.5, 1.0])
    res = mm.run(game, mm.extragradient(optax.adam(lr)), steps=25, x0=jnp.asarray(x0), y0=jnp.asarray(y0))
    init, update = _adam_reference()
    x, y, sx, sy = x0, y0, init(x0), init(y0)
    for _ in range(25):
        ux, sx = update(A @ y, sx, lr)
        uy, sy = update(-(A.T @ x), sy, lr)
        xh, yh = x + ux, y + uy
        ux, sx = update(A @ yh, sx, lr)
        uy, sy = update(-(A.T @ xh), sy, lr)
        x, y = x + ux, y + uy
    np.testing.assert_allclose(res.x, x, atol=1e-12)
    np.testing.assert_allclose(res.y, y, atol=1e-12)


def test_optimistic_gda_with_adam_is_optimistic_adam(x64):
    """Daskalakis et al. 2018's Optimistic Adam: z += 2 u_t - u_{t-1}, first step a plain Adam step."""
    A = np.array([[0.7, 1.0], [-1.2, 0.4]])
    game = games.bilinear(jnp.asarray(A))
    lr = 0.02
    x0, y0 = np.array([1.0, 1.0]), np.array([-1.0, 0.5])
    res = mm.run(game, mm.optimistic_gda(optax.adam(lr)), steps=30, x0=jnp.asarray(x0), y0=jnp.asarray(y0))
    init, update = _adam_reference()
    x, y, sx, sy = x0, y0, init(x0), init(y0)
    px = py = None
    for _ in range(30):
        ux, sx = update(A @ y, sx, lr)
        uy, sy = update(-(A.T @ x), sy, lr)
        px, py = (ux, uy) if px is None else (px, py)
        x, y = x + 2 * ux - px, y + 2 * uy - py
        px, py = ux, uy
    np.testing.assert_allclose(res.x, x, atol=1e-12)
    np.testing.assert_allclose(res.y, y, atol=1e-12)


def test_past_extragradient_matches_popov(x64):
    A = np.array([[1.0, 0.5], [-0.5, 1.5]])
    game = games.bilinear(jnp.asarray(A))
    eta = 0.2
    x, y = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    res = mm.run(game, mm.past_extragradient(optax.sgd(eta)), steps=40, x0=jnp.asarray(x), y0=jnp.asarray(y))
    gx_prev, gy_prev = np.zeros(2), np.zeros(2)
    for _ in range(40):
        xh, yh = x - eta * gx_prev, y - eta * gy_prev
        gx_prev, gy_prev = A @ yh, -(A.T @ xh)
        x, y = x - eta * gx_prev, y - eta * gy_prev
    np.testing.assert_allclose(res.x, x, atol=1e-13)
    np.testing.assert_allclose(res.y, y, atol=1e-13)


def test_library_flips_the_maximisers_sign():
    """One optax.sgd for both players: x descends f, y ascends it."""
    game = mm.Game(value=lambda x, y: x * y + y)  # df/dy = x + 1 > 0 at x = 0, so y must increase
    res = mm.run(game, mm.simultaneous_gda(optax.sgd(0.1)), steps=1, x0=jnp.array(0.0), y0=jnp.array(0.0))
    assert float(res.y) == pytest.approx(0.1)
    assert float(res.x) == pytest.approx(0.0)


def test_different_optimizers_per_player():
    game = games.bilinear(jnp.eye(2))
    solver = mm.extragradient(optax.sgd(0.1), optax.adam(1e-2))
    res = mm.run(game, solver, steps=10, x0=jnp.ones(2), y0=jnp.ones(2))
    assert isinstance(res.state.y[0], optax.ScaleByAdamState)
    assert res.state.x == (optax.EmptyState(), optax.EmptyState()) or jax.tree.leaves(res.state.x) == []
    assert res.x.shape == (2,) and res.y.shape == (2,)


@pytest.mark.parametrize("opt", [optax.adam(1e-2), optax.sgd(0.05, momentum=0.5), optax.rmsprop(1e-2),
                                 optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1))],
                         ids=["adam", "momentum", "rmsprop", "chain"])
@pytest.mark.parametrize("factory", [mm.simultaneous_gda, mm.alternating_gda, mm.extragradient,
                                     mm.optimistic_gda, mm.past_extragradient])
def test_any_optax_optimizer_works_for_either_player(factory, opt):
    game = games.quadratic(jnp.array([[1.0]]), jnp.eye(1), jnp.eye(1))
    res = mm.run(game, factory(opt, optax.sgd(0.05)), steps=400, x0=jnp.ones(1), y0=-jnp.ones(1),
                 record_every=400)
    assert res.trace["dist"].shape == (2,)
    assert float(res.trace["dist"][-1]) < 0.5 * float(res.trace["dist"][0])


def test_alternating_k_discriminator_steps():
    """y_steps=k takes k ascent steps of y per step of x; counted as (1 + k)/2 gradient evaluations."""
    game = mm.Game(value=lambda x, y: x * y - 0.5 * y**2)  # best response y = x
    solver = mm.alternating_gda(optax.sgd(0.0), optax.sgd(0.5), y_steps=3)
    res = mm.run(game, solver, steps=1, x0=jnp.array(1.0), y0=jnp.array(0.0))
    # y <- y + 0.5 (x - y) three times from 0: 0.5, 0.75, 0.875
    assert float(res.y) == pytest.approx(0.875)
    assert float(res.trace["grad_evals"][-1]) == 2.0


def test_lookahead_pulls_slow_weights():
    game = mm.Game(value=lambda x, y: x + 0.0 * y)  # x descends at constant speed 1 per unit step
    solver = mm.lookahead(mm.simultaneous_gda(optax.sgd(1.0)), k=2, alpha=0.5)
    res = mm.run(game, solver, steps=2, x0=jnp.array(0.0), y0=jnp.array(0.0))
    assert float(res.x) == pytest.approx(-1.0)  # fast reached -2, slow moves half-way
    assert solver.period == 2


def test_sga_adjustment_on_bilinear():
    """On f = x y the Jacobian is antisymmetric (A = J), so SGA descends F + lam J^T F."""
    game = games.bilinear(jnp.array([[1.0]]))
    lam, eta = 1.0, 0.1
    res = mm.run(game, mm.sga(optax.sgd(eta), lam=lam), steps=1, x0=jnp.array([1.0]), y0=jnp.array([0.0]))
    # F = (y, -x) = (0, -1); J^T F = [[0, -1], [1, 0]] (0, -1) = (1, 0); step = -eta (1, -1)
    np.testing.assert_allclose(np.array([res.x[0], res.y[0]]), [1 - eta * lam, eta], atol=1e-7)


def test_competitive_gradient_matches_the_dense_formula(x64):
    """Schaefer & Anandkumar 2019 on f = x^T A y: dx = (I + eta^2 A A^T)^-1 (A y + eta A A^T x),
    x <- x - eta dx, y <- y + eta (A^T x - eta A^T dx)."""
    rng = np.random.default_rng(0)
    A, eta = rng.normal(size=(3, 4)), 0.7
    x, y = rng.normal(size=3), rng.normal(size=4)
    res = mm.run(games.bilinear(jnp.asarray(A)), mm.competitive_gradient(optax.sgd(eta), eta=eta, cg_steps=5),
                 steps=6, x0=jnp.asarray(x), y0=jnp.asarray(y))
    for _ in range(6):
        dx = np.linalg.solve(np.eye(3) + eta**2 * A @ A.T, A @ y + eta * A @ A.T @ x)
        x, y = x - eta * dx, y + eta * (A.T @ x - eta * A.T @ dx)
    np.testing.assert_allclose(res.x, x, atol=1e-12)
    np.testing.assert_allclose(res.y, y, atol=1e-12)
    assert float(res.trace["grad_evals"][-1]) == 6 * (5 + 2 * 5)


def test_competitive_gradient_general_sum_path_agrees_with_zero_sum(x64):
    """The GMRES path for general-sum games gives the CG path's iterates on losses (f, -f)."""
    A = jnp.asarray(np.random.default_rng(1).normal(size=(3, 3)))
    f = lambda x, y: x @ A @ y + 0.1 * jnp.sum(x**3)  # noqa: E731 - nonlinear, so B depends on the point
    zero_sum = mm.Game(value=f)
    general = mm.Game(losses=(f, lambda x, y: -f(x, y)))
    solver = mm.competitive_gradient(optax.sgd(0.3), eta=0.3, cg_steps=6)
    a = mm.run(zero_sum, solver, steps=20, x0=jnp.ones(3) * 0.5, y0=jnp.ones(3))
    b = mm.run(general, solver, steps=20, x0=jnp.ones(3) * 0.5, y0=jnp.ones(3))
    np.testing.assert_allclose(a.x, b.x, atol=1e-10)
    np.testing.assert_allclose(a.y, b.y, atol=1e-10)


def test_competitive_gradient_converges_on_bilinear_for_large_steps(x64):
    """Unlike GDA and EG, CGD contracts on bilinear games for every step size."""
    game = games.bilinear(jnp.asarray(np.random.default_rng(2).normal(size=(3, 3))))
    for eta in (0.5, 5.0, 50.0):
        solver = mm.competitive_gradient(optax.sgd(eta), eta=eta, cg_steps=3)
        assert mm.spectral_radius(game, solver, *game.equilibrium) < 1
        assert mm.spectral_radius(game, mm.extragradient(optax.sgd(eta)), *game.equilibrium) > 1 or eta < 1
