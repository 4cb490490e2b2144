"""The driver: :func:`run` iterates any solver on any game inside one compiled ``lax.scan``.

What lives here: argument checks (all before tracing), the scan with trace thinning and on-device running
summaries (min, max, mean of every metric without storing the records), divergence handling and the
:class:`Result`. What does not: the solvers' update rules (:mod:`minimax.solvers`) and the metrics' definitions
(:mod:`minimax.diagnostics`).
"""

from __future__ import annotations

import functools
import numbers
import warnings
from typing import Any, Callable, Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from minimax import _checks, _program, _tree, _xla
from minimax import checkpoints as _ckpt
from minimax import diagnostics
from minimax.checkpoints import Checkpoints
from minimax.game import Game
from minimax.solvers import Solver, check_solver_fits

__all__ = ["run", "Result", "DivergenceError", "DivergenceWarning", "NonFiniteMetricWarning", "check_point",
           "check_solver_step", "MAX_STEPS"]


MAX_STEPS = 2**31 - 2  # the int32 step counter t, and t + 1, must fit


class DivergenceError(FloatingPointError):
    """Raised by :func:`run` with ``on_divergence="raise"`` when an iterate becomes non-finite."""


class DivergenceWarning(RuntimeWarning):
    """Warned by :func:`run` (the default) when an iterate becomes non-finite."""


class NonFiniteMetricWarning(DivergenceWarning):
    """Warned by :func:`run` when a trace metric (the value, a distance, a user metric) becomes NaN or infinite
    while the iterates stay finite."""


class Result(NamedTuple):
    """What :func:`run` returns; a pytree, so ``jax.vmap`` over runs stacks every field.

    Attributes:
      x: the final iterate of x (the last finite one if the run diverged).
      y: the final iterate of y.
      state: the solver state after the last completed step.
      trace: a dict of metrics stacked over the recorded steps (step 0, every ``record_every`` steps, and the
        last step): ``step``, ``grad_evals`` (cumulative), ``grad_norm`` (norm of the vector field), ``value``
        (zero-sum) or ``loss_x`` / ``loss_y`` (general-sum); ``residual`` (the natural residual
        :func:`minimax.natural_residual`, zero exactly at a constrained equilibrium) when either player has a
        constraint; ``dist`` and ``dist_avg`` (iterate and running
        average) when the equilibrium is known; ``gap`` and ``gap_avg`` when best responses are known; and any
        user ``metrics``. After a divergence the metrics stay those of the last finite iterate.

        Record t refers to the iterate z_t after t steps, for every metric and every solver. ``value`` (or the
        losses), ``grad_norm`` and ``residual`` come for free from the solver's own evaluation at z_t when it
        makes one (:attr:`minimax.Solver.observing_step`): simultaneous GDA, extragradient (its first
        evaluation), optimistic GDA, consensus, SGA, CGD, proximal point (its first fixed-point iteration) and
        lookahead around any of these, the entropic versions, and the newer solvers (Hamiltonian descent, EG+, LA,
        LOLA, SOS, EAG-C/V, FEG, follow-the-ridge; unrolled with ``unroll=0``). Alternating GDA evaluates its two
        gradients at different points (x's at (x_t, y_t), y's at (x_{t+1}, y_t)), past extragradient at the
        extrapolated point and unrolled (``unroll >= 1``) x's gradient at y's unrolled response, so for them, and
        for any solver without ``observing_step``, the driver evaluates the losses and the field at z_t itself:
        one more evaluation per record. The final record comes from one more pass of the step whose update is
        discarded (the loop compiles one copy of the step; a run costs ``steps + 1`` steps' evaluations). For a
        stochastic game a free metric uses the step's own sample (key ``fold_in(fold_in(key, 1), t)``, folded
        with 0 for extragradient's first evaluation); an evaluated one, and ``gap`` and the user
        ``metrics``, the metrics key ``fold_in(fold_in(key, 2), t)``.
      x_avg: the running average of x over the iterates after steps 1..t.
      y_avg: the running average of y.
      steps_completed: how many steps were applied (``steps`` unless the run diverged).
      diverged_step: the step that produced a non-finite (or too large) iterate, or -1.
      summary: None, or with ``summary_every=s`` running reductions of every trace metric (all but ``step`` and
        ``grad_evals``) over the records and every s-th step after each record, kept on the device in constant
        memory: ``{"min": {name: value}, "max": ..., "mean": ..., "argmin": {name: step},
        "argmax": ..., "observations": count}``.
      checkpoints: None, or with ``checkpoint_every=k`` a :class:`minimax.Checkpoints` of (x, y, solver state)
        at step 0 and every k-th step, stacked on the device: ``for x, y, state in res.checkpoints``.
      x_ema: None, or with ``ema=d`` the exponential moving average of x: ``x_ema_0 = x_0``,
        ``x_ema_t = d x_ema_{t-1} + (1 - d) x_t`` (Yazici et al. 2019); the trace then has ``dist_ema`` and
        ``gap_ema`` beside ``dist_avg`` and ``gap_avg`` when the game knows its equilibrium or best responses.
      y_ema: the same for y.
      nonfinite_step: ``{metric: step}``, the first recorded step at which each trace metric was NaN or infinite,
        or -1. When one of the library's own metrics is (the value, a distance, a gap, the field norm), :func:`run`
        warns (:class:`NonFiniteMetricWarning`) and :func:`minimax.classify` never calls the run converged; a
        user metric may be infinite by design (a KL divergence with no samples) and is only flagged here.
      start_feasible: None for unconstrained players, else whether (x0, y0) lay in the feasible sets (and, for an
        entropic solver, strictly inside the simplex). :func:`run` refuses an infeasible concrete start before
        tracing; under ``jit`` or ``vmap`` the start is not known then, so this flag is the record of it.
    """

    x: Any
    y: Any
    state: Any
    trace: dict
    x_avg: Any
    y_avg: Any
    steps_completed: jax.Array
    diverged_step: jax.Array
    summary: Optional[dict] = None
    checkpoints: Optional[Checkpoints] = None
    x_ema: Any = None
    y_ema: Any = None
    nonfinite_step: Optional[dict] = None
    start_feasible: Optional[jax.Array] = None

    @property
    def diverged(self) -> jax.Array:
        return self.diverged_step >= 0


