"""Opponent shaping (LA, LOLA, SOS), Hamiltonian descent and EG+ against dense references and closed forms."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm

NX, NY = 2, 3


def _quadratic(rng, zero_sum: bool, affine: bool = True):
    """L_x = z'Pz/2 + p'z and L_y = z'Qz/2 + q'z over z = (x, y); zero-sum: Q = -P, q = -p."""
    n = NX + NY
    P = rng.normal(size=(n, n))
    P = P + P.T
    p = rng.normal(size=n) * affine
    Q, q = (-P, -p) if zero_sum else ((lambda M: M + M.T)(rng.normal(size=(n, n))), rng.normal(size=n) * affine)
    lx = lambda x, y: 0.5 * jnp.concatenate([x, y]) @ P @ jnp.concatenate([x, y]) + p @ jnp.concatenate([x, y])  # noqa
    ly = lambda x, y: 0.5 * jnp.concatenate([x, y]) @ Q @ jnp.concatenate([x, y]) + q @ jnp.concatenate([x, y])  # noqa
    game = mm.Game(value=lx) if zero_sum else mm.Game(losses=(lx, ly))
    return game, (P, p, Q, q)


def _dense_direction(method, mats, z, alpha, a=0.5, b=0.1):
    """Letcher et al.'s updates with dense matrices: xi, H_o, chi = diag(H_o^T grad L)."""
    P, p, Q, q = mats
    gx, gy = P @ z + p, Q @ z + q  # full gradients of L_x and L_y
    xi = np.concatenate([gx[:NX], gy[NX:]])
    Ho = np.zeros((NX + NY, NX + NY))
    Ho[:NX, NX:] = P[:NX, NX:]
    Ho[NX:, :NX] = Q[NX:, :NX]
    chi = np.concatenate([(Ho.T @ gx)[:NX], (Ho.T @ gy)[NX:]])
    xi0 = xi - alpha * Ho @ xi
    if method == "look_ahead":
        return xi0, None
    if method == "lola":
        return xi0 - alpha * chi, None
    dot = -alpha * chi @ xi0
    p1 = 1.0 if dot >= 0 else min(1.0, -a * (xi0 @ xi0) / dot)
    p2 = xi @ xi if np.linalg.norm(xi) < b else 1.0
    pp = min(p1, p2)
    return xi0 - pp * alpha * chi, (p1, p2)


@functools.partial(jax.jit, static_argnames=("method", "zero_sum", "eta", "alpha", "b"))
def _one_step(mats, z, *, method, zero_sum, eta, alpha, b):
    """(z - z_1) / eta for one step of the solver on the quadratic game of ``mats``; the matrices are arguments,
    so the trials of one (method, alpha, b) share a compilation."""
    P, p, Q, q = mats
    lx = lambda x, y: 0.5 * jnp.concatenate([x, y]) @ P @ jnp.concatenate([x, y]) + p @ jnp.concatenate([x, y])  # noqa
    ly = lambda x, y: 0.5 * jnp.concatenate([x, y]) @ Q @ jnp.concatenate([x, y]) + q @ jnp.concatenate([x, y])  # noqa
    game = mm.Game(value=lx) if zero_sum else mm.Game(losses=(lx, ly))
    solver = getattr(mm, method)(optax.sgd(eta), alpha=alpha, **({"b": b} if method == "sos" else {}))
    x0, y0 = z[:NX], z[NX:]
    x1, y1, _ = solver.step(game, x0, y0, solver.init(x0, y0), jax.random.key(0))
    return (z - jnp.concatenate([x1, y1])) / eta


