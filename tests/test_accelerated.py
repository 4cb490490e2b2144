"""Anchored extragradient (EAG-C, EAG-V) against Yoon & Ryu's bounds, FEG against Lee & Kim's, on bilinear,
strongly monotone and negatively comonotone games; follow-the-ridge against a dense reference."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm


def _bilinear(rng, n=3):
    A = rng.normal(size=(n, n))
    J = np.block([[np.zeros((n, n)), A], [-A.T, np.zeros((n, n))]])
    return games.bilinear(jnp.asarray(A)), np.linalg.norm(J, 2)


def _strongly_monotone(rng, n=3):
    def spd():
        M = rng.normal(size=(n, n))
        return M @ M.T / n + 0.1 * np.eye(n)

    P, Q, B = spd(), spd(), rng.normal(size=(n, n))
    P_, Q_, B_ = jnp.asarray(P), jnp.asarray(Q), jnp.asarray(B)
    game = mm.Game(value=lambda x, y: 0.5 * x @ P_ @ x + x @ B_ @ y - 0.5 * y @ Q_ @ y,
                   equilibrium=(jnp.zeros(n), jnp.zeros(n)))
    J = np.block([[P, B], [-B.T, Q]])
    return game, np.linalg.norm(J, 2)


def _distance0(x0, y0):
    return float(np.linalg.norm(np.concatenate([x0, y0])))


@pytest.mark.parametrize("make", [_bilinear, _strongly_monotone], ids=["bilinear", "strongly_monotone"])
def test_eag_c_stays_below_the_theorem_bound_for_ten_thousand_steps(make):
    steps = 10_000
    with jax.enable_x64(True):
        rng = np.random.default_rng(4)
        game, L = make(rng)
        alpha = 1 / (8 * L)
        x0, y0 = jnp.asarray(rng.normal(size=3)), jnp.asarray(rng.normal(size=3))
        res = mm.run(game, mm.anchored_extragradient(alpha, lipschitz=L), steps=steps, x0=x0, y0=y0)
        sq = np.asarray(res.trace["grad_norm"]) ** 2
        k = np.arange(steps + 1)
        bound = np.asarray(mm.eag_bound(alpha, _distance0(x0, y0), k))
        ratio = sq / bound
        assert ratio.max() <= 1.0, (ratio.max(), int(ratio.argmax()))
        # The O(1/k^2) rate is real: from k = 100 to 10^4 the squared norm falls by over 100x.
        assert sq[-1] < sq[100] / 100


@pytest.mark.parametrize("make", [_bilinear, _strongly_monotone], ids=["bilinear", "strongly_monotone"])
def test_eag_v_stays_below_the_theorem_bound_for_ten_thousand_steps(make):
    steps = 10_000
    with jax.enable_x64(True):
        rng = np.random.default_rng(5)
        game, L = make(rng)
        alpha0 = mm.EAG_V_MAX_STEP / L
        x0, y0 = jnp.asarray(rng.normal(size=3)), jnp.asarray(rng.normal(size=3))
        solver = mm.anchored_extragradient(alpha0, variant="varying", lipschitz=L)
        res = mm.run(game, solver, steps=steps, x0=x0, y0=y0)
        sq = np.asarray(res.trace["grad_norm"]) ** 2
        k = np.arange(steps + 1)
        bound = np.asarray(mm.eag_bound(alpha0, _distance0(x0, y0), k, variant="varying", lipschitz=L))
        ratio = sq / bound
        assert ratio.max() <= 1.0, (ratio.max(), int(ratio.argmax()))
        assert sq[-1] < sq[100] / 100
        # The step recursion: alpha_1 L = (0.618 / 0.618)(1 - 4/3 * 0.382), and a positive limit near 0.437 / L.
        a0 = mm.EAG_V_MAX_STEP
        assert float(mm.run(game, solver, steps=1, x0=x0, y0=y0, record_every=None).state.alpha) * L \
            == pytest.approx(a0 / (1 - a0**2) * (1 - 4 / 3 * a0**2), rel=1e-12)
        assert float(res.state.alpha) == pytest.approx(mm.eag_v_steps(alpha0, L, steps)[-1], rel=1e-9)
        assert 0.43 < float(res.state.alpha) * L < 0.44


def test_eag_v_never_increases_yoon_and_ryus_potential():
    """V_k = A_k |F(z_k)|^2 + B_k <F(z_k), z_k - z_0>, A_k = alpha_k (k+1)(k+2)/2, B_k = k+1: the potential of the
    paper's proof, on the recorded iterates of random bilinear and strongly monotone games."""
    steps = 2000
    with jax.enable_x64(True):
        rng = np.random.default_rng(9)
        for make in (_bilinear, _strongly_monotone, _bilinear, _strongly_monotone):
            game, L = make(rng)
            x0, y0 = jnp.asarray(rng.normal(size=3)), jnp.asarray(rng.normal(size=3))
            res = mm.run(game, mm.anchored_extragradient(0.6 / L, variant="varying", lipschitz=L), steps=steps,
                         x0=x0, y0=y0, checkpoint_every=1)
            z = np.concatenate([np.asarray(res.checkpoints.x), np.asarray(res.checkpoints.y)], axis=1)
            field = jax.jit(jax.vmap(lambda x, y: jnp.concatenate(game.vector_field(x, y))))
            F = np.asarray(field(res.checkpoints.x, res.checkpoints.y))
            k = np.arange(steps + 1)
            alpha = mm.eag_v_steps(0.6 / L, L, steps)
            np.testing.assert_allclose(np.asarray(res.checkpoints.state.alpha), alpha, rtol=1e-12)
            V = alpha * (k + 1) * (k + 2) / 2 * np.sum(F**2, axis=1) + (k + 1) * np.sum(F * (z - z[0]), axis=1)
            assert np.all(np.diff(V) <= 1e-9 * np.abs(V[0])), float(np.max(np.diff(V)))


