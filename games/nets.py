"""Networks as players: any ``(init(key) -> params, apply(params, inputs) -> outputs)`` pair.

:class:`Network` is that pair as a NamedTuple; :func:`as_network` accepts a Network, any object with ``init`` and
``apply`` attributes, or a plain 2-tuple, so Flax, Equinox or hand-written models plug in. :func:`mlp` is the
multilayer perceptron used by the mixture-of-Gaussians benchmark; :func:`dcgan_generator` and
:func:`dcgan_discriminator` are small convolutional players (Radford et al. 2016) for the 8 x 8 images of
:mod:`games.datasets`, in NHWC layout.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp

from games import _checks
from games import _conv as _conv_mod
from minimax._checks import positive_int

__all__ = ["Network", "as_network", "mlp", "dcgan_generator", "dcgan_discriminator"]


class Network(NamedTuple):
    """A model as two pure functions: ``init(key) -> params`` and ``apply(params, inputs) -> outputs``."""

    init: Callable[[jax.Array], Any]
    apply: Callable[[Any, jax.Array], jax.Array]


def as_network(model: Any, name: str) -> Network:
    """``model`` as a :class:`Network`: a Network, an object with ``init``/``apply``, or an ``(init, apply)`` pair."""
    if isinstance(model, Network):
        return model
    if isinstance(model, tuple) and len(model) == 2 and all(callable(f) for f in model):
        return Network(*model)
    init, apply = getattr(model, "init", None), getattr(model, "apply", None)
    if callable(init) and callable(apply):
        return Network(init, apply)
    raise TypeError(f"{name}: expected an (init(key) -> params, apply(params, inputs) -> outputs) pair, "
                    f"got {type(model).__name__}")


def _param_dtype(dtype):
    """The parameters' dtype, read when ``init`` runs (so JAX's default float is the one in force then)."""
    return jnp.result_type(float) if dtype is None else jnp.dtype(dtype)


def mlp(
    sizes: Sequence[int],
    activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
    *,
    final_activation: Optional[Callable[[jax.Array], jax.Array]] = None,
    dtype: Any = None,
) -> Network:
    """A multilayer perceptron ``sizes[0] -> sizes[1] -> ... -> sizes[-1]`` for batches of shape ``(n, sizes[0])``.

    Weights are drawn from N(0, 1/fan_in) (LeCun normal), biases start at zero; ``activation`` follows every
    hidden layer, ``final_activation`` (default none) the output layer.

    Args:
      sizes: layer widths, input first, at least two entries.
      activation: the hidden nonlinearity (default ReLU).
      final_activation: applied to the output, or None.
      dtype: parameter dtype (default: JAX's default float, float64 under x64).

    Returns:
      A :class:`Network` whose params are a tuple of ``{"w": (fan_in, fan_out), "b": (fan_out,)}`` dicts.

    Example:
      >>> import jax, jax.numpy as jnp, games
      >>> net = games.mlp([2, 16, 1])
      >>> params = net.init(jax.random.key(0))
      >>> net.apply(params, jnp.ones((5, 2))).shape
      (5, 1)
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
        raise ValueError(f"sizes: expected at least two positive integer layer widths, got {sizes!r}")
    if not callable(activation):
        raise TypeError(f"activation: expected a function, got {type(activation).__name__}")
    if final_activation is not None and not callable(final_activation):
        raise TypeError(f"final_activation: expected a function or None, got {type(final_activation).__name__}")
    _checks.float_dtype(dtype)

    def init(key):
        keys = jax.random.split(key, len(sizes) - 1)
        dt = _param_dtype(dtype)
        return tuple(
            {
                "w": jax.random.normal(k, (fan_in, fan_out), dt) / jnp.sqrt(jnp.asarray(fan_in, dt)),
                "b": jnp.zeros((fan_out,), dt),
            }
            for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:])
        )

    def apply(params, inputs):
        h = inputs
        for i, layer in enumerate(params):  # layers, not optimisation steps: unrolled at trace time
            h = h @ layer["w"]
            h = h + layer["b"].reshape((1,) * (h.ndim - 1) + layer["b"].shape)  # explicit rank: no promotion
            if i < len(params) - 1:
                h = activation(h)
        return h if final_activation is None else final_activation(h)

    return Network(init, apply)


# -- convolutional players for 8 x 8 images -------------------------------------------------------------------------
def _lecun(key, shape, fan_in, dtype):
    return jax.random.normal(key, shape, dtype) / jnp.sqrt(jnp.asarray(fan_in, dtype))


def _layer(key, shape, fan_in, dtype):
    return {"w": _lecun(key, shape, fan_in, dtype), "b": jnp.zeros(shape[-1:], dtype)}


def _bias(h, b):
    return h + b.reshape((1,) * (h.ndim - 1) + b.shape)  # explicit rank: no promotion


# lax's convolutions in NHWC/HWIO with "SAME" padding, computed as matrix products (games._conv says why).
def _conv(x, layer, stride):
    return _bias(_conv_mod.conv(x, layer["w"], stride), layer["b"])


def _conv_transpose(x, layer, stride):
    return _bias(_conv_mod.conv_transpose(x, layer["w"], stride), layer["b"])