@pytest.mark.parametrize("method", ["look_ahead", "lola", "sos"])
@pytest.mark.parametrize("zero_sum", [True, False], ids=["zero_sum", "general_sum"])
def test_one_step_equals_the_dense_reference(method, zero_sum):
    rng = np.random.default_rng(0 if zero_sum else 1)
    eta = 0.05
    branches = set()
    with jax.enable_x64(True):
        for trial in range(12):
            small = trial % 3 == 2  # a small field, inside SOS's radius b: its p2 branch
            _, mats = _quadratic(rng, zero_sum, affine=not small)
            z = rng.normal(size=NX + NY) * (0.01 if small else 1.0)
            alpha = (0.3, 3.0)[trial % 2]  # a large look-ahead makes LOLA's term dominate: SOS's p1 < 1
            b = 1.0 if small else 0.1
            expected, ps = _dense_direction(method, mats, z, alpha, b=b)
            got = _one_step(tuple(map(jnp.asarray, mats)), jnp.asarray(z), method=method, zero_sum=zero_sum,
                            eta=eta, alpha=alpha, b=b)
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
            if ps is not None:
                branches.add("p1<1" if ps[0] < 1 else "p1=1")
                branches.add("p2<1" if ps[1] < 1 else "p2=1")
    if method == "sos" and zero_sum:
        # chi = H_o xi and H_o is antisymmetric in a zero-sum game, so <-alpha chi, xi_0> = alpha^2 |H_o xi|^2
        # >= 0: p1 is always 1 there, and SOS is LOLA until the field is small.
        assert branches == {"p1=1", "p2<1", "p2=1"}
    elif method == "sos":  # the rule's branches were all exercised
        assert branches == {"p1<1", "p1=1", "p2<1", "p2=1"}


@pytest.mark.parametrize("method, factor", [
    ("look_ahead", lambda eta, alpha: np.hypot(1 - eta * alpha, eta)),
    ("lola", lambda eta, alpha: np.hypot(1 - 2 * eta * alpha, eta)),
])
def test_shaping_damps_the_rotation_of_f_xy(method, factor):
    """f = xy: LA's direction is (y + a x, -x + a y), LOLA's (y + 2a x, -x + 2a y) (THEORY.md), so with sgd(eta)
    the distance shrinks by exactly the factor per step, while naive learning spirals out by hypot(1, eta)."""
    eta, alpha = 0.1, 0.5
    game = games.bilinear(jnp.eye(1))
    with jax.enable_x64(True):
        solver = getattr(mm, method)(optax.sgd(eta), alpha=alpha)
        res = mm.run(game, solver, steps=50, x0=jnp.ones(1), y0=jnp.ones(1))
        d = np.asarray(res.trace["dist"])
        np.testing.assert_allclose(d[1:] / d[:-1], factor(eta, alpha), rtol=1e-12)
        radius = mm.spectral_radius(game, solver, jnp.zeros(1), jnp.zeros(1))
        assert float(radius) == pytest.approx(factor(eta, alpha), rel=1e-10)
        naive = mm.run(game, mm.simultaneous_gda(optax.sgd(eta)), steps=50, x0=jnp.ones(1), y0=jnp.ones(1))
        assert float(naive.trace["dist"][-1]) > float(naive.trace["dist"][0])


def test_sos_converges_on_f_xy_and_matching_pennies_where_naive_learning_does_not():
    game = games.bilinear(jnp.eye(1))
    res = mm.run(game, mm.sos(optax.sgd(0.3), alpha=0.3), steps=2000, x0=jnp.ones(1), y0=jnp.ones(1))
    assert float(res.trace["dist"][-1]) < 1e-3

    # Matching pennies with sigmoid-parametrised strategies (the SOS paper's experiment): NL cycles away from the
    # equilibrium (0.5, 0.5), LOLA and SOS approach it.
    A = jnp.array([[1.0, -1.0], [-1.0, 1.0]])

    def value(x, y):
        p, q = jax.nn.sigmoid(x[0]), jax.nn.sigmoid(y[0])
        return jnp.array([p, 1 - p]) @ A @ jnp.array([q, 1 - q])

    pennies = mm.Game(value=value, equilibrium=(jnp.zeros(1), jnp.zeros(1)))
    start = dict(x0=jnp.array([0.8]), y0=jnp.array([-0.5]), steps=3000)
    naive = mm.run(pennies, mm.simultaneous_gda(optax.sgd(1.0)), **start)
    assert float(naive.trace["dist"][-1]) > float(naive.trace["dist"][0])
    for solver in (mm.lola(optax.sgd(1.0), alpha=1.0), mm.sos(optax.sgd(1.0), alpha=1.0)):
        res = mm.run(pennies, solver, **start)
        assert float(res.trace["dist"][-1]) < 0.05 * float(res.trace["dist"][0]), solver.name


