r"""How good are generated digits: a digit classifier trained by the library, mode coverage, a Fréchet distance.

:func:`digit_classifier` trains a small convolutional network on the training split of
:func:`games.datasets.digits` (pure JAX and optax, one compiled ``lax.scan``; 98-99 % held-out accuracy after
seconds on a CPU) and caches its weights on disk, so that every run scores samples with the same network:
it plays the part of the pretrained classifier of the stacked-MNIST protocol and of the Inception network of FID.
On it sit

* :func:`mode_coverage`: the classifier labels every channel; the modes covered and KL(mode histogram ‖ uniform),
  over 10 classes for one channel, over 1 000 modes for stacked digits (Metz et al. 2017; VEEGAN and PacGAN
  Table 2);
* :func:`frechet_distance`: FID's formula (Heusel et al. 2017) in the classifier's penultimate-layer features.

Everything returns plain Python numbers. The cache lives in ``$MINIMAX_CACHE`` if set, else
``$XDG_CACHE_HOME/minimax``, else ``~/.cache/minimax``; a file's name is a hash of everything that determines the
weights (the settings, the key, a format version), so a change of any of them trains afresh. Needs scikit-learn
(``pip install "minimax[images]"``) for the digits. What does not live here: the data (:mod:`games.datasets`)
and the networks players use (:mod:`games.nets`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pathlib
import tempfile
import threading
import types
import warnings
from typing import Any, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax

from games import datasets
from games.nets import _bias, _conv, _layer

__all__ = [
    "DigitClassifier",
    "digit_classifier",
    "cache_dir",
    "mode_coverage",
    "frechet_distance",
    "FORMAT_VERSION",
    "SETTINGS",
    "STACKED_SAMPLES",
]

#: The cache files' format, bumped whenever the network, its training or the file layout changes (old cache files
#: are then ignored).
FORMAT_VERSION = 1

#: The classifier and its training. 3 x 3 convolutions to ``width`` maps (stride 1) and ``2 width`` maps (stride 2,
#: 8 x 8 -> 4 x 4), ReLU, a dense layer of ``features`` units (the features of :func:`frechet_distance`) and 10
#: logits; AdamW with a cosine-decayed step size on mini-batches shifted at random by up to one pixel.
SETTINGS = types.MappingProxyType({
    "width": 16,
    "features": 64,
    "steps": 1000,
    "batch_size": 64,
    "learning_rate": 3e-3,
    "weight_decay": 1e-4,
    "max_shift": 1,
})

#: Generated samples per evaluation in the stacked-MNIST protocol, as VEEGAN (Srivastava et al. 2017) and PacGAN
#: (Lin et al. 2018) count modes over 26 000 samples.
STACKED_SAMPLES = 26_000

_DTYPE = jnp.float32  # the classifier's own precision, whatever JAX's default float
_MAP_BATCH = 2048  # images per chunk when classifying many: bounds the memory of the first convolution
_LOADED: dict = {}  # cache file -> DigitClassifier: one read per process
_LOCK = threading.Lock()


# -- the network ---------------------------------------------------------------------------------------------------
def _init(key, width, features):
    k = [jax.random.fold_in(key, i) for i in range(4)]
    return {
        "conv1": _layer(k[0], (3, 3, 1, width), 9, _DTYPE),
        "conv2": _layer(k[1], (3, 3, width, 2 * width), 9 * width, _DTYPE),
        "hidden": _layer(k[2], (4 * 4 * 2 * width, features), 4 * 4 * 2 * width, _DTYPE),
        "out": _layer(k[3], (features, 10), features, _DTYPE),
    }


def _features(params, x):
    h = jax.nn.relu(_conv(x, params["conv1"], 1))
    h = jax.nn.relu(_conv(h, params["conv2"], 2))
    h = h.reshape(x.shape[0], -1)
    return jax.nn.relu(_bias(h @ params["hidden"]["w"], params["hidden"]["b"]))


def _logits(params, x):
    return _bias(_features(params, x) @ params["out"]["w"], params["out"]["b"])


def _shift(key, images, max_shift):
    """Each image moved by up to ``max_shift`` pixels in each direction, the border filled with background (-1)."""
    s = max_shift
    padded = jnp.pad(images, ((0, 0), (s, s), (s, s), (0, 0)), constant_values=-1.0)
    offsets = jax.random.randint(key, (images.shape[0], 2), 0, 2 * s + 1, jnp.int32)
    one = lambda im, o: jax.lax.dynamic_slice(im, (o[0], o[1], jnp.int32(0)), images.shape[1:])  # noqa: E731
    return jax.vmap(one)(padded, offsets)


@jax.jit
def _train(key, images, labels):
    """The classifier's params after ``SETTINGS["steps"]`` AdamW steps: init from ``fold_in(key, 0)``, step t's batch
    and shifts from ``fold_in(key, t + 1)``."""
    cfg = SETTINGS
    params = _init(jax.random.fold_in(key, 0), cfg["width"], cfg["features"])
    schedule = optax.cosine_decay_schedule(cfg["learning_rate"], cfg["steps"])
    opt = optax.adamw(schedule, weight_decay=cfg["weight_decay"])

    def step(carry, t):
        params, state = carry
        k = jax.random.fold_in(key, t + 1)
        idx = jax.random.randint(jax.random.fold_in(k, 0), (cfg["batch_size"],), 0, images.shape[0], jnp.int32)
        x = images[idx]
        if cfg["max_shift"]:
            x = _shift(jax.random.fold_in(k, 1), x, cfg["max_shift"])

        def loss(p):
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(_logits(p, x), labels[idx]))

        value, grads = jax.value_and_grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), value

    (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(cfg["steps"], dtype=jnp.int32))
    return params, losses


@jax.jit
def _apply_logits(params, images):
    return jax.lax.map(lambda im: _logits(params, im[None])[0], images, batch_size=_MAP_BATCH)


@jax.jit
def _apply_features(params, images):
    return jax.lax.map(lambda im: _features(params, im[None])[0], images, batch_size=_MAP_BATCH)


# -- the classifier as a value -------------------------------------------------------------------------------------
def _single_channel(images, name="images"):
    """``images`` ``(n, 8, 8)`` or ``(n, 8, 8, C)`` as ``(n * C, 8, 8, 1)`` float32 and the channel count C (or
    None for a 3-d input)."""
    try:
        arr = jnp.asarray(images)
    except TypeError as err:
        raise TypeError(f"{name}: expected an array of 8 x 8 images, got {type(images).__name__}") from err
    if arr.ndim == 3:
        arr, channels = arr[..., None], None
    elif arr.ndim == 4:
        channels = arr.shape[-1]
    else:
        raise ValueError(f"{name}: expected images of shape (n, 8, 8) or (n, 8, 8, C), got {arr.shape}")
    if arr.shape[1:3] != (8, 8) or arr.shape[0] < 1 or arr.shape[-1] < 1:
        raise ValueError(f"{name}: expected images of shape (n, 8, 8) or (n, 8, 8, C), got {arr.shape}")
    if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
        raise TypeError(f"{name}: expected real pixel values, got dtype {arr.dtype}")
    n, c = arr.shape[0], arr.shape[-1]
    flat = jnp.moveaxis(arr, -1, 1).reshape(n * c, 8, 8, 1).astype(_DTYPE)
    return flat, (None if channels is None or channels == 1 else channels)


def _per_channel(out, n, channels):
    return out if channels is None else out.reshape(n, channels, out.shape[-1])


@dataclasses.dataclass(frozen=True, eq=False)
class DigitClassifier:
    """A trained digit classifier for 8 x 8 images in [-1, 1] (:func:`games.datasets.digits`' scale).

    Every method takes ``(n, 8, 8)`` or ``(n, 8, 8, C)`` images and classifies each channel on its own: one
    channel gives ``(n, ...)`` outputs, C > 1 channels ``(n, C, ...)``. Pure and jittable in the images.

    Attributes:
      params: the network's weights (float32).
      accuracy: held-out accuracy on the test split of :func:`games.datasets.digits`, a float.
      path: the cache file it was read from or written to, or None.
    """

    params: Any
    accuracy: float
    path: Optional[str] = None

    def logits(self, images: jax.Array) -> jax.Array:
        """Class logits, ``(n, 10)`` or ``(n, C, 10)``."""
        flat, channels = _single_channel(images)
        return _per_channel(_apply_logits(self.params, flat), jnp.shape(images)[0], channels)

    def predict(self, images: jax.Array) -> jax.Array:
        """Predicted digits (int32), ``(n,)`` or ``(n, C)``."""
        return jnp.argmax(self.logits(images), axis=-1).astype(jnp.int32)

    def features(self, images: jax.Array) -> jax.Array:
        """Penultimate-layer activations, ``(n, features)`` or ``(n, C, features)``: the space of
        :func:`frechet_distance`."""
        flat, channels = _single_channel(images)
        return _per_channel(_apply_features(self.params, flat), jnp.shape(images)[0], channels)


def cache_dir() -> pathlib.Path:
    """Where the library caches what it computes: ``$MINIMAX_CACHE``, else ``$XDG_CACHE_HOME/minimax``, else
    ``~/.cache/minimax``. Not created until something is written."""
    if os.environ.get("MINIMAX_CACHE"):
        return pathlib.Path(os.environ["MINIMAX_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "minimax"


def _typed_key(key):
    if key is None:
        return jax.random.key(0)
    if isinstance(key, jax.core.Tracer):
        raise TypeError("key: the classifier is trained (or loaded) outside jit; pass a concrete key")
    try:
        arr = jnp.asarray(key)
    except TypeError:
        arr = None
    if arr is not None and jax.dtypes.issubdtype(arr.dtype, jax.dtypes.prng_key) and arr.shape == ():
        return arr
    if arr is not None and arr.dtype == jnp.uint32 and arr.shape == (2,):  # a raw jax.random.PRNGKey
        return jax.random.wrap_key_data(arr)
    raise TypeError(f"key: expected one PRNG key (jax.random.key(seed)) or None, got {type(key).__name__}"
                    + (f" of shape {arr.shape} and dtype {arr.dtype}" if arr is not None else ""))


def _file_name(key) -> str:
    description = {
        "format": FORMAT_VERSION,
        "settings": dict(SETTINGS),
        "key_impl": str(jax.random.key_impl(key)),
        "key_data": np.asarray(jax.random.key_data(key)).tolist(),
    }
    digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:20]
    return f"digit_classifier-v{FORMAT_VERSION}-{digest}.npz"


def _flatten(params) -> dict:
    return {f"{layer}.{name}": np.asarray(v) for layer, d in params.items() for name, v in d.items()}


def _load(path: pathlib.Path, template) -> Optional[dict]:
    """The params in ``path``, or None if it is missing or does not hold this network's arrays."""
    try:
        with np.load(path, allow_pickle=False) as f:
            stored = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError):
        return None
    expected = {f"{layer}.{name}": v for layer, d in template.items() for name, v in d.items()}
    if set(stored) != set(expected) or any(stored[k].shape != expected[k].shape or stored[k].dtype != expected[k].dtype
                                           for k in expected):
        return None
    return {layer: {name: jnp.asarray(stored[f"{layer}.{name}"]) for name in d} for layer, d in template.items()}


