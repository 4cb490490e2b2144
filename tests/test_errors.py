"""Bad input gets a clear error naming the argument, raised before anything is traced."""

import jax
import jax.numpy as jnp
import optax
import pytest

import games
import minimax as mm
import minimax.driver as run_module


@pytest.fixture(autouse=True)
def no_tracing(monkeypatch):
    """Every error here must come from the checks, before the compiled loop is reached."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the compiled loop was reached")

    monkeypatch.setattr(run_module, "_run_compiled", forbidden)


GAME = games.bilinear(jnp.eye(2))
SOLVER = mm.extragradient(optax.sgd(0.1))


def _run(**kwargs):
    args = dict(game=GAME, solver=SOLVER, steps=10, x0=jnp.ones(2), y0=jnp.ones(2))
    args.update(kwargs)
    game, solver = args.pop("game"), args.pop("solver")
    return mm.run(game, solver, **args)


@pytest.mark.parametrize("x0, match", [
    ({"w": jnp.ones(2)}, r"x0: its structure"),
    (jnp.ones(3), r"x0: the array has shape \(3,\), the game expects \(2,\)"),
    (jnp.ones((2, 1)), r"x0: the array has shape \(2, 1\)"),
])
def test_x0_not_matching_the_game(x0, match):
    with pytest.raises(ValueError, match=match):
        _run(x0=x0)


def test_y0_shape_mismatch_names_y0():
    with pytest.raises(ValueError, match=r"y0: the array has shape \(5,\)"):
        _run(y0=jnp.ones(5))


def test_pytree_leaf_mismatch_names_the_leaf():
    game = mm.Game(value=lambda x, y: jnp.sum(x["w"]) * y, init=lambda key: ({"w": jnp.ones(3)}, jnp.zeros(())))
    with pytest.raises(ValueError, match=r"x0: \['w'\] has shape \(4,\), the game expects \(3,\)"):
        mm.run(game, SOLVER, steps=3, x0={"w": jnp.ones(4)}, y0=jnp.zeros(()))


def test_only_one_starting_point():
    with pytest.raises(ValueError, match="x0, y0: give both"):
        _run(y0=None)


@pytest.mark.parametrize("steps", [0, -5])
def test_steps_below_one(steps):
    with pytest.raises(ValueError, match=f"steps: expected a positive integer, got {steps}"):
        _run(steps=steps)


@pytest.mark.parametrize("steps", [1.5, "10", True, None])
def test_steps_not_an_integer(steps):
    with pytest.raises(TypeError, match="steps: expected a positive integer"):
        _run(steps=steps)


def test_record_every_below_one():
    with pytest.raises(ValueError, match="record_every"):
        _run(record_every=0)


def test_value_not_scalar():
    game = mm.Game(value=lambda x, y: x * y)  # a vector for vector players
    with pytest.raises(ValueError, match=r"value: must return a scalar, but returned shape \(2,\)"):
        mm.run(game, SOLVER, steps=5, x0=jnp.ones(2), y0=jnp.ones(2))


def test_general_sum_loss_not_scalar_names_the_loss():
    game = mm.Game(losses=(lambda x, y: jnp.sum(x * y), lambda x, y: x * y))
    with pytest.raises(ValueError, match=r"losses\[1\]: must return a scalar"):
        mm.run(game, SOLVER, steps=5, x0=jnp.ones(2), y0=jnp.ones(2))


def test_value_that_fails_on_the_starting_point():
    game = mm.Game(value=lambda x, y: x @ jnp.ones((3, 3)) @ y)
    with pytest.raises(ValueError, match=r"value: calling it on x0 \(2,\) and y0 \(2,\) failed: TypeError"):
        mm.run(game, SOLVER, steps=5, x0=jnp.ones(2), y0=jnp.ones(2))


@pytest.mark.parametrize("factory", [mm.simultaneous_gda, mm.alternating_gda, mm.extragradient, mm.optimistic_gda,
                                     mm.past_extragradient, mm.consensus, mm.sga,
                                     lambda opt: mm.competitive_gradient(opt, eta=0.1)])
@pytest.mark.parametrize("bad", ["adam", 0.1, optax.adam, None])
def test_optimizer_not_an_optax_transformation(factory, bad):
    with pytest.raises(TypeError, match="opt_x: expected an optax.GradientTransformation"):
        factory(bad)


def test_bad_second_optimizer_names_opt_y():
    with pytest.raises(TypeError, match="opt_y: expected an optax.GradientTransformation"):
        mm.extragradient(optax.sgd(0.1), lambda g: g)


def test_number_as_optimizer_gets_a_hint():
    with pytest.raises(TypeError, match=r"wrap a step size as optax.sgd\(step_size\)"):
        mm.simultaneous_gda(0.1)


def test_stochastic_game_without_key():
    game = mm.Game(value=lambda x, y, key: x * y + jax.random.normal(key) * x, stochastic=True)
    with pytest.raises(ValueError, match="key: the game 'game' is stochastic, so run needs a key"):
        mm.run(game, SOLVER, steps=5, x0=jnp.array(1.0), y0=jnp.array(1.0))


def test_init_needs_a_key():
    with pytest.raises(ValueError, match="key: required to draw the starting point from game.init"):
        mm.run(GAME, SOLVER, steps=5)


def test_game_without_init_needs_a_start():
    game = mm.Game(value=lambda x, y: x * y)
    with pytest.raises(ValueError, match="x0, y0: the game has no init function"):
        mm.run(game, SOLVER, steps=5, key=jax.random.key(0))


@pytest.mark.parametrize("key", [0, jnp.array([1, 2, 3], jnp.uint32), jnp.zeros(2)])
def test_key_of_the_wrong_kind(key):
    with pytest.raises(TypeError, match="key: expected a PRNG key"):
        _run(key=key)


def test_optax_optimizer_passed_as_solver():
    with pytest.raises(TypeError, match="solver: expected a minimax.Solver.*an optax optimizer is not a solver"):
        _run(solver=optax.sgd(0.1))


def test_not_a_game():
    with pytest.raises(TypeError, match="game: expected a minimax.Game"):
        _run(game=lambda x, y: x * y)


def test_boolean_starting_point():
    # integer starting points are promoted to floats (tests/test_input_checks.py); booleans are refused
    with pytest.raises(TypeError, match=r"x0: expected floating-point \(or integer\) arrays, got a leaf of dtype bool"):
        _run(x0=jnp.array([True, False]))


def test_infeasible_starting_point():
    game = games.matching_pennies()
    with pytest.raises(ValueError, match="x0: the starting point is outside the player's feasible set"):
        mm.run(game, SOLVER, steps=5, x0=jnp.array([0.7, 0.7]), y0=jnp.array([0.5, 0.5]))


@pytest.mark.parametrize("kwargs, error, match", [
    ({}, TypeError, "give exactly one of value"),
    ({"value": 3.0}, TypeError, "value: expected a function"),
    ({"value": lambda x: x}, TypeError, "value: expected a function of 2 argument"),
    ({"losses": (lambda x, y: x,)}, TypeError, "losses: expected a pair"),
    ({"value": lambda x, y: x, "equilibrium": 0.0}, TypeError, "equilibrium: expected a pair"),
    ({"value": lambda x, y: x, "x_constraint": "simplex"}, TypeError, "x_constraint: expected a minimax constraint"),
    ({"value": lambda x, y: x, "stochastic": "yes"}, TypeError, "stochastic: expected a bool"),
])
def test_bad_game_definitions(kwargs, error, match):
    with pytest.raises(error, match=match):
        mm.Game(**kwargs)


@pytest.mark.parametrize("call, error, match", [
    (lambda: games.bilinear(jnp.ones(3)), ValueError, r"A: expected a matrix, got an array of shape \(3,\)"),
    (lambda: games.bilinear(jnp.ones((2, 3)), b=jnp.ones(3)), ValueError, r"b: expected shape \(2,\)"),
    (lambda: games.bilinear(jnp.ones((2, 3)), c=jnp.ones(2)), ValueError, r"c: expected shape \(3,\)"),
    (lambda: games.bilinear(jnp.array([[jnp.nan]])), ValueError, "A: contains non-finite entries"),
    (lambda: games.quadratic(jnp.ones((2, 2)), P=jnp.array([[1.0, 2.0], [0.0, 1.0]])), ValueError,
     "P: expected a symmetric matrix"),
    (lambda: games.quadratic(jnp.ones((2, 2)), Q=jnp.eye(3)), ValueError, r"Q: expected shape \(2, 2\)"),
    (lambda: games.matrix_game("abc"), TypeError, "A: expected an array, got str"),
    (lambda: games.matrix_game(jnp.ones((2, 2)), equilibrium=(jnp.ones(3), jnp.ones(2))), ValueError,
     "equilibrium: expected shapes"),
])
def test_bad_game_factory_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: mm.alternating_gda(optax.sgd(0.1), first="z"), "first: expected 'x' or 'y'"),
    (lambda: mm.alternating_gda(optax.sgd(0.1), y_steps=0), "y_steps: expected a positive integer"),
    (lambda: mm.simultaneous_gda(optax.sgd(0.1), geometry="hyperbolic"), "geometry: expected one of"),
    (lambda: mm.optimistic_gda(optax.sgd(0.1), optimism=-1.0), "optimism: expected a non-negative number"),
    (lambda: mm.lookahead(mm.extragradient(optax.sgd(0.1)), alpha=1.5), r"alpha: expected a number in \(0, 1\]"),
    (lambda: mm.lookahead(optax.sgd(0.1)), "solver: expected a minimax.Solver"),
    (lambda: mm.proximal_point(-0.1), "learning_rate: expected a positive number"),
    (lambda: mm.multiplicative_weights(0.0), "learning_rate: expected a positive step size"),
    (lambda: mm.consensus(optax.sgd(0.1), gamma=-1.0), "gamma: expected a non-negative number"),
    (lambda: mm.competitive_gradient(optax.sgd(0.1), eta=0.0), "eta: expected a positive number"),
    (lambda: mm.competitive_gradient(optax.sgd(0.1), eta="big"), "eta: expected a positive number"),
    (lambda: mm.competitive_gradient(optax.sgd(0.1), eta=0.1, cg_steps=0), "cg_steps: expected a positive"),
])
def test_bad_solver_arguments(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_on_divergence_option_checked():
    with pytest.raises(ValueError, match="on_divergence: expected 'warn', 'raise' or 'ignore'"):
        _run(on_divergence="explode")


def test_diagnostics_name_what_is_missing():
    game = mm.Game(value=lambda x, y: x * y)
    with pytest.raises(ValueError, match="game: 'game' does not know its equilibrium"):
        mm.distance_to_equilibrium(game, jnp.array(1.0), jnp.array(1.0))
    with pytest.raises(ValueError, match="game: 'game' has no best responses"):
        mm.duality_gap(game, jnp.array(1.0), jnp.array(1.0))