class _Carry(NamedTuple):
    x: Any
    y: Any
    state: Any
    x_avg: Any
    y_avg: Any
    t: jax.Array
    diverged_step: jax.Array
    ckpt: Any = None  # (buffer, steps taken) with checkpoint_every, else None
    ema: Any = None  # (x_ema, y_ema) with ema, else None


# -- checks before tracing ----------------------------------------------------------------------------------------
def _as_arrays(tree, name, check: bool = True):
    """``tree`` with every leaf a floating-point array: integer leaves are promoted to the default float dtype
    (float32, or float64 under ``jax_enable_x64``); concrete leaves must be finite."""
    float_dtype = jnp.result_type(float)

    def conv(leaf):
        if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.floating):
            return leaf  # the common case, without a call into jnp.asarray per leaf
        try:
            arr = jnp.asarray(leaf)
        except TypeError as err:
            raise TypeError(f"{name}: every leaf must be an array or a number, got {type(leaf).__name__}") from err
        if jnp.issubdtype(arr.dtype, jnp.integer):
            return arr.astype(float_dtype)
        if not jnp.issubdtype(arr.dtype, jnp.floating):
            raise TypeError(f"{name}: expected floating-point (or integer) arrays, got a leaf of dtype {arr.dtype}")
        return arr

    tree = jax.tree.map(conv, tree)
    if check:
        _check_finite_start({name: tree})
    return tree


def _check_finite_start(trees: dict) -> None:
    """Raises a ValueError naming the first of ``{name: tree}`` with a non-finite entry; one compiled check for all."""
    if not _is_concrete(trees) or _surely_finite(trees):
        return
    for name, tree in trees.items():
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            if not bool(jnp.all(jnp.isfinite(leaf))):
                where = f" {jax.tree_util.keystr(path)}" if path else ""
                raise ValueError(f"{name}:{where} has non-finite entries (NaN or inf); expected a finite start")


@functools.lru_cache(maxsize=1)
def _default_key():
    """``jax.random.key(0)``, built once: keys are immutable, and building one costs a tenth of a cached call.
    Built as a concrete value even when the first caller is being traced (a cached tracer would leak)."""
    with jax.ensure_compile_time_eval():
        return jax.random.key(0)


# One compiled reduction over every leaf (per tree structure), instead of an eager check per leaf.
_all_finite = jax.jit(_tree.all_finite)


def _surely_finite(tree) -> bool:
    """Whether the concrete ``tree`` is finite; true when that cannot be known now: inside a user's ``jax.jit`` even
    captured concrete arrays come back from the check as tracers (the run then reports a divergence at step 1)."""
    try:
        return bool(_all_finite(tree))
    except jax.errors.ConcretizationTypeError:
        return True


@functools.lru_cache(maxsize=256)
def _compiled_init(game: Game):
    return jax.jit(game.init)


def _what(value) -> str:
    """A short description of ``value`` for error messages."""
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"an array of shape {tuple(value.shape)}"
    return type(value).__name__


def _init_pair(game: Game, key, *, abstract: bool = False):
    """``game.init(key)`` as a pair ``(x0, y0)`` (only its shapes with ``abstract``), or an error naming init."""
    try:
        out = jax.eval_shape(game.init, key) if abstract else _draw(game, key)
    except Exception as err:  # noqa: BLE001 - name the user's init in the error
        raise ValueError(f"init: calling game.init(key) failed: {type(err).__name__}: {err}") from err
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"init: game.init(key) must return a pair (x0, y0), but returned {_what(out)}")
    return tuple(out)


def _draw(game: Game, key):
    """``game.init(key)``, compiled once per game when the key is concrete (an eager network init costs
    milliseconds a call); an init that cannot be compiled runs as it is."""
    if not _is_concrete(key):
        return game.init(key)
    try:
        return _compiled_init(game)(key)
    except (*_TRACED_NUMBER_ERRORS, TypeError):  # an init that needs concrete values runs eagerly
        return game.init(key)


def _describe(tree) -> str:
    shapes = jax.tree.map(lambda a: tuple(a.shape), tree)
    return str(shapes)


def _abstract(tree):
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), tree)


def _check_against(name: str, given, expected) -> None:
    gs, es = jax.tree.structure(given), jax.tree.structure(expected)
    if gs != es:
        raise ValueError(f"{name}: its structure {gs} does not match the game's {es} (from game.init)")
    for (path, g), e in zip(jax.tree_util.tree_flatten_with_path(given)[0], jax.tree.leaves(expected)):
        if tuple(jnp.shape(g)) != tuple(e.shape):
            where = jax.tree_util.keystr(path) or "the array"
            raise ValueError(f"{name}: {where} has shape {tuple(jnp.shape(g))}, the game expects {tuple(e.shape)}")


def _check_equilibrium(game: Game, x, y, names=("x0", "y0")) -> None:
    """``game.equilibrium`` must have the structure and shapes of the players (taken from x0 and y0)."""
    for i, (name, star, point) in enumerate(zip(names, game.equilibrium, (x, y))):
        label = f"equilibrium[{i}]"
        treedef = jax.tree.structure(point)
        try:
            parts = treedef.flatten_up_to(star)
        except (ValueError, TypeError):
            raise ValueError(f"{label}: its structure {jax.tree.structure(star)} does not match {name}'s {treedef}") \
                from None
        for (path, leaf), part in zip(jax.tree_util.tree_flatten_with_path(point)[0], parts):
            where = jax.tree_util.keystr(path) or "the array"
            try:
                shape = tuple(jnp.shape(jnp.asarray(part)))
            except Exception:  # noqa: BLE001 - not array-like
                raise TypeError(f"{label}: {where} must be an array or a number, got {type(part).__name__}") from None
            if shape != tuple(jnp.shape(leaf)):
                raise ValueError(f"{label}: {where} has shape {shape}, but {name} has shape {tuple(jnp.shape(leaf))}")


