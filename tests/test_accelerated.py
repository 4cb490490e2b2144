"""Anchored extragradient (EAG-C) against Yoon & Ryu's bound; follow-the-ridge against a dense reference."""

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
        bound = np.asarray(mm.eag_bound(alpha, float(np.linalg.norm(np.concatenate([x0, y0]))), k))
        ratio = sq / bound
        assert ratio.max() <= 1.0, (ratio.max(), int(ratio.argmax()))
        # The O(1/k^2) rate is real: from k = 100 to 10^4 the squared norm falls by over 100x.
        assert sq[-1] < sq[100] / 100


def test_eag_c_checks_its_arguments():
    with pytest.raises(ValueError, match=r"step_size: the EAG-C guarantee needs step_size <= 1/\(8 L\)"):
        mm.anchored_extragradient(0.2, lipschitz=1.0)
    with pytest.raises(ValueError, match="variant: expected 'constant'"):
        mm.anchored_extragradient(0.1, variant="varying")
    with pytest.raises(ValueError, match="step_size: expected a positive number"):
        mm.anchored_extragradient(-0.1)
    with pytest.raises(ValueError, match="lipschitz: expected a positive number"):
        mm.anchored_extragradient(0.1, lipschitz=0)


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
    rows = mm.compare(game, ["anchored_extragradient", "follow_the_ridge"], step_sizes=[0.1], steps=400, seeds=2)
    assert [r["solver"] for r in rows] == ["anchored_extragradient", "follow_the_ridge"]
    assert all(np.isfinite(r["final"]) for r in rows)
