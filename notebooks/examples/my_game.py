r"""An example of your own game for the command line:

    minimax compare --game notebooks/examples/my_game.py:make_game --step-sizes 0.05,0.2

A generator-like player x and a discriminator-like player y, one number each, with a weak penalty on y:

.. math:: f(x, y) = \tanh(x)\, y - \tfrac{\gamma}{2} y^2 .

x minimises f, y maximises it. The only equilibrium is (0, 0); there the game Jacobian is
``[[0, 1], [-1, gamma]]`` with eigenvalues :math:`\lambda = \gamma/2 \pm i\sqrt{1 - \gamma^2/4}`, so simultaneous GDA
converges iff its step is below :math:`2\,\mathrm{Re}\,\lambda / |\lambda|^2 = \gamma` (0.1 here), while extragradient
and optimistic GDA converge for larger steps too.

A file for ``--game`` only needs a function that takes no arguments and returns a ``minimax.Game`` with an ``init``
(compare draws each seed's starting point from it); ``equilibrium=`` adds distances and spectral radii to the table.
"""

import jax
import jax.numpy as jnp

import minimax as mm


def make_game(gamma: float = 0.1) -> mm.Game:
    """The tanh game with penalty weight ``gamma`` (default 0.1)."""

    def value(x, y):
        return jnp.tanh(x) * y - 0.5 * gamma * y**2

    def init(key):
        kx, ky = jax.random.split(key)
        return jax.random.normal(kx, ()), jax.random.normal(ky, ())

    zero = jnp.zeros(())
    return mm.Game(value=value, init=init, equilibrium=(zero, zero), name="tanh_game")
