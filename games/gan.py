r"""The GAN game of Goodfellow et al. (2014) with networks as players.

.. math:: v(g, d) = \mathbb{E}_{x \sim p_{data}} \log d(x) + \mathbb{E}_z \log(1 - d(g(z))),
   \qquad d = \sigma(\text{logit}),

estimated on a mini-batch drawn from the step's key inside the compiled loop. x = generator parameters
(minimises v), y = discriminator parameters (maximises v). The logs are ``log_sigmoid(logit)`` and
``log_sigmoid(-logit)``, finite for any finite logit.
"""

from __future__ import annotations

import numbers
from typing import Any, Optional

import jax
import jax.numpy as jnp

import minimax as mm
from games.nets import as_network

__all__ = ["gan", "LOSSES"]

LOSSES = ("minimax", "non_saturating")


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _non_negative(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return float(value)


def _data_sampler(data, name="data"):
    """``data`` as ``sample(key, n)``: an object with ``sample`` (a mixture) or an ``(N, dim)`` array."""
    if hasattr(data, "sample") and callable(data.sample):
        return data.sample, getattr(data, "dim", None)
    try:
        arr = jnp.asarray(data)
    except TypeError:
        raise TypeError(f"{name}: expected an object with sample(key, n) or an (N, dim) array, "
                        f"got {type(data).__name__}") from None
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(f"{name}: expected an (N, dim) array of samples, got shape {arr.shape}")

    def sample(key, n):
        return arr[jax.random.randint(key, (n,), 0, arr.shape[0])]

    return sample, int(arr.shape[1])


def _logits(apply, params, inputs):
    out = apply(params, inputs)
    return out.reshape(out.shape[0])


def _input_grad_sq(apply, params, inputs):
    """Mean over the batch of ||d logit / d input||^2 (each logit depends on its own input only)."""
    grads = jax.grad(lambda u: jnp.sum(_logits(apply, params, u)))(inputs)
    return jnp.mean(jnp.sum(grads**2, axis=tuple(range(1, grads.ndim))))


def gan(
    generator: Any,
    discriminator: Any,
    data: Any,
    *,
    latent_dim: int,
    batch_size: int,
    loss: str = "minimax",
    r1: float = 0.0,
    r2: float = 0.0,
    name: Optional[str] = None,
) -> mm.Game:
    r"""The GAN game ``min_g max_d v(g, d)`` on mini-batches.

    Args:
      generator: ``(init(key) -> params, apply(params, z) -> samples)``; ``z`` has shape
        ``(batch_size, latent_dim)`` and samples must match the data's shape ``(batch_size, dim)``.
      discriminator: ``(init(key) -> params, apply(params, samples) -> logits)``, logits of shape
        ``(batch_size,)`` or ``(batch_size, 1)``.
      data: the data distribution: an object with ``sample(key, n)`` (:mod:`games.mixtures`) or an
        ``(N, dim)`` array sampled uniformly with replacement.
      latent_dim: dimension of the standard-normal latent ``z``.
      batch_size: real and fake samples per evaluation of v.
      loss: ``"minimax"`` (zero-sum v) or ``"non_saturating"``: the generator minimises
        :math:`-\mathbb{E}_z \log d(g(z))` instead of v (Goodfellow et al. 2014). The latter is a *general-sum*
        game (``Game.losses``), no longer zero-sum: there is no single value and no duality gap.
      r1: weight :math:`\gamma` of the R1 penalty :math:`\tfrac{\gamma}{2}\mathbb{E}_{data}\|\nabla_x
        \text{logit}\|^2` on the discriminator (Mescheder et al. 2018).
      r2: weight of the R2 penalty, the same on generated samples. The generator does not see it (its samples
        enter the penalty through ``stop_gradient``), as in the paper.
      name: a label.

    Returns:
      A stochastic :class:`minimax.Game` (``run`` needs a key) whose ``init(key)`` initialises both networks.
      Each evaluation draws its real batch from ``fold_in(key, 0)`` and its latents from ``fold_in(key, 1)``.

    Example:
      >>> import jax, optax, minimax as mm, games
      >>> ring = games.mixtures.ring()
      >>> game = games.gan(games.mlp([4, 32, 2]), games.mlp([2, 32, 1]), ring, latent_dim=4, batch_size=64)
      >>> res = mm.run(game, mm.simultaneous_gda(optax.adam(1e-3)), steps=5, key=jax.random.key(0))
      >>> res.trace["value"].shape
      (6,)
    """
    gen = as_network(generator, "generator")
    disc = as_network(discriminator, "discriminator")
    sample, dim = _data_sampler(data)
    latent_dim = _positive_int(latent_dim, "latent_dim")
    batch_size = _positive_int(batch_size, "batch_size")
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {LOSSES}, got {loss!r}")
    r1, r2 = _non_negative(r1, "r1"), _non_negative(r2, "r2")

    # Shape checks before any tracing of the game loop: abstract evaluation only.
    key = jax.random.key(0)
    g_params = jax.eval_shape(gen.init, key)
    d_params = jax.eval_shape(disc.init, key)
    real = jax.eval_shape(lambda k: sample(k, batch_size), key)
    z = jax.ShapeDtypeStruct((batch_size, latent_dim), real.dtype)
    try:
        fake = jax.eval_shape(gen.apply, g_params, z)
    except Exception as err:  # noqa: BLE001 - name the network that failed
        raise ValueError(f"generator: apply(params, z) failed on z of shape {z.shape}: {err}") from err
    if fake.shape != real.shape:
        raise ValueError(f"generator: produces samples of shape {fake.shape}, the data has shape {real.shape}")
    try:
        logits = jax.eval_shape(disc.apply, d_params, real)
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"discriminator: apply(params, samples) failed on shape {real.shape}: {err}") from err
    if logits.shape not in ((batch_size,), (batch_size, 1)):
        raise ValueError(f"discriminator: must return one logit per sample, shape ({batch_size},) or "
                         f"({batch_size}, 1), got {logits.shape}")

    def batch(key):
        real = sample(jax.random.fold_in(key, 0), batch_size)
        z = jax.random.normal(jax.random.fold_in(key, 1), (batch_size, latent_dim), real.dtype)
        return real, z

    def penalty(d, real, fake):
        out = 0.0
        if r1:
            out = out + 0.5 * r1 * _input_grad_sq(disc.apply, d, real)
        if r2:
            out = out + 0.5 * r2 * _input_grad_sq(disc.apply, d, jax.lax.stop_gradient(fake))
        return out

    def discriminator_objective(g, d, key):
        real, z = batch(key)
        fake = gen.apply(g, z)
        v = jnp.mean(jax.nn.log_sigmoid(_logits(disc.apply, d, real))) + jnp.mean(
            jax.nn.log_sigmoid(-_logits(disc.apply, d, fake)))
        return v - penalty(d, real, fake)

    def init(key):
        kg, kd = jax.random.split(key)
        return gen.init(kg), disc.init(kd)

    label = name or f"gan({getattr(data, 'name', 'data')}, {loss})"
    if loss == "minimax":
        return mm.Game(value=discriminator_objective, init=init, stochastic=True, name=label)

    def generator_loss(g, d, key):
        _, z = batch(key)
        return -jnp.mean(jax.nn.log_sigmoid(_logits(disc.apply, d, gen.apply(g, z))))

    def discriminator_loss(g, d, key):
        return -discriminator_objective(g, d, key)

    return mm.Game(losses=(generator_loss, discriminator_loss), init=init, stochastic=True, name=label)
