r"""Plots of training dynamics: phase portraits, convergence curves, spectra and strategies on the simplex.

Each function draws on a matplotlib ``Axes`` (made for it when ``ax`` is None) and returns it; figure-level
helpers return the ``Figure``. Inputs are what the library produces: a :class:`minimax.Game`, a trace dict or a
:class:`minimax.Result` (batched over seeds or not), solvers, and the rows of :func:`minimax.compare.compare`.
Iterates come from a trace's ``"z"`` entry, the flattened ``(x, y)`` recorded by ``compare(record_iterates=True)``
or by ``mm.run(..., metrics={"z": minimax.compare.iterate})``.

Nothing here computes a trajectory: run the game first, then plot.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from jax.flatten_util import ravel_pytree

from minimax import diagnostics, spectra
from minimax.compare import update_spectrum
from minimax.constraints import Simplex
from minimax.game import Game

__all__ = [
    "METRIC_LABELS",
    "comparison_figures",
    "convergence",
    "convergence_figure",
    "jacobian_spectrum",
    "phase_portrait",
    "rates_against_step_size",
    "simplex_trajectories",
    "solver_color",
    "update_spectra",
]

#: Axis labels of the trace metrics.
METRIC_LABELS = {
    "dist": "distance to equilibrium ‖z − z*‖",
    "dist_avg": "distance of the averaged iterate",
    "gap": "duality gap",
    "gap_avg": "duality gap of the averaged iterate",
    "grad_norm": "vector-field norm ‖F(z)‖",
    "residual": "natural residual ‖z − P(z − F(z))‖",
}

_X_LABELS = {
    "step": "step",
    "grad_evals": "gradient evaluations (one = F(z) for both players)",
}

# One colour per solver name, the same in every figure (tab10 order).
_SOLVER_ORDER = (
    "simultaneous", "alternating", "extragradient", "optimistic", "past_extragradient", "consensus", "sga",
    "lookahead", "proximal_point", "mwu", "omwu", "mirror_prox",
)
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf", "#393b79", "#637939")


def solver_color(name: str, index: int = 0) -> str:
    """The colour of a solver in every plot: fixed for the built-in names, else by ``index``."""
    base = name.split(" ")[0]
    if base in _SOLVER_ORDER:
        return _PALETTE[_SOLVER_ORDER.index(base)]
    return _PALETTE[index % len(_PALETTE)]


def _widths(n: int) -> list[float]:
    """Line widths decreasing with the drawing order, so that a curve drawn over another leaves it visible."""
    return [max(2.6 - 0.5 * i, 1.0) for i in range(n)]


# Dash patterns and markers by drawing order: a curve drawn over another one (two solvers that follow the same
# path) keeps the lower one visible through its gaps, and its markers tell the two apart.
_DASHES = ("-", "--", ":", "-.", (0, (8, 2, 1.5, 2, 1.5, 2)), (0, (10, 3)))
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
# Markers along a path: none of start (circle), end (square) or leaving the frame (cross).
_PATH_MARKERS = ("^", "D", "v", "P", "<", ">", "h", "*")


def _darker(color: str, amount: float) -> str:
    """``color`` mixed with black by ``amount`` in [0, 1), as a hex string."""
    from matplotlib.colors import to_hex, to_rgb

    return to_hex(tuple(c * (1.0 - amount) for c in to_rgb(color)))


def _line_styles(labels: Sequence[str]) -> dict[str, dict]:
    """``{label: {"color", "ls", "marker"}}``, one (colour, line style) pair per label and no two alike.

    The colour says the solver (the label's first word, as :func:`solver_color`), the line style which of that
    solver's labels it is (its step sizes, say ``"extragradient η=0.1"``); past the line styles, the colour darkens.
    """
    bases = list(dict.fromkeys(str(label).split(" ")[0] for label in labels))
    seen: dict[str, int] = {}
    out = {}
    for label in labels:
        base = str(label).split(" ")[0]
        k = seen.get(base, 0)
        seen[base] = k + 1
        color = solver_color(base, bases.index(base))
        if k >= len(_DASHES):
            color = _darker(color, min(0.25 * (k // len(_DASHES)), 0.75))
        out[label] = dict(color=color, ls=_DASHES[k % len(_DASHES)], marker=_MARKERS[k % len(_MARKERS)])
    return out


def _marks(n: int, i: int, of: int, count: int = 12) -> tuple[int, int]:
    """``markevery`` for about ``count`` markers on a path of ``n`` points, the ``i``-th of ``of`` paths shifted so
    that the markers of paths that overlap do not sit on each other."""
    every = max(n // count, 1)
    return int(every * (i + 0.5) / max(of, 1)) % every, every


def _legend_outside(ax, **kwargs):
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small", **kwargs)


def _seed_count(obj: Any) -> int:
    """How many seeds a trajectory holds: 1 for ``(steps, dim)`` iterates, ``seeds`` for batched ones."""
    if isinstance(obj, Mapping) or _is_result(obj):
        obj = _trace_of(obj).get("z", np.zeros((0, 0)))
    shape = np.shape(obj)
    return int(shape[0]) if len(shape) == 3 else 1


def _record_steps(obj: Any, n: int, record_every: int = 1) -> np.ndarray:
    """The step of each of a trajectory's ``n`` records: a trace's ``"step"``, else ``record_every`` apart."""
    if isinstance(obj, Mapping) or _is_result(obj):
        trace = _trace_of(obj)
        if "step" in trace:
            steps = np.asarray(trace["step"], np.float64).reshape(-1, n)[0]
            return steps
    return np.arange(n, dtype=np.float64) * record_every


def _exit_point(z: np.ndarray, box: Sequence[float]) -> Optional[tuple[int, np.ndarray]]:
    """Where the path ``z`` (``(T, 2)``) first leaves the box ``(xmin, xmax, ymin, ymax)`` or stops being finite:
    ``(index of the first point outside, the crossing point on the box's edge)``; None if it stays inside."""
    lo, hi = np.array([box[0], box[2]]), np.array([box[1], box[3]])
    with np.errstate(invalid="ignore"):
        inside = np.all(np.isfinite(z), axis=1) & np.all((z >= lo) & (z <= hi), axis=1)
    if inside.all() or not inside[0]:
        return None
    j = int(np.argmin(inside))
    a, b = z[j - 1], z[j]
    if not np.all(np.isfinite(b)):
        return j, a
    t = 1.0
    for c in range(2):
        if b[c] > hi[c]:
            t = min(t, (hi[c] - a[c]) / (b[c] - a[c]))
        elif b[c] < lo[c]:
            t = min(t, (lo[c] - a[c]) / (b[c] - a[c]))
    return j, a + t * (b - a)


# -- inputs -------------------------------------------------------------------------------------------------------
def _is_result(obj: Any) -> bool:
    return isinstance(getattr(obj, "trace", None), Mapping)  # not ndarray.trace, a method


def _trace_of(obj: Any) -> dict:
    if isinstance(obj, Mapping):
        return obj
    if _is_result(obj):
        return obj.trace
    raise TypeError(f"expected a trace dict or a minimax.Result, got {type(obj).__name__}")


def _iterates(obj: Any, seed: int = 0) -> np.ndarray:
    """``(T, d)`` iterates from an array, a trace with ``"z"`` or a Result; seed ``seed`` of a batched one."""
    if isinstance(obj, Mapping) or _is_result(obj):
        trace = _trace_of(obj)
        if "z" not in trace:
            raise ValueError("trajectories: the trace has no 'z' entry; record it with compare(record_iterates=True) "
                             "or run(..., metrics={'z': minimax.compare.iterate})")
        obj = trace["z"]
    z = np.asarray(obj, np.float64)
    if z.ndim == 3:
        z = z[seed]
    if z.ndim != 2:
        raise ValueError(f"trajectories: expected iterates of shape (steps, dim) or (seeds, steps, dim), got {z.shape}")
    return z


def _template(game: Game):
    """``(x, y)`` with the game's shapes: its equilibrium, else a point from ``game.init``."""
    if game.equilibrium is not None:
        return game.equilibrium
    if game.init is None:
        raise ValueError(f"game: {game.name!r} has neither an equilibrium nor an init, so its shapes are unknown")
    return game.init(jax.random.key(0))


def _sizes(game: Game) -> tuple[int, int]:
    x, y = _template(game)
    return ravel_pytree(x)[0].size, ravel_pytree(y)[0].size


def _new_ax(ax, figsize=(5.0, 4.4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


# -- phase portrait ------------------------------------------------------------------------------------------------
def _seed_paths(label: str, obj: Any, seed) -> list[np.ndarray]:
    """The ``(T, 2)`` paths of one trajectory to draw: seed ``seed`` of a batched one, or every seed for "all"."""
    if seed == "all":
        n = _seed_count(obj)
        return [_iterates(obj, k) for k in range(n)]
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed: expected a seed index or 'all', got {seed!r}")
    n = _seed_count(obj)
    if not 0 <= seed < n and n > 1:
        raise ValueError(f"seed: {label!r} has {n} seeds, so seed must be in [0, {n}) or 'all', got {seed}")
    return [_iterates(obj, int(seed))]


def _seed_text(counts: Sequence[int], seed) -> Optional[str]:
    """"seed 1 of 4" or "all 4 seeds" for batched trajectories; None when none is batched."""
    n = max(counts, default=1)
    if n <= 1:
        return None
    return f"all {n} seeds" if seed == "all" else f"seed {seed} of {n}"


def phase_portrait(
    game: Game,
    trajectories: Optional[Mapping[str, Any]] = None,
    *,
    ax=None,
    bounds: Optional[Sequence[float]] = None,
    density: float = 1.1,
    resolution: int = 41,
    seed: int | str = 0,
    xlabel: str = "x (minimiser)",
    ylabel: str = "y (maximiser)",
    title: Optional[str] = None,
    legend: bool = True,
):
    """The flow ``ż = −F(z)`` of a game with one scalar per player, as a stream plot, with trajectories over it.

    Each trajectory runs from a circle (its start) to a square (its end). One that leaves the frame (a diverging
    run) gets a cross where it crosses the frame's edge instead, so that every end drawn lies inside the Axes.
    Trajectories are drawn widest first, each with its own dash pattern and a few markers, so that two solvers that
    follow the same path stay visible. The legend's title says which seed is drawn.

    Args:
      game: a game whose x and y are one number each (scalars or length-1 arrays).
      trajectories: ``{label: iterates}``, each an array ``(steps, 2)`` (or ``(seeds, steps, 2)``), a trace with
        ``"z"``, or a Result.
      ax: the Axes to draw on (default: a new figure).
      bounds: ``(xmin, xmax, ymin, ymax)``; default: a square around the equilibrium (or origin) that holds the
        starting points and the trajectories that stay bounded, with a margin.
      density: stream-line density (matplotlib's ``streamplot``).
      resolution: grid points per axis at which F is evaluated.
      seed: which seed of batched trajectories to draw, or ``"all"`` for every seed (thinner, one legend entry
        per trajectory).
      xlabel, ylabel, title: text; the title defaults to the game's name (and the seed drawn).
      legend: draw a legend (right of the Axes).

    Returns:
      The Axes.
    """
    nx, ny = _sizes(game)
    if (nx, ny) != (1, 1):
        raise ValueError(f"game: a phase portrait needs one number per player; {game.name!r} has {nx} for x and "
                         f"{ny} for y")
    x_t, y_t = _template(game)
    _, unravel = ravel_pytree((x_t, y_t))
    trajectories = dict(trajectories or {})
    paths = {label: _seed_paths(label, v, seed) for label, v in trajectories.items()}
    for label, zs in paths.items():
        if zs[0].shape[1] != 2:
            raise ValueError(f"trajectories: {label!r} has iterates of dimension {zs[0].shape[1]}, expected 2")
    seed_text = _seed_text([_seed_count(v) for v in trajectories.values()], seed)
    centre = np.zeros(2)
    if game.equilibrium is not None:
        centre = np.asarray(ravel_pytree(game.equilibrium)[0], np.float64)
    every = [z for zs in paths.values() for z in zs]
    if bounds is None:
        # Frame the starting points and every trajectory that stays bounded (a cycle, a limit cycle), but not
        # the ones that run away: those leave the frame, and a cross marks where.
        start = max([1.0] + [float(np.linalg.norm(z[0] - centre)) for z in every])
        spans = [float(np.max(np.linalg.norm(z - centre, axis=1))) for z in every if np.all(np.isfinite(z))]
        half = 1.3 * max([start] + [s for s in spans if s <= 4 * start])
        bounds = (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)
    if len(bounds) != 4 or not (bounds[0] < bounds[1] and bounds[2] < bounds[3]):
        raise ValueError(f"bounds: expected (xmin, xmax, ymin, ymax) with min < max, got {tuple(bounds)}")
    xmin, xmax, ymin, ymax = map(float, bounds)

    gx, gy = np.meshgrid(np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution))
    dtype = jnp.result_type(ravel_pytree((x_t, y_t))[0])
    grid = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype)

    def flow(z):
        x, y = unravel(z)
        return -ravel_pytree(game.vector_field(x, y))[0]

    uv = np.asarray(jax.jit(jax.vmap(flow))(grid), np.float64)
    u, v = uv[:, 0].reshape(gx.shape), uv[:, 1].reshape(gx.shape)

    ax = _new_ax(ax)
    ax.streamplot(gx, gy, u, v, density=density, color="0.72", linewidth=0.7, arrowsize=0.9, zorder=1)
    box = (xmin, xmax, ymin, ymax)
    starts = [zs[0][0] for zs in paths.values()]
    shared_start = len(starts) > 1 and all(np.allclose(p, starts[0]) for p in starts)
    left = False
    for i, ((label, zs), lw) in enumerate(zip(paths.items(), _widths(len(paths)))):
        color = solver_color(label, i)
        dash, marker = _DASHES[i % len(_DASHES)], _PATH_MARKERS[i % len(_PATH_MARKERS)]
        for k, z in enumerate(zs):
            first = k == 0
            width = lw if len(zs) == 1 else 0.7 * lw
            ax.plot(z[:, 0], z[:, 1], color=color, lw=width, ls=dash, label=label if first else None,
                    zorder=3 + i, alpha=1.0 if first else 0.6, marker=marker, ms=4.5, mfc="white", mec=color,
                    mew=1.0, markevery=_marks(len(z), i, len(paths)))
            if not shared_start:
                ax.plot(z[0, 0], z[0, 1], "o", color=color, ms=7, mec="white", zorder=20, gid=f"start:{label}")
            exit_ = _exit_point(z, box)
            if exit_ is None:
                ax.plot(z[-1, 0], z[-1, 1], "s", color=color, ms=7, mec="white", zorder=20, gid=f"end:{label}")
            else:
                left = True
                ax.plot(*exit_[1], "X", color=color, ms=9, mec="white", zorder=22, clip_on=False,
                        gid=f"exit:{label}")
    if shared_start:
        ax.plot(*starts[0], "o", color="white", ms=8, mec="black", mew=1.3, zorder=21, gid="start:all")
    if game.equilibrium is not None:
        ax.plot(centre[0], centre[1], "*", color="black", ms=14, mec="white", label="equilibrium", zorder=21)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is None:
        title = f"{game.name}: flow −F(z) and trajectories" + (f", {seed_text}" if seed_text else "")
    ax.set_title(title)
    if legend and (paths or game.equilibrium is not None):
        from matplotlib.lines import Line2D

        handles, _ = ax.get_legend_handles_labels()
        if paths:
            handles += [Line2D([], [], ls="", marker="o", color="white", mec="black", label="start"),
                        Line2D([], [], ls="", marker="s", color="0.3", mec="white", ms=7, label="end")]
        if left:
            handles.append(Line2D([], [], ls="", marker="X", color="0.3", mec="white", ms=9,
                                  label="leaves the frame"))
        _legend_outside(ax, handles=handles, title=seed_text, title_fontsize="small")
    return ax


# -- convergence curves --------------------------------------------------------------------------------------------
def convergence(
    traces: Mapping[str, Any],
    *,
    metric: Optional[str] = None,
    x: str = "step",
    ax=None,
    predicted: Optional[Mapping[str, float]] = None,
    title: Optional[str] = None,
    legend: bool = True,
    clip_above: Optional[float] = 1e3,
    min_band: float = 0.03,
):
    """A metric against steps or gradient evaluations on a log scale, with a band over seeds.

    The line is the mean over seeds of log10(metric) (the geometric mean), the band ± one standard deviation of
    log10(metric): on a log axis the spread of runs is multiplicative, and a linear mean ± sd band would reach
    below zero. Non-positive values (a metric that underflowed to 0) are left out. A band is drawn only where it
    would be seen (wider than ``min_band`` of the Axes' height somewhere); the legend has a "± 1 sd" entry only
    when some band is drawn.

    Each label gets its own (colour, line style): the colour says the solver (the label's first word), the line
    style which of its labels (step sizes) it is. The legend sits right of the Axes.

    A diverging run would stretch the y-axis over hundreds of decades and flatten the others: the y-axis stops
    ``clip_above`` times above the largest first value, and a triangle on the top edge marks where a curve leaves.

    Args:
      traces: ``{label: trace or Result}``, each batched over seeds (``(seeds, records)`` arrays) or not.
      metric: the trace entry to draw (default: :func:`minimax.default_metric`: ``dist``, else ``gap``, else
        ``residual``, else ``grad_norm``).
      x: ``"step"`` or ``"grad_evals"``.
      ax: the Axes to draw on (default: a new figure).
      predicted: ``{label: rate}``, a per-step factor (e.g. a spectral radius or a closed form) drawn as a thin
        black dashed line ``metric_0 · rate^step`` from the curve's first value, over the measured curve.
      title: the Axes title.
      legend: draw a legend.
      clip_above: the top of the y-axis as a factor over the largest first value (None: the largest value drawn).
      min_band: the narrowest band drawn, as a fraction of the Axes' height (0: every band).

    Returns:
      The Axes.
    """
    if x not in _X_LABELS:
        raise ValueError(f"x: expected 'step' or 'grad_evals', got {x!r}")
    if not traces:
        raise ValueError("traces: expected at least one {label: trace}")
    if clip_above is not None and not clip_above > 1:
        raise ValueError(f"clip_above: expected a factor > 1 or None, got {clip_above!r}")
    if not 0 <= min_band < 1:
        raise ValueError(f"min_band: expected a fraction of the Axes' height in [0, 1), got {min_band!r}")
    ax = _new_ax(ax, (6.0, 4.2))
    predicted = dict(predicted or {})
    for label in predicted:
        if label not in traces:
            raise ValueError(f"predicted: {label!r} is not one of the traces' labels {list(traces)}")
    styles = _line_styles(list(traces))
    curves = {}
    for label, obj in traces.items():
        trace = _trace_of(obj)
        name = metric or diagnostics.default_metric(trace)
        if name not in trace:
            raise ValueError(f"metric: {name!r} is not in the trace of {label!r}; it has {sorted(trace)}")
        m = np.atleast_2d(np.asarray(trace[name], np.float64))
        steps = np.asarray(trace["step"], np.float64).reshape(-1, m.shape[-1])[0]
        axis = np.asarray(trace[x], np.float64).reshape(-1, m.shape[-1])[0]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of a diverged run
            logm = np.where((m > 0) & np.isfinite(m), np.log10(m), np.nan)
            mean, sd = np.nanmean(logm, axis=0), np.nanstd(logm, axis=0)
        curves[label] = (steps, axis, mean, sd, m.shape[0])

    # The y-range: every finite value, stopped clip_above times over the largest first value.
    finite = np.concatenate([c[2][np.isfinite(c[2])] for c in curves.values()] + [np.zeros(0)])
    firsts = [c[2][0] for c in curves.values() if np.isfinite(c[2][0])]
    if finite.size:
        top, bottom = float(finite.max()), float(finite.min())
        if clip_above is not None and firsts:
            top = min(top, max(firsts) + np.log10(clip_above))
        top, bottom = (top + 0.5, bottom - 0.5) if top - bottom < 1e-9 else (top, bottom)
        span = top - bottom
        lo, hi = max(bottom - 0.04 * span, -300.0), min(top + 0.04 * span, 300.0)  # float64 stays finite
    else:
        lo, hi, span = -1.0, 1.0, 2.0

    seeds_seen, bands, left = set(), 0, False
    drawn_prediction = False
    for i, (label, (steps, axis, mean, sd, n_seeds)) in enumerate(curves.items()):
        style = styles[label]
        color = style["color"]
        seeds_seen.add(n_seeds)
        ax.plot(axis, 10**mean, color=color, ls=style["ls"], lw=2.6 if predicted else 1.7,
                alpha=0.75 if predicted else 1.0, label=label, zorder=3 + i)
        if n_seeds > 1 and np.nanmax(np.where(np.isfinite(sd), 2 * sd, 0.0), initial=0.0) >= min_band * (hi - lo):
            ax.fill_between(axis, 10 ** (mean - sd), 10 ** (mean + sd), color=color, alpha=0.2, lw=0,
                            gid=f"band:{label}")
            bands += 1
        out = ~(np.isfinite(mean) & (mean <= hi))
        if out.any() and not out[0]:
            j = int(np.argmax(out))
            xe = axis[j - 1]
            if np.isfinite(mean[j]) and mean[j] > mean[j - 1]:
                xe = axis[j - 1] + (hi - mean[j - 1]) / (mean[j] - mean[j - 1]) * (axis[j] - axis[j - 1])
            ye = 10 ** hi if np.isfinite(mean[j]) else 10 ** min(mean[j - 1], hi)
            ax.plot(xe, ye, "^", color=color, ms=8, mec="white", clip_on=False, zorder=20, gid=f"exit:{label}")
            left = True
        if label in predicted:
            rate = float(predicted[label])
            with np.errstate(over="ignore"):
                ref = 10 ** mean[0] * rate ** (steps - steps[0])
            ax.plot(axis, ref, color="black", lw=1.0, ls=(0, (4, 3)), zorder=5 + len(curves),
                    label=None if drawn_prediction else "predicted: ρᵗ from the first value")
            drawn_prediction = True
    ax.set_yscale("log")
    ax.set_ylim(10**lo, 10**hi)
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel(METRIC_LABELS.get(metric or "", metric) if metric else _metric_label(traces))
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
    if legend:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        n = max(seeds_seen)
        handles, _ = ax.get_legend_handles_labels()
        if bands:
            handles.append(Patch(color="0.5", alpha=0.3, lw=0, label="± 1 sd of log10 over seeds"))
        if left:
            handles.append(Line2D([], [], ls="", marker="^", color="0.3", mec="white", ms=8,
                                  label="leaves the plot (diverges)"))
        _legend_outside(ax, handles=handles, title=f"geometric mean of {n} seeds" if n > 1 else None,
                        title_fontsize="small")
    return ax


def _metric_label(traces):
    name = diagnostics.default_metric(_trace_of(next(iter(traces.values()))))
    return METRIC_LABELS.get(name, name)


def convergence_figure(traces: Mapping[str, Any], *, metric: Optional[str] = None, title: Optional[str] = None):
    """Two panels: the metric against steps and against gradient evaluations. Returns the Figure."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11.0, 4.2), layout="constrained", sharey=True)
    convergence(traces, metric=metric, x="step", ax=a, legend=False)
    convergence(traces, metric=metric, x="grad_evals", ax=b, legend=True)
    b.set_ylabel("")
    b.tick_params(labelleft=True)
    if title:
        fig.suptitle(title)
    return fig


def rates_against_step_size(
    rows: Sequence[Mapping],
    *,
    closed_forms: Optional[Mapping[str, Any]] = None,
    per: str = "step",
    ax=None,
    title: Optional[str] = None,
    clip_above: Optional[float] = 2.0,
):
    """Measured contraction factors against the step size, one series per solver, from a comparison's rows.

    Circles: the measured rate (``rate_step`` or ``rate_eval``); crosses: the spectral radius at the equilibrium
    (per step only, when the rows have one); lines: ``closed_forms[solver](eta)`` where given. Below the dotted
    line at 1 a method converges, above it it moves away.

    Args:
      rows: rows of :func:`minimax.compare.compare` over several step sizes.
      closed_forms: ``{solver: fn(step_size) -> factor}`` drawn as lines.
      per: ``"step"`` or ``"grad_eval"``.
      ax: the Axes to draw on (default: a new figure).
      title: the Axes title.
      clip_above: the top of the y-axis when some factor is larger (a run that diverges fast); those factors
        are drawn as triangles on the top edge. None: no clipping.

    Returns:
      The Axes.
    """
    if per not in ("step", "grad_eval"):
        raise ValueError(f"per: expected 'step' or 'grad_eval', got {per!r}")
    rows = list(rows)
    if not rows:
        raise ValueError("rows: expected the rows of compare(...) over several step sizes")
    solvers = list(dict.fromkeys(r["solver"] for r in rows))
    closed_forms = dict(closed_forms or {})
    for name in closed_forms:
        if name not in solvers:
            raise ValueError(f"closed_forms: {name!r} is not one of the rows' solvers {solvers}")
    ax = _new_ax(ax, (7.0, 4.4))
    etas = np.array([r["step_size"] for r in rows], np.float64)
    fine = np.linspace(0.0, etas.max() * 1.05, 400)[1:]
    key = "rate_step" if per == "step" else "rate_eval"
    from matplotlib.lines import Line2D

    handles, kinds, values = [], set(), []
    for i, name in enumerate(solvers):
        color = solver_color(name, i)
        handles.append(Line2D([], [], color=color, lw=6, alpha=0.6, label=name))
        mine = [r for r in rows if r["solver"] == name]
        if name in closed_forms:
            ax.plot(fine, [closed_forms[name](e) for e in fine], color=color, lw=1.3)
            kinds.add("closed")
        pts = [(r["step_size"], r[key]) for r in mine if r[key] is not None]
        values += [v for _, v in pts]
        if clip_above is not None:
            above = [(e, clip_above) for e, v in pts if not v <= clip_above]
            pts = [(e, v) for e, v in pts if v <= clip_above]
            if above:
                ax.plot(*zip(*above), "^", color=color, ms=7, clip_on=False, zorder=20, gid=f"above:{name}")
                kinds.add("above")
        if pts:
            ax.plot(*zip(*pts), "o", color=color, mfc="none", ms=7, mew=1.4)
            kinds.add("measured")
        radii = [(r["step_size"], r["radius"]) for r in mine if r.get("radius") is not None]
        if per == "step" and radii:
            ax.plot(*zip(*radii), "x", color=color, ms=5)
            kinds.add("radius")
    styles = {"closed": dict(color="black", lw=1.3, label="closed form"),
              "measured": dict(color="black", ls="", marker="o", mfc="none", ms=7, label="measured"),
              "radius": dict(color="black", ls="", marker="x", ms=5, label="spectral radius at equilibrium"),
              "above": dict(color="black", ls="", marker="^", ms=7, label=f"measured, above {clip_above:g}")}
    handles += [Line2D([], [], **styles[k]) for k in ("closed", "measured", "radius", "above") if k in kinds]
    if "above" in kinds:
        finite = [v for v in values if np.isfinite(v)]
        ax.set_ylim(min(min(finite, default=0.0), 1.0) - 0.05, clip_above)
    ax.axhline(1, color="0.4", lw=0.8, ls=":")
    ax.set_xlabel("step size η")
    ax.set_ylabel("factor per step" if per == "step" else "factor per gradient evaluation")
    ax.set_title(title if title is not None else "contraction factor against the step size")
    ax.grid(True, alpha=0.3)
    _legend_outside(ax, handles=handles)
    return ax


# -- spectra -------------------------------------------------------------------------------------------------------
def _point(game: Game, point):
    if point is not None:
        return point
    if game.equilibrium is None:
        raise ValueError(f"point: {game.name!r} knows no equilibrium, so pass the point (x, y) to linearise at")
    return game.equilibrium


def update_spectra(
    game: Game,
    solvers: Mapping[str, Any],
    *,
    point=None,
    ax=None,
    zoom: bool = False,
    legend: bool = True,
    title: Optional[str] = None,
    step_sizes: Optional[Sequence[float]] = None,
):
    """Eigenvalues of each solver's linearised update at ``point`` (default: the equilibrium), with the unit circle.

    Inside the circle the solver contracts toward the point, outside it moves away; memory (OGDA's previous
    update, momentum, lookahead's slow weights) adds eigenvalues. The legend gives each per-step spectral radius ρ.

    Args:
      game: the game.
      solvers: ``{label: Solver}``; with ``step_sizes``, ``{label: factory}``, each ``factory(step_size)`` a Solver
        (as :data:`minimax.compare.SOLVERS` or a comparison row's ``"factory"``).
      point: ``(x, y)`` at which to linearise.
      ax: the Axes to draw on (default: a new figure).
      zoom: frame the eigenvalues of largest modulus closely instead of the whole circle (the unit circle's arc
        stays drawn), to see whether they lie just inside or just outside.
      legend: draw a legend (right of the Axes).
      title: the Axes title.
      step_sizes: draw one set of eigenvalues per solver and step size, labelled ``"label η=step"``: the colour
        says the solver, the marker the step size.

    Returns:
      The Axes.
    """
    if step_sizes is not None:
        step_sizes = [float(e) for e in step_sizes]
        if not step_sizes or any(not (np.isfinite(e) and e > 0) for e in step_sizes):
            raise ValueError(f"step_sizes: expected positive step sizes, got {step_sizes}")
        for label, factory in solvers.items():
            if not callable(factory):
                raise ValueError(f"solvers: with step_sizes, {label!r} must be a factory step_size -> Solver, "
                                 f"got a {type(factory).__name__}")
        solvers = {f"{label} η={e:g}": factory(e) for label, factory in solvers.items() for e in step_sizes}
    spectra = _solver_spectra(game, solvers, point)
    return _draw_spectra(_new_ax(ax), spectra, zoom=zoom, legend=legend, title=title)


def _solver_spectra(game: Game, solvers: Mapping[str, Any], point) -> dict:
    x, y = _point(game, point)
    out = {}
    for label, solver in solvers.items():
        out[label] = update_spectrum(game, solver, x, y)
    return out


def _radius_text(radius: float) -> str:
    return f"{radius:.5f}" if abs(radius) < 1e3 else f"{radius:.4g}"  # 1.000e+20, not 21 digits


def _draw_spectra(ax, spectra: Mapping[str, tuple], *, zoom: bool, legend: bool, title: Optional[str]):
    every = np.concatenate([e for e, _ in spectra.values()]) if spectra else np.zeros(0, complex)
    every = every[np.isfinite(every)]
    window = None
    if zoom and every.size:
        top = every[np.argmax(np.abs(every))]
        top = complex(top.real, abs(top.imag))  # the upper half plane: spectra of real maps are symmetric
        same_half = every[(every.imag >= -1e-12) if top.imag > 0 else np.ones(every.shape, bool)]
        near = same_half[np.abs(same_half - top) < 0.2]
        # at least 1e-4 of the largest |λ| (and of 1): a window narrower than float resolution cannot be drawn
        half = max(float(np.max(np.abs(near - top))) * 1.5, 1e-4 * max(1.0, abs(top)))
        window = (top, half)
        arg = np.angle(top)
        theta = np.linspace(arg - 4 * half, arg + 4 * half, 801)
    else:
        theta = np.linspace(0, 2 * np.pi, 721)
    ax.plot(np.cos(theta), np.sin(theta), color="0.4", lw=1.0, ls="--", label="unit circle |λ| = 1", zorder=1)
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    markers = "oDs^v<>ph*"
    sizes = [110 - 18 * i if i < 4 else 40 for i in range(len(spectra))]
    styles = _line_styles(list(spectra))
    for i, (label, (eig, radius)) in enumerate(spectra.items()):
        ax.scatter(eig.real, eig.imag, s=max(sizes[i], 36), marker=markers[i % len(markers)], facecolor="none",
                   edgecolor=styles[label]["color"], linewidth=1.6,
                   label=f"{label} (ρ = {_radius_text(radius)})" if np.isfinite(radius)
                   else f"{label} (not finite, not drawn)",
                   zorder=3 + i)
    ax.set_aspect("equal")
    if window is not None:
        top, half = window
        ax.set_xlim(top.real - half, top.real + half)
        ax.set_ylim(top.imag - half, top.imag + half)
        ax.ticklabel_format(useOffset=False)  # 0.9995, not -0.0005 + 1
    else:
        r = max(1.15, float(np.max(np.abs(every))) * 1.1) if every.size else 1.15
        ax.set_xlim(-r, r)
        ax.set_ylim(-r, r)
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    default = "update eigenvalues, zoomed on the largest |λ|" if zoom else "eigenvalues of the linearised update"
    ax.set_title(title if title is not None else default)
    if legend:
        _legend_outside(ax)
    return ax


def jacobian_spectrum(game: Game, *, point=None, ax=None, title: Optional[str] = None):
    """Eigenvalues of the game Jacobian ``J = ∂F/∂z`` at ``point`` (default: the equilibrium).

    Re λ > 0 for every eigenvalue: GDA with a small enough step converges; Re λ = 0 (a bilinear game, the
    Dirac-GAN without regularisation): pure rotation, GDA spirals out.

    Returns:
      The Axes.
    """
    x, y = _point(game, point)
    eig = spectra.jacobian_eigenvalues(game, x, y)
    ax = _new_ax(ax)
    lim = max(1.0, float(np.max(np.abs(eig))) * 1.3)
    ax.axvspan(0, lim, color="#2ca02c", alpha=0.07, lw=0, label="Re λ > 0: GDA converges for small steps")
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.4", lw=1.0, ls="--", zorder=1)
    ax.scatter(eig.real, eig.imag, s=60, color="black", marker="x", label="eigenvalues of J", zorder=3)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_title(title if title is not None else "game Jacobian ∂F/∂z at the equilibrium")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), framealpha=0.9)
    return ax


# -- matrix games on the simplex -----------------------------------------------------------------------------------
_SQRT3 = np.sqrt(3.0)


def _to_triangle(p: np.ndarray) -> np.ndarray:
    """Barycentric (…, 3) → Cartesian (…, 2): corners (0, 0), (1, 0), (1/2, √3/2) for actions 1, 2, 3."""
    return np.stack([p[..., 1] + 0.5 * p[..., 2], 0.5 * _SQRT3 * p[..., 2]], axis=-1)


def _draw_triangle(ax, actions: Sequence[str]):
    corners = _to_triangle(np.eye(3))
    ax.fill(corners[:, 0], corners[:, 1], color="0.97", ec="0.3", lw=1.0, zorder=0)
    for frac in (0.25, 0.5, 0.75):  # grid lines at constant probabilities
        for k in range(3):
            a, b = np.zeros(3), np.zeros(3)
            a[k], b[k] = frac, frac
            a[(k + 1) % 3], b[(k + 2) % 3] = 1 - frac, 1 - frac
            seg = _to_triangle(np.stack([a, b]))
            ax.plot(seg[:, 0], seg[:, 1], color="0.88", lw=0.6, zorder=0)
    offsets = ((-0.04, -0.06), (0.04, -0.06), (0.0, 0.04))
    aligns = ("right", "left", "center")
    for k in range(3):
        ax.text(corners[k, 0] + offsets[k][0], corners[k, 1] + offsets[k][1], actions[k], ha=aligns[k],
                va="center", fontsize="medium")
    ax.set_xlim(-0.22, 1.22)
    ax.set_ylim(-0.14, 0.98)
    ax.set_aspect("equal")
    ax.axis("off")


def simplex_trajectories(
    game: Game,
    trajectories: Mapping[str, Any],
    *,
    actions: Optional[tuple[Sequence[str], Sequence[str]]] = None,
    seed: int = 0,
    title: Optional[str] = None,
    record_every: int = 1,
):
    """Both players' mixed strategies over a run of a matrix game.

    3 actions: a triangle per player (each corner a pure strategy, named). 2 actions for both: one square with the
    probability of each player's first action. Other sizes: each action's probability against the step, the
    colour saying the trajectory and the line style the action, with every action in the legend.

    Args:
      game: a matrix game (both players on simplices).
      trajectories: ``{label: iterates}`` as in :func:`phase_portrait`, the flattened ``(x, y)``.
      actions: names of the actions of x and of y (default ``action 1, action 2, ...``).
      seed: which seed of batched trajectories to draw (the title says which).
      title: the figure title (default: the game's name).
      record_every: steps between two rows of iterates given as arrays (a trace's own ``"step"`` is used when
        it has one).

    Returns:
      The Figure.
    """
    n, m = _sizes(game)
    if not isinstance(record_every, (int, np.integer)) or record_every < 1:
        raise ValueError(f"record_every: expected a positive integer, got {record_every!r}")
    paths = {label: _seed_paths(label, v, seed)[0] for label, v in trajectories.items()}
    for label, z in paths.items():
        if z.shape[1] != n + m:
            raise ValueError(f"trajectories: {label!r} has iterates of dimension {z.shape[1]}, the game has {n + m}")
    if actions is None:
        actions = ([f"action {i + 1}" for i in range(n)], [f"action {j + 1}" for j in range(m)])
    for p, (names, size, who) in enumerate(zip(actions, (n, m), ("x", "y"))):
        if len(names) != size:
            raise ValueError(f"actions: {len(names)} names given for {who}, which has {size} actions")
    eq = None
    if game.equilibrium is not None:
        eq = np.asarray(ravel_pytree(game.equilibrium)[0], np.float64)
    seed_text = _seed_text([_seed_count(v) for v in trajectories.values()], seed)
    title = title if title is not None else f"{game.name}: mixed strategies"
    if seed_text:
        title = f"{title} ({seed_text})"
    from matplotlib.lines import Line2D

    def path_style(i, z):
        return dict(ls=_DASHES[i % len(_DASHES)], marker=_PATH_MARKERS[i % len(_PATH_MARKERS)], ms=4, mfc="white",
                    markevery=_marks(len(z), i, len(paths)))

    if n == m == 2:
        fig, ax = plt.subplots(figsize=(5.0, 4.6), layout="constrained")
        for i, ((label, z), lw) in enumerate(zip(paths.items(), _widths(len(paths)))):
            color = solver_color(label, i)
            ax.plot(z[:, 0], z[:, n], color=color, lw=lw, label=label, mec=color, zorder=3 + i, **path_style(i, z))
            ax.plot(z[0, 0], z[0, n], "o", color=color, mec="white", zorder=20)
            ax.plot(z[-1, 0], z[-1, n], "s", color=color, mec="white", zorder=20, gid=f"end:{label}")
        if eq is not None:
            ax.plot(eq[0], eq[n], "*", color="black", ms=13, mec="white", label="equilibrium", zorder=21)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel(f"x (minimiser): probability of {actions[0][0]}")
        ax.set_ylabel(f"y (maximiser): probability of {actions[1][0]}")
        _legend_outside(ax, title="○ start  □ end", title_fontsize="small")
        fig.suptitle(title)
        return fig

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.0), layout="constrained")
    for p, (ax, size, offset, who) in enumerate(zip(axes, (n, m), (0, n), ("x (minimiser)", "y (maximiser)"))):
        names = list(actions[p])
        if size == 3:
            _draw_triangle(ax, names)
            for i, ((label, z), lw) in enumerate(zip(paths.items(), _widths(len(paths)))):
                pts = _to_triangle(z[:, offset:offset + 3])
                color = solver_color(label, i)
                ax.plot(pts[:, 0], pts[:, 1], color=color, lw=0.7 * lw, label=label, mec=color, zorder=3 + i,
                        **path_style(i, z))
                ax.plot(pts[0, 0], pts[0, 1], "o", color=color, mec="white", zorder=20)
                ax.plot(pts[-1, 0], pts[-1, 1], "s", color=color, mec="white", zorder=20, gid=f"end:{label}")
            if eq is not None:
                star = _to_triangle(eq[offset:offset + 3])
                ax.plot(star[0], star[1], "*", color="black", ms=13, mec="white", label="equilibrium", zorder=21)
            ax.set_title(f"{who}")
            if p == 1:
                _legend_outside(ax, title="○ start  □ end\ncorners: pure strategies", title_fontsize="small")
        else:
            handles = []
            for i, (label, z) in enumerate(paths.items()):
                color = solver_color(label, i)
                steps = _record_steps(trajectories[label], z.shape[0], record_every)
                handles.append(Line2D([], [], color=color, lw=4, alpha=0.7, label=label))
                for a in range(size):
                    ax.plot(steps, z[:, offset + a], color=color, ls=_DASHES[a % len(_DASHES)], lw=1.2,
                            marker=_MARKERS[a % len(_MARKERS)] if a >= len(_DASHES) else None, ms=4,
                            markevery=0.1, label=f"{label}: {names[a]}", zorder=3 + i)
            for a in range(size):
                handles.append(Line2D([], [], color="black", lw=1.2, ls=_DASHES[a % len(_DASHES)],
                                      marker=_MARKERS[a % len(_MARKERS)] if a >= len(_DASHES) else None, ms=4,
                                      label=names[a]))
            ax.set_ylim(0, 1)
            ax.set_xlabel("step")
            ax.set_ylabel("probability")
            ax.set_title(f"{who}")
            ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                      borderaxespad=0.0, title="actions of " + who.split(" ")[0], title_fontsize="small")
    fig.suptitle(title)
    return fig


# -- the figures of a comparison -----------------------------------------------------------------------------------
def comparison_figures(game: Game, rows: Sequence[Mapping], *, seed: int = 0) -> dict:
    """The figures of a comparison, as the command line writes them.

    Args:
      game: the game compared.
      rows: rows of :func:`minimax.compare.compare` run with ``keep_results=True`` (and ``record_iterates=True``
        for the phase portrait and simplex figures).
      seed: the seed whose trajectory is drawn.

    Returns:
      ``{name: Figure}`` with ``"convergence"`` (the metric against steps and against gradient evaluations);
      ``"phase"`` for games with one number per player; ``"spectrum"`` (the game Jacobian's eigenvalues and
      each solver's update eigenvalues) when the game knows a single equilibrium and is unconstrained;
      ``"simplex"`` for matrix games with iterates recorded.
    """
    rows = list(rows)
    if not rows or any("result" not in r for r in rows):
        raise ValueError("rows: expected the rows of compare(..., keep_results=True)")
    step_sizes = sorted({r["step_size"] for r in rows})
    many = len(step_sizes) > 1

    def label(r):
        return f"{r['solver']} η={r['step_size']:g}" if many else r["solver"]

    figs = {}
    traces = {label(r): r["result"].trace for r in rows}
    figs["convergence"] = convergence_figure(
        traces, title=f"{game.name}: {rows[0]['steps']} steps, {rows[0]['seeds']} seeds")

    has_z = all("z" in r["result"].trace for r in rows)
    n, m = _sizes(game)
    panels = step_sizes[:3]
    if has_z and (n, m) == (1, 1):
        fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 2.0, 4.6), layout="constrained",
                                 squeeze=False)
        for i, (ax, lr) in enumerate(zip(axes[0], panels)):
            cell = {r["solver"]: r["result"].trace for r in rows if r["step_size"] == lr}
            phase_portrait(game, cell, ax=ax, seed=seed,
                           title=f"{game.name}, step size η = {lr:g}, seed {seed} of {rows[0]['seeds']}",
                           legend=i == len(panels) - 1)
        figs["phase"] = fig

    constrained = game.x_constraint is not None or game.y_constraint is not None
    if has_z and isinstance(game.x_constraint, Simplex) and isinstance(game.y_constraint, Simplex):
        lr = panels[0]
        cell = {r["solver"]: r["result"].trace for r in rows if r["step_size"] == lr}
        figs["simplex"] = simplex_trajectories(game, cell, seed=seed,
                                               title=f"{game.name}, step size η = {lr:g}")

    if game.equilibrium is not None and game.distance is None and not constrained and "factory" in rows[0]:
        # One row per step size: its update eigenvalues and a zoom on the largest; the game Jacobian, which no
        # step size changes, once at the top left.
        k = len(step_sizes)
        mosaic = [["J" if i == 0 else ".", f"full{i}", f"zoom{i}"] for i in range(k)]
        fig, axes = plt.subplot_mosaic(mosaic, figsize=(14.0, 0.4 + 4.0 * k), layout="constrained")
        jacobian_spectrum(game, ax=axes["J"])
        for i, lr in enumerate(step_sizes):
            spectra = _solver_spectra(game, {r["solver"]: r["factory"](lr) for r in rows if r["step_size"] == lr},
                                      None)
            _draw_spectra(axes[f"full{i}"], spectra, zoom=False, legend=False, title=f"update eigenvalues, η = {lr:g}")
            _draw_spectra(axes[f"zoom{i}"], spectra, zoom=True, legend=True,
                          title=f"η = {lr:g}: zoom on the largest |λ|")
        figs["spectrum"] = fig
    return figs