def test_hamiltonian_descent_contracts_each_singular_value_by_one_minus_eta_sigma_squared():
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        A = rng.normal(size=(3, 3))
        U, S, Vt = np.linalg.svd(A)
        eta = 0.05
        game = games.bilinear(jnp.asarray(A))
        solver = mm.hamiltonian_gd(optax.sgd(eta))
        assert solver.grad_evals == 2.0
        for i, sigma in enumerate(S):  # start on the i-th pair of singular vectors
            res = mm.run(game, solver, steps=20, x0=jnp.asarray(U[:, i]), y0=jnp.asarray(Vt[i]))
            d = np.asarray(res.trace["dist"])
            np.testing.assert_allclose(d[1:] / d[:-1], abs(1 - eta * sigma**2), rtol=1e-10)
        radius = mm.spectral_radius(game, solver, jnp.zeros(3), jnp.zeros(3))
        assert float(radius) == pytest.approx(max(abs(1 - eta * S**2)), rel=1e-10)


def test_extragradient_plus_with_equal_steps_is_extragradient_bit_for_bit():
    game = games.bilinear(jnp.array([[1.0, 0.5], [-0.2, 1.5]]))
    key = jax.random.key(0)
    eg = mm.run(game, mm.extragradient(optax.sgd(0.1)), steps=100, key=key)
    plus = mm.run(game, mm.extragradient(optax.sgd(0.1), extrapolation=optax.sgd(0.1)), steps=100, key=key)
    np.testing.assert_array_equal(plus.x, eg.x)
    np.testing.assert_array_equal(plus.trace["dist"], eg.trace["dist"])


def test_extragradient_plus_has_its_closed_form_on_f_xy():
    """Extrapolate with eta, update with eta/2: z <- ((1 - eta^2/2) I - (eta/2) J) z, radius
    sqrt((1 - eta^2/2)^2 + eta^2/4)."""
    eta = 0.4
    with jax.enable_x64(True):
        game = games.bilinear(jnp.eye(1))
        solver = mm.extragradient(optax.sgd(eta / 2), extrapolation=(optax.sgd(eta), optax.sgd(eta)))
        res = mm.run(game, solver, steps=30, x0=jnp.ones(1), y0=jnp.zeros(1))
        d = np.asarray(res.trace["dist"])
        expected = np.hypot(1 - eta**2 / 2, eta / 2)
        np.testing.assert_allclose(d[1:] / d[:-1], expected, rtol=1e-12)
        assert float(mm.spectral_radius(game, solver, jnp.zeros(1), jnp.zeros(1))) == pytest.approx(expected)


