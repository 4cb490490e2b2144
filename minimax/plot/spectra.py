"""Plots of spectra along training, Berard et al.'s path-angle curve, and rotation against potential.

Each function takes what the core computes (:func:`minimax.spectra_along`, :func:`minimax.path_angle`,
:func:`minimax.rotation_potential`) and returns the matplotlib figure it drew on.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np

from minimax.plot.dynamics import _legend_outside, _new_ax, solver_color

__all__ = ["eigenvalues_along_training", "path_angle_curve", "rotation_vs_potential"]


def eigenvalues_along_training(along: Mapping[str, Mapping[str, Any]] | Mapping[str, Any], *,
                               title: Optional[str] = None):
    """Real and imaginary parts of the top eigenvalues of J, and the update's spectral radius, against the step.

    Args:
      along: one :func:`minimax.spectra_along` result (``{"step", "eigenvalues", "radius"?}``) or a mapping
        ``{label: result}`` to compare solvers; each gets one colour, each eigenvalue one marker per step.
      title: the figure title.

    Returns:
      A figure with the panels Re lambda, ``|Im lambda|`` and, when a radius is present, rho.
    """
    runs = {"": along} if "step" in along else dict(along)
    if not runs or any("step" not in r or "eigenvalues" not in r for r in runs.values()):
        raise ValueError("along: expected a spectra_along result or a mapping of them (keys 'step', 'eigenvalues')")
    has_radius = any(r.get("radius") is not None for r in runs.values())
    fig, axes = plt.subplots(1, 3 if has_radius else 2, figsize=(12.5 if has_radius else 9.0, 3.6))
    for i, (label, r) in enumerate(runs.items()):
        color = solver_color(label, i) if label else "C0"
        steps = np.asarray(r["step"])
        eig = np.asarray(r["eigenvalues"])
        rep = np.repeat(steps[:, None], eig.shape[1], axis=1)
        axes[0].scatter(rep.ravel(), eig.real.ravel(), s=9, color=color, alpha=0.7, label=label or None)
        axes[1].scatter(rep.ravel(), np.abs(eig.imag).ravel(), s=9, color=color, alpha=0.7)
        if has_radius and r.get("radius") is not None:
            axes[2].plot(steps, np.asarray(r["radius"]), "o-", ms=3, color=color, label=label or None)
    axes[0].axhline(0, color="0.6", lw=0.8)
    axes[0].set(xlabel="step", ylabel=r"Re $\lambda$", title=r"top eigenvalues of $J$: real part")
    axes[1].set(xlabel="step", ylabel=r"|Im $\lambda$|", title="imaginary part (rotation)")
    if has_radius:
        axes[2].axhline(1, color="0.6", lw=0.8, ls="--")
        axes[2].set(xlabel="step", ylabel=r"$\rho$", title="spectral radius of the update")
    if len(runs) > 1 or any(runs):
        _legend_outside(axes[-1])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def path_angle_curve(curves: Any, *, ax=None, title: Optional[str] = None):
    """The path-angle plot of Berard et al. (2020): cos of the angle between F and the path (left axis) and
    ``||F||`` (right axis, log scale) against alpha; alpha = 0 is the start, alpha = 1 the end.

    Args:
      curves: a :class:`minimax.PathAngle`, or ``{label: PathAngle}``.
      ax: an axes to draw on (a new figure otherwise).
      title: the axes title.
    """
    items = {"": curves} if hasattr(curves, "cosine") else dict(curves)
    ax = _new_ax(ax, figsize=(6.0, 3.8))
    fig = ax.figure
    right = ax.twinx()
    for i, (label, c) in enumerate(items.items()):
        color = solver_color(label, i) if label else "C0"
        alpha = np.asarray(c.alpha)
        ax.plot(alpha, np.asarray(c.cosine), color=color, label=label or "cosine")
        right.semilogy(alpha, np.maximum(np.asarray(c.norm), 1e-300), color=color, ls=":", alpha=0.8)
    ax.axhline(0, color="0.6", lw=0.8)
    for a in (0.0, 1.0):
        ax.axvline(a, color="0.8", lw=0.8)
    ax.set(xlabel=r"$\alpha$ (0: start, 1: end)", ylabel=r"cos$(F(z_\alpha), z_1 - z_0)$", ylim=(-1.05, 1.05),
           title=title or "path angle (solid) and ||F|| (dotted)")
    right.set_ylabel(r"$\|F(z_\alpha)\|$")
    if len(items) > 1:
        _legend_outside(ax)
    return fig


def rotation_vs_potential(points: Mapping[Any, Any] | Sequence[Any], *, labels: Optional[Sequence[str]] = None,
                          ax=None, title: Optional[str] = None):
    """Bars of ``||S||_F`` (potential part) and ``||A||_F`` (rotational part) of J, with their standard errors.

    Args:
      points: ``{label: RotationPotential}`` (for example one per checkpoint or per solver), or a sequence of
        them with ``labels``.
      ax: an axes to draw on.
      title: the axes title.
    """
    if isinstance(points, Mapping):
        labels, values = [str(k) for k in points], list(points.values())
    else:
        values = list(points)
        labels = [str(i) for i in range(len(values))] if labels is None else [str(s) for s in labels]
    if not values or len(labels) != len(values):
        raise ValueError("points: expected RotationPotential values (and as many labels)")
    ax = _new_ax(ax, figsize=(max(4.0, 0.8 * len(values) + 2.5), 3.8))
    fig = ax.figure
    pos = np.arange(len(values))
    sym = np.array([float(v.sym) for v in values])
    anti = np.array([float(v.antisym) for v in values])
    ax.bar(pos - 0.2, sym, 0.4, yerr=[float(v.std_sym) for v in values], color="C0", label=r"$\|S\|_F$ (potential)")
    ax.bar(pos + 0.2, anti, 0.4, yerr=[float(v.std_antisym) for v in values], color="C3",
           label=r"$\|A\|_F$ (rotation)")
    ax.set_xticks(pos, labels)
    ax.set(ylabel="Frobenius norm", title=title or r"$J = S + A$: potential vs rotation")
    _legend_outside(ax)
    return fig
