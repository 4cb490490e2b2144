"""Unrolled GAN (Metz et al. 2017): one step against the closed form of the k-step linear response on quadratic
games, unroll=0 against simultaneous GDA bit for bit, spectral radii against closed forms and dense updates, Adam
differentiated through against a plain reference, the trace's evaluations, and a small GAN with Adam."""

import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm
from games import mixtures
from minimax import cli, driver

NX, NY = 2, 3


def _zero_sum_quadratic(rng):
    """f = x'Ax/2 + x'By - y'Cy/2 with A, C symmetric (C positive definite, so y's steps settle)."""
    A = rng.normal(size=(NX, NX))
    B = rng.normal(size=(NX, NY))
    M = rng.normal(size=(NY, NY))
    A, C = A + A.T, M @ M.T / NY + np.eye(NY)
    A_, B_, C_ = (jnp.asarray(m) for m in (A, B, C))
    game = mm.Game(value=lambda x, y: 0.5 * x @ A_ @ x + x @ B_ @ y - 0.5 * y @ C_ @ y)
    return game, (A, B, C)


def _closed_form_step(mats, x, y, eta_x, eta_y, k):
    """One unrolled step with sgd(eta_x), sgd(eta_y) on the zero-sum quadratic: y's step is
    y + eta_y (B'x - Cy) = My + eta_y B'x with M = I - eta_y C, so y_k = M^k y + S_k eta_y B'x with
    S_k = sum_{j<k} M^j and dy_k/dx = S_k eta_y B'; x descends grad_x f(x, y_k) + (dy_k/dx)' grad_y f(x, y_k)."""
    A, B, C = mats
    M = np.eye(NY) - eta_y * C
    S = sum((np.linalg.matrix_power(M, j) for j in range(k)), np.zeros((NY, NY)))
    y_k = np.linalg.matrix_power(M, k) @ y + S @ (eta_y * B.T @ x)
    dyk_dx = eta_y * S @ B.T
    total = A @ x + B @ y_k + dyk_dx.T @ (B.T @ x - C @ y_k)
    return x - eta_x * total, y + eta_y * (B.T @ x - C @ y)


def _one_step(game, solver, x, y):
    res = mm.run(game, solver, steps=1, x0=jnp.asarray(x), y0=jnp.asarray(y), record_every=None)
    return np.asarray(res.x), np.asarray(res.y)


