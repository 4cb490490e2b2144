"""Networks as players: any ``(init(key) -> params, apply(params, inputs) -> outputs)`` pair.

:class:`Network` is that pair as a NamedTuple; :func:`as_network` accepts a Network, any object with ``init`` and
``apply`` attributes, or a plain 2-tuple, so Flax, Equinox or hand-written models plug in. :func:`mlp` is the
multilayer perceptron used by the mixture-of-Gaussians benchmark.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp

__all__ = ["Network", "as_network", "mlp"]


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
    if dtype is not None:
        try:
            floating = jnp.issubdtype(jnp.dtype(dtype), jnp.floating)
        except TypeError:
            floating = False
        if not floating:
            raise TypeError(f"dtype: expected a floating-point dtype such as jnp.float32, or None, got {dtype!r}")

    def init(key):
        keys = jax.random.split(key, len(sizes) - 1)
        dt = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
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
