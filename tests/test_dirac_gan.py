"""Dirac-GAN (Mescheder et al. 2018): simultaneous GD spirals out, alternating GD cycles, R1 converges."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm

X0, Y0 = jnp.array(0.6), jnp.array(0.4)


def test_equilibrium_value_and_jacobian():
    game = games.dirac_gan()
    xs, ys = game.equilibrium
    assert float(game.value(xs, ys)) == pytest.approx(-np.log(4.0), abs=1e-6)
    np.testing.assert_allclose(mm.jacobian(game, xs, ys), [[0.0, -0.5], [0.5, 0.0]], atol=1e-7)
    np.testing.assert_allclose(mm.jacobian_eigenvalues(game, xs, ys), [-0.5j, 0.5j], atol=1e-7)
    gamma = 0.3
    eig = mm.jacobian_eigenvalues(games.dirac_gan(gamma), xs, ys)
    np.testing.assert_allclose(eig.real, [gamma / 2, gamma / 2], atol=1e-6)


def test_simultaneous_gd_spirals_out():
    game = games.dirac_gan()
    res = mm.run(game, mm.simultaneous_gda(optax.sgd(0.1)), steps=3000, x0=X0, y0=Y0, record_every=10)
    d = np.asarray(res.trace["dist"])
    assert d[-1] > 1.5 * d[0]
    assert np.all(np.diff(d) > 0)  # monotonically outward
    assert mm.classify(res) == "diverged"
    assert mm.spectral_radius(game, mm.simultaneous_gda(optax.sgd(0.1)), *game.equilibrium) == pytest.approx(
        np.sqrt(1 + 0.1**2 / 4), abs=1e-6)


def test_alternating_gd_stays_bounded_without_converging():
    game = games.dirac_gan()
    res = mm.run(game, mm.alternating_gda(optax.sgd(0.1)), steps=20_000, x0=X0, y0=Y0, record_every=10)
    d = np.asarray(res.trace["dist"])
    assert d.max() < 1.5 * d[0]
    assert d[len(d) // 2:].min() > 0.5 * d[0]
    assert mm.classify(res) == "cycling"


@pytest.mark.parametrize("make", [lambda: mm.simultaneous_gda(optax.sgd(0.1)),
                                  lambda: mm.alternating_gda(optax.sgd(0.1))], ids=["simultaneous", "alternating"])
def test_r1_penalty_makes_gradient_descent_converge(make):
    game = games.dirac_gan(gamma=1.0)
    solver = make()
    rho = mm.spectral_radius(game, solver, *game.equilibrium)
    assert rho < 1
    res = mm.run(game, solver, steps=5000, x0=X0, y0=Y0, record_every=10)
    assert float(res.trace["dist"][-1]) < 1e-4 * float(res.trace["dist"][0])
    assert mm.classify(res) == "converged"


def test_extragradient_converges_without_penalty():
    game = games.dirac_gan()
    res = mm.run(game, mm.extragradient(optax.sgd(0.5)), steps=5000, x0=X0, y0=Y0, record_every=50)
    assert mm.classify(res) == "converged"
    assert float(res.trace["dist"][-1]) < 0.05 * float(res.trace["dist"][0])


def test_gamma_must_be_non_negative():
    with pytest.raises(ValueError, match="gamma"):
        games.dirac_gan(-1.0)
