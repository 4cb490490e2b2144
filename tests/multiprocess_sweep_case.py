"""The sweep that ``test_sweep.py`` runs in two processes and in one, to compare them."""

import jax
import jax.numpy as jnp
import optax

import games
import minimax as mm


def run_case(devices):
    game = games.bilinear(jnp.array([[1.0, 0.4, 0.0], [0.2, 0.9, 0.1], [0.0, -0.3, 1.1]]))
    make = lambda learning_rate: mm.extragradient(optax.sgd(learning_rate))  # noqa: E731
    return mm.sweep(game, make, steps=50, grid={"learning_rate": [0.05, 0.1, 0.2, 0.4, 0.8]}, seeds=3,
                    key=jax.random.key(7), record_every=10, devices=devices)
