"""Plots of GAN training on mixtures of Gaussians: generator samples over the modes, decision surfaces.

Each function draws on a given matplotlib ``ax`` (or a new figure) and returns the figure. Inputs are arrays and
parameter pytrees; nothing here trains. The core library never imports this module.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

__all__ = ["plot_samples", "plot_decision_surface", "plot_gan"]

_HQ_COLOUR = "tab:blue"
_LQ_COLOUR = "tab:orange"
_MODE_COLOUR = "black"


def _axes(ax, figsize=(5.0, 5.0)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def _extent(mixture, margin: float = 1.0):
    means = np.asarray(mixture.means)
    lo, hi = means.min(0) - margin, means.max(0) + margin
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2
    return centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half


def _frame(ax, extent) -> None:
    """Square axes over ``extent`` (from :func:`_extent`), labelled with the data coordinates."""
    x0, x1, y0, y1 = extent
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def _check_2d(mixture):
    from games.mixtures import Mixture

    if not isinstance(mixture, Mixture):
        raise TypeError(f"mixture: expected a games.mixtures.Mixture, got {type(mixture).__name__}")
    if mixture.dim != 2:
        raise ValueError(f"mixture: these plots are for 2-D data, got dimension {mixture.dim}")


def plot_samples(samples, mixture, *, ax=None, threshold: float = 3.0, title: Optional[str] = None,
                 max_points: int = 2500, show_metrics: bool = True):
    """Generator samples over the mode centres: high-quality samples (within ``threshold`` standard deviations of
    their nearest mode) in blue, the others in orange, the centres as black crosses with their 3-sigma circles.

    Args:
      samples: ``(n, 2)`` points.
      mixture: the data's :class:`games.mixtures.Mixture` (2-D).
      ax: a matplotlib axes to draw on; a new figure when None.
      threshold: the high-quality radius in standard deviations (3 in the protocol).
      title: the axes title; the metrics are appended when ``show_metrics``.
      max_points: draw at most this many points (the metrics use all of them).
      show_metrics: put modes covered and the high-quality percentage in the title.

    Returns:
      The matplotlib figure.
    """
    from games.mixtures import mode_metrics

    _check_2d(mixture)
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples: expected shape (n, 2), got {samples.shape}")
    fig, ax = _axes(ax)
    means = np.asarray(mixture.means)
    dist = np.linalg.norm(samples[:, None, :] - means[None], axis=-1).min(1)
    good = dist <= threshold * mixture.std
    shown = samples[:max_points], good[:max_points]
    ax.scatter(*shown[0][~shown[1]].T, s=4, alpha=0.5, color=_LQ_COLOUR, lw=0, label="low quality",
               rasterized=True, zorder=1)
    ax.scatter(*means.T, marker="x", s=30, color=_MODE_COLOUR, lw=1.0, label="mode centre", zorder=2)
    ax.scatter(*shown[0][shown[1]].T, s=4, alpha=0.5, color=_HQ_COLOUR, lw=0, label="high quality",
               rasterized=True, zorder=3)
    theta = np.linspace(0, 2 * np.pi, 60)
    for m in means:
        ax.plot(m[0] + threshold * mixture.std * np.cos(theta), m[1] + threshold * mixture.std * np.sin(theta),
                color=_MODE_COLOUR, lw=0.5, alpha=0.6)
    x0, x1, y0, y1 = _extent(mixture)
    _frame(ax, (x0, x1, y0, y1))
    text = title or f"generator samples ({mixture.name})"
    if show_metrics:
        m = mode_metrics(samples, mixture, threshold=threshold)
        text += f"\n{int(m['modes'])}/{mixture.modes} modes, {100 * float(m['high_quality']):.1f}% high quality"
    ax.set_title(text, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=7, markerscale=2, frameon=False,
              handletextpad=0.2, columnspacing=0.8)
    return fig


def plot_decision_surface(discriminator: Any, params: Any, mixture, *, samples=None, ax=None,
                          resolution: int = 200, title: Optional[str] = None, colorbar: bool = True):
    """The discriminator's probability ``D(x) = sigmoid(logit(x))`` over the plane, with the mode centres and,
    optionally, generator samples on top.

    Args:
      discriminator: ``(init, apply)`` pair (any :func:`games.as_network` input).
      params: its parameters.
      mixture: the data's :class:`games.mixtures.Mixture` (2-D); sets the plotted region.
      samples: optional ``(n, 2)`` generator samples to overlay.
      ax: a matplotlib axes to draw on; a new figure when None.
      resolution: grid points per axis.
      title: the axes title.
      colorbar: add a colour bar labelled ``D(x)``.

    Returns:
      The matplotlib figure.
    """
    import jax
    import jax.numpy as jnp

    from games.nets import as_network

    _check_2d(mixture)
    net = as_network(discriminator, "discriminator")
    fig, ax = _axes(ax, figsize=(5.6, 5.0))
    x0, x1, y0, y1 = _extent(mixture)
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    pts = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], 1), dtype=jax.tree.leaves(params)[0].dtype)
    prob = np.asarray(jax.nn.sigmoid(net.apply(params, pts).reshape(-1))).reshape(gx.shape)
    mesh = ax.contourf(gx, gy, prob, levels=np.linspace(0, 1, 21), cmap="RdBu_r", vmin=0, vmax=1)
    ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=0.8, linestyles="--")
    if samples is not None:
        s = np.asarray(samples)
        ax.scatter(*s[:2500].T, s=3, alpha=0.5, color="tab:green", lw=0, label="generator samples", rasterized=True)
    ax.scatter(*np.asarray(mixture.means).T, marker="x", s=40, color="k", lw=1.2, label="mode centre", zorder=3)
    _frame(ax, (x0, x1, y0, y1))
    ax.set_title(title or "discriminator $D(x)$ (dashed: $D = 1/2$)", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=7, markerscale=2, frameon=False)
    if colorbar:
        fig.colorbar(mesh, ax=ax, label="$D(x)$ = P(real)", ticks=np.linspace(0, 1, 6), shrink=0.85)
    return fig


def plot_gan(generator: Any, g_params: Any, discriminator: Any, d_params: Any, mixture, *, latent_dim: int,
             key, n: int = 2500, suptitle: Optional[str] = None):
    """Both views side by side: ``n`` generator samples over the modes, and the decision surface.

    Args:
      generator, g_params: the generator network and its parameters.
      discriminator, d_params: the discriminator network and its parameters.
      mixture: the 2-D data mixture.
      latent_dim: the generator's latent dimension (latents ``z ~ N(0, I)``, as in :func:`games.gan`).
      key: PRNG key for the latents.
      n: number of samples (2500 in the protocol).
      suptitle: a title over both panels.

    Returns:
      The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    from games.gan import gan_samples

    samples = np.asarray(gan_samples(generator, g_params, key, n, latent_dim=latent_dim))
    fig, (a, b) = plt.subplots(1, 2, figsize=(10.5, 5.0), layout="constrained")
    plot_samples(samples, mixture, ax=a)
    plot_decision_surface(discriminator, d_params, mixture, samples=samples, ax=b)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig
