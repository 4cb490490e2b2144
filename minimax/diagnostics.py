r"""Diagnostics: pure functions of a game and a point, or of a trace.

* Point metrics: :func:`vector_field`, :func:`distance_to_equilibrium`, :func:`duality_gap` (jittable).
* Linearisation: :func:`jacobian` of the vector field and its eigenvalues; :func:`update_jacobian` of a solver's
  whole update map (memory such as OGDA's previous update included), as dense matrices built with ``jax.jacfwd``.
  Their eigenvalues, dense or matrix-free, live in :mod:`minimax.spectra`.
* Trace analysis: :func:`empirical_rate` and :func:`classify` (converged / stalled / cycling / noise floor /
  diverged). NumPy, host-side.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from minimax import _tree
from minimax.constraints import retract
from minimax.solvers import check_solver_fits

__all__ = [
    "vector_field",
    "distance_to_equilibrium",
    "duality_gap",
    "natural_residual",
    "jacobian",
    "update_jacobian",
    "default_metric",
    "empirical_rate",
    "classify",
    "VERDICTS",
]

#: Every label :func:`classify` gives, in the order that breaks ties in a majority over seeds.
VERDICTS = ("converged", "stalled", "cycling", "noise floor", "diverged", "non-finite")


#: The trace metrics the library computes; a user metric may be non-finite by design (an infinite KL divergence).
BUILTIN_METRICS = ("value", "loss_x", "loss_y", "grad_norm", "residual", "dist", "dist_avg", "dist_ema", "gap",
                   "gap_avg", "gap_ema")


def _default_key(key):
    return jax.random.key(0) if key is None else key


def check_point(game, x, y, key=None) -> None:
    """The point checks of :func:`minimax.run` (structure and shapes against ``game.init`` and the equilibrium,
    feasibility, a scalar payoff) for concrete x and y, naming ``x`` and ``y``; nothing under a trace."""
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves((x, y, key))):
        return
    from minimax.driver import check_point as _check  # the driver imports this module

    _check(game, x, y, _default_key(key), names=("x", "y"))


# -- point metrics -------------------------------------------------------------------------------------------------
def vector_field(game):
    """Returns ``F(x, y, key=None) -> (F_x, F_y)``, the simultaneous gradient ``(grad_x f, -grad_y f)``."""

    def field(x, y, key=None):
        return game.vector_field(x, y, key)

    return field


def distance_to_equilibrium(game, x, y) -> jax.Array:
    """Distance from (x, y) to the game's equilibrium (or equilibrium set, when the game defines one)."""
    check_point(game, x, y)
    if game.distance is not None:
        return jnp.asarray(game.distance(x, y))
    if game.equilibrium is None:
        raise ValueError(f"game: {game.name!r} does not know its equilibrium (pass equilibrium= to Game)")
    xs, ys = game.equilibrium
    diff = jax.tree.map(lambda a, b: a - jnp.asarray(b, jnp.result_type(a)), (x, y), (xs, ys))
    return _tree.norm(diff)


def duality_gap(game, x, y, *, key=None) -> jax.Array:
    r"""``max_y' f(x, y') - min_x' f(x', y)``, from the game's best responses; zero exactly at a saddle point.

    Exact for matrix games (``max_j (A^T x)_j - min_i (A y)_i``) and for any game that supplies
    ``best_response_x`` and ``best_response_y``.
    """
    if not game.has_best_responses:
        raise ValueError(
            f"game: {game.name!r} has no best responses, so its duality gap is unknown "
            "(zero-sum games can pass best_response_x= and best_response_y= to Game)"
        )
    check_point(game, x, y, key)
    key = _default_key(key)
    k1, k2 = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    upper = game.value(x, game.best_response_y(x, key=k1), key=key)
    lower = game.value(game.best_response_x(y, key=k2), y, key=key)
    return upper - lower


def natural_residual(game, x, y, *, key=None, field=None) -> jax.Array:
    r"""``||z - P(z - F(z))||``: zero exactly at a solution of the constrained problem (a saddle point).

    For unconstrained players P is the identity and this is the vector-field norm ``||F(z)||``; for constrained
    players (simplex, box, ball) ``||F||`` does not vanish at the equilibrium, but this residual does.
    :func:`minimax.run` records it as ``trace["residual"]`` when either player is constrained.

    Args:
      game: the game.
      x: the minimiser's point.
      y: the maximiser's point.
      key: feeds a stochastic game's vector field.
      field: ``F(x, y)`` when it is already computed (``key`` is then unused).
    """
    if field is None:
        check_point(game, x, y, key)
    gx, gy = game.vector_field(x, y, key) if field is None else field
    px = retract(game.x_constraint, "euclidean", x, _tree.scale(-1, gx))
    py = retract(game.y_constraint, "euclidean", y, _tree.scale(-1, gy))
    diff = jax.tree.map(lambda a, b: a - b, (x, y), (px, py))
    return _tree.norm(diff)