def _check_images(images, channels, who):
    if images.ndim != 4 or images.shape[1:] != (8, 8, channels):
        raise ValueError(f"{who}: expected images of shape (n, 8, 8, {channels}), got {images.shape}")


def dcgan_generator(latent_dim: int, channels: int = 1, *, width: int = 32, dtype: Any = None) -> Network:
    """A DCGAN-style generator (Radford et al. 2016) of ``(n, 8, 8, channels)`` images in [-1, 1].

    ``z (n, latent_dim)`` -> dense -> ``(n, 4, 4, 2 width)`` -> ReLU -> 4 x 4 transposed convolution, stride 2
    -> ``(n, 8, 8, width)`` -> ReLU -> 3 x 3 convolution -> ``(n, 8, 8, channels)`` -> tanh. No batch
    normalisation: the players stay pure functions of their parameters. Weights are LeCun normal (variance
    1/fan_in, for the transposed convolution the fan-in of one output pixel), biases zero.

    Args:
      latent_dim: size of the latent ``z``.
      channels: image channels, 1 for :func:`games.datasets.digits`, 3 for stacked digits.
      width: feature maps of the last hidden layer (the first has ``2 width``).
      dtype: parameter dtype (default: JAX's default float).

    Returns:
      A :class:`Network` whose params are ``{"dense", "up", "out"}`` dicts of ``{"w", "b"}``.

    Example:
      >>> import jax, jax.numpy as jnp, games
      >>> gen = games.nets.dcgan_generator(16, channels=3)
      >>> gen.apply(gen.init(jax.random.key(0)), jnp.ones((5, 16))).shape
      (5, 8, 8, 3)
    """
    latent_dim = positive_int(latent_dim, "latent_dim")
    channels, width = positive_int(channels, "channels"), positive_int(width, "width")
    _checks.float_dtype(dtype)

    def init(key):
        dt = _param_dtype(dtype)
        k = [jax.random.fold_in(key, i) for i in range(3)]
        return {
            "dense": _layer(k[0], (latent_dim, 4 * 4 * 2 * width), latent_dim, dt),
            "up": _layer(k[1], (4, 4, 2 * width, width), 4 * 4 * 2 * width // 4, dt),  # stride 2: 1/4 of the taps
            "out": _layer(k[2], (3, 3, width, channels), 3 * 3 * width, dt),
        }

    def apply(params, z):
        if z.ndim != 2 or z.shape[1] != latent_dim:
            raise ValueError(f"generator: expected latents of shape (n, {latent_dim}), got {z.shape}")
        h = _bias(z @ params["dense"]["w"], params["dense"]["b"])
        h = jax.nn.relu(h.reshape(z.shape[0], 4, 4, 2 * width))
        h = jax.nn.relu(_conv_transpose(h, params["up"], 2))
        return jnp.tanh(_conv(h, params["out"], 1))

    return Network(init, apply)


def dcgan_discriminator(channels: int = 1, *, width: int = 32, slope: float = 0.2, dtype: Any = None) -> Network:
    """A DCGAN-style discriminator (Radford et al. 2016): ``(n, 8, 8, channels)`` images -> ``(n,)`` logits.

    Two 4 x 4 convolutions with stride 2 (``width``, then ``2 width`` feature maps; 8 x 8 -> 4 x 4 -> 2 x 2), each
    followed by a leaky ReLU of ``slope``, then a dense layer to one logit, as :func:`games.gan` expects
    (``d = sigmoid(logit)``). Weights LeCun normal, biases zero.

    Args:
      channels: image channels.
      width: feature maps of the first convolution.
      slope: the leaky ReLU's negative slope.
      dtype: parameter dtype (default: JAX's default float).

    Returns:
      A :class:`Network` whose params are ``{"conv1", "conv2", "dense"}`` dicts of ``{"w", "b"}``.

    Example:
      >>> import jax, jax.numpy as jnp, games
      >>> disc = games.nets.dcgan_discriminator(channels=1)
      >>> disc.apply(disc.init(jax.random.key(0)), jnp.zeros((5, 8, 8, 1))).shape
      (5,)
    """
    channels, width = positive_int(channels, "channels"), positive_int(width, "width")
    if isinstance(slope, bool) or not isinstance(slope, numbers.Real) or not 0 <= slope < 1:
        raise ValueError(f"slope: expected a leaky ReLU slope in [0, 1), got {slope!r}")
    slope = float(slope)
    _checks.float_dtype(dtype)

    def init(key):
        dt = _param_dtype(dtype)
        k = [jax.random.fold_in(key, i) for i in range(3)]
        return {
            "conv1": _layer(k[0], (4, 4, channels, width), 4 * 4 * channels, dt),
            "conv2": _layer(k[1], (4, 4, width, 2 * width), 4 * 4 * width, dt),
            "dense": _layer(k[2], (2 * 2 * 2 * width, 1), 2 * 2 * 2 * width, dt),
        }

    def apply(params, images):
        _check_images(images, channels, "discriminator")
        h = jax.nn.leaky_relu(_conv(images, params["conv1"], 2), slope)
        h = jax.nn.leaky_relu(_conv(h, params["conv2"], 2), slope)
        h = h.reshape(images.shape[0], -1)
        return _bias(h @ params["dense"]["w"], params["dense"]["b"])[:, 0]

    return Network(init, apply)
