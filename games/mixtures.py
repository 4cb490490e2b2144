r"""Mixtures of isotropic Gaussians with equal weights, drawn from keys, and the mode-coverage metrics.

The benchmark data sets of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018): a ring of 8 Gaussians
and a 5 x 5 grid of 25. Nothing is downloaded; samples come from ``sample(key, n)`` in pure JAX, inside compiled
loops.

:func:`mode_metrics` follows the published protocol: a sample is *high quality* if it lies within 3 standard
deviations of its nearest mode; a mode is *covered* if it is the nearest mode of at least one high-quality sample;
the reverse KL compares the histogram of high-quality samples over modes with the uniform one.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Mixture", "ring", "grid", "gaussian_1d", "mode_metrics"]


@dataclasses.dataclass(frozen=True, eq=False)
class Mixture:
    """An equal-weight mixture of isotropic Gaussians ``N(means[k], std^2 I)``.

    Attributes:
      means: ``(modes, dim)`` array of centres.
      std: the common standard deviation.
      name: a label.
    """

    means: jax.Array
    std: float
    name: str = "mixture"

    def __post_init__(self):
        means = jnp.asarray(self.means)
        if means.ndim != 2 or 0 in means.shape:
            raise ValueError(f"means: expected a (modes, dim) array, got shape {means.shape}")
        if not jnp.issubdtype(means.dtype, jnp.floating):
            means = means.astype(jnp.result_type(float))
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "std", float(_positive(self.std, "std")))

    @property
    def modes(self) -> int:
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` samples, shape ``(n, dim)``; pure and jittable (``n`` static). Modes from ``fold_in(key, 0)``,
        noise from ``fold_in(key, 1)``."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n: expected a positive integer number of samples, got {n!r}")
        k_mode, k_noise = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
        means = self.means
        idx = jax.random.randint(k_mode, (n,), 0, self.modes)
        noise = jax.random.normal(k_noise, (n, self.dim), means.dtype)
        return means[idx] + self.std * noise

    def log_prob(self, x: jax.Array) -> jax.Array:
        """Log density at points ``x`` of shape ``(n, dim)``."""
        means = self.means.astype(x.dtype)
        sq = jnp.sum((x[:, None, :] - means[None, :, :]) ** 2, axis=-1)
        log_norm = -0.5 * self.dim * jnp.log(2 * jnp.pi * self.std**2)
        return jax.scipy.special.logsumexp(-0.5 * sq / self.std**2, axis=1) + log_norm - jnp.log(self.modes)


def _positive(value, name, kind=numbers.Real):
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name}: expected a positive {'integer' if kind is numbers.Integral else 'number'}, "
                         f"got {value!r}")
    return value


def ring(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> Mixture:
    """``modes`` Gaussians equally spaced on a circle of ``radius`` (the 8-ring of VEEGAN/PacGAN)."""
    _positive(modes, "modes", numbers.Integral)
    _positive(radius, "radius")
    _positive(std, "std")
    angles = 2 * np.pi * np.arange(modes) / modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Mixture(jnp.asarray(means, jnp.result_type(float)), float(std), name=f"ring{modes}")


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture:
    """A ``side x side`` grid of Gaussians centred on the origin; the default has means on {-4, -2, 0, 2, 4}^2."""
    _positive(side, "side", numbers.Integral)
    _positive(spacing, "spacing")
    _positive(std, "std")
    coords = spacing * (np.arange(side) - (side - 1) / 2)
    xx, yy = np.meshgrid(coords, coords, indexing="ij")
    means = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return Mixture(jnp.asarray(means, jnp.result_type(float)), float(std), name=f"grid{side * side}")


def gaussian_1d(mean: float = 0.0, std: float = 1.0) -> Mixture:
    """The 1-D Gaussian ``N(mean, std^2)`` as a one-mode mixture."""
    _positive(std, "std")
    if not isinstance(mean, numbers.Real) or not math.isfinite(mean):
        raise ValueError(f"mean: expected a finite number, got {mean!r}")
    return Mixture(jnp.asarray([[float(mean)]], jnp.result_type(float)), float(std), name="gaussian_1d")


def mode_metrics(samples: jax.Array, mixture: Mixture, *, threshold: float = 3.0) -> dict:
    """Modes covered, high-quality fraction and reverse KL of ``samples`` against ``mixture``'s modes.

    Args:
      samples: ``(n, dim)`` generated points (the protocol uses n = 2500).
      mixture: the true :class:`Mixture`.
      threshold: high quality means within ``threshold * std`` of the nearest mode.

    Returns:
      ``{"modes": modes covered, "high_quality": fraction, "reverse_kl": KL(mode histogram || uniform)}``: a Python
      int and two Python floats when called on concrete samples; JAX scalars under tracing (``jit``, ``vmap``, the
      ``metrics`` of ``mm.run``), so the function stays jittable and vmappable. With no high-quality sample the
      reverse KL is ``inf``.

    Example:
      >>> import jax, games
      >>> ring = games.mixtures.ring()
      >>> m = games.mixtures.mode_metrics(ring.sample(jax.random.key(0), 2500), ring)
      >>> m["modes"], round(m["high_quality"], 2)
      (8, 0.99)
    """
    if not isinstance(mixture, Mixture):
        raise TypeError(f"mixture: expected a games.mixtures.Mixture (ring(), grid(), ...), got {type(mixture).__name__}")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 < threshold < math.inf:
        raise ValueError(f"threshold: expected a positive number of standard deviations, got {threshold!r}")
    samples = jnp.asarray(samples)
    if not jnp.issubdtype(samples.dtype, jnp.floating):
        samples = samples.astype(jnp.result_type(float))
    if samples.ndim != 2 or samples.shape[1] != mixture.dim or samples.shape[0] < 1:
        raise ValueError(f"samples: expected shape (n, {mixture.dim}), got {samples.shape}")
    out = _mode_metrics(samples, mixture, threshold)
    if any(isinstance(v, jax.core.Tracer) for v in out.values()):
        return out
    return {"modes": int(out["modes"]), "high_quality": float(out["high_quality"]),
            "reverse_kl": float(out["reverse_kl"])}


def _mode_metrics(samples: jax.Array, mixture: Mixture, threshold: float) -> dict:
    """:func:`mode_metrics` on checked arguments, as JAX scalars."""
    means = mixture.means.astype(samples.dtype)
    dist = jnp.sqrt(jnp.sum((samples[:, None, :] - means[None, :, :]) ** 2, axis=-1))
    nearest = jnp.argmin(dist, axis=1)
    good = jnp.min(dist, axis=1) <= threshold * mixture.std
    counts = jnp.zeros(mixture.modes, samples.dtype).at[nearest].add(good.astype(samples.dtype))
    total = jnp.sum(counts)
    p = counts / jnp.maximum(total, 1)
    kl = jnp.sum(jnp.where(p > 0, p * jnp.log(p * mixture.modes), 0.0))
    return {
        "modes": jnp.sum(counts > 0),
        "high_quality": jnp.mean(good.astype(samples.dtype)),
        "reverse_kl": jnp.where(total > 0, kl, jnp.inf),
    }