def _save(path: pathlib.Path, params) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", suffix=".npz", delete=False) as f:
            np.savez(f, **_flatten(params))
        os.chmod(f.name, 0o644)  # a temporary file is private; a cache file is as readable as any other
        os.replace(f.name, path)  # atomic: a concurrent reader sees the old file or the whole new one
        return True
    except OSError as err:
        warnings.warn(f"digit_classifier: could not write the cache file {path} ({err}); the classifier is kept "
                      "in memory only", stacklevel=3)
        return False


def digit_classifier(*, key: Optional[jax.Array] = None,
                     cache: Union[bool, str, os.PathLike] = True) -> DigitClassifier:
    """The library's digit classifier, trained from ``key`` on the training split of :func:`games.datasets.digits`.

    The network and its training are :data:`SETTINGS` (38 282 weights, 1 000 AdamW steps in one compiled
    ``lax.scan``: 5-20 s on a shared 2-core CPU, compilation included); held-out accuracy is 98-99 % across keys
    (99.2 % for the default key). Training runs in float32 whatever JAX's default, so float64 mode gives the same
    weights. The weights are saved to and read from an ``.npz`` file named by a hash of the settings, the key and
    :data:`FORMAT_VERSION`, so the same call gives the same classifier without training again (within a process
    the file is read once).

    Args:
      key: the PRNG key of the initialisation and the mini-batches; default ``jax.random.key(0)``, the reference
        classifier that makes scores comparable between runs. Keyword only, consumed whole.
      cache: True for :func:`cache_dir`, a directory of your own, or False to train without reading or writing.

    Returns:
      A :class:`DigitClassifier` with its held-out ``accuracy`` (measured on load, not stored).

    Raises:
      ImportError: without scikit-learn. TypeError: a bad key or cache.

    Example:
      >>> import games
      >>> clf = games.digit_metrics.digit_classifier()
      >>> clf.accuracy > 0.97
      True
      >>> d = games.datasets.digits()
      >>> clf.predict(d.test_images[:4]).tolist() == d.test_labels[:4].tolist()
      True
    """
    key = _typed_key(key)
    if isinstance(cache, bool):
        directory = cache_dir() if cache else None
    elif isinstance(cache, (str, os.PathLike)):
        directory = pathlib.Path(cache).expanduser()
    else:
        raise TypeError(f"cache: expected True, False or a directory, got {type(cache).__name__}")
    path = None if directory is None else directory / _file_name(key)
    with _LOCK:
        if path is not None and str(path) in _LOADED:
            return _LOADED[str(path)]
    data = datasets.digits(dtype=_DTYPE)
    template = jax.eval_shape(lambda: _init(jax.random.key(0), SETTINGS["width"], SETTINGS["features"]))
    params = None if path is None else _load(path, template)
    if params is None:
        with jax.enable_x64(False):  # the same weights bit for bit whether or not the caller runs in float64
            params, _ = _train(key, data.train_images, data.train_labels)
        if path is not None and not _save(path, params):
            path = None
    accuracy = float(jnp.mean(jnp.argmax(_apply_logits(params, data.test_images), -1) == data.test_labels))
    classifier = DigitClassifier(params, accuracy, None if path is None else str(path))
    if path is not None:
        with _LOCK:
            _LOADED[str(path)] = classifier
    return classifier