@pytest.mark.parametrize("k", [0, 1, 5])
def test_one_step_is_the_gradient_through_the_k_step_linear_response(k):
    rng = np.random.default_rng(k)
    eta_x, eta_y = 0.07, 0.2  # different steps: the unroll must use y's optimizer
    with jax.enable_x64(True):
        for _ in range(3):
            game, mats = _zero_sum_quadratic(rng)
            x, y = rng.normal(size=NX), rng.normal(size=NY)
            solver = mm.unrolled(optax.sgd(eta_x), optax.sgd(eta_y), unroll=k)
            x_ref, y_ref = _closed_form_step(mats, x, y, eta_x, eta_y, k)
            x_new, y_new = _one_step(game, solver, x, y)
            np.testing.assert_allclose(x_new, x_ref, rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(y_new, y_ref, rtol=1e-10, atol=1e-10)
            if k > 0:  # the unroll changes x's step: the plain gradient would be off
                x_plain = x - eta_x * (mats[0] @ x + mats[1] @ y)
                assert np.max(np.abs(x_new - x_plain)) > 1e-3


def test_general_sum_games_unroll_y_on_its_own_loss():
    """L_x = z'Pz/2 + p'z, L_y = z'Qz/2 + q'z: y_{j+1} = (I - eta Q_yy) y_j - eta (Q_yx x + q_y), and x descends
    grad_x L_x(x, y_k) + (dy_k/dx)' grad_y L_x(x, y_k)."""
    rng = np.random.default_rng(11)
    n, k, eta_x, eta_y = NX + NY, 3, 0.05, 0.1
    with jax.enable_x64(True):
        P, Q = (lambda m: m + m.T)(rng.normal(size=(n, n))), (lambda m: m + m.T)(rng.normal(size=(n, n)))
        p, q = rng.normal(size=n), rng.normal(size=n)
        P_, Q_, p_, q_ = (jnp.asarray(m) for m in (P, Q, p, q))
        cat = lambda x, y: jnp.concatenate([x, y])  # noqa: E731
        game = mm.Game(losses=(lambda x, y: 0.5 * cat(x, y) @ P_ @ cat(x, y) + p_ @ cat(x, y),
                               lambda x, y: 0.5 * cat(x, y) @ Q_ @ cat(x, y) + q_ @ cat(x, y)))
        x, y = rng.normal(size=NX), rng.normal(size=NY)
        Qyx, Qyy = Q[NX:, :NX], Q[NX:, NX:]
        y_k, dyk_dx = y.copy(), np.zeros((NY, NX))
        for _ in range(k):
            y_k = y_k - eta_y * (Qyx @ x + Qyy @ y_k + q[NX:])
            dyk_dx = dyk_dx - eta_y * (Qyx + Qyy @ dyk_dx)
        grad_lx = P @ np.concatenate([x, y_k]) + p
        x_ref = x - eta_x * (grad_lx[:NX] + dyk_dx.T @ grad_lx[NX:])
        y_ref = y - eta_y * (Qyx @ x + Qyy @ y + q[NX:])
        x_new, y_new = _one_step(game, mm.unrolled(optax.sgd(eta_x), optax.sgd(eta_y), unroll=k), x, y)
        np.testing.assert_allclose(x_new, x_ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(y_new, y_ref, rtol=1e-10, atol=1e-10)


def test_the_unrolled_steps_of_a_constrained_maximiser_are_projected():
    """f = xy with y in [-0.1, 0.1], sgd(0.1), x = 1, y = 0.05, unroll=2: y_1 = clip(0.15) = 0.1 and y_2 = 0.1,
    both on the bound, so dy_2/dx = 0 and x's direction is y_2 = 0.1 (unprojected it would be 0.25 + 0.2)."""
    with jax.enable_x64(True):
        game = mm.Game(value=lambda x, y: jnp.sum(x * y), y_constraint=mm.Box(-0.1, 0.1))
        x_new, y_new = _one_step(game, mm.unrolled(optax.sgd(0.1), unroll=2), np.ones(1), np.full(1, 0.05))
        np.testing.assert_allclose(x_new, [1 - 0.1 * 0.1], rtol=1e-12)
        np.testing.assert_allclose(y_new, [0.1], rtol=1e-12)


@pytest.mark.parametrize("opt", [optax.sgd(0.1), optax.adam(0.05, b1=0.5)], ids=["sgd", "adam"])
def test_unroll_zero_is_simultaneous_gda_bit_for_bit(opt):
    game = games.bilinear(jnp.array([[1.0, 0.5], [-0.2, 1.5]]))  # float32
    key = jax.random.key(0)
    ref = mm.run(game, mm.simultaneous_gda(opt), steps=100, key=key)
    res = mm.run(game, mm.unrolled(opt, unroll=0), steps=100, key=key)
    assert res.x.dtype == jnp.float32
    np.testing.assert_array_equal(res.x, ref.x)
    np.testing.assert_array_equal(res.y, ref.y)
    for metric in ref.trace:
        np.testing.assert_array_equal(res.trace[metric], ref.trace[metric], err_msg=metric)
    assert mm.unrolled(opt, unroll=0).grad_evals == 1.0


def test_the_maximiser_takes_its_ordinary_step_and_its_state_advances_once():
    """With Adam for y, y and y's optimizer state after one unrolled step equal simultaneous GDA's (the unrolled
    states are discarded), while x's step differs."""
    game = games.bilinear(jnp.array([[1.0, 0.5], [-0.2, 1.5]]))
    opt_x, opt_y = optax.sgd(0.1), optax.adam(0.05, b1=0.5, eps_root=1e-8)
    x, y = jnp.array([0.3, -0.8]), jnp.array([1.1, 0.4])
    key = jax.random.key(0)
    plain = mm.simultaneous_gda(opt_x, opt_y)
    x_ref, y_ref, s_ref = plain.step(game, x, y, plain.init(x, y), key)
    solver = mm.unrolled(opt_x, opt_y, unroll=4)
    x_new, y_new, s_new = jax.jit(solver.step, static_argnums=0)(game, x, y, solver.init(x, y), key)
    np.testing.assert_allclose(y_new, y_ref, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(s_new.y), jax.tree.leaves(s_ref.y)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert int(s_new.y[0].count) == 1
    assert float(jnp.max(jnp.abs(x_new - x_ref))) > 1e-3


def test_adam_is_differentiated_through_like_a_plain_unrolled_loop():
    """A reference written with a Python loop over optax updates and jax.grad: one step of x agrees."""
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        game, _ = _zero_sum_quadratic(rng)
        opt_x, opt_y = optax.sgd(0.1), optax.adam(0.05, b1=0.5, eps_root=1e-8)
        x, y = jnp.asarray(rng.normal(size=NX)), jnp.asarray(rng.normal(size=NY))
        k = 4

        def surrogate(x_):
            y_, s = y, opt_y.init(y)
            for _ in range(k):
                u, s = opt_y.update(game.grad_y(x_, y_), s, y_)
                y_ = y_ + u
            return game.loss_x(x_, y_)

        x_ref = x - 0.1 * jax.jit(jax.grad(surrogate))(x)
        x_new, _ = _one_step(game, mm.unrolled(opt_x, opt_y, unroll=k), x, y)
        np.testing.assert_allclose(x_new, x_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_spectral_radius_on_f_xy_has_its_closed_form(k):
    """f = xy, sgd(eta): y_k = y + k eta x, so x's direction is y + 2 k eta x and the update matrix is
    [[1 - 2k eta^2, -eta], [eta, 1]]: det 1 - (2k - 1) eta^2, complex eigenvalues while k eta < 1."""
    eta = 0.1
    with jax.enable_x64(True):
        game = games.bilinear(jnp.eye(1))
        solver = mm.unrolled(optax.sgd(eta), unroll=k)
        radius = mm.spectral_radius(game, solver, jnp.zeros(1), jnp.zeros(1))
        assert float(radius) == pytest.approx(np.sqrt(1 - (2 * k - 1) * eta**2), rel=1e-10)
        res = mm.run(game, solver, steps=400, x0=jnp.ones(1), y0=jnp.zeros(1), on_divergence="ignore")
        d = np.asarray(res.trace["dist"])
        assert (d[400] / d[200]) ** (1 / 200) == pytest.approx(float(radius), rel=1e-3)
        assert (d[-1] < d[0]) == (k > 0)  # converges where simultaneous GDA (k = 0) spirals out


def test_spectral_radius_matches_the_dense_closed_form_update():
    rng = np.random.default_rng(5)
    eta_x, eta_y, k = 0.07, 0.2, 3
    with jax.enable_x64(True):
        game, mats = _zero_sum_quadratic(rng)
        # The update is linear: its matrix, column by column, from the closed form.
        columns = [np.concatenate(_closed_form_step(mats, e[:NX], e[NX:], eta_x, eta_y, k))
                   for e in np.eye(NX + NY)]
        expected = np.max(np.abs(np.linalg.eigvals(np.stack(columns, axis=1))))
        solver = mm.unrolled(optax.sgd(eta_x), optax.sgd(eta_y), unroll=k)
        radius = mm.spectral_radius(game, solver, jnp.zeros(NX), jnp.zeros(NY))
        assert np.isfinite(float(radius))
        assert float(radius) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("5", TypeError),
                                        (5.0, TypeError)])
def test_a_bad_unroll_names_the_argument(bad, error):
    with pytest.raises(error, match="unroll: expected a non-negative integer"):
        mm.unrolled(optax.sgd(0.1), unroll=bad)


def test_bad_optimizers_name_the_argument():
    with pytest.raises(TypeError, match=r"opt_x: expected an optax.GradientTransformation.*optax.sgd\(step_size\)"):
        mm.unrolled(0.1)
    with pytest.raises(TypeError, match="opt_y: expected an optax.GradientTransformation"):
        mm.unrolled(optax.sgd(0.1), "adam")


def test_a_maximiser_optimizer_without_a_derivative_at_zero_is_warned_about():
    """The warning is real: y[1]'s gradient x - 1 is exactly zero at x = 1, and the derivative of Adam's root of
    a zero second moment makes x's gradient NaN; eps_root moves the root off zero."""
    game = mm.Game(value=lambda x, y: jnp.sum(x * y[0] + (x - 1) * y[1]))
    x, y = jnp.ones(1), jnp.ones(2)

    def x_after_one_step(solver):
        return solver.step(game, x, y, solver.init(x, y), jax.random.key(0))[0]

    with pytest.warns(UserWarning, match=r"opt_y: the derivative of its update at a zero gradient is nan.*eps_root"):
        plain = mm.unrolled(optax.sgd(0.1), optax.adam(1e-3))
    assert bool(jnp.all(jnp.isnan(x_after_one_step(plain))))
    assert bool(jnp.all(jnp.isfinite(x_after_one_step(mm.unrolled(optax.sgd(0.1), optax.adam(1e-3, eps_root=1e-8))))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mm.unrolled(optax.adam(1e-3), optax.adam(1e-3, eps_root=1e-8))  # x's optimizer is not differentiated
        mm.unrolled(optax.adam(1e-3), unroll=0)  # nothing is differentiated


def test_ten_step_sizes_compile_once():
    game = games.bilinear(jnp.array([[1.0, 0.5], [-0.3, 2.0]]))
    make = lambda v: mm.unrolled(optax.sgd(v), optax.adam(v, eps_root=1e-8), unroll=3)  # noqa: E731
    values = [0.05 + 0.01 * i for i in range(10)]
    make(values[0])
    before = driver._run_compiled._cache_size()
    results = [mm.run(game, make(v), steps=20, key=jax.random.key(1)) for v in values]
    assert driver._run_compiled._cache_size() - before == 1
    assert not np.array_equal(results[0].x, results[-1].x)
    # Equal arguments, equal solvers; unroll is static, so unroll=5 (the default) is another solver.
    assert make(0.1) == make(0.1) and make(0.1) != mm.unrolled(optax.sgd(0.1), optax.adam(0.1, eps_root=1e-8))


_CALLS = [0]


def _tick():
    _CALLS[0] += 1


def _counting_value(x, y):
    jax.debug.callback(_tick)
    return jnp.dot(jnp.tanh(x), jnp.array([[1.0, 0.5], [-0.3, 2.0]]) @ y)


def test_without_an_observation_the_driver_evaluates_each_record():
    """unroll >= 1 never evaluates x's gradient at z_t: no observing_step, so each further record costs one
    evaluation of the game (the documented cost, as for alternating GDA); unroll=0 observes for free."""
    game = mm.Game(value=_counting_value, init=lambda key: (jnp.ones(2), jnp.ones(2)))

    def calls(solver, **kwargs):
        _CALLS[0] = 0
        jax.block_until_ready(mm.run(game, solver, steps=10, key=jax.random.key(0), **kwargs))
        jax.effects_barrier()
        return _CALLS[0]

    solver = mm.unrolled(optax.sgd(0.1), unroll=3)
    assert solver.observing_step is None and solver.grad_evals == 5.0
    assert calls(solver) == calls(solver, record_every=None) + 9
    free = mm.unrolled(optax.sgd(0.1), unroll=0)
    assert free.observing_step is not None
    assert calls(free) == calls(free, record_every=None) == 10 + 1  # the steps and the final record


@pytest.mark.slow  # 6 s on the 2-core CPU (the README's slow step runs it)
def test_a_small_gan_trains_with_adam_through_the_unroll():
    game = games.gan(games.mlp([2, 16, 2]), games.mlp([2, 16, 1]), mixtures.ring(), latent_dim=2, batch_size=32)
    solver = mm.unrolled(optax.adam(1e-3, b1=0.5), optax.adam(1e-3, b1=0.5, eps_root=1e-8), unroll=2)
    res = mm.run(game, solver, steps=300, key=jax.random.key(0), record_every=100)
    assert int(res.steps_completed) == 300 and int(res.diverged_step) == -1
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves((res.x, res.y)))
    assert np.all(np.isfinite(res.trace["value"])) and np.all(np.isfinite(res.trace["grad_norm"]))
    assert np.asarray(res.trace["grad_evals"])[-1] == pytest.approx(300 * 3.5)


def test_the_command_line_compares_unrolled(capsys):
    """``minimax compare --solvers unrolled`` (unroll=5 by default) on the built-in f = xy: the radius of the
    closed form, sqrt(1 - 9 eta^2), converged where simultaneous GDA diverges, 8 evaluations per step."""
    argv = ["compare", "--game", "bilinear", "--solvers", "unrolled,simultaneous", "--step-sizes", "0.1",
            "--steps", "300", "--seeds", "2", "--json", "-"]
    assert cli.main(argv) == 0
    unrolled, simultaneous = json.loads(capsys.readouterr().out)
    assert (unrolled["solver"], simultaneous["solver"]) == ("unrolled", "simultaneous")
    assert unrolled["verdict"] == "converged" and simultaneous["verdict"] == "diverged"
    assert unrolled["radius"] == pytest.approx(np.sqrt(1 - 9 * 0.1**2), rel=1e-5)
    assert unrolled["rate_step"] == pytest.approx(unrolled["radius"], rel=1e-2)
    assert unrolled["grad_evals"] == 300 * 8.0
