"""Matrix games against scipy's linear program; the duality gap; feasibility under every solver."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import games
import minimax as mm


def solve_lp(A):
    """Both players' equilibrium strategies and the value of min_x max_y x^T A y."""
    n, m = A.shape
    rx = linprog(np.r_[np.zeros(n), 1.0], A_ub=np.c_[A.T, -np.ones(m)], b_ub=np.zeros(m),
                 A_eq=np.r_[np.ones(n), 0.0][None], b_eq=[1.0], bounds=[(0, None)] * n + [(None, None)])
    ry = linprog(np.r_[np.zeros(m), -1.0], A_ub=np.c_[-A, np.ones(n)], b_ub=np.zeros(n),
                 A_eq=np.r_[np.ones(m), 0.0][None], b_eq=[1.0], bounds=[(0, None)] * m + [(None, None)])
    assert rx.success and ry.success
    assert rx.fun == pytest.approx(-ry.fun, abs=1e-9)  # minimax theorem
    return rx.x[:n], ry.x[:m], rx.fun


LAST_ITERATE = {
    "mirror_prox": lambda: mm.mirror_prox(0.5),
    "optimistic_multiplicative_weights": lambda: mm.optimistic_multiplicative_weights(0.5),
    "extragradient": lambda: mm.extragradient(optax.sgd(0.2)),
}


@pytest.mark.parametrize("name", sorted(LAST_ITERATE))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equilibrium_and_value_agree_with_linprog(x64, name, seed):
    A = np.random.default_rng(seed).normal(size=(4, 5))
    x_lp, y_lp, value = solve_lp(A)
    game = games.matrix_game(jnp.asarray(A))
    res = mm.run(game, LAST_ITERATE[name](), steps=5000, key=jax.random.key(seed), record_every=500)
    assert float(game.value(res.x, res.y)) == pytest.approx(value, abs=1e-8)
    np.testing.assert_allclose(res.x, x_lp, atol=1e-6)
    np.testing.assert_allclose(res.y, y_lp, atol=1e-6)
    assert float(res.trace["gap"][-1]) < 1e-8
    assert mm.classify(res) == "converged"


def test_duality_gap_is_zero_at_the_lp_equilibrium(x64):
    A = np.random.default_rng(5).normal(size=(6, 3))
    x_lp, y_lp, _ = solve_lp(A)
    game = games.matrix_game(jnp.asarray(A))
    assert abs(float(mm.duality_gap(game, jnp.asarray(x_lp), jnp.asarray(y_lp)))) < 1e-9
    # the closed form: max_j (A^T x)_j - min_i (A y)_i
    x, y = np.full(6, 1 / 6), np.array([0.2, 0.3, 0.5])
    assert float(mm.duality_gap(game, jnp.asarray(x), jnp.asarray(y))) == pytest.approx(
        np.max(A.T @ x) - np.min(A @ y), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 5), m=st.integers(2, 5))
def test_duality_gap_is_nonnegative_and_positive_off_equilibrium(seed, n, m):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, m))
    x, y = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    game = games.matrix_game(jnp.asarray(A, jnp.float32))
    gap = float(mm.duality_gap(game, jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)))
    x_lp, y_lp, _ = solve_lp(A)
    off = np.abs(x - x_lp).max() + np.abs(y - y_lp).max()
    assert gap >= -1e-5
    if off > 1e-2:  # a random interior point is not an equilibrium: its gap is strictly positive
        assert gap > 0


def test_multiplicative_weights_last_iterate_does_not_settle_but_average_does(x64):
    game = games.rock_paper_scissors()
    res = mm.run(game, mm.multiplicative_weights(0.1), steps=4000, x0=jnp.array([0.5, 0.3, 0.2]),
                 y0=jnp.array([0.2, 0.3, 0.5]), record_every=100)
    gap, gap_avg, dist = (np.asarray(res.trace[k]) for k in ("gap", "gap_avg", "dist"))
    assert gap[-1] > 0.5 * gap[0]  # the last iterate moves away from the interior equilibrium
    assert dist[-1] > dist[0]
    # while the average converges, up to the O(eta) bias of a constant step: far below the last iterate's gap
    assert gap_avg[-1] < 0.1 * gap[-1]
    assert gap_avg[-1] < 0.5 * gap_avg[4]  # and still shrinking (record 4 = step 400)
    omwu = mm.run(game, mm.optimistic_multiplicative_weights(0.3), steps=4000, x0=jnp.array([0.5, 0.3, 0.2]),
                  y0=jnp.array([0.2, 0.3, 0.5]), record_every=100)
    assert float(omwu.trace["dist"][-1]) < 1e-8


def _simplex_metrics():
    return {
        "min_entry": lambda x, y: jnp.minimum(jnp.min(x), jnp.min(y)),
        "sum_error": lambda x, y: jnp.maximum(jnp.abs(jnp.sum(x) - 1), jnp.abs(jnp.sum(y) - 1)),
    }