# -- linearisation -------------------------------------------------------------------------------------------------
def jacobian(game, x, y, *, key=None) -> jax.Array:
    """The game Jacobian ``dF/dz`` at (x, y) as a dense matrix over the flattened ``z = (x, y)``."""
    check_point(game, x, y, key)
    return _jacobian(game, x, y, _default_key(key))


@functools.partial(jax.jit, static_argnums=0)  # one compilation per game, not op-by-op dispatch of batched JVPs
def _jacobian(game, x, y, key):
    flat, unravel = ravel_pytree((x, y))

    def field(v):
        x_, y_ = unravel(v)
        return ravel_pytree(game.vector_field(x_, y_, key))[0]

    return jax.jacfwd(field)(flat)


def _memory_split(state):
    """Floating-point state leaves that evolve (memory), excluding injected hyperparameters (constants)."""
    leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(state)

    def is_memory(path, leaf):
        names = {getattr(k, "name", getattr(k, "key", None)) for k in path}
        return _tree._is_numeric_float(leaf) and not ({"hyperparams", "hyperparams_states"} & names)

    mask = [is_memory(p, leaf) for p, leaf in leaves_with_path]
    leaves = [leaf for _, leaf in leaves_with_path]
    memory = [leaf for leaf, m in zip(leaves, mask) if m]

    def rebuild(new):
        it = iter(new)
        return jax.tree.unflatten(treedef, [next(it) if m else leaf for leaf, m in zip(leaves, mask)])

    return memory, rebuild


def update_jacobian(game, solver, x, y, *, state=None, key=None) -> jax.Array:
    """Jacobian of one period of ``solver``'s update map at (x, y), memory included.

    The map is ``(z, m) -> (z', m')`` where m are the floating-point leaves of the solver state that evolve
    (OGDA's previous update, momentum, lookahead's slow weights; not injected hyperparameters). Unless ``state``
    is given, the solver is first stepped once from (x, y) so that first-step special cases (OGDA's plain first
    step) are behind it; at a fixed point this leaves (x, y) unchanged. The period is ``solver.period`` steps.

    Only leaves under a field named ``hyperparams`` (``optax.inject_hyperparams``) are treated as constants.
    Other floating-point state that never changes (a constant stored by some optimizer) adds eigenvalues exactly
    1 to the spectrum; pass ``state`` with such leaves as non-float, or read the spectrum with that in mind.
    """
    check_solver_fits(game, solver)
    check_point(game, x, y, key)
    return _update_jacobian(game, solver, x, y, state, _default_key(key))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _update_jacobian(game, solver, x, y, state, key):
    period_map, flat = update_map(game, solver, x, y, state, key)
    return jax.jacfwd(period_map)(flat)


def update_map(game, solver, x, y, state, key):
    """``(period_map, z0)``: one period of ``solver`` as a map of the flat (x, y, memory) vector, and its point."""
    if state is None:
        state = solver.init(x, y)
        _, _, state = solver.step(game, x, y, state, key)
    memory, rebuild = _memory_split(state)
    flat, unravel = ravel_pytree((x, y, memory))

    def period_map(v):
        x_, y_, mem = unravel(v)

        def body(carry, i):
            a, b, s = carry
            return solver.step(game, a, b, s, jax.random.fold_in(key, i)), None

        (x_, y_, s), _ = jax.lax.scan(body, (x_, y_, rebuild(mem)), jnp.arange(solver.period))
        return ravel_pytree((x_, y_, _memory_split(s)[0]))[0]

    return period_map, flat


# -- trace analysis -------------------------------------------------------------------------------------------------
_DEFAULT_METRICS = ("dist", "gap", "residual", "grad_norm")


