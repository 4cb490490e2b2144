r"""The GAN game of Goodfellow et al. (2014) with networks as players.

.. math:: v(g, d) = \mathbb{E}_{x \sim p_{data}} \log d(x) + \mathbb{E}_z \log(1 - d(g(z))),
   \qquad d = \sigma(\text{logit}),

estimated on a mini-batch drawn from the step's key inside the compiled loop. x = generator parameters
(minimises v), y = discriminator parameters (maximises v). The logs are ``log_sigmoid(logit)`` and
``log_sigmoid(-logit)``, finite for any finite logit (at logit = +-1e4 in float32 too).

Speed: in the zero-sum game one evaluation of the vector field is one forward and one backward pass through both
networks (``Game.vector_field`` differentiates v with respect to both players at once); batches are drawn inside
the compiled step, so nothing crosses from Python per step. The non-saturating game is general-sum, so each
player's loss is differentiated on its own.

What does not live here: the data sets and their metrics (:mod:`games.mixtures`, :mod:`games.datasets`,
:mod:`games.digit_metrics`), the networks (:mod:`games.nets`), training loops (use :func:`minimax.run`) and
plots (:mod:`minimax.plot.gan`).
"""

from __future__ import annotations

import numbers
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

import minimax as mm
from minimax._checks import positive_int
from games.nets import as_network

__all__ = ["gan", "gan_samples", "LOSSES"]

LOSSES = ("minimax", "non_saturating")