def _is_concrete(tree) -> bool:
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))


def check_point(game: Game, x, y, key, *, names: tuple = ("x0", "y0")) -> None:
    """Checks a starting point against ``game`` (structure, shapes, scalar payoff, feasibility), before tracing.

    Also checks that ``game.init`` returns a pair and that ``game.equilibrium`` has the players' structure and
    shapes.

    Raises ValueError or TypeError naming the offending argument. Called by :func:`run`; public for drivers
    built on top of it.
    """
    if _is_concrete((x, y, key)):
        treedef, flat = _signature((x, y, key))
        _check_point_cached(game, treedef, flat, names)
    else:
        _check_point_abstract(game, x, y, key, names)
    for name, point, (field, constraint) in ((names[0], x, ("x_constraint", game.x_constraint)),
                                             (names[1], y, ("y_constraint", game.y_constraint))):
        if constraint is None or not _is_concrete(point):
            continue
        try:
            inside = bool(constraint.contains(point, atol=1e-5))
        except (ValueError, TypeError) as err:  # e.g. Box bounds whose shape does not fit the player
            raise ValueError(f"{field}: {constraint} does not fit the player's parameters {_describe(point)}: "
                             f"{_first_line(err)}") from err
        if not inside:
            raise ValueError(f"{name}: the starting point is outside the player's feasible set {constraint}")


@functools.lru_cache(maxsize=256)
def _check_point_cached(game, treedef, flat, names=("x0", "y0")) -> None:
    """The shape checks of :func:`check_point`, once per game and shapes: they trace the game's functions, which
    costs milliseconds for a network game, more than a cached run of a small one."""
    _check_point_abstract(game, *_structs(treedef, flat), names)


def _check_point_abstract(game: Game, x, y, key, names=("x0", "y0")) -> None:
    if game.init is not None:
        ex, ey = _init_pair(game, key, abstract=True)
        _check_against(names[0], x, ex)
        _check_against(names[1], y, ey)
    if game.equilibrium is not None:
        _check_equilibrium(game, x, y, names)
    if game.distance is not None:
        try:
            d = jax.eval_shape(game.distance, _abstract(x), _abstract(y))
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"distance: calling it on x0 {_describe(x)} and y0 {_describe(y)} failed: "
                             f"{_first_line(err)}") from err
        if not (hasattr(d, "shape") and d.shape == () and jnp.issubdtype(d.dtype, jnp.floating)):
            raise ValueError(f"distance: must return a floating-point scalar (the distance to the equilibrium set), "
                             f"but returned {getattr(d, 'shape', type(d).__name__)}")
    losses = [("value", game.loss_x)] if game.zero_sum else [("losses[0]", game.loss_x), ("losses[1]", game.loss_y)]
    for name, fn in losses:
        try:
            out = jax.eval_shape(lambda a, b, k: fn(a, b, k), _abstract(x), _abstract(y), key)
        except Exception as err:  # noqa: BLE001
            msg = str(err).splitlines()[0] if str(err) else ""
            raise ValueError(
                f"{name}: calling it on x0 {_describe(x)} and y0 {_describe(y)} failed: {type(err).__name__}: {msg}"
            ) from err
        if not (hasattr(out, "shape") and out.shape == ()):
            shape = getattr(out, "shape", type(out).__name__)
            raise ValueError(f"{name}: must return a scalar, but returned shape {shape}")
        if not jnp.issubdtype(out.dtype, jnp.floating):
            raise ValueError(f"{name}: must return a floating-point scalar, but returned dtype {out.dtype}")


def _check_entropic_start(solver: Solver, x, y) -> None:
    """An entropic (multiplicative) step never moves an entry that is 0: the start must be strictly positive.
    Checked on concrete values only; under ``jit`` or ``vmap`` the start is not known."""
    if solver.geometry != "entropic":
        return
    for name, point in (("x0", x), ("y0", y)):
        if not _is_concrete(point):
            continue
        lowest = min(float(jnp.min(leaf)) for leaf in jax.tree.leaves(point))
        if not lowest > 0:
            raise ValueError(
                f"{name}: {solver.name} uses the entropic geometry, which needs a strictly positive starting point "
                f"(every entry > 0, inside the simplex); got an entry {lowest:g}"
            )


def _check_same(what: str, before, after, solver: Solver) -> None:
    """``solver.step`` must return ``what`` with the structure, shapes and dtypes it received (a scan carry)."""
    if jax.tree.structure(before) != jax.tree.structure(after):
        raise ValueError(
            f"solver: {solver.name}.step changed the structure of {what} from {jax.tree.structure(before)} to "
            f"{jax.tree.structure(after)}; a step must return x, y and state shaped as it received them"
        )
    for (path, b), a in zip(jax.tree_util.tree_flatten_with_path(before)[0], jax.tree.leaves(after)):
        same_dtype = a.dtype == b.dtype or getattr(b, "weak_type", False)  # a weak-typed start is promoted
        if tuple(a.shape) != tuple(b.shape) or not same_dtype:
            where = jax.tree_util.keystr(path)
            raise ValueError(
                f"solver: {solver.name}.step changed {what}{where} from {b.dtype}{list(b.shape)} to "
                f"{a.dtype}{list(a.shape)}; a step must return x, y and state shaped as it received them"
            )


def check_solver_step(game: Game, solver: Solver, x, y, key, metrics: Optional[Mapping[str, Callable]] = None
                      ) -> None:
    """Checks that ``solver`` can step on ``game`` from (x, y), before tracing the loop.

    Traces ``solver.init``, one ``solver.step`` and the user ``metrics`` abstractly (``jax.eval_shape``, nothing is
    computed), so that a solver that does not fit the game fails with a ValueError or TypeError naming the solver and
    the game, not deep inside the compiled loop; a step must return x, y and state with the structure, shapes and
    dtypes it received. Integer leaves of x and y are taken as the default float dtype, as :func:`run` promotes
    them. Called by :func:`run`; public for drivers built on top of it.

    Tracing a step can cost more than a cached call of :func:`run` on a small game, so a check that passed is
    remembered (by game, solver, metrics and the shapes and dtypes of the arguments) when the arguments are
    concrete; under an outer ``jit`` or ``vmap`` it is repeated once per trace of the caller.
    """
    _check_solver_step(game, solver, x, y, key, _checks.metric_items(metrics))