def default_metric(trace: dict) -> str:
    """The metric a verdict is based on: each is zero exactly at an equilibrium, taken in this order.

    Distance to the equilibrium if known, else the duality gap if best responses are known, else the natural
    residual (recorded for games with a constrained player, where the vector-field norm need not vanish at the
    equilibrium), else the vector-field norm.
    """
    for name in _DEFAULT_METRICS:
        if name in trace:
            return name
    raise ValueError(f"trace: it has none of {', '.join(repr(n) for n in _DEFAULT_METRICS)}")


def _tail_start(steps: np.ndarray, tail: float) -> int:
    target = steps[-1] - tail * (steps[-1] - steps[0])
    return int(min(np.searchsorted(steps, target, side="left"), len(steps) - 2))


def empirical_rate(trace: dict, metric: Optional[str] = None, *, tail: float = 0.5, per: str = "step"):
    """Measured linear rate of ``trace[metric]`` over the last ``tail`` of the run.

    Returns ``(m_end / m_start) ** (1 / n)`` where n counts the steps (``per="step"``) or gradient evaluations
    (``per="grad_eval"``) between the two records. Below 1: converging; above 1: spiralling out. Works on a
    batched trace (from ``vmap``) and returns an array of rates then.
    """
    metric = metric or default_metric(trace)
    if per not in ("step", "grad_eval"):
        raise ValueError(f"per: expected 'step' or 'grad_eval', got {per!r}")
    if not 0 < tail <= 1:
        raise ValueError(f"tail: expected a fraction in (0, 1], got {tail!r}")
    m = np.asarray(trace[metric], dtype=np.float64)
    axis = np.broadcast_to(np.asarray(trace["step" if per == "step" else "grad_evals"], np.float64), m.shape)
    steps = np.broadcast_to(np.asarray(trace["step"], np.float64), m.shape)
    if m.shape[-1] < 2:
        raise ValueError("trace: needs at least two records to measure a rate")
    live = _live(trace, m.shape)
    rows = [_rate_one(mi[li], si[li], ai[li], tail) for mi, si, ai, li in zip(
        m.reshape(-1, m.shape[-1]), steps.reshape(-1, m.shape[-1]), axis.reshape(-1, m.shape[-1]),
        live.reshape(-1, m.shape[-1]))]
    rate = np.asarray(rows).reshape(m.shape[:-1])
    return rate if rate.ndim else float(rate)


def _live(trace: dict, shape) -> np.ndarray:
    """Records taken before any divergence: after one, ``steps_completed`` stops following ``step``."""
    if "steps_completed" not in trace:
        return np.ones(shape, bool)
    return np.broadcast_to(np.asarray(trace["steps_completed"]) >= np.asarray(trace["step"]), shape)


def _rate_one(m: np.ndarray, steps: np.ndarray, axis: np.ndarray, tail: float) -> float:
    # Measure only while the metric is above the floating-point floor: once it underflows to 0 the rate is lost.
    if len(m) < 2:
        return float("nan")
    alive = np.flatnonzero(~(np.isfinite(m) & (m > _FLOOR)))
    end = len(m) if alive.size == 0 else int(alive[0])
    if end < 2:
        return float("nan")
    m, steps, axis = m[:end], steps[:end], axis[:end]
    i0 = _tail_start(steps, tail)
    span = axis[-1] - axis[i0]
    if span <= 0:
        return float("nan")
    return float((m[-1] / m[i0]) ** (1.0 / span))


_FLOOR = 1e-30


def _fit(s: np.ndarray, lm: np.ndarray) -> tuple[float, float]:
    """Slope of the least-squares line through (s, lm) and the spread (sd) of lm around it."""
    if len(s) >= 3:
        slope, intercept = np.polyfit(s, lm, 1)
        return float(slope), float(np.std(lm - (slope * s + intercept)))
    return float((lm[-1] - lm[0]) / max(s[-1] - s[0], 1.0)), 0.0


def _monotone_fit(v: np.ndarray) -> np.ndarray:
    """The least-squares non-decreasing fit to v (pool adjacent violators; a loop over records, host-side)."""
    means, sizes = [], []
    for value in v:
        means.append(float(value))
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            n = sizes[-2] + sizes[-1]
            means[-2:] = [(means[-2] * sizes[-2] + means[-1] * sizes[-1]) / n]
            sizes[-2:] = [n]
    return np.repeat(means, sizes)


