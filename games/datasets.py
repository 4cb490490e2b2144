r"""Image data for the GAN game: scikit-learn's 8 x 8 handwritten digits, and stacked digits with 1 000 modes.

:func:`digits` is the 1 797 images of ``sklearn.datasets.load_digits`` (shipped inside scikit-learn, nothing is
downloaded) as ``(N, 8, 8, 1)`` arrays in [-1, 1] with a fixed train/held-out split. :func:`stacked_digits` draws
``(8, 8, 3)`` images whose channels are three independent digits, the stacked-MNIST benchmark of Metz et al.
(2017) on our smaller digits: an image's mode is its three labels, one of 1 000. Samples come from
``sample(key, n)`` in pure JAX, inside compiled loops.

scikit-learn is an optional dependency (``pip install "minimax[images]"``), imported only when the data is first
loaded. What does not live here: the digit classifier and the metrics (:mod:`games.digit_metrics`), the networks
(:mod:`games.nets`).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from games import _checks

__all__ = ["Digits", "digits", "StackedDigits", "stacked_digits", "mode_ids", "HELD_OUT_EVERY"]

#: The held-out split is every ``HELD_OUT_EVERY``-th image of each class, from the first, in the data set's order.
HELD_OUT_EVERY = 5


def _sklearn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError('games.datasets needs scikit-learn for its digits: pip install "minimax[images]"') from err
    return load_digits()


@functools.lru_cache(maxsize=1)
def _raw_split():
    """The split as read-only NumPy arrays: (train images, train labels, test images, test labels), raw 0..16."""
    data = _sklearn_digits()
    images, labels = np.asarray(data.images, np.float64), np.asarray(data.target, np.int64)
    held_out = np.zeros(labels.shape[0], bool)
    for c in range(10):  # stratified and deterministic: no random number generator whose stream could change
        members = np.flatnonzero(labels == c)
        held_out[members[::HELD_OUT_EVERY]] = True
    out = (images[~held_out], labels[~held_out], images[held_out], labels[held_out])
    for a in out:
        a.setflags(write=False)
    return out


class Digits(NamedTuple):
    """The 8 x 8 digits, split once and for all into training and held-out images.

    Attributes:
      train_images: ``(1433, 8, 8, 1)`` floating-point images in [-1, 1] (raw grey levels 0..16 as
        ``level / 8 - 1``).
      train_labels: ``(1433,)`` int32 digits 0..9.
      test_images: ``(364, 8, 8, 1)`` held-out images, every fifth image of each class in scikit-learn's
        order, starting with the first.
      test_labels: ``(364,)`` int32.
    """

    train_images: jax.Array
    train_labels: jax.Array
    test_images: jax.Array
    test_labels: jax.Array


def digits(*, dtype: Any = None) -> Digits:
    """scikit-learn's 1 797 handwritten digits as NHWC images in [-1, 1], with a fixed train/held-out split.

    The held-out split is every fifth image of each class in the data set's order, from the first (stratified:
    364 images, 20 %); the other 1 433 are the training split. The rule uses no random numbers, so the split is
    the same on every machine and version. Pass ``train_images`` to :func:`games.gan` as ``data``.

    Args:
      dtype: the images' dtype (default: JAX's default float, float64 under x64).

    Returns:
      A :class:`Digits` of JAX arrays.

    Raises:
      ImportError: when scikit-learn is not installed (``pip install "minimax[images]"``).

    Example:
      >>> import games
      >>> d = games.datasets.digits()
      >>> d.train_images.shape, d.test_images.shape, float(d.train_images.min()), float(d.train_images.max())
      ((1433, 8, 8, 1), (364, 8, 8, 1), -1.0, 1.0)
    """
    dt = jnp.result_type(float) if dtype is None else _checks.float_dtype(dtype)
    train_x, train_y, test_x, test_y = _raw_split()
    scale = lambda x: jnp.asarray(x[..., None] / 8.0 - 1.0, dt)  # noqa: E731
    return Digits(scale(train_x), jnp.asarray(train_y, jnp.int32), scale(test_x), jnp.asarray(test_y, jnp.int32))


def mode_ids(labels: jax.Array) -> jax.Array:
    """The mode of each stacked image from its channel labels ``(..., C)``: the base-10 number they spell,
    ``100 a + 10 b + c`` for three channels (0..999).

    Example:
      >>> import jax.numpy as jnp, games
      >>> games.datasets.mode_ids(jnp.array([[3, 0, 7], [9, 9, 9]])).tolist()
      [307, 999]
    """
    labels = jnp.asarray(labels)
    powers = 10 ** jnp.arange(labels.shape[-1] - 1, -1, -1, dtype=labels.dtype)
    return jnp.sum(labels * powers.reshape((1,) * (labels.ndim - 1) + powers.shape), axis=-1)


@dataclasses.dataclass(frozen=True, eq=False)
class StackedDigits:
    """Images whose three channels are independently drawn digits; the mode of an image is its three labels.

    Attributes:
      images: ``(N, 8, 8)`` single digits in [-1, 1] that the channels are drawn from.
      labels: ``(N,)`` int32 their digits.
      name: a label.
    """

    images: jax.Array
    labels: jax.Array
    name: str = "stacked_digits"

    #: channels per image, and the number of modes ``10 ** channels``.
    channels = 3
    modes = 1000

    def sample_with_labels(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        """``n`` images ``(n, 8, 8, 3)`` and their channel labels ``(n, 3)``; pure and jittable (``n`` static).

        Channel c of every image is the training digit at index ``randint(key, (n, 3))[:, c]``: uniform over the
        images, so each mode has probability about 1/1000."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n: expected a positive integer number of samples, got {n!r}")
        idx = jax.random.randint(key, (n, self.channels), 0, self.images.shape[0])
        return jnp.moveaxis(self.images[idx], 1, -1), self.labels[idx]

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` images of shape ``(n, 8, 8, 3)``: :meth:`sample_with_labels` without the labels."""
        return self.sample_with_labels(key, n)[0]


def stacked_digits(*, split: str = "train", dtype: Any = None) -> StackedDigits:
    """The stacked-digits distribution: three digits of ``split`` drawn independently as the channels of an image.

    Our small-scale stand-in for stacked MNIST (Metz et al. 2017; VEEGAN and PacGAN Table 2): 1 000 modes, mode
    ``100 a + 10 b + c`` for channel labels ``(a, b, c)`` (:func:`mode_ids`). Count the modes a generator covers
    with :func:`games.digit_metrics.mode_coverage`.

    Args:
      split: ``"train"`` (the GAN's data) or ``"test"`` (held-out digits, for real-versus-real references).
      dtype: the images' dtype (default: JAX's default float).

    Returns:
      A :class:`StackedDigits` with ``sample(key, n)`` and ``sample_with_labels(key, n)``; pass it to
      :func:`games.gan` as ``data``.

    Example:
      >>> import jax, games
      >>> images, labels = games.datasets.stacked_digits().sample_with_labels(jax.random.key(0), 5)
      >>> images.shape, labels.shape, games.datasets.mode_ids(labels).shape
      ((5, 8, 8, 3), (5, 3), (5,))
    """
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    d = digits(dtype=dtype)
    images, labels = (d.train_images, d.train_labels) if split == "train" else (d.test_images, d.test_labels)
    name = "stacked_digits" if split == "train" else "stacked_digits_test"
    return StackedDigits(images[..., 0], labels, name=name)