def _check_solver_step(game: Game, solver: Solver, x, y, key, metric_items=()) -> None:
    if _is_concrete((x, y, key)):
        # The players' integer leaves are promoted to floats as run promotes them; a legacy uint32 key is not.
        treedef, flat = _signature((x, y, key), promote=(True, True, False))
        _check_solver_step_cached(game, solver, metric_items, treedef, flat)
    else:
        args = (_abstract_weak(x, promote=True), _abstract_weak(y, promote=True), _abstract_weak(key))
        _check_solver_step_abstract(game, solver, metric_items, *args)


def _signature(tree, promote=False):
    """(treedef, ((shape, dtype, weak type), ...)) of ``tree``: the hashable key of the cached checks, built without
    a ShapeDtypeStruct per leaf (a cached call of a small game spends most of its host time on such things). With
    ``promote`` (a bool, or one per top-level item of a tuple ``tree``) integer leaves are described as floats."""
    if isinstance(promote, tuple):
        flags = [p for item, p in zip(tree, promote) for _ in jax.tree.leaves(item)]
    else:
        flags = None
    leaves, treedef = jax.tree.flatten(tree)
    out = []
    for i, a in enumerate(leaves):
        if isinstance(a, jax.Array):
            shape, dtype, weak = a.shape, a.dtype, getattr(a, "weak_type", False)
        else:
            shape, dtype, weak = tuple(jnp.shape(a)), jnp.result_type(a), False
        if (flags[i] if flags is not None else promote) and getattr(dtype, "kind", None) in ("i", "u"):
            dtype = jnp.result_type(float)
        out.append((shape, dtype, weak))
    return treedef, tuple(out)


def _structs(treedef, flat):
    return jax.tree.unflatten(treedef, [jax.ShapeDtypeStruct(s, d, weak_type=w) for s, d, w in flat])


def _abstract_weak(tree, promote: bool = False):
    """Shape, dtype and weak type of every leaf (a hashable description); with ``promote``, integers as floats."""

    def describe(a):
        dtype = jnp.result_type(a)
        if promote and jnp.issubdtype(dtype, jnp.integer):
            dtype = jnp.result_type(float)
        return jax.ShapeDtypeStruct(jnp.shape(a), dtype, weak_type=getattr(a, "weak_type", False))

    return jax.tree.map(describe, tree)


def _check_solver_step_cached(game, solver, metric_items, treedef, flat) -> None:
    # Keyed by the solver's description without its numbers: a new step size changes no shape.
    skeleton = _program.fingerprint(solver, holes=True)[0]
    _check_solver_step_by_skeleton(game, _BySkeleton(solver, skeleton), metric_items, treedef, flat)


class _BySkeleton:
    """A solver compared by its skeleton (its numbers left out), for caching the shape checks."""

    __slots__ = ("solver", "skeleton")

    def __init__(self, solver, skeleton):
        self.solver, self.skeleton = solver, skeleton

    def __eq__(self, other):
        return isinstance(other, _BySkeleton) and self.skeleton == other.skeleton

    def __hash__(self):
        return hash(self.skeleton)


@functools.lru_cache(maxsize=256)
def _check_solver_step_by_skeleton(game, keyed: _BySkeleton, metric_items, treedef, flat) -> None:
    _check_solver_step_abstract(game, keyed.solver, metric_items, *_structs(treedef, flat))


def _check_solver_step_abstract(game: Game, solver: Solver, metric_items, x, y, key) -> None:
    def one_step(x_, y_, key_):
        state = solver.init(x_, y_)
        return state, solver.step(game, x_, y_, state, key_)

    try:
        state, out = jax.eval_shape(one_step, x, y, key)
    except Exception as err:  # noqa: BLE001 - name the solver and the game instead of a trace dump
        raise ValueError(
            f"solver: {solver.name} failed on game {game.name!r} with x0 {_describe(x)} and y0 {_describe(y)}: "
            f"{_first_line(err)}"
        ) from err
    if not (isinstance(out, (tuple, list)) and len(out) == 3):
        raise TypeError(f"solver: {solver.name}.step must return a triple (x, y, state), but returned {_what(out)}")
    _check_same("x", x, out[0], solver)
    _check_same("y", y, out[1], solver)
    _check_same("state", state, out[2], solver)
    for name, fn in metric_items:
        try:
            jax.eval_shape(fn, x, y)
        except Exception as err:  # noqa: BLE001
            raise ValueError(
                f"metrics[{name!r}]: calling it on x0 {_describe(x)} and y0 {_describe(y)} failed: {_first_line(err)}"
            ) from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


# -- the compiled loop --------------------------------------------------------------------------------------------
def _record(game: Game, metric_items, carry: _Carry, step, key, obs=None) -> dict:
    """The trace's metrics at the carry's iterate; ``obs`` (an :class:`~minimax.solvers.Observation` of that
    iterate, from the solver's step) spares evaluating the losses and the field again."""
    if obs is None:
        (lx, ly), field = game.losses_and_vector_field(carry.x, carry.y, key)
    else:
        (lx, ly), field = obs
    dtype = lx.dtype
    rec = {
        "step": jnp.asarray(step, jnp.int32),  # the grad_evals column is built after the loop
        "grad_norm": _tree.norm(field).astype(dtype),
    }
    if game.zero_sum:
        rec["value"] = lx
    else:
        rec["loss_x"], rec["loss_y"] = lx, ly
    if game.x_constraint is not None or game.y_constraint is not None:
        rec["residual"] = diagnostics.natural_residual(game, carry.x, carry.y, field=field).astype(dtype)
    if game.has_equilibrium:
        rec["dist"] = diagnostics.distance_to_equilibrium(game, carry.x, carry.y).astype(dtype)
        rec["dist_avg"] = diagnostics.distance_to_equilibrium(game, carry.x_avg, carry.y_avg).astype(dtype)
        if carry.ema is not None:
            rec["dist_ema"] = diagnostics.distance_to_equilibrium(game, *carry.ema).astype(dtype)
    if game.has_best_responses:
        rec["gap"] = diagnostics.duality_gap(game, carry.x, carry.y, key=key).astype(dtype)
        rec["gap_avg"] = diagnostics.duality_gap(game, carry.x_avg, carry.y_avg, key=key).astype(dtype)
        if carry.ema is not None:
            rec["gap_ema"] = diagnostics.duality_gap(game, *carry.ema, key=key).astype(dtype)
    for name, fn in metric_items:
        rec[name] = jnp.asarray(fn(carry.x, carry.y))
    return rec