def _wobble(lm: np.ndarray) -> float:
    """The sd of lm around its best monotone fit (rising or falling, whichever is closer): the metric's own
    oscillation. A monotone approach to a level, smooth or with a kink, has none; an orbit cannot be fitted."""
    rising = float(np.std(lm - _monotone_fit(lm)))
    falling = float(np.std(lm + _monotone_fit(-lm)))
    return min(rising, falling)


def _aitken(a: float, b: float, c: float) -> Optional[float]:
    """The limit of a, b, c, ... continued as a geometric series (Aitken's delta-squared), or None when the steps
    do not shrink (a steady or accelerating fall)."""
    d1, d2 = b - a, c - b
    if d1 >= 0 or d2 >= 0 or d2 <= d1:
        return None
    r = d2 / d1
    return c + d2 * r / (1.0 - r)


def _levels_off(m: np.ndarray, plateau: float) -> bool:
    """True when a metric falling over the second half of a run is settling on a level instead of going on to
    zero. With m1..m4 the means of the second half's quarters: m4 is not below m3; or m2, m3, m4 continued as a
    geometric series (:func:`_aitken`) head for a limit of at least ``plateau`` times m4; or that limit is at
    least half of m4 and no lower than 0.97 times the one m1, m2, m3 head for. A geometric fall to zero heads for
    0; an approach c + d q^t to a plateau heads for c from every three windows; a power law 1/t^p heads for a
    limit that falls with it (0.85 of the earlier one for p = 1, 0.95 for p = 1/4)."""
    if len(m) < 4:
        return False
    m = m[len(m) % 4:]  # four windows of equal length, so that a geometric series stays one
    m1, m2, m3, m4 = (float(np.mean(w)) for w in np.split(m, 4))
    if m4 >= m3:
        return True
    late = _aitken(m2, m3, m4)
    if late is None:
        return False
    if late >= plateau * m4:
        return True
    early = _aitken(m1, m2, m3)
    return early is not None and late >= 0.5 * m4 and late >= 0.97 * early


def _classify_one(m: np.ndarray, steps: np.ndarray, diverged: bool, stochastic: bool, atol: float, rtol: float,
                  trend_tol: float, plateau: float, cycle_tol: float) -> str:
    if diverged or not np.all(np.isfinite(m)):
        return "diverged"
    if m[-1] <= atol + rtol * m[0]:
        return "converged"
    i0 = _tail_start(steps, 0.5)
    s, lm = steps[i0:].astype(np.float64), np.log(np.maximum(m[i0:], np.finfo(np.float64).tiny))
    slope, noise = _fit(s, lm)
    change = slope * (s[-1] - s[0])
    threshold = max(trend_tol, 3.0 * noise)
    trend = 1 if change > threshold else -1 if change < -threshold else 0
    if trend < 0 and _levels_off(m[i0:], plateau):
        trend = 0
    if trend > 0:
        return "diverged"
    if trend < 0:
        return "converged"
    if stochastic:
        return "noise floor"
    return "cycling" if _wobble(lm) > cycle_tol else "stalled"


