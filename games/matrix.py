r"""Matrix games: both players choose mixed strategies on the probability simplex, :math:`f(x, y) = x^\top A y`.

x (the row player) minimises, y (the column player) maximises. Best responses are pure strategies, so the duality
gap :math:`\max_j (A^\top x)_j - \min_i (A y)_i` is exact and recorded in every trace.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import minimax as mm
from games import _checks

__all__ = ["matrix_game", "rock_paper_scissors", "matching_pennies"]


def matrix_game(A, *, equilibrium=None, name: str = "matrix_game") -> mm.Game:
    r"""The matrix game :math:`\min_{x \in \Delta_n} \max_{y \in \Delta_m} x^\top A y`.

    Args:
      A: the ``(n, m)`` payoff matrix; entry ``A[i, j]`` is what the row player pays when it plays i and the
        column player plays j.
      equilibrium: a known Nash equilibrium ``(x_star, y_star)``, if any (enables distance metrics). The duality
        gap needs none.
      name: a label for reports.

    Returns:
      A zero-sum :class:`minimax.Game` whose players live on simplices (:class:`minimax.Simplex`), started from
      uniformly random mixed strategies (Dirichlet(1, ..., 1)).

    Example:
      >>> import jax.numpy as jnp, minimax as mm, games
      >>> g = games.matching_pennies()
      >>> float(mm.duality_gap(g, jnp.array([1.0, 0.0]), jnp.array([0.5, 0.5])))
      1.0
    """
    A = _checks.as_float_array(A, "A", 2)
    n, m = A.shape

    def value(x, y):
        return x @ A @ y

    def init(key):
        # Uniform on each simplex (Dirichlet(1, ..., 1)) as normalised exponentials: the same law as
        # jax.random.dirichlet, whose gamma sampler took 0.9 s to compile for a 4-action game.
        kx, ky = jax.random.split(key)
        ex = jax.random.exponential(kx, (n,), A.dtype)
        ey = jax.random.exponential(ky, (m,), A.dtype)
        return ex / jnp.sum(ex), ey / jnp.sum(ey)

    def best_response_x(y):
        return jax.nn.one_hot(jnp.argmin(A @ y), n, dtype=y.dtype)

    def best_response_y(x):
        return jax.nn.one_hot(jnp.argmax(A.T @ x), m, dtype=x.dtype)

    if equilibrium is not None:
        xs = _checks.as_float_array(equilibrium[0], "equilibrium[0]", 1)
        ys = _checks.as_float_array(equilibrium[1], "equilibrium[1]", 1)
        if xs.shape != (n,) or ys.shape != (m,):
            raise ValueError(f"equilibrium: expected shapes ({n},) and ({m},), got {xs.shape} and {ys.shape}")
        equilibrium = (xs.astype(A.dtype), ys.astype(A.dtype))

    return mm.Game(
        value=value,
        init=init,
        equilibrium=equilibrium,
        best_response_x=best_response_x,
        best_response_y=best_response_y,
        x_constraint=mm.Simplex(),
        y_constraint=mm.Simplex(),
        name=name,
    )


def rock_paper_scissors() -> mm.Game:
    """Rock-paper-scissors as a loss matrix for the row player; unique equilibrium uniform, value 0."""
    A = jnp.array([[0.0, 1.0, -1.0], [-1.0, 0.0, 1.0], [1.0, -1.0, 0.0]])
    uniform = jnp.full(3, 1.0 / 3.0)
    return matrix_game(A, equilibrium=(uniform, uniform), name="rock_paper_scissors")


def matching_pennies() -> mm.Game:
    """Matching pennies; unique equilibrium uniform, value 0."""
    A = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
    half = jnp.full(2, 0.5)
    return matrix_game(A, equilibrium=(half, half), name="matching_pennies")
