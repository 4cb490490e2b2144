r"""A small nonconvex-nonconcave game on which consensus optimisation and the proximal point method stall:

    minimax compare --game notebooks/examples/stall_game.py --solvers consensus,proximal_point --step-sizes 0.5

.. math:: f(x, y) = x y - \tfrac{a}{2} x^2 + \tfrac{b}{4} x^4 + \tfrac{a}{2} y^2 - \tfrac{b}{4} y^4,
   \qquad a = 0.27,\ b = 0.5 .

x minimises f, y maximises it; near the stationary point (0, 0) each player sits on the wrong side of its own
curvature (f is concave in x and convex in y there), and the quartic terms pull both back from far away. The game
Jacobian at (0, 0) is ``[[-a, 1], [-1, -a]]``, eigenvalues :math:`-a \pm i`, so the proximal point method with
step 0.5 has spectral radius :math:`1/|1 + 0.5(-a + i)| = 1.00089` and consensus optimisation
(``consensus(optax.sgd(0.5), gamma=0.5)``, where :math:`J^\top J = (1 + a^2) I`) has
:math:`|1 + 0.5a - 0.25(1 + a^2) + 0.5i| = 1.00065`: both leave (0, 0) slowly, and from a start at distance about
1 they settle on an orbit at distance 0.074 (proximal point) and 0.093 (consensus). After 2 000 steps the
distance is still creeping down towards that level, after 20 000 it is flat; :func:`minimax.classify` calls both
"stalled". A start far out (distance 2) throws consensus with step 0.5 off to infinity within a few steps.
"""

import jax
import jax.numpy as jnp

import minimax as mm


def make_game(a: float = 0.27, b: float = 0.5) -> mm.Game:
    """The quartic game with weights ``a`` (the wrong-way curvature at 0) and ``b`` (the pull back)."""

    def value(x, y):
        return x * y - 0.5 * a * x**2 + 0.25 * b * x**4 + 0.5 * a * y**2 - 0.25 * b * y**4

    def init(key):
        kx, ky = jax.random.split(key)
        return jax.random.normal(kx, ()), jax.random.normal(ky, ())

    zero = jnp.zeros(())
    return mm.Game(value=value, init=init, equilibrium=(zero, zero), name="stall_game")