_NOT_SUMMARISED = ("step", "grad_evals")


def _summary_empty(abstract_rec: dict) -> dict:
    """Running reductions before any observation, from the shapes and dtypes of a record."""

    def extreme(a, top: bool):
        if jnp.issubdtype(a.dtype, jnp.floating):
            return jnp.full(a.shape, jnp.inf if top else -jnp.inf, a.dtype)
        if jnp.issubdtype(a.dtype, jnp.integer):
            info = jnp.iinfo(a.dtype)
            return jnp.full(a.shape, info.max if top else info.min, a.dtype)
        return jnp.full(a.shape, top, a.dtype)

    values = {k: v for k, v in abstract_rec.items() if k not in _NOT_SUMMARISED}
    return {
        "min": {k: extreme(v, True) for k, v in values.items()},
        "max": {k: extreme(v, False) for k, v in values.items()},
        "sum": {k: jnp.zeros(v.shape, v.dtype) for k, v in values.items()},
        "argmin": {k: jnp.zeros(v.shape, jnp.int32) for k, v in values.items()},
        "argmax": {k: jnp.zeros(v.shape, jnp.int32) for k, v in values.items()},
        "observations": jnp.zeros((), jnp.int32),
    }


def _summary_update(summ: dict, rec: dict) -> dict:
    """Folds one observation into the running reductions; a NaN never replaces a minimum or maximum."""
    if summ is None:
        return None
    step = jnp.asarray(rec["step"], jnp.int32)
    out = {"min": {}, "max": {}, "sum": {}, "argmin": {}, "argmax": {}, "observations": summ["observations"] + 1}
    for k in summ["min"]:
        v = rec[k]
        lower, higher = v < summ["min"][k], v > summ["max"][k]
        out["min"][k] = jnp.where(lower, v, summ["min"][k])
        out["argmin"][k] = jnp.where(lower, step, summ["argmin"][k])
        out["max"][k] = jnp.where(higher, v, summ["max"][k])
        out["argmax"][k] = jnp.where(higher, step, summ["argmax"][k])
        out["sum"][k] = summ["sum"][k] + v
    return out


def _summary_finish(summ: dict) -> dict:
    n = summ["observations"]
    mean = {k: v / n.astype(jnp.result_type(v, float)) for k, v in summ["sum"].items()}
    return {"min": summ["min"], "max": summ["max"], "mean": mean, "argmin": summ["argmin"],
            "argmax": summ["argmax"], "observations": n}


