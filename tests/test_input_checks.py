"""Input checks asked for in review: every bad input is named and refused before tracing, and helpers are shared."""

import jax
import jax.numpy as jnp
import optax
import pytest

import games
import minimax as mm
import minimax.driver as driver
from minimax import cli


# -- 1. one check that a solver fits a game ----------------------------------------------------------------------
def test_run_uses_the_public_solver_fit_check():
    assert not hasattr(driver, "_check_solver_fits")
    game = games.bilinear(jnp.eye(2))
    with pytest.raises(ValueError, match="solver: multiplicative_weights uses the entropic geometry, which needs both "
                                         "players on a Simplex; the game's x_constraint is None"):
        mm.run(game, mm.multiplicative_weights(0.1), steps=3, x0=jnp.ones(2), y0=jnp.ones(2))


def test_cli_refuses_an_entropic_solver_on_an_unconstrained_game(capsys):
    assert cli.main(["compare", "--game", "bilinear", "--solvers", "omwu", "--progress", "never"]) == 2
    assert "--solvers: omwu works only on games whose players are both on a simplex" in capsys.readouterr().err