def _classifier(classifier) -> DigitClassifier:
    if classifier is None:
        return digit_classifier()
    if not isinstance(classifier, DigitClassifier):
        raise TypeError(f"classifier: expected a DigitClassifier (games.digit_metrics.digit_classifier()) or None, "
                        f"got {type(classifier).__name__}")
    return classifier


# -- metrics -------------------------------------------------------------------------------------------------------
def mode_coverage(images: jax.Array, classifier: Optional[DigitClassifier] = None) -> dict:
    r"""Modes covered and KL(mode histogram ‖ uniform) of generated digits, each channel labelled by ``classifier``.

    A channel's mode is its predicted digit; an image's mode is the number its channels spell
    (:func:`games.datasets.mode_ids`): 10 modes for ``(n, 8, 8, 1)`` digits, 1 000 for stacked ``(n, 8, 8, 3)``.
    With :math:`p_k` the fraction of images in mode k of K, :math:`\mathrm{KL} = \sum_k p_k \log(K p_k)`, 0 for a
    uniform histogram and :math:`\log K` for one mode.

    How many samples: the stacked-MNIST protocol counts :data:`STACKED_SAMPLES` = 26 000 (VEEGAN, PacGAN), 26 per
    mode on average. Then a generator that matches the data misses a given mode with probability about
    :math:`e^{-26}`, so it covers all 1 000, and the sampling noise alone puts its KL near
    :math:`(K - 1) / (2n) \approx 0.02`. With fewer samples both move against the generator: compare numbers
    only at the same n.

    Args:
      images: ``(n, 8, 8, C)`` (or ``(n, 8, 8)``) generated images in [-1, 1].
      classifier: a :class:`DigitClassifier`; default the cached reference :func:`digit_classifier`.

    Returns:
      ``{"modes": int covered, "num_modes": 10 ** C, "kl": float, "counts": list of K ints}``.

    Example:
      >>> import jax, games
      >>> real = games.datasets.stacked_digits().sample(jax.random.key(0), 26_000)
      >>> m = games.digit_metrics.mode_coverage(real)
      >>> m["modes"], m["num_modes"], m["kl"] < 0.05
      (1000, 1000, True)
    """
    clf = _classifier(classifier)
    labels = np.asarray(clf.predict(images))
    if labels.ndim == 1:
        labels = labels[:, None]
    num_modes = 10 ** labels.shape[1]
    counts = np.bincount(np.asarray(datasets.mode_ids(labels)), minlength=num_modes)
    p = counts / counts.sum()
    kl = float(np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p * num_modes, 1.0)), 0.0)))
    return {"modes": int(np.sum(counts > 0)), "num_modes": int(num_modes), "kl": max(kl, 0.0),
            "counts": [int(c) for c in counts]}