@pytest.mark.parametrize("make, match", [
    (lambda: mm.look_ahead(optax.sgd(0.1), alpha=-0.1), "alpha: expected a non-negative number"),
    (lambda: mm.lola(optax.sgd(0.1), alpha="big"), "alpha: expected a non-negative number"),
    (lambda: mm.sos(optax.sgd(0.1), alpha=0.1, a=1.5), r"a: expected a number in \(0, 1\)"),
    (lambda: mm.sos(optax.sgd(0.1), alpha=0.1, b=0.0), "b: expected a positive number"),
    (lambda: mm.hamiltonian_gd(0.1), "opt: expected an optax.GradientTransformation"),
    (lambda: mm.extragradient(optax.sgd(0.1), extrapolation=0.1), "extrapolation: expected an optax"),
    (lambda: mm.extragradient(optax.sgd(0.1), extrapolation=(optax.sgd(0.1),)), "extrapolation: expected an"),
])
def test_bad_hyperparameters_name_the_argument(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_compare_knows_the_new_solvers():
    names = ["look_ahead", "lola", "sos", "hamiltonian", "extragradient_plus"]
    rows = mm.compare(games.bilinear(jnp.eye(2)), names, step_sizes=[0.2], steps=300, seeds=2)
    assert [r["solver"] for r in rows] == names
    for row in rows:
        assert row["verdict"] == "converged", row
        assert row["rate_step"] == pytest.approx(row["radius"], rel=1e-3)


# -- negative momentum (Gidel et al. 2019) ----------------------------------------------------------------------------
def _momentum_radius(eta, beta, sigma):
    """Alternating GDA with heavy-ball momentum on f = sigma x y: with x_t = l^t X, y_t = l^t Y the two updates give
    q(l) X = -eta sigma Y and q(l) Y = eta sigma l X with q(l) = (l - 1)(l - beta) / l, so the eigenvalues solve
    (l - 1)^2 (l - beta)^2 + eta^2 sigma^2 l^3 = 0 (the characteristic equation of Gidel et al.'s analysis)."""
    poly = np.polyadd(np.polymul(np.polymul([1, -1], [1, -1]), np.polymul([1, -beta], [1, -beta])),
                      [eta**2 * sigma**2, 0, 0, 0])
    return max(abs(np.roots(poly)))


@pytest.mark.parametrize("beta", [-0.5, -0.3, 0.0, 0.3])
def test_negative_momentum_makes_alternating_gda_converge_at_its_closed_form_rate(beta):
    eta = 0.5
    with jax.enable_x64(True):
        game = games.bilinear(jnp.diag(jnp.array([1.0, 0.6])))
        solver = mm.alternating_gda(optax.sgd(eta, momentum=beta))
        expected = max(_momentum_radius(eta, beta, s) for s in (1.0, 0.6))
        radius = float(mm.spectral_radius(game, solver, jnp.zeros(2), jnp.zeros(2)))
        assert radius == pytest.approx(expected, rel=1e-9)
        res = mm.run(game, solver, steps=1200, x0=jnp.ones(2), y0=jnp.ones(2))
        d = np.asarray(res.trace["dist"])
        measured = (d[1200] / d[600]) ** (1 / 600)
        assert measured == pytest.approx(expected, rel=2e-3)
    if beta < 0:
        assert expected < 1  # negative momentum converges
    elif beta == 0:
        assert expected == pytest.approx(1.0, abs=1e-9)  # plain alternating GDA cycles
    else:
        assert expected > 1  # positive momentum diverges


# -- the exponential moving average of the iterates ------------------------------------------------------------------
def test_the_ema_equals_a_numpy_recurrence_over_the_iterates():
    decay = 0.9
    game = games.bilinear(jnp.array([[1.0, 0.3], [0.0, 0.8]]))
    metrics = {"z": lambda x, y: jnp.concatenate([x, y])}
    res = mm.run(game, mm.extragradient(optax.sgd(0.2)), steps=40, key=jax.random.key(0), ema=decay,
                 metrics=metrics)
    z = np.asarray(res.trace["z"], np.float64)
    ema = np.empty_like(z)
    ema[0] = z[0]
    for t in range(1, len(z)):
        ema[t] = decay * ema[t - 1] + (1 - decay) * z[t]
    np.testing.assert_allclose(np.concatenate([res.x_ema, res.y_ema]), ema[-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.trace["dist_ema"], np.linalg.norm(ema, axis=1), rtol=1e-5, atol=1e-6)
    assert res.trace["dist_avg"].shape == res.trace["dist_ema"].shape
    # Off by default; a new decay reuses the compilation.
    assert mm.run(game, mm.extragradient(optax.sgd(0.2)), steps=5, key=jax.random.key(0)).x_ema is None
    from minimax import driver
    before = driver._run_compiled._cache_size()
    mm.run(game, mm.extragradient(optax.sgd(0.2)), steps=40, key=jax.random.key(0), ema=0.5, metrics=metrics)
    assert driver._run_compiled._cache_size() - before == 0


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, True, "0.9"])
def test_an_ema_decay_outside_zero_one_is_refused(bad):
    with pytest.raises(ValueError, match=r"ema: expected a decay in \[0, 1\)"):
        mm.run(games.bilinear(jnp.eye(1)), mm.extragradient(optax.sgd(0.1)), steps=3, key=jax.random.key(0),
               ema=bad)