def classify(
    trace_or_result: Any,
    metric: Optional[str] = None,
    *,
    stochastic: bool = False,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    trend_tol: float = 1e-3,
    plateau: float = 0.9,
    cycle_tol: float = 2e-3,
):
    """Labels a run ``"converged"``, ``"stalled"``, ``"cycling"``, ``"noise floor"``, ``"diverged"`` or
    ``"non-finite"`` (:data:`VERDICTS`).

    Based on ``trace[metric]`` (default: distance, else gap, else natural residual, else vector-field norm; see
    :func:`default_metric`), each zero exactly at an equilibrium; "the trend" is the log-linear fit of the metric
    over the second half of the run, and it counts when it moves the metric by more than ``trend_tol`` (in log
    terms) and by more than three times the metric's own oscillation around the fit:

    * converged: the final metric is below the floor ``atol + rtol * initial``; or the trend falls and the metric
      is still falling at the end, not levelling off. Levelling off is read from the means m1..m4 of the second
      half's four quarters, each three of them continued as a geometric series (Aitken's delta-squared): the
      metric levels off when m4 is not below m3, when m2, m3, m4 head for a limit of at least ``plateau`` times
      m4, or when that limit is at least half of m4 and stays put (at least 0.97 times the limit of m1, m2, m3).
      A linear rate heads for 0; a power law 1/t^p heads for a limit that falls with it (p = 1: 0.85 of the
      earlier one; p = 1/4: 0.95), so both count as converging; an approach c + d q^t to a plateau heads for c
      from any three quarters;
    * diverged: the run hit a non-finite iterate, or the trend rises (a metric still rising at the end, however
      slowly it decelerates, is not called bounded);
    * non-finite: the run looks converged but another of the library's metrics (the value, a gap, the field
      norm) became NaN or infinite: such a run is never called converged (``Result.nonfinite_step`` says which
      metric, from which step);
    * for the rest, whose metric is neither falling nor rising at the end (flat, or settling on a level above the
      floor): ``"noise floor"`` when ``stochastic`` (the game draws mini-batches, so the metric fluctuates around
      the level its gradient noise allows; pass ``stochastic=game.stochastic``), else ``"cycling"`` when the
      metric oscillates by more than ``cycle_tol`` (the sd of its log over the second half around the closest
      monotone curve: 0.017 for alternating GDA's orbit on f = xy, 0.009 for the Dirac-GAN's, 0 for a smooth or
      kinked approach to a level) and ``"stalled"`` when it is flat at a nonzero level or settles on one
      monotonically (a non-equilibrium stationary point, or an orbit at a nearly constant distance: 5e-4 for
      consensus on the stall game of ``notebooks/examples/stall_game.py``).

    The levelling-off test makes the verdict of a run that settles on a level the same at every run length: a
    run approaching a plateau is "stalled" (or "cycling") after 2 000 steps as after 20 000, not "converged"
    while the approach still shows. What cannot be told from one run is a spiral slower than the run (GDA with
    a tiny step grows by far less than ``trend_tol``): compare :func:`empirical_rate` with 1, or run longer.

    Accepts a trace dict or a :class:`minimax.Result` (whose divergence flag is used); a trace that records
    ``steps_completed`` carries its own divergence. Batched (vmapped) inputs give a NumPy array of labels.
    Needs at least two records.
    """
    diverged_step = None
    trace = trace_or_result
    if hasattr(trace_or_result, "trace") and hasattr(trace_or_result, "diverged_step"):
        trace, diverged_step = trace_or_result.trace, np.asarray(trace_or_result.diverged_step)
    if not isinstance(trace, dict):
        raise TypeError(f"trace_or_result: expected a minimax.Result or its trace (a dict of metrics), got "
                        f"{type(trace_or_result).__name__}")
    metric = metric or default_metric(trace)
    if metric not in trace:
        raise ValueError(f"metric: {metric!r} is not in the trace; it has {sorted(trace)}")
    m = np.asarray(trace[metric], dtype=np.float64)
    # Any other metric that turned non-finite: such a run is never "converged" (e.g. a value that is NaN while the
    # iterate converges), it is labelled "non-finite".
    # The library's own metrics only: a user metric may be infinite by design.
    others = [np.asarray(v, dtype=np.float64) for k, v in trace.items()
              if k in BUILTIN_METRICS and k != metric and np.ndim(v) >= 1]
    if m.shape[-1] < 2:
        raise ValueError("trace: needs at least two records to classify a run")
    steps = np.asarray(trace["step"])
    batch = m.shape[:-1]
    m2 = m.reshape(-1, m.shape[-1])
    s2 = np.broadcast_to(steps, m.shape).reshape(-1, m.shape[-1])
    d2 = ~np.all(_live(trace, m.shape), axis=-1).ravel()  # the trace itself records a divergence
    if diverged_step is not None:
        d2 = d2 | (np.broadcast_to(diverged_step, batch) >= 0).ravel()
    bad = np.zeros(batch, bool)
    for v in others:
        if v.shape[:len(batch)] == batch and v.ndim > len(batch):
            bad = bad | ~np.all(np.isfinite(v), axis=tuple(range(len(batch), v.ndim)))
    bad = bad.ravel()
    if not isinstance(stochastic, (bool, np.bool_)):
        raise TypeError(f"stochastic: expected a bool (game.stochastic), got {type(stochastic).__name__}")
    if not 0 < plateau < 1:
        raise ValueError(f"plateau: expected a fraction in (0, 1), got {plateau!r}")
    labels = [_classify_one(m2[i], s2[i], bool(d2[i]), bool(stochastic), atol, rtol, trend_tol, plateau, cycle_tol)
              for i in range(m2.shape[0])]
    labels = ["non-finite" if label == "converged" and bad[i] else label for i, label in enumerate(labels)]
    if not batch:
        return labels[0]
    return np.asarray(labels, dtype=object).reshape(batch)