def _moments(features: np.ndarray, name: str):
    if features.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 images for a covariance, got {features.shape[0]}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(0.5 * (m + m.T))
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(images_a: jax.Array, images_b: jax.Array,
                     classifier: Optional[DigitClassifier] = None) -> float:
    r"""The Fréchet distance between two sets of images in ``classifier``'s feature space (FID's formula).

    .. math:: d^2 = \|\mu_a - \mu_b\|^2 + \operatorname{Tr}\big(\Sigma_a + \Sigma_b - 2 (\Sigma_a \Sigma_b)^{1/2}\big)

    for the means and covariances of the two sets' :meth:`DigitClassifier.features` (Heusel et al. 2017 with our
    classifier in place of Inception). For images with C channels each channel's features are concatenated.
    The trace of the square root is computed as :math:`\sum_i \sqrt{\lambda_i}` over the eigenvalues of the
    symmetric :math:`\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2}`, which has the same eigenvalues as
    :math:`\Sigma_a \Sigma_b` and is stable for singular covariances; all in float64.

    The estimate is biased upwards for small sets: even two halves of the same data score above 0. Compare
    distances computed from the same numbers of images.

    Args:
      images_a, images_b: ``(n, 8, 8, C)`` images in [-1, 1] (same C, n >= 2 each).
      classifier: a :class:`DigitClassifier`; default the cached reference :func:`digit_classifier`.

    Returns:
      The squared distance :math:`d^2` as a float (FID's convention: no square root taken).

    Example:
      >>> import games
      >>> d = games.datasets.digits()
      >>> fd = games.digit_metrics.frechet_distance(d.train_images, d.test_images)
      >>> 0 <= fd < 0.1 * games.digit_metrics.frechet_distance(d.train_images, -d.test_images)
      True
    """
    clf = _classifier(classifier)
    fa, fb = (np.asarray(clf.features(x), np.float64) for x in (images_a, images_b))
    if fa.shape[1:] != fb.shape[1:]:
        raise ValueError(f"images_b: expected images with the channels of images_a, got features {fb.shape[1:]} "
                         f"for {fa.shape[1:]}")
    fa, fb = fa.reshape(fa.shape[0], -1), fb.reshape(fb.shape[0], -1)
    (mu_a, cov_a), (mu_b, cov_b) = _moments(fa, "images_a"), _moments(fb, "images_b")
    root_a = _sqrt_psd(cov_a)
    eig = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    d2 = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)
    return max(d2, 0.0) if math.isfinite(d2) else d2