ALL_SOLVERS = {
    "simultaneous_gda": lambda: mm.simultaneous_gda(optax.sgd(0.5)),
    "alternating_gda": lambda: mm.alternating_gda(optax.sgd(0.5), y_steps=2),
    "extragradient": lambda: mm.extragradient(optax.sgd(0.5)),
    "optimistic_gda": lambda: mm.optimistic_gda(optax.adam(0.1)),
    "past_extragradient": lambda: mm.past_extragradient(optax.sgd(0.5)),
    "lookahead": lambda: mm.lookahead(mm.extragradient(optax.sgd(0.5)), k=3),
    "proximal_point": lambda: mm.proximal_point(0.5, inner_steps=5),
    "consensus": lambda: mm.consensus(optax.sgd(0.5), gamma=0.3),
    "sga": lambda: mm.sga(optax.sgd(0.5)),
    "competitive_gradient": lambda: mm.competitive_gradient(optax.sgd(0.5), eta=0.5, cg_steps=4),
    "multiplicative_weights": lambda: mm.multiplicative_weights(2.0),
    "optimistic_multiplicative_weights": lambda: mm.optimistic_multiplicative_weights(2.0),
    "mirror_prox": lambda: mm.mirror_prox(2.0),
}


@pytest.mark.parametrize("name", sorted(ALL_SOLVERS))
def test_iterates_stay_on_the_simplex(name):
    A = jax.random.normal(jax.random.key(3), (5, 4)) * 3.0  # large payoffs: unprojected steps would leave
    game = games.matrix_game(A)
    res = mm.run(game, ALL_SOLVERS[name](), steps=300, key=jax.random.key(0), metrics=_simplex_metrics())
    assert res.trace["min_entry"].shape == (301,)
    assert float(jnp.min(res.trace["min_entry"])) >= 0.0
    assert float(jnp.max(res.trace["sum_error"])) < 1e-5


@pytest.mark.parametrize("constraint", [mm.Box(-0.5, 0.25), mm.Ball(0.3), mm.Ball(0.2, center=0.1)],
                         ids=["box", "ball", "ball_centred"])
@pytest.mark.parametrize("name", ["simultaneous_gda", "extragradient", "optimistic_gda", "past_extragradient",
                                  "alternating_gda"])
def test_box_and_ball_players_stay_feasible(constraint, name):
    base = games.bilinear(jnp.array([[3.0, 1.0], [-1.0, 2.0]]), b=jnp.array([2.0, -3.0]), c=jnp.array([1.0, 1.0]))
    game = base.replace(x_constraint=constraint, y_constraint=constraint, equilibrium=None, distance=None)
    inside = {"inside": lambda x, y: constraint.contains(x, atol=1e-6) & constraint.contains(y, atol=1e-6)}
    start = constraint.project(jnp.zeros(2))
    res = mm.run(game, ALL_SOLVERS[name](), steps=200, x0=start, y0=start, metrics=inside)
    assert bool(jnp.all(res.trace["inside"]))
    assert res.trace["inside"].shape == (201,)


def test_constrained_bilinear_saddle_on_a_box(x64):
    """min over |x| <= 1, max over |y| <= 1 of x y + x / 2: the saddle (0, -1/2) is interior to the box, and
    projected extragradient reaches it from a corner."""
    game = mm.Game(value=lambda x, y: x * y + 0.5 * x, x_constraint=mm.Box(-1.0, 1.0), y_constraint=mm.Box(-1.0, 1.0),
                   equilibrium=(jnp.array(0.0), jnp.array(-0.5)))
    res = mm.run(game, mm.extragradient(optax.sgd(0.3)), steps=3000, x0=jnp.array(0.9), y0=jnp.array(0.9))
    assert float(res.x) == pytest.approx(0.0, abs=1e-8)
    assert float(res.y) == pytest.approx(-0.5, abs=1e-8)


def test_matrix_game_initial_point_is_on_the_simplex():
    game = games.matrix_game(jnp.ones((3, 4)))
    x, y = game.init(jax.random.key(0))
    assert x.shape == (3,) and y.shape == (4,)
    assert float(jnp.sum(x)) == pytest.approx(1.0, abs=1e-6) and float(jnp.min(x)) > 0


def test_entropic_solver_refuses_unconstrained_players():
    with pytest.raises(ValueError, match="solver: multiplicative_weights uses the entropic geometry"):
        mm.run(games.bilinear(jnp.eye(2)), mm.multiplicative_weights(0.1), steps=5, key=jax.random.key(0))


def test_known_equilibria_of_named_games():
    for game, value in ((games.rock_paper_scissors(), 0.0), (games.matching_pennies(), 0.0)):
        xs, ys = game.equilibrium
        assert float(game.value(xs, ys)) == pytest.approx(value, abs=1e-7)
        assert abs(float(mm.duality_gap(game, xs, ys))) < 1e-6


def test_init_draws_uniformly_from_each_simplex():
    # Dirichlet(1, 1, 1, 1): each coordinate is Beta(1, 3), with mean 1/4 and second moment 2 / (4 * 5) = 0.1.
    game = games.matrix_game(jnp.ones((4, 3)))
    x, y = jax.vmap(game.init)(jax.random.split(jax.random.key(0), 20000))
    assert x.shape == (20000, 4) and y.shape == (20000, 3)
    assert float(jnp.max(jnp.abs(x.sum(1) - 1))) < 1e-6 and float(jnp.min(x)) >= 0
    np.testing.assert_allclose(np.mean(np.asarray(x), 0), 0.25, atol=5e-3)
    np.testing.assert_allclose(np.mean(np.asarray(x) ** 2, 0), 0.1, atol=3e-3)
    np.testing.assert_allclose(np.mean(np.asarray(y) ** 2, 0), 2 / 12, atol=4e-3)