def _non_negative(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < float("inf"):
        raise ValueError(f"{name}: expected a non-negative finite number, got {value!r}")
    return float(value)


def _data_sampler(data, name="data"):
    """``data`` as ``sample(key, n)``: an object with ``sample`` (a mixture, stacked digits), a function
    ``sample(key, n)``, or an ``(N, ...)`` array of samples (``(N, dim)`` points, ``(N, H, W, C)`` images)."""
    if hasattr(data, "sample") and callable(data.sample):
        return data.sample
    if callable(data) and not isinstance(data, (jax.Array, np.ndarray)):
        return data
    try:
        arr = jnp.asarray(data)
    except TypeError:
        raise TypeError(f"{name}: expected an object with sample(key, n), a function sample(key, n) or an "
                        f"(N, dim) array, got {type(data).__name__}") from None
    if arr.ndim < 2 or 0 in arr.shape:
        raise ValueError(f"{name}: expected an (N, dim) array of samples (or (N, H, W, C) images), "
                         f"got shape {arr.shape}")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        raise TypeError(f"{name}: expected floating-point samples, got dtype {arr.dtype}")

    def sample(key, n):
        return arr[jax.random.randint(key, (n,), 0, arr.shape[0])]

    return sample


def _logits(apply, params, inputs):
    out = apply(params, inputs)
    return out.reshape(out.shape[0])


def _input_grad_sq(apply, params, inputs):
    """Mean over the batch of ||d logit / d input||^2 (each logit depends on its own input only)."""
    grads = jax.grad(lambda u: jnp.sum(_logits(apply, params, u)))(inputs)
    return jnp.mean(jnp.sum(grads**2, axis=tuple(range(1, grads.ndim))))


def _abstract_call(fn, args, name, what):
    try:
        return jax.eval_shape(fn, *args)
    except Exception as err:  # noqa: BLE001 - name the user's network in the error
        msg = str(err).splitlines()[0] if str(err) else ""
        raise ValueError(f"{name}: {what} failed: {type(err).__name__}: {msg}") from err


def gan_samples(generator: Any, params: Any, key: jax.Array, n: int, *, latent_dim: int) -> jax.Array:
    """``n`` generator samples ``generator.apply(params, z)`` with ``z ~ N(0, I)`` of shape ``(n, latent_dim)``.

    The latent distribution of :func:`gan`; pure, jittable and vmappable over ``params`` and ``key``.

    Example:
      >>> import jax, games
      >>> net = games.mlp([3, 8, 2])
      >>> games.gan_samples(net, net.init(jax.random.key(0)), jax.random.key(1), 10, latent_dim=3).shape
      (10, 2)
    """
    gen = as_network(generator, "generator")
    n, latent_dim = positive_int(n, "n"), positive_int(latent_dim, "latent_dim")
    dtype = jax.tree.leaves(params)[0].dtype if jax.tree.leaves(params) else jnp.result_type(float)
    return gen.apply(params, jax.random.normal(key, (n, latent_dim), dtype))


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
        ``(batch_size, latent_dim)`` and samples must match the data's shape: ``(batch_size, dim)`` points or
        ``(batch_size, H, W, C)`` images (:func:`games.nets.dcgan_generator`).
      discriminator: ``(init(key) -> params, apply(params, samples) -> logits)``, logits of shape
        ``(batch_size,)`` or ``(batch_size, 1)``.
      data: the data distribution: an object with ``sample(key, n)`` (:mod:`games.mixtures`,
        :func:`games.datasets.stacked_digits`), a pure function ``sample(key, n)`` returning one floating-point
        array ``(n, ...)``, or an array ``(N, ...)`` of samples (``(N, dim)`` points, ``(N, 8, 8, 1)`` images of
        :func:`games.datasets.digits`) drawn uniformly with replacement. Games built from equal data (an equal
        array, the same function or one with the same code and closure) are equal and share a compilation.
      latent_dim: dimension of the standard-normal latent ``z``.
      batch_size: real and fake samples per evaluation of v.
      loss: ``"minimax"`` (zero-sum v) or ``"non_saturating"``: the generator minimises
        :math:`-\mathbb{E}_z \log d(g(z))` instead of v (Goodfellow et al. 2014). The latter is a *general-sum*
        game (``Game.losses``), no longer zero-sum: there is no single value and no duality gap.
      r1: weight :math:`\gamma` of the R1 penalty :math:`\tfrac{\gamma}{2}\mathbb{E}_{data}\|\nabla_x
        \text{logit}\|^2` on the discriminator (Mescheder et al. 2018). With a penalty the payoff is
        :math:`v - \text{penalty}`: the discriminator maximises the penalised objective, and the recorded
        ``value`` includes the penalty.
      r2: weight of the R2 penalty, the same on generated samples. The generator does not see it (its samples
        enter the penalty through ``stop_gradient``), as in the paper, so the generator's gradient is that of v.
      name: a label (default ``"gan(<data name>, <loss>)"``).

    Returns:
      A stochastic :class:`minimax.Game` (``run`` needs a key) whose ``init(key)`` initialises the generator
      from ``fold_in(key, 0)`` and the discriminator from ``fold_in(key, 1)``. Each evaluation draws its real
      batch from ``fold_in(key, 0)`` and its latents ``z ~ N(0, I)`` from ``fold_in(key, 1)``; in the
      non-saturating game both losses see the same batch for the same key.

    Raises:
      TypeError, ValueError: before any tracing, naming the argument: networks that are not
        ``(init, apply)`` pairs or fail on the batch shapes, data that is none of the above or whose sampler
        fails or returns anything but one ``(batch_size, ...)`` floating-point array, a generator whose samples
        do not match the data,
        a discriminator that does not return one logit per sample, bad sizes, losses or weights.

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
    sample = _data_sampler(data)
    latent_dim = positive_int(latent_dim, "latent_dim")
    batch_size = positive_int(batch_size, "batch_size")
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {LOSSES}, got {loss!r}")
    r1, r2 = _non_negative(r1, "r1"), _non_negative(r2, "r2")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name: expected a string or None, got {type(name).__name__}")

    # Shape checks before any tracing of the game loop: abstract evaluation only.
    key = jax.random.key(0)
    g_params = _abstract_call(gen.init, (key,), "generator", "init(key)")
    d_params = _abstract_call(disc.init, (key,), "discriminator", "init(key)")
    real = _abstract_call(lambda k: sample(k, batch_size), (key,), "data", f"sample(key, {batch_size})")
    if not isinstance(real, jax.ShapeDtypeStruct):
        raise TypeError(f"data: sample(key, {batch_size}) must return one array of samples, got "
                        f"{type(real).__name__} of {len(jax.tree.leaves(real))} arrays")
    if len(real.shape) < 2 or real.shape[0] != batch_size or not jnp.issubdtype(real.dtype, jnp.floating):
        raise ValueError(f"data: sample(key, {batch_size}) must return floating-point samples of shape "
                         f"({batch_size}, dim) or ({batch_size}, ...), got {real.dtype}{list(real.shape)}")
    z = jax.ShapeDtypeStruct((batch_size, latent_dim), real.dtype)
    fake = _abstract_call(gen.apply, (g_params, z), "generator", f"apply(params, z) on z of shape {z.shape}")
    if fake.shape != real.shape:
        raise ValueError(f"generator: produces samples of shape {fake.shape}, the data has shape {real.shape}")
    logits = _abstract_call(disc.apply, (d_params, real), "discriminator",
                            f"apply(params, samples) on samples of shape {real.shape}")
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
        # Two discriminator passes rather than one over the concatenated batch: 4-6% faster per training step on
        # the 2-core CPU with minimax's compile options (interleaved timing), and right for discriminators
        # whose output for one sample depends on the others (batch statistics).
        v = jnp.mean(jax.nn.log_sigmoid(_logits(disc.apply, d, real))) + jnp.mean(
            jax.nn.log_sigmoid(-_logits(disc.apply, d, fake)))
        return v - penalty(d, real, fake) if (r1 or r2) else v

    def init(key):
        return gen.init(jax.random.fold_in(key, 0)), disc.init(jax.random.fold_in(key, 1))

    label = name or f"gan({getattr(data, 'name', 'data')}, {loss})"
    if loss == "minimax":
        return mm.Game(value=discriminator_objective, init=init, stochastic=True, name=label)

    def generator_loss(g, d, key):
        _, z = batch(key)
        return -jnp.mean(jax.nn.log_sigmoid(_logits(disc.apply, d, gen.apply(g, z))))

    def discriminator_loss(g, d, key):
        return -discriminator_objective(g, d, key)

    return mm.Game(losses=(generator_loss, discriminator_loss), init=init, stochastic=True, name=label)
