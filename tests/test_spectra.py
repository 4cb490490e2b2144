"""Matrix-free spectra (minimax.spectra) against dense references and closed forms, in float64."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm

comparison = importlib.import_module("minimax.compare")


def small_gan(loss="minimax"):
    """A ring GAN with hidden layers of 8 and tanh units: 219 parameters, dense Jacobian in milliseconds."""
    return games.gan(games.mlp([2, 8, 8, 2], jnp.tanh), games.mlp([2, 8, 8, 1], jnp.tanh), games.mixtures.ring(),
                     latent_dim=2, batch_size=64, loss=loss)


@pytest.fixture(scope="module")
def gan64():
    """The small GAN and a point, built once for the module in float64 (tests using it also enter x64)."""
    with jax.enable_x64(True):  # left before yielding, so that tests without x64 stay in float32
        game = small_gan()
        point = game.init(jax.random.key(0))
    return game, point


def order_key(eig, which):
    return {"LM": -np.abs(eig), "LR": -eig.real, "SR": eig.real, "LI": -np.abs(eig.imag)}[which]


def assert_extreme(found, dense, which, k, rtol=1e-8):
    """``found`` are the ``k`` eigenvalues of ``dense`` most extreme by ``which`` (ties between conjugates allowed)."""
    scale = np.max(np.abs(dense))
    assert found.shape == (k,)
    for lam in found:  # each one is an eigenvalue ...
        assert np.min(np.abs(dense - lam)) <= rtol * scale, lam
    # ... and they are the k most extreme ones: the same sorted keys as the dense spectrum's top k.
    np.testing.assert_allclose(np.sort(order_key(found, which)), np.sort(order_key(dense, which))[:k],
                               rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("which", ["LM", "LR", "SR", "LI"])
def test_jacobian_matrix_free_equals_dense_on_small_gan(x64, gan64, which):
    game, (x, y) = gan64
    key = jax.random.key(0)
    dense = mm.jacobian_eigenvalues(game, x, y, key=key)
    assert dense.size == 219
    vals, info = mm.jacobian_eigenvalues(game, x, y, key=key, k=6, which=which, return_info=True)
    assert_extreme(vals, dense, which, 6)
    assert info.method == "arpack" and info.dim == 219 and info.products > 6
    assert np.all(info.residuals <= 1e-8)


@pytest.mark.slow  # 8 s on the 2-core CPU (the README's slow step runs it)
def test_general_sum_gan_field_is_each_players_gradient(x64):
    game = small_gan("non_saturating")
    key = jax.random.key(1)
    x, y = game.init(key)
    dense = mm.jacobian_eigenvalues(game, x, y, key=key)
    vals = mm.jacobian_eigenvalues(game, x, y, key=key, k=4)
    assert_extreme(vals, dense, "LM", 4)
    # Player x's curvature is that of its own loss L_x, not of -L_y.
    hx = mm.hessian_eigenvalues(game, x, y, player="x", key=key)
    flat, unravel = jax.flatten_util.ravel_pytree(x)
    mat = np.asarray(jax.jit(jax.hessian(lambda v: game.loss_x(unravel(v), y, key)))(flat))
    np.testing.assert_allclose(hx, np.linalg.eigvalsh((mat + mat.T) / 2), atol=1e-10)
    hx_top = mm.hessian_eigenvalues(game, x, y, player="x", key=key, k=2, which="LA")
    np.testing.assert_allclose(hx_top, np.linalg.eigvalsh((mat + mat.T) / 2)[::-1][:2], rtol=1e-8)


def test_bilinear_top_eigenvalues_are_plus_minus_i_sigma(x64):
    A = jax.random.normal(jax.random.key(3), (300, 300))
    game = games.bilinear(A)
    x, y = jnp.zeros(300), jnp.zeros(300)
    vals, info = mm.jacobian_eigenvalues(game, x, y, k=6, which="LM", return_info=True)
    sigma = np.linalg.svd(np.asarray(A), compute_uv=False)[:3]
    np.testing.assert_allclose(np.abs(vals.real), 0, atol=1e-8 * sigma[0])
    np.testing.assert_allclose(vals.imag, [sigma[0], -sigma[0], sigma[1], -sigma[1], sigma[2], -sigma[2]],
                               rtol=1e-9)
    assert np.all(info.residuals <= 1e-8)


def diagonal_quadratic(n):
    """f = 1/2 sum p x^2 + sum a x y - 1/2 sum p y^2 (a diagonal quadratic game): eigenvalues p_i +- i a_i.

    The bulk has p in [0.5, 2], a in [0, 1]; six outlier modes have p = 1 and a = 10, 9, ..., 5, so the largest
    eigenvalues (and the largest of 1 - eta lambda for eta = 0.2) are well separated.
    """
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 2.0, n)
    a = rng.uniform(0.0, 1.0, n)
    p[:6], a[:6] = 1.0, [10.0, 9.0, 8.0, 7.0, 6.0, 5.0]
    pj, aj = jnp.asarray(p), jnp.asarray(a)
    game = mm.Game(value=lambda x, y: 0.5 * jnp.sum(pj * x**2) + jnp.sum(aj * x * y) - 0.5 * jnp.sum(pj * y**2))
    return game, p + 1j * a, p


def test_quadratic_at_scale_exact_eigenvalues_and_solver_radii(x64):
    n = 2500  # dimension 5000: a dense Jacobian would be 200 MB and an eig of minutes
    game, lam, _ = diagonal_quadratic(n)
    lam = np.concatenate([lam, lam.conj()])
    x, y = jnp.zeros(n), jnp.zeros(n)
    vals = mm.jacobian_eigenvalues(game, x, y, k=4, which="LM")
    np.testing.assert_allclose(vals, [1 + 10j, 1 - 10j, 1 + 9j, 1 - 9j], rtol=1e-9)

    eta = 0.2
    rho = mm.spectral_radius(game, mm.simultaneous_gda(optax.sgd(eta)), x, y)
    assert rho == pytest.approx(np.max(np.abs(1 - eta * lam)), rel=1e-9)
    # Extragradient's step is z - eta F(z - eta F(z)): on a linear field, I - eta J + eta^2 J^2.
    rho_eg = mm.spectral_radius(game, mm.extragradient(optax.sgd(eta)), x, y)
    assert rho_eg == pytest.approx(np.max(np.abs(1 - eta * lam + (eta * lam) ** 2)), rel=1e-9)


def test_hessian_eigenvalues_of_quadratic_game(x64):
    n = 400
    rng = np.random.default_rng(1)
    P = np.diag(rng.uniform(-1.0, 3.0, n))
    U = np.linalg.qr(rng.normal(size=(n, n)))[0]
    P = U @ P @ U.T
    P = (P + P.T) / 2
    q = np.concatenate([[0.1, 0.2, 0.3, 0.4], rng.uniform(1.0, 3.0, n - 4)])
    V = np.linalg.qr(rng.normal(size=(n, n)))[0]
    Q = (V * q) @ V.T
    Q = (Q + Q.T) / 2
    game = games.quadratic(jnp.asarray(rng.normal(size=(n, n))), jnp.asarray(P), jnp.asarray(Q))
    x, y = jnp.zeros(n), jnp.zeros(n)
    eig_p, eig_q = np.linalg.eigvalsh(P), np.linalg.eigvalsh(Q)
    hx = mm.hessian_eigenvalues(game, x, y, player="x", k=5, which="SA")
    np.testing.assert_allclose(hx, eig_p[:5], atol=1e-8 * np.max(np.abs(eig_p)))
    hx_top = mm.hessian_eigenvalues(game, x, y, player="x", k=3, which="LA")
    np.testing.assert_allclose(hx_top, eig_p[::-1][:3], atol=1e-8 * np.max(np.abs(eig_p)))
    hy = mm.hessian_eigenvalues(game, x, y, player="y", k=4, which="LA")  # -Q: its largest are -(smallest of Q)
    np.testing.assert_allclose(hy, -eig_q[:4], atol=1e-8 * np.max(eig_q))
    np.testing.assert_allclose(mm.hessian_eigenvalues(game, x, y, player="y"), np.sort(-eig_q), atol=1e-9)

    check = mm.local_nash(game, x, y, k=2)
    assert not check.holds and check.violators == ("x",)
    assert check.x_min == pytest.approx(eig_p[0], abs=1e-8)
    assert check.y_max == pytest.approx(-eig_q[0], abs=1e-8)
    good = games.quadratic(jnp.eye(3), jnp.eye(3), jnp.eye(3))
    assert mm.local_nash(good, jnp.zeros(3), jnp.zeros(3)) == mm.LocalNash(True, 1.0, -1.0, ())


@pytest.mark.slow  # 14 s on the 2-core CPU (the README's slow step runs it)
def test_adam_spectral_radius_matrix_free_equals_dense_at_a_run_state(x64, gan64):
    game, _ = gan64
    key = jax.random.key(2)
    solver = mm.simultaneous_gda(optax.adam(1e-2, b1=0.5))
    res = mm.run(game, solver, steps=30, key=key, record_every=None)
    dense = mm.update_eigenvalues(game, solver, res.x, res.y, state=res.state, key=key)
    assert dense.size == 3 * 219  # parameters, first and second moments
    rho_dense = np.max(np.abs(dense))
    rho, info = mm.spectral_radius(game, solver, res.x, res.y, state=res.state, key=key, return_info=True)
    assert info.method == "arpack" and info.dim > mm.DENSE_LIMIT  # the default goes matrix-free at this size
    assert rho == pytest.approx(rho_dense, rel=1e-8)
    vals = mm.update_eigenvalues(game, solver, res.x, res.y, state=res.state, key=key, k=4)
    assert_extreme(vals, dense, "LM", 4)


def test_spectral_radius_goes_matrix_free_above_dense_limit(x64):
    game, lam, _ = diagonal_quadratic(mm.DENSE_LIMIT // 2 + 1)
    _, info = mm.spectral_radius(game, mm.simultaneous_gda(optax.sgd(0.2)), *(jnp.zeros(lam.size),) * 2,
                                 return_info=True)
    assert info.method == "arpack" and info.dim == mm.DENSE_LIMIT + 2
    small, _, _ = diagonal_quadratic(10)
    _, info = mm.spectral_radius(small, mm.simultaneous_gda(optax.sgd(0.2)), jnp.zeros(10), jnp.zeros(10),
                                 return_info=True)
    assert info.method == "dense" and info.dim == 20


# -- path angle and rotation ------------------------------------------------------------------------------------------
def test_path_angle_on_bilinear_is_zero_through_the_saddle(x64):
    game = games.bilinear(jnp.eye(1))
    curve = mm.path_angle(game, (jnp.array([-1.0]), jnp.array([-1.0])), (jnp.array([1.0]), jnp.array([1.0])),
                          num=21)
    assert curve.alpha.shape == curve.cosine.shape == curve.norm.shape == (21,)
    np.testing.assert_allclose(curve.alpha, np.linspace(-0.5, 1.5, 21), atol=1e-15)
    mid = np.abs(curve.alpha - 0.5) > 1e-9  # F = 0 at the saddle itself: no angle there
    np.testing.assert_allclose(curve.cosine[mid], 0.0, atol=1e-12)
    # F(x, y) = (y, -x): on z(alpha) = (2 alpha - 1)(1, 1) its norm is sqrt(2)|2 alpha - 1|.
    np.testing.assert_allclose(curve.norm, np.sqrt(2) * np.abs(2 * curve.alpha - 1), atol=1e-12)


def test_path_angle_on_potential_game_is_plus_minus_one(x64):
    # f = 1/2 |x|^2 - 1/2 |y|^2: F = (x, y) = grad phi with phi = 1/2 |z|^2, a pure potential field.
    game = mm.Game(value=lambda x, y: 0.5 * jnp.sum(x**2) - 0.5 * jnp.sum(y**2))
    start, end = (jnp.array([2.0, 1.0]), jnp.array([1.0])), (jnp.array([-2.0, -1.0]), jnp.array([-1.0]))
    curve = mm.path_angle(game, start, end, num=16)
    # Along the segment F is parallel to end - start: cos = -1 before the minimum at alpha = 1/2, +1 after.
    np.testing.assert_allclose(curve.cosine, np.where(curve.alpha < 0.5, -1.0, 1.0), atol=1e-12)


def test_path_angle_on_gan_matches_finite_differences(x64, gan64):
    game, _ = gan64
    value = jax.jit(game.value)
    key = jax.random.key(4)
    start = game.init(jax.random.key(5))
    end = game.init(jax.random.key(6))
    curve = mm.path_angle(game, start, end, num=5, key=key)
    zs, unravel = jax.flatten_util.ravel_pytree(start)
    ze = jax.flatten_util.ravel_pytree(end)[0]
    d = np.asarray(ze - zs)
    for alpha, cos, norm in zip(curve.alpha, curve.cosine, curve.norm):
        z = zs + alpha * (ze - zs)
        # The directional derivative of f's two pieces along d, by central differences, is <F, d> up to signs:
        # F = (grad_x f, -grad_y f), so <F, d> = d/dt [f(x + t dx, y) - f(x, y + t dy)] at t = 0.
        dx, dy = unravel(jnp.asarray(d))
        x, y = unravel(z)
        h = 1e-5
        fx = (value(jax.tree.map(lambda a, b: a + h * b, x, dx), y, key)
              - value(jax.tree.map(lambda a, b: a - h * b, x, dx), y, key)) / (2 * h)
        fy = (value(x, jax.tree.map(lambda a, b: a + h * b, y, dy), key)
              - value(x, jax.tree.map(lambda a, b: a - h * b, y, dy), key)) / (2 * h)
        assert float(cos * norm) * np.linalg.norm(d) == pytest.approx(float(fx - fy), rel=1e-6)


@pytest.mark.slow  # 6 s on the 2-core CPU (the README's slow step runs it)
def test_rotation_potential_estimate_matches_exact(x64, gan64):
    game, (x, y) = gan64
    key = jax.random.key(7)
    exact = mm.rotation_potential(game, x, y, key=key, samples=None)._asdict()
    exact = {name: float(v) for name, v in exact.items()}
    J = np.asarray(mm.jacobian(game, x, y, key=key))
    assert exact["sym"] == pytest.approx(np.linalg.norm((J + J.T) / 2), rel=1e-10)
    assert exact["antisym"] == pytest.approx(np.linalg.norm((J - J.T) / 2), rel=1e-10)
    assert exact["ratio"] == pytest.approx(exact["antisym"] / exact["sym"], rel=1e-12)
    est = mm.rotation_potential(game, x, y, key=key, samples=256)
    sym, anti, s_sym, s_anti = (float(v) for v in (est.sym, est.antisym, est.std_sym, est.std_antisym))
    assert sym == pytest.approx(exact["sym"], rel=4 * s_sym / exact["sym"] + 1e-3)
    assert anti == pytest.approx(exact["antisym"], rel=4 * s_anti / exact["antisym"] + 1e-3)
    # Same key, same estimate.
    again = mm.rotation_potential(game, x, y, key=key, samples=256)
    assert float(again.sym) == sym and float(again.antisym) == anti
    bilinear = mm.rotation_potential(games.bilinear(jnp.eye(4)), jnp.zeros(4), jnp.zeros(4), samples=None)
    assert float(bilinear.sym) == 0 and float(bilinear.antisym) == pytest.approx(np.sqrt(8))


# -- bad input --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k, match", [(0, r"k: expected an integer in \[1, 4\]"), (5, "k: expected an integer"),
                                      (2.0, "k: expected a positive integer"), (True, "k: expected a positive")])
def test_bad_k_names_the_argument(k, match):
    game = games.bilinear(jnp.eye(3))
    with pytest.raises((TypeError, ValueError), match=match):
        mm.jacobian_eigenvalues(game, jnp.zeros(3), jnp.zeros(3), k=k)


def test_bad_which_player_point_and_non_convergence():
    game = games.bilinear(jnp.eye(3))
    z = jnp.zeros(3)
    with pytest.raises(ValueError, match="which: expected one of 'LM', 'LR', 'SR', 'LI', got 'SM'"):
        mm.jacobian_eigenvalues(game, z, z, k=2, which="SM")
    with pytest.raises(ValueError, match="which: expected one of 'LA', 'SA', 'LM'"):
        mm.hessian_eigenvalues(game, z, z, player="x", k=1, which="LR")
    with pytest.raises(ValueError, match="player: expected 'x' or 'y', got 'z'"):
        mm.hessian_eigenvalues(game, z, z, player="z")
    with pytest.raises(ValueError, match="x: has non-finite entries"):
        mm.jacobian_eigenvalues(game, jnp.array([0.0, jnp.nan, 0.0]), z, k=2)
    with pytest.raises(ValueError, match=r"y: has non-finite entries"):
        mm.spectral_radius(game, mm.simultaneous_gda(optax.sgd(0.1)), z, jnp.array([jnp.inf, 0.0, 0.0]))
    with pytest.raises(ValueError, match="residual_tol: expected a positive finite number"):
        mm.jacobian_eigenvalues(game, z, z, k=2, residual_tol=-1.0)

    with pytest.raises(ValueError, match="not finite at this point .* not differentiable there.*eps_root"), \
            pytest.warns(mm.LinearisationWarning, match="second-moment estimate v is exactly zero in 6 of 6"):
        mm.spectral_radius(game, mm.extragradient(optax.adam(0.1)), z, z, k=2)  # Adam at a fixed point: nu = 0

    big = games.bilinear(jax.random.normal(jax.random.key(0), (200, 200)))
    with pytest.raises(mm.ConvergenceError, match=r"ARPACK found \d+ of k=6.*worst relative residual") as err:
        mm.jacobian_eigenvalues(big, jnp.zeros(200), jnp.zeros(200), k=6, which="SR", ncv=13, maxiter=2)
    assert err.value.residuals is not None


# -- checkpoints along a run ------------------------------------------------------------------------------------------
def test_checkpoints_are_the_runs_own_iterates_and_states():
    game = games.bilinear(jnp.eye(2))
    solver = mm.simultaneous_gda(optax.adam(0.1))
    key = jax.random.key(0)
    res = mm.run(game, solver, steps=10, key=key, checkpoint_every=3)
    ck = res.checkpoints
    assert len(ck) == 4 and ck.step.tolist() == [0, 3, 6, 9]
    assert ck.x.shape == (4, 2) and ck.state.x[0].mu.shape == (4, 2)
    assert ck.nbytes == 4 * (2 + 2 + 4 + 4) * 4 + 4 * 2 * 4  # x, y, Adam's mu and nu per player, two counts
    for i, (x, y, state) in enumerate(ck):
        ref = mm.run(game, solver, steps=max(3 * i, 1), key=key, record_every=None) if i else None
        if ref is None:
            np.testing.assert_array_equal(x, game.init(key)[0])
            assert int(state.x[0].count) == 0
            continue
        np.testing.assert_array_equal(x, ref.x)
        np.testing.assert_array_equal(y, ref.y)
        np.testing.assert_array_equal(state.y[0].nu, ref.state.y[0].nu)
    assert mm.run(game, solver, steps=10, key=key).checkpoints is None


def test_checkpoints_under_vmap_and_after_divergence():
    game = games.bilinear(jnp.eye(2))
    solver = mm.simultaneous_gda(optax.sgd(0.5))
    keys = jax.random.split(jax.random.key(1), 3)
    batch = jax.vmap(lambda k: mm.run(game, solver, steps=8, key=k, checkpoint_every=4))(keys)
    assert batch.checkpoints.step.shape == (3, 3) and batch.checkpoints.x.shape == (3, 3, 2)
    one = mm.run(game, solver, steps=8, key=keys[2], checkpoint_every=4)
    np.testing.assert_allclose(batch.checkpoints.x[2], one.checkpoints.x, rtol=1e-6)
    with pytest.raises(ValueError, match="take one run first"):
        batch.checkpoints[0]
    # GDA with a huge step overflows: later snapshots repeat the last finite iterate.
    res = mm.run(game, mm.simultaneous_gda(optax.sgd(1e30)), steps=6, key=keys[0], checkpoint_every=2,
                 on_divergence="ignore")
    assert 0 < int(res.diverged_step) <= 6
    assert np.all(np.isfinite(np.asarray(res.checkpoints.x)))
    np.testing.assert_array_equal(res.checkpoints.x[-1], res.x)


@pytest.mark.parametrize("value, match", [(0, "checkpoint_every: expected a positive integer"),
                                          (11, "checkpoint_every: expected at most steps=10"),
                                          (2.5, "checkpoint_every: expected a positive integer")])
def test_bad_checkpoint_every(value, match):
    game = games.bilinear(jnp.eye(2))
    with pytest.raises((TypeError, ValueError), match=match):
        mm.run(game, mm.simultaneous_gda(optax.sgd(0.1)), steps=10, key=jax.random.key(0), checkpoint_every=value)


def test_spectral_radius_at_a_checkpoint_state(x64):
    A = jnp.array([[1.0, 0.5], [0.0, 2.0]])
    game = games.quadratic(A, jnp.eye(2), jnp.eye(2))
    solver = mm.simultaneous_gda(optax.adam(0.05, eps_root=1e-8))
    res = mm.run(game, solver, steps=40, key=jax.random.key(2), checkpoint_every=20)
    x, y, state = res.checkpoints[2]
    assert mm.spectral_radius(game, solver, x, y, state=state) == pytest.approx(
        mm.spectral_radius(game, solver, res.x, res.y, state=res.state), rel=1e-12)


# -- when a linearisation says little (LinearisationWarning) -----------------------------------------------------
def test_adam_at_its_initial_state_warns_and_after_some_steps_does_not():
    import warnings

    game = games.bilinear(jnp.eye(2))
    solver = mm.simultaneous_gda(optax.adam(0.1))
    x0, y0 = jnp.ones(2), -jnp.ones(2)
    with pytest.warns(mm.LinearisationWarning, match=r"simultaneous_gda: its adaptive optimizer's second-moment "
                      r"estimate v is exactly zero in 4 of 4 entries at the state given.*sqrt\(v\) \+ eps"):
        mm.spectral_radius(game, solver, x0, y0, state=solver.init(x0, y0))
    res = mm.run(game, solver, steps=20, x0=x0, y0=y0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mm.LinearisationWarning)
        rho = mm.spectral_radius(game, solver, res.x, res.y, state=res.state)
    assert 0.5 < rho < 1.5
    assert mm.linearisation_notes(game, solver, res.x, res.y, state=res.state) == []


def _noisy_bilinear(n):
    A = jnp.eye(n) + 0.5 * jnp.diag(jnp.ones(n - 1), 1)

    def value(x, y, key):  # E[f] = x^T A y: each mini-batch scales the coupling by 1 + 0.5 xi
        xi = jax.random.normal(key, ())
        return (1 + 0.5 * xi) * x @ A @ y

    zero = jnp.zeros(n)
    return mm.Game(value=value, init=lambda key: (jax.random.normal(key, (n,)), jnp.ones(n)),
                   equilibrium=(zero, zero), stochastic=True, name="noisy_bilinear")


def test_a_stochastic_game_warns_on_one_sample_and_averages_over_samples():
    import warnings

    game, z = _noisy_bilinear(3), jnp.zeros(3)
    solver = mm.simultaneous_gda(optax.sgd(0.1))
    key = jax.random.key(4)
    with pytest.warns(mm.LinearisationWarning, match="stochastic and the update of simultaneous_gda was "
                      "linearised on the mini-batch of one key.*samples=32"):
        one = mm.spectral_radius(game, solver, z, z, key=key)
    keys = jax.random.split(key, 16)
    scale = float(np.mean(1 + 0.5 * jax.vmap(lambda k: jax.random.normal(k, ()))(keys)))  # the coupling's mean
    sigma = np.linalg.svd(np.eye(3) + 0.5 * np.diag(np.ones(2), 1), compute_uv=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.LinearisationWarning)
        mean_j = np.mean(jax.vmap(lambda k: mm.update_jacobian(game, solver, z, z, key=k))(keys), axis=0)
    expected = float(np.max(np.abs(np.linalg.eigvals(mean_j))))
    with warnings.catch_warnings():
        warnings.simplefilter("error", mm.LinearisationWarning)
        dense = mm.spectral_radius(game, solver, z, z, key=key, samples=16)
        free = mm.spectral_radius(game, solver, z, z, key=key, samples=16, k=2)  # mean of the 16 keys' JVPs
        eig = mm.jacobian_eigenvalues(game, z, z, key=key, samples=16)
    assert dense == pytest.approx(expected, rel=1e-6) and free == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(np.sort(np.abs(eig.imag)), np.sort(np.repeat(scale * sigma, 2)), rtol=1e-5)
    assert one != pytest.approx(expected, rel=1e-5)  # one mini-batch gives another number
    with pytest.raises(ValueError, match="samples: expected a positive number of mini-batches"):
        mm.spectral_radius(game, solver, z, z, samples=0)


def test_an_entropic_solver_is_named_in_its_warning_and_error_never_adam():
    A = jnp.array([[1.0, 2.0], [3.0, 4.0]])  # x plays row 0, y column 1: a pure, boundary equilibrium
    game = games.matrix_game(A, equilibrium=(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])))
    omwu = mm.optimistic_multiplicative_weights(0.1)
    with pytest.warns(mm.LinearisationWarning, match="optimistic_multiplicative_weights: a strategy is on the "
                      "boundary of the simplex") as caught:
        assert mm.spectral_radius(game, omwu, *game.equilibrium) == 0.0  # the floor's derivative, not a rate
    assert not any("eps_root" in str(w.message) or "Adam" in str(w.message) for w in caught)
    curved = mm.Game(value=lambda x, y: x @ A @ y + 0.1 * jnp.sum(jnp.sqrt(x)), x_constraint=mm.Simplex(),
                     y_constraint=mm.Simplex(), name="sqrt_game")
    with pytest.warns(mm.LinearisationWarning), pytest.raises(ValueError) as err:
        mm.spectral_radius(curved, omwu, *game.equilibrium)
    text = str(err.value)
    assert "the update of optimistic_multiplicative_weights is not finite" in text
    assert "entropic geometry" in text and "'sqrt_game' is not differentiable" in text
    assert "eps_root" not in text and "Adam" not in text and "adam" not in text


def test_compare_notes_why_a_radius_means_little():
    adam = comparison.compare(games.bilinear(jnp.eye(1)), [lambda lr: mm.simultaneous_gda(optax.adam(lr))],
                              step_sizes=[0.1], steps=20)[0]
    assert adam["radius"] is None and "second-moment estimate v is exactly zero" in adam["radius_note"]
    noisy = _noisy_bilinear(2)
    (row,) = comparison.compare(noisy, ["extragradient"], step_sizes=[0.1], steps=20)
    assert row["radius_note"] == f"radius of the expected Jacobian over {comparison.RADIUS_SAMPLES} mini-batches"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", mm.LinearisationWarning)
        expected = mm.spectral_radius(noisy, mm.extragradient(optax.sgd(0.1)), *noisy.equilibrium,
                                      key=jax.random.key(0), samples=comparison.RADIUS_SAMPLES)
    assert row["radius"] == pytest.approx(expected, rel=1e-6)