def _negatively_comonotone(a=1.0, b=3.0):
    """f = -a/2 x^2 + b x y + a/2 y^2: F(z) = A z with A = -a I + b R (R the quarter turn), so
    <F(z) - F(w), z - w> = -a |z - w|^2 = rho |F(z) - F(w)|^2 with rho = -a / (a^2 + b^2), and L = sqrt(a^2 + b^2);
    rho > -1/(2L) exactly when b^2 > 3 a^2. f is concave in x and convex in y: nonconvex-nonconcave."""
    game = mm.Game(value=lambda x, y: jnp.sum(-a / 2 * x**2 + b * x * y + a / 2 * y**2),
                   equilibrium=(jnp.zeros(1), jnp.zeros(1)))
    L = float(np.hypot(a, b))
    return game, L, -a / L**2


@pytest.mark.parametrize("case", ["bilinear", "strongly_monotone", "negatively_comonotone"])
def test_feg_stays_below_the_theorem_bound_for_ten_thousand_steps(case):
    steps = 10_000
    with jax.enable_x64(True):
        rng = np.random.default_rng(6)
        if case == "negatively_comonotone":
            (game, L, rho), n = _negatively_comonotone(), 1
        else:
            (game, L), rho, n = (_bilinear if case == "bilinear" else _strongly_monotone)(rng), 0.0, 3
        x0, y0 = jnp.asarray(rng.normal(size=n)), jnp.asarray(rng.normal(size=n))
        res = mm.run(game, mm.fast_extragradient(1 / L, rho=rho, lipschitz=L), steps=steps, x0=x0, y0=y0)
        sq = np.asarray(res.trace["grad_norm"]) ** 2
        bound = np.asarray(mm.feg_bound(1 / L, rho, _distance0(x0, y0), np.arange(steps + 1)))
        ratio = sq[1:] / bound[1:]
        # On the rotation-dominated linear game the bound is attained (ratio 1 to ~1e-8): allow float rounding.
        assert ratio.max() <= 1.0 + 1e-9, (ratio.max(), int(ratio.argmax()) + 1)
        assert sq[-1] < sq[100] / 100