@functools.partial(
    _xla.LazyJit,
    static_argnames=("game", "solver", "steps", "record_every", "metric_items", "max_norm", "progress",
                     "summary_every", "checkpoint_every"),
)
def _run_compiled(game, solver, steps, record_every, metric_items, max_norm, progress, x0, y0, key,
                  summary_every=None, checkpoint_every=None, numbers=(), ema=None):
    """The compiled run. ``solver`` is a :class:`Solver` or, with ``numbers``, the skeleton of one
    (:func:`minimax._program.split`) whose holes ``numbers`` fill: the solver's step sizes and other numbers are
    then arguments of the program, not constants, and a new step size reuses the compilation."""
    if isinstance(solver, _program.Skeleton):
        solver = _program.join(solver, numbers)
    k_steps, k_metrics = jax.random.fold_in(key, 1), jax.random.fold_in(key, 2)
    state0 = solver.init(x0, y0)
    slots = steps // checkpoint_every + 1 if checkpoint_every is not None else 0
    ckpt = None if checkpoint_every is None else (_ckpt.empty((x0, y0, state0), slots), jnp.zeros((), jnp.int32))
    carry = _Carry(x0, y0, state0, x0, y0, jnp.zeros((), jnp.int32), jnp.full((), -1, jnp.int32), ckpt,
                   None if ema is None else (x0, y0))

    def advance(c: _Carry, x, y, state, i, active) -> _Carry:
        # Once a run has diverged it keeps its carry. A select rather than a lax.cond: under vmap a cond becomes a
        # select of both branches anyway, and combined with the finiteness select it made vmapped runs 5x slower
        # on CPU; unbatched, the step is computed and discarded after divergence, which changes no result.
        # ``active`` is false for the loop's last pass, which only observes the final iterate.
        ok = _tree.all_finite((x, y, state))
        if max_norm is not None:
            ok = ok & (_tree.norm((x, y)) <= max_norm)
        alive = c.diverged_step < 0
        # The step count is the pass i + 1 while the run is alive, so the carry holds no counter of its own (one
        # kernel fewer per step on a toy game); Result.steps_completed is derived from diverged_step at the end.
        t = i + 1
        x_avg = jax.tree.map(lambda a, v: a + (v - a) / t.astype(a.dtype), c.x_avg, x)
        y_avg = jax.tree.map(lambda a, v: a + (v - a) / t.astype(a.dtype), c.y_avg, y)
        averages = None
        if c.ema is not None:
            decay = lambda e, v: ema * e + (1 - ema) * v  # noqa: E731
            averages = (jax.tree.map(decay, c.ema[0], x), jax.tree.map(decay, c.ema[1], y))
        new = _Carry(x, y, state, x_avg, y_avg, c.t, c.diverged_step, None, averages)
        held = c._replace(diverged_step=jnp.where(alive & active, t, c.diverged_step), ckpt=None)
        out = _tree.where(ok & alive & active, new, held)
        if c.ckpt is not None:  # every step writes: into its slot at a checkpoint, else into the scratch slot
            buf, n = c.ckpt
            n = n + active.astype(n.dtype)
            slot = jnp.where(active & (n % checkpoint_every == 0), n // checkpoint_every, slots)
            out = out._replace(ckpt=(_ckpt.write(buf, slot, (out.x, out.y, out.state)), n))
        return out

    def observe(c: _Carry, step, obs=None) -> dict:
        return _record(game, metric_items, c, step, jax.random.fold_in(k_metrics, step), obs)

    def solver_step(c: _Carry, i):
        """One step from ``c`` (pass ``i``) and, when the solver hands it over (:attr:`Solver.observing_step`),
        what it computed at ``c``."""
        k = jax.random.fold_in(k_steps, i)
        if solver.observing_step is not None:
            return solver.observing_step(game, c.x, c.y, c.state, k)
        return (*solver.step(game, c.x, c.y, c.state, k), None)

    # One loop of steps + 1 passes over one compiled copy of the step. Pass i observes the iterate z_i: at a
    # record (i = 0, r, 2r, ... and the final i = steps) or a summary observation it takes the metrics under a
    # lax.cond, from the step's own evaluation at z_i where the solver hands it over, else evaluated; the last
    # pass only observes (its step is computed and discarded). The predicate depends on the pass alone, so under
    # vmap the cond stays a branch, and passes that record nothing cost nothing more than the step.
    r, g = record_every, summary_every
    n_blocks, rest = divmod(steps, r)
    at = np.concatenate([np.arange(n_blocks) * r, [n_blocks * r] if rest else [], [steps]]).astype(np.int32)
    n_slots = len(at)
    abstract_rec = jax.eval_shape(lambda c: _untimed(observe(c, 0, solver_step(c, jnp.zeros((), jnp.int32))[3])),
                                  carry)
    trace_buf = {k: jnp.zeros((n_slots + 1, *v.shape), v.dtype) for k, v in abstract_rec.items()}  # +1: scratch
    summ = _summary_empty(abstract_rec) if summary_every else None

    def take(c: _Carry, obs, i, is_rec, buf, summ):
        rec = observe(c, i, obs)
        slot = jnp.where(is_rec, jnp.where(i == steps, n_slots - 1, i // r), n_slots)
        buf = {k: b.at[slot].set(rec[k]) for k, b in buf.items()}
        if progress is not None:
            if is_rec is True:
                jax.debug.callback(progress, i, steps)
            else:
                jax.lax.cond(is_rec, lambda: jax.debug.callback(progress, i, steps), lambda: None)
        return buf, _summary_update(summ, rec)

    def body(cs, _):
        c, i, buf, summ = cs
        x, y, state, obs = solver_step(c, i)
        if r == 1:  # every pass records: the records are the scan's outputs
            rec = observe(c, i, obs)
            if progress is not None:
                jax.debug.callback(progress, i, steps)
            return (advance(c, x, y, state, i, i < steps), i + 1, None, _summary_update(summ, rec)), _untimed(rec)
        else:
            is_rec = (i % r == 0) | (i == steps)
            taken = is_rec | ((i % r) % g == 0) if summ is not None else is_rec
            buf, summ = jax.lax.cond(taken, lambda o: take(c, o, i, is_rec, buf, summ),
                                     lambda o: (buf, summ), obs)
        return (advance(c, x, y, state, i, i < steps), i + 1, buf, summ), None

    if r == 1:
        trace_buf = None
    (carry, _, trace_buf, summ), ys = jax.lax.scan(body, (carry, jnp.zeros((), jnp.int32), trace_buf, summ),
                                                   length=steps + 1)
    stacked = ys if r == 1 else {k: b[:n_slots] for k, b in trace_buf.items()}
    steps_done = jnp.where(carry.diverged_step >= 0, carry.diverged_step - 1, steps).astype(jnp.int32)
    carry = carry._replace(t=steps_done)
    # The step and gradient-evaluation columns are known without the loop writing them at every record: step t
    # saw min(t, steps completed) steps (the count stops at a divergence).
    dtype = stacked["grad_norm"].dtype
    trace = {"step": jnp.asarray(at),
             "grad_evals": jnp.minimum(jnp.asarray(at), carry.t).astype(dtype) * jnp.asarray(solver.grad_evals, dtype),
             **stacked}
    summary = _summary_finish(summ) if summ is not None else None
    checkpoints = None if checkpoint_every is None else _ckpt.finish(carry.ckpt[0], slots, checkpoint_every)
    x_ema, y_ema = (None, None) if carry.ema is None else carry.ema
    return Result(carry.x, carry.y, carry.state, trace, carry.x_avg, carry.y_avg, carry.t, carry.diverged_step,
                  summary, checkpoints, x_ema, y_ema, _first_nonfinite(trace), _start_feasible(game, solver, x0, y0))


def _start_feasible(game: Game, solver: Solver, x0, y0):
    """Whether the start lay in the players' feasible sets (strictly inside for the entropic geometry), or None."""
    if game.x_constraint is None and game.y_constraint is None:
        return None
    ok = jnp.asarray(True)
    for point, constraint in ((x0, game.x_constraint), (y0, game.y_constraint)):
        if constraint is not None:
            ok = ok & constraint.contains(point, atol=1e-5)
        if solver.geometry == "entropic":
            ok = ok & jnp.all(jnp.stack([jnp.all(leaf > 0) for leaf in jax.tree.leaves(point)]))
    return ok


def _first_nonfinite(trace: dict) -> dict:
    """The first recorded step at which each metric is non-finite, or -1.

    One fused reduction per metric (the smallest step of a non-finite record): on a long run of a toy game the
    boolean row, its any and its argmax were three passes over the trace, a tenth of the run's time."""
    out = {}
    never = jnp.iinfo(jnp.int32).max
    for name, v in trace.items():
        if name in _NOT_SUMMARISED or not jnp.issubdtype(v.dtype, jnp.inexact):
            continue
        finite = jnp.isfinite(v) if v.ndim == 1 else jnp.isfinite(v).reshape(v.shape[0], -1).all(axis=1)
        first = jnp.min(jnp.where(finite, never, trace["step"].astype(jnp.int32)))
        out[name] = jnp.where(first == never, -1, first).astype(jnp.int32)
    return out


def _untimed(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in _NOT_SUMMARISED}


# -- the public entry point ---------------------------------------------------------------------------------------
def run(
    game: Game,
    solver: Solver,
    *,
    steps: int,
    key: Optional[jax.Array] = None,
    x0: Any = None,
    y0: Any = None,
    record_every: Optional[int] = 1,
    metrics: Optional[Mapping[str, Callable]] = None,
    max_norm: Optional[float] = None,
    on_divergence: str = "warn",
    progress: Optional[Callable] = None,
    summary_every: Optional[int] = None,
    checkpoint_every: Optional[int] = None,
    ema: Optional[float] = None,
) -> Result:
    """Runs ``solver`` on ``game`` for ``steps`` steps inside one jit-compiled ``lax.scan``.

    Args:
      game: a :class:`minimax.Game`.
      solver: a :class:`minimax.Solver` (``mm.extragradient(optax.sgd(0.1))``, ...).
      steps: number of solver steps (a positive integer).
      key: a PRNG key (``jax.random.key(0)``). Required when the start is drawn from ``game.init`` or when the
        game is stochastic. It is consumed: ``game.init`` receives ``key`` itself; step t receives
        ``fold_in(fold_in(key, 1), t)`` and the metrics at step t ``fold_in(fold_in(key, 2), t)``.
      x0: starting x (any pytree matching the game, finite; integer arrays are promoted to the default float
        dtype); default ``game.init(key)[0]``. Entropic solvers (``multiplicative_weights``, ...) need every
        entry strictly positive.
      y0: starting y; give both or neither.
      record_every: record the trace every this many steps (plus step 0 and the last step); ``None`` records
        only the start and the end. Thinning saves memory on long runs. A record costs no evaluation of the
        game beyond the solver's own when the solver hands over its evaluation at z_t (see ``Result.trace``), else
        one vector-field evaluation.
      metrics: extra trace entries, a mapping ``{name: fn(x, y) -> array}`` with string names.
      max_norm: also treat ``||(x, y)|| > max_norm`` as divergence (e.g. ``1e6``).
      on_divergence: ``"warn"`` (default), ``"raise"`` (:class:`DivergenceError`) or ``"ignore"``. Only
        possible outside ``jit``/``vmap``; inside them read ``Result.diverged_step``.
      progress: ``progress(step, steps)`` called from the compiled loop at every record (e.g. a progress bar);
        ``True`` draws the library's :class:`minimax.progress.ProgressBar` on standard error (it appears once a run
        has taken over 1.5 s).
      summary_every: also keep running min, max, mean, argmin and argmax of every metric in ``Result.summary``,
        in constant memory (nothing is stacked), over the iterates at every record and every this many steps
        after each record. When it divides ``record_every`` (or with ``record_every=None``) these are step 0,
        every multiple of ``summary_every`` and the last step. Each observation costs one vector-field
        evaluation, like a record. With ``record_every=None`` a long run keeps only the start, the end and
        the summary.
      checkpoint_every: also keep (x, y, solver state) at step 0 and every this many steps in
        ``Result.checkpoints``, on the device, for diagnostics along training (spectra at each snapshot). Costs
        ``(steps // checkpoint_every + 2)`` copies of the iterate and solver state in memory
        (``Result.checkpoints.nbytes`` says how much) and one in-place write of them per step.
      ema: also keep an exponential moving average of the iterates with this decay in [0, 1) (``0.999`` is
        common for GAN generators): ``Result.x_ema``, ``Result.y_ema`` and the trace's ``dist_ema`` /
        ``gap_ema``. Off by default, so that the default loop carries nothing it does not need; a new decay
        reuses the compilation.

    Returns:
      A :class:`Result`. If an iterate becomes non-finite, the run keeps the last finite iterate, stops
      updating, and ``diverged_step`` says which step produced it; nothing is NaN-filled.

    Example:
      >>> import jax, jax.numpy as jnp, optax, minimax as mm, games
      >>> game = games.bilinear(jnp.array([[1.0]]))
      >>> res = mm.run(game, mm.extragradient(optax.sgd(0.5)), steps=100, key=jax.random.key(0))
      >>> bool(res.trace["dist"][-1] < 1e-4 * res.trace["dist"][0])
      True
    """
    if not isinstance(game, Game):
        raise TypeError(f"game: expected a minimax.Game, got {type(game).__name__}")
    if not isinstance(solver, Solver):
        hint = ""
        if hasattr(solver, "init") and hasattr(solver, "update"):
            hint = " (an optax optimizer is not a solver: wrap it, e.g. mm.simultaneous_gda(optax.sgd(0.1)))"
        raise TypeError(f"solver: expected a minimax.Solver, got {type(solver).__name__}{hint}")
    steps = _checks.positive_int(steps, "steps")
    if steps > MAX_STEPS:
        raise ValueError(f"steps: at most {MAX_STEPS} (the step counter is a 32-bit integer), got {steps}")
    record_every = _checks.positive_int(record_every, "record_every", allow_none=True)
    if record_every is None or record_every > steps:
        record_every = steps
    summary_every = _checks.positive_int(summary_every, "summary_every", allow_none=True)
    checkpoint_every = _checks.positive_int(checkpoint_every, "checkpoint_every", allow_none=True)
    if checkpoint_every is not None and checkpoint_every > steps:
        raise ValueError(f"checkpoint_every: expected at most steps={steps} (a snapshot every this many steps), "
                         f"got {checkpoint_every}")
    if ema is not None and not isinstance(ema, jax.core.Tracer):
        if isinstance(ema, bool) or not isinstance(ema, numbers.Real) or not 0 <= ema < 1:
            raise ValueError(f"ema: expected a decay in [0, 1) (e.g. 0.999) or None, got {ema!r}")
    if on_divergence not in ("warn", "raise", "ignore"):
        raise ValueError(f"on_divergence: expected 'warn', 'raise' or 'ignore', got {on_divergence!r}")
    if max_norm is not None and not (isinstance(max_norm, numbers.Real) and max_norm > 0):
        raise ValueError(f"max_norm: expected a positive number or None, got {max_norm!r}")
    bar = None
    if progress is False:
        progress = None
    elif progress is True:  # the library's own bar, fed through one stable callback (a new one would recompile)
        from minimax.progress import ProgressBar

        bar = _BAR.bar = ProgressBar(game.name or "run")
        progress = _BAR
    if progress is not None and not callable(progress):
        raise TypeError(f"progress: expected True, False, None or a function of (step, steps), got "
                        f"{type(progress).__name__}")
    metric_items = _checks.metric_items(metrics)
    check_solver_fits(game, solver)

    if key is not None and not _tree.is_key(key):
        raise TypeError(
            f"key: expected a PRNG key from jax.random.key(seed) (or jax.random.PRNGKey), got "
            f"{type(key).__name__} of shape {getattr(key, 'shape', None)}"
        )
    if (x0 is None) != (y0 is None):
        raise ValueError("x0, y0: give both starting points or neither (to draw them from game.init(key))")
    if x0 is None:
        if game.init is None:
            raise ValueError("x0, y0: the game has no init function, so pass both starting points")
        if key is None:
            raise ValueError("key: required to draw the starting point from game.init (or pass x0 and y0)")
        x0, y0 = _init_pair(game, key)
    if key is None:
        if game.stochastic:
            raise ValueError(f"key: the game {game.name!r} is stochastic, so run needs a key (jax.random.key(0))")
        key = _default_key()
    x0, y0 = _as_arrays(x0, "x0", check=False), _as_arrays(y0, "y0", check=False)
    _check_finite_start({"x0": x0, "y0": y0})
    check_point(game, x0, y0, key)
    _check_entropic_start(solver, x0, y0)
    _check_solver_step(game, solver, x0, y0, key, metric_items)

    guard = _guarded(progress) if progress is not None else None
    if guard is not None:
        guard.errors.clear()
    result = _compiled_call(game, solver, steps, record_every, metric_items, max_norm, guard, x0, y0, key,
                            summary_every=summary_every, checkpoint_every=checkpoint_every,
                            ema=ema if ema is None or isinstance(ema, jax.Array) else float(ema))  # weak: any dtype
    if guard is not None and guard.errors:
        jax.block_until_ready(result)
        err = guard.errors[0]
        raise RuntimeError(f"progress: the callback raised {type(err).__name__}: {err}") from err
    if bar is not None:
        jax.block_until_ready(result)
        bar.close()
    _report_divergence(result, on_divergence)
    return result


class _CurrentBar:
    """The callback behind ``progress=True``: forwards to the bar of the call in progress."""

    bar = None

    def __call__(self, step, steps):
        if self.bar is not None:
            self.bar(step, steps)


_BAR = _CurrentBar()


class _Guard:
    """A progress callback that keeps the user's exception instead of letting XLA turn it into a runtime error
    of its own (a 20-line ``CpuCallback error``); :func:`run` raises it after the call, naming the callback."""

    def __init__(self, fn):
        self.fn, self.errors = fn, []

    def __call__(self, step, steps):
        if self.errors:
            return
        try:
            self.fn(step, steps)
        except Exception as err:  # noqa: BLE001 - re-raised by run
            self.errors.append(err)


_GUARDS: dict = {}


def _guarded(fn) -> _Guard:
    """One guard per callback (the compiled loop is keyed on it, so a new guard per call would recompile)."""
    hit = _GUARDS.get(id(fn))
    if hit is None or hit.fn is not fn:
        hit = _GUARDS[id(fn)] = _Guard(fn)
        while len(_GUARDS) > 256:
            _GUARDS.pop(next(iter(_GUARDS)))
    return hit


# Skeletons whose numbers could not be traced as data (a float the user's code branches on in Python): these
# solvers compile with their numbers as constants, as before.
_NUMBERS_AS_CONSTANTS: set = set()
_TRACED_NUMBER_ERRORS = (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
                         jax.errors.TracerIntegerConversionError, jax.errors.TracerArrayConversionError)


def _compiled_call(game, solver, *args, **kwargs) -> Result:
    """:func:`_run_compiled` with the solver's numbers as data (one compilation for every step size), or as
    constants for a solver whose numbers cannot be traced."""
    skeleton, numbers = _program.fingerprint(solver, holes=True)
    if numbers and skeleton not in _NUMBERS_AS_CONSTANTS:
        try:
            return _run_compiled(game, skeleton, *args, numbers=tuple(numbers), **kwargs)
        except _TRACED_NUMBER_ERRORS:
            _NUMBERS_AS_CONSTANTS.add(skeleton)
    return _run_compiled(game, solver, *args, **kwargs)


def _report_divergence(result: Result, on_divergence: str) -> None:
    if on_divergence == "ignore" or isinstance(result.diverged_step, jax.core.Tracer):
        return
    flags, diverged = jax.device_get((result.nonfinite_step or {}, result.diverged_step))
    bad = {k: int(np.max(v)) for k, v in flags.items() if k in diagnostics.BUILTIN_METRICS and np.max(v) >= 0}
    if bad and np.max(diverged) < 0:
        where = ", ".join(f"{k} from step {v}" for k, v in bad.items())
        msg = f"run: the iterates stayed finite but trace metrics became non-finite: {where}"
        if on_divergence == "raise":
            raise DivergenceError(msg)
        warnings.warn(msg, NonFiniteMetricWarning, stacklevel=3)
    step = int(np.max(diverged))
    if step < 0:
        return
    msg = (
        f"run diverged: step {step} produced a non-finite (or too large) iterate; the result holds the last finite "
        f"iterate, after step {step - 1}"
    )
    if on_divergence == "raise":
        raise DivergenceError(msg)
    warnings.warn(msg, DivergenceWarning, stacklevel=3)
