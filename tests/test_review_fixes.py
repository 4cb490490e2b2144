"""Regression tests for defects found in review: key conventions, pytree boxes, numerical rank, diagnostics."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm


def test_keyword_only_key_receives_the_key():
    game = mm.Game(value=lambda x, y, *, key: x * y + jax.random.normal(key) * x, stochastic=True)
    solver = mm.simultaneous_gda(optax.sgd(0.1))
    a = mm.run(game, solver, steps=3, x0=jnp.array(1.0), y0=jnp.array(1.0), key=jax.random.key(0))
    b = mm.run(game, solver, steps=3, x0=jnp.array(1.0), y0=jnp.array(1.0), key=jax.random.key(1))
    assert float(a.x) != float(b.x)


def test_defaulted_third_parameter_is_not_fed_the_key():
    game = mm.Game(value=lambda x, y, reg=0.5: x * y - reg * y**2)
    assert float(game.value(jnp.array(1.0), jnp.array(2.0), key=jax.random.key(0))) == pytest.approx(0.0)


def test_too_many_required_parameters():
    with pytest.raises(TypeError, match="value: expected a function of 2 argument"):
        mm.Game(value=lambda x, y, a, b: x)


def test_box_with_pytree_bounds():
    box = mm.Box({"a": jnp.zeros(2), "b": -1.0}, {"a": jnp.ones(2), "b": 1.0})
    p = box.project({"a": jnp.array([2.0, -1.0]), "b": jnp.array(3.0)})
    np.testing.assert_allclose(p["a"], [1.0, 0.0])
    assert float(p["b"]) == 1.0 and bool(box.contains(p))
    game = mm.Game(value=lambda x, y: jnp.sum(x["a"]) * y + x["b"] * y, x_constraint=box)
    res = mm.run(game, mm.extragradient(optax.sgd(0.3)), steps=50, x0={"a": jnp.full(2, 0.5), "b": jnp.array(0.0)},
                 y0=jnp.array(1.0))
    assert bool(box.contains(res.x))


def test_box_rejects_crossed_bounds():
    with pytest.raises(ValueError, match="Box: expected lower <= upper"):
        mm.Box(1.0, -1.0)


def test_singular_float32_bilinear_measures_distance_to_the_saddle_set():
    A = jnp.array([[1.0, 1 / 3], [3.0, 1.0]], jnp.float32)  # rank 1, up to float32 rounding
    game = games.bilinear(A)
    assert game.distance is not None
    res = mm.run(game, mm.extragradient(optax.sgd(0.1)), steps=500, x0=jnp.ones(2), y0=jnp.ones(2))
    assert float(res.trace["dist"][-1]) < 1e-6
    assert mm.classify(res) == "converged"


def test_rectangular_bilinear_consistency(x64):
    A = jnp.ones((2, 3))
    assert games.bilinear(A, b=jnp.ones(2), c=jnp.array([1.0, 2.0, 3.0])).equilibrium is None
    game = games.bilinear(A, b=jnp.ones(2), c=jnp.full(3, 2.0))
    xs, ys = game.equilibrium
    np.testing.assert_allclose(xs, [-1.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(ys, [-1 / 3] * 3, atol=1e-12)
    # any point of the saddle set is at distance 0
    assert float(game.distance(xs + jnp.array([1.0, -1.0]), ys + jnp.array([1.0, -1.0, 0.0]))) < 1e-12


def test_jacobian_of_a_stochastic_game_without_a_key():
    game = mm.Game(value=lambda x, y, key: x * y + jax.random.normal(key) * x, stochastic=True)
    np.testing.assert_allclose(mm.jacobian(game, jnp.array(0.0), jnp.array(0.0)), [[0.0, 1.0], [-1.0, 0.0]])


def test_spectral_radius_explains_non_differentiable_updates():
    game = games.bilinear(jnp.eye(2))
    with pytest.raises(ValueError, match="not differentiable there"):
        mm.spectral_radius(game, mm.extragradient(optax.adam(0.1)), *game.equilibrium)
    with pytest.raises(ValueError, match="solver: multiplicative_weights uses the entropic geometry"):
        mm.spectral_radius(game, mm.multiplicative_weights(0.1), *game.equilibrium)


def test_natural_residual_vanishes_at_constrained_equilibria():
    rps = games.rock_paper_scissors()
    assert float(mm.natural_residual(rps, *rps.equilibrium)) < 1e-6
    vertex = (jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0]))
    assert float(mm.natural_residual(rps, *vertex)) > 0.1
    # f = x y + x - y on [-1, 1]^2: every (x, -1) with x in [-1, 1] is a saddle; F does not vanish there
    game = mm.Game(value=lambda x, y: x * y + x - y, x_constraint=mm.Box(-1.0, 1.0), y_constraint=mm.Box(-1.0, 1.0))
    x, y = jnp.array(-0.5), jnp.array(-1.0)
    assert float(mm.natural_residual(game, x, y)) < 1e-7
    assert float(jnp.hypot(*game.vector_field(x, y))) > 1.0


def test_classify_and_rate_read_divergence_from_the_trace():
    trace = {
        "step": np.arange(6),
        "grad_evals": np.arange(6.0),
        "dist": np.array([1.0, 2.0, 4.0, 8.0, 8.0, 8.0]),  # held after step 3 diverged
        "steps_completed": np.array([0, 1, 2, 3, 3, 3]),
    }
    assert mm.classify(trace) == "diverged"
    assert mm.empirical_rate(trace, tail=1.0) == pytest.approx(2.0)


def test_classify_needs_two_records():
    with pytest.raises(ValueError, match="at least two records"):
        mm.classify({"step": np.array([0]), "dist": np.array([1.0])})


def test_proximal_point_uses_one_sample_per_step(x64):
    """On f = x y + xi x the implicit step with one sample xi solves w = z - eta F_xi(w) exactly."""
    game = mm.Game(value=lambda x, y, key: x * y + jax.random.normal(key) * x, stochastic=True)
    eta, key = 0.5, jax.random.key(3)
    solver = mm.proximal_point(eta, inner_steps=200)
    x1, y1, _ = solver.step(game, jnp.array(1.0), jnp.array(2.0), (), key)
    xi = float(jax.random.normal(key))
    # w = z - eta (y_w + xi, -x_w): a 2x2 linear system
    M = np.array([[1.0, eta], [-eta, 1.0]])
    expected = np.linalg.solve(M, np.array([1.0 - eta * xi, 2.0]))
    np.testing.assert_allclose([float(x1), float(y1)], expected, atol=1e-10)


def test_sga_checks_its_weight():
    with pytest.raises(ValueError, match="lam: expected a number"):
        mm.sga(optax.sgd(0.1), lam="big")