def test_feg_converges_on_a_negatively_comonotone_game_where_extragradient_diverges():
    game, L, rho = _negatively_comonotone()
    start = dict(x0=jnp.array([1.0]), y0=jnp.array([0.5]), steps=3000)
    with jax.enable_x64(True):
        feg = mm.run(game, mm.fast_extragradient(1 / L, rho=rho), **start)
        assert float(feg.trace["dist"][-1]) < 1e-2
        zero = (jnp.zeros(1), jnp.zeros(1))
        # Extragradient's linear map I - eta A + eta^2 A^2 has modulus |1 - w + w^2| > 1, w = eta (-a + i b), for every
        # step size up to 1/L: it diverges however small the step.
        for t in (0.05, 0.3, 0.6, 1.0):
            eg = mm.extragradient(optax.sgd(t / L))
            w = t / L * (-1.0 + 3.0j)
            assert float(mm.spectral_radius(game, eg, *zero)) == pytest.approx(abs(1 - w + w * w), rel=1e-6)
            assert abs(1 - w + w * w) > 1.0
            assert float(mm.run(game, eg, on_divergence="ignore", **start).trace["dist"][-1]) > 1.0


def test_feg_with_rho_zero_is_anchored_extragradient_with_beta_one_over_k_plus_one():
    """One FEG step from a given state, against the formula written out in NumPy (rho != 0 too)."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(8)
        A = rng.normal(size=(2, 2))
        game = games.bilinear(jnp.asarray(A))
        J = np.block([[np.zeros((2, 2)), A], [-A.T, np.zeros((2, 2))]])
        z0 = rng.normal(size=4)
        for rho in (0.0, -0.05, 0.1):
            alpha = 0.2
            z = z0.copy()
            for k in range(3):
                beta = 1 / (k + 1)
                zh = z + beta * (z0 - z) - (1 - beta) * (alpha + 2 * rho) * J @ z
                z = z + beta * (z0 - z) - alpha * J @ zh - (1 - beta) * 2 * rho * J @ z
            res = mm.run(game, mm.fast_extragradient(alpha, rho=rho), steps=3, x0=jnp.asarray(z0[:2]),
                         y0=jnp.asarray(z0[2:]), record_every=None)
            np.testing.assert_allclose(np.concatenate([res.x, res.y]), z, rtol=1e-12, atol=1e-14)


def test_anchored_solvers_check_their_arguments():
    with pytest.raises(ValueError, match=r"step_size: the EAG-C guarantee needs step_size <= 1/\(8 L\)"):
        mm.anchored_extragradient(0.2, lipschitz=1.0)
    with pytest.raises(ValueError, match="variant: expected 'constant' \\(EAG-C\\) or 'varying'"):
        mm.anchored_extragradient(0.1, variant="fixed")
    with pytest.raises(ValueError, match="lipschitz: EAG-V .* needs the field's Lipschitz constant"):
        mm.anchored_extragradient(0.1, variant="varying")
    with pytest.raises(ValueError, match=r"step_size: the EAG-V guarantee needs step_size <= \(sqrt\(5\) - 1\)"):
        mm.anchored_extragradient(0.7, variant="varying", lipschitz=1.0)
    with pytest.raises(ValueError, match="step_size: expected a positive number"):
        mm.anchored_extragradient(-0.1)
    with pytest.raises(ValueError, match="lipschitz: expected a positive number"):
        mm.anchored_extragradient(0.1, lipschitz=0)
    with pytest.raises(ValueError, match=r"rho: FEG needs step_size \+ 2 rho > 0, i.e. rho > -0.05"):
        mm.fast_extragradient(0.1, rho=-0.06)
    with pytest.raises(ValueError, match="rho: expected a finite real number"):
        mm.fast_extragradient(0.1, rho=float("nan"))
    with pytest.raises(ValueError, match=r"step_size: the FEG guarantee needs step_size <= 1/L = 0.5"):
        mm.fast_extragradient(0.6, lipschitz=2.0)
    with pytest.raises(ValueError, match="variant: expected 'constant' or 'varying'"):
        mm.eag_bound(0.1, 1.0, 3, variant="v")


def test_follow_the_ridge_equals_the_dense_update_on_random_quadratic_games():
    rng = np.random.default_rng(7)
    nx, ny, eta_x, eta_y = 2, 3, 0.05, 0.1
    with jax.enable_x64(True):
        for _ in range(4):
            P, B = rng.normal(size=(nx, nx)), rng.normal(size=(nx, ny))
            M = rng.normal(size=(ny, ny))
            Q = M @ M.T + np.eye(ny)  # f strongly concave in y: H_yy = -Q
            P_, B_, Q_ = jnp.asarray(P + P.T), jnp.asarray(B), jnp.asarray(Q)
            game = mm.Game(value=lambda x, y: 0.5 * x @ P_ @ x + x @ B_ @ y - 0.5 * y @ Q_ @ y + jnp.sum(jnp.sin(x)))
            x, y = rng.normal(size=nx), rng.normal(size=ny)
            solver = mm.follow_the_ridge(optax.sgd(eta_x), optax.sgd(eta_y), cg_steps=ny)
            res = mm.run(game, solver, steps=1, x0=jnp.asarray(x), y0=jnp.asarray(y), record_every=None)
            gx = (P + P.T) @ x + B @ y + np.cos(x)
            gy = B.T @ x - Q @ y
            # y <- y + eta_y grad_y f + eta_x H_yy^-1 H_yx grad_x f, with H_yy = -Q and H_yx = B^T.
            x_ref = x - eta_x * gx
            y_ref = y + eta_y * gy + eta_x * np.linalg.solve(-Q, B.T @ gx)
            np.testing.assert_allclose(np.asarray(res.x), x_ref, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(np.asarray(res.y), y_ref, rtol=1e-10, atol=1e-12)


def test_follow_the_ridge_converges_to_the_local_minimax_point_where_gda_diverges():
    """f = -3x^2 - y^2 + 4xy: y's best response is 2x and f(x, 2x) = x^2, so (0, 0) is a local minimax point (not a
    local Nash point: f is concave in x). The field's Jacobian has the double eigenvalue -2, so GDA's update has
    1 + 2 eta: it diverges. Follow-the-ridge's has 1 - 2 eta: it converges."""
    eta = 0.05
    with jax.enable_x64(True):
        game = mm.Game(value=lambda x, y: jnp.sum(-3 * x**2 - y**2 + 4 * x * y),
                       equilibrium=(jnp.zeros(1), jnp.zeros(1)))
        start = dict(x0=jnp.array([0.5]), y0=jnp.array([-0.3]), steps=400)
        ridge = mm.follow_the_ridge(optax.sgd(eta), cg_steps=1)
        res = mm.run(game, ridge, **start)
        assert float(res.trace["dist"][-1]) < 1e-12
        zero = (jnp.zeros(1), jnp.zeros(1))
        assert float(mm.spectral_radius(game, ridge, *zero)) == pytest.approx(1 - 2 * eta, rel=1e-6)
        gda = mm.simultaneous_gda(optax.sgd(eta))
        assert float(mm.spectral_radius(game, gda, *zero)) == pytest.approx(1 + 2 * eta, rel=1e-6)
        assert bool(mm.run(game, gda, on_divergence="ignore", **start).trace["dist"][-1] > 1.0)


