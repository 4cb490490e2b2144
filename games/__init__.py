"""Game definitions built on :class:`minimax.Game`: toy games with closed forms, matrix games, and the GAN game
with networks as players on mixtures of Gaussians (:mod:`games.mixtures`) and on 8 x 8 digit images
(:mod:`games.datasets`, scored by :mod:`games.digit_metrics`; these two need ``pip install "minimax[images]"``).

Each factory returns one instance; batch instances with ``jax.vmap``.
"""

from games import datasets, digit_metrics, mixtures
from games.gan import gan, gan_samples
from games.matrix import matching_pennies, matrix_game, rock_paper_scissors
from games.nets import Network, as_network, dcgan_discriminator, dcgan_generator, mlp
from games.toy import bilinear, dirac_gan, quadratic

__all__ = [
    "Network",
    "as_network",
    "bilinear",
    "datasets",
    "dcgan_discriminator",
    "dcgan_generator",
    "digit_metrics",
    "dirac_gan",
    "gan",
    "gan_samples",
    "matching_pennies",
    "matrix_game",
    "mixtures",
    "mlp",
    "quadratic",
    "rock_paper_scissors",
]


def _builtin():
    import jax.numpy as jnp

    return {
        "bilinear": lambda: bilinear(jnp.array([[1.0]])),
        "quadratic": lambda: quadratic(jnp.array([[1.0]]), P=jnp.array([[0.2]]), Q=jnp.array([[0.2]])),
        "dirac_gan": lambda: dirac_gan(),
        "dirac_gan_r1": lambda: dirac_gan(gamma=0.3),
        "rock_paper_scissors": rock_paper_scissors,
        "matching_pennies": matching_pennies,
    }


#: Built-in games by name (each a zero-argument factory), as the command line knows them.
BUILTIN = _builtin()
__all__.append("BUILTIN")