def test_compare_knows_the_anchored_and_ridge_solvers():
    game = games.bilinear(jnp.eye(2))
    names = ["anchored_extragradient", "anchored_extragradient_varying", "fast_extragradient", "follow_the_ridge"]
    rows = mm.compare(game, names, step_sizes=[0.1], steps=400, seeds=2)
    assert [r["solver"] for r in rows] == names
    assert all(np.isfinite(r["final"]) for r in rows)


@pytest.mark.parametrize("name", ["hamiltonian", "extragradient_plus", "look_ahead", "lola", "sos",
                                  "anchored_extragradient", "anchored_extragradient_varying", "fast_extragradient",
                                  "follow_the_ridge", "unrolled"])
def test_the_spectral_radius_of_every_new_solver_is_its_dense_update_jacobians(name):
    """mm.spectral_radius (matrix-free) against the eigenvalues of the dense Jacobian of the update map, memory
    (optimizer state, anchors, EAG-V's step) included, on a strongly monotone quadratic game at its equilibrium."""
    from minimax.compare import SOLVERS

    with jax.enable_x64(True):
        game, _ = _strongly_monotone(np.random.default_rng(11), n=2)
        solver = SOLVERS[name](0.05)
        zero = (jnp.zeros(2), jnp.zeros(2))
        dense = np.max(np.abs(np.linalg.eigvals(np.asarray(mm.update_jacobian(game, solver, *zero)))))
        radius = float(mm.spectral_radius(game, solver, *zero))
        assert np.isfinite(radius)
        assert radius == pytest.approx(dense, rel=1e-6, abs=1e-9)
