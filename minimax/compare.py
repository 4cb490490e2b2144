"""Solver comparison: every (solver, step size) cell runs all seeds in one compiled, vmapped call.

:func:`compare` returns plain rows (dicts) that the command line prints as a table or writes as JSON/CSV, and that
notebooks turn into plots. :data:`SOLVERS` names the solver factories by a step size, so a comparison is a list of
names and a grid of step sizes; :data:`SOLVER_SPECS` and :data:`OPTIMIZERS` hold every solver's and optimizer's
settings with their defaults, and :func:`solver_factory` changes them (or gives y its own step size). Rows are
robust over seeds (medians, spreads, every verdict counted). This module is pure library code: no printing, no
plotting.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from minimax import _checks, _tree, _xla, accelerated, diagnostics, shaping, solvers, spectra
from minimax import driver as driver_module
from minimax.driver import run
from minimax.game import Game
from minimax.unrolled import unrolled

__all__ = ["OPTIMIZERS", "SOLVERS", "SOLVER_SPECS", "STEP", "OptimizerSpec", "SolverFactory", "SolverSpec",
           "compare", "compile_cell", "describe_settings", "iterate", "run_cell", "solver_factory", "starting_points",
           "summarise", "update_spectrum", "verdict_summary"]

#: Solver factories by name, each a function of one step size (used for both players, plain SGD steps).
SOLVERS: dict[str, Callable[[float], solvers.Solver]] = {
    "simultaneous": lambda lr: solvers.simultaneous_gda(optax.sgd(lr)),
    "alternating": lambda lr: solvers.alternating_gda(optax.sgd(lr)),
    "extragradient": lambda lr: solvers.extragradient(optax.sgd(lr)),
    "optimistic": lambda lr: solvers.optimistic_gda(optax.sgd(lr)),
    "past_extragradient": lambda lr: solvers.past_extragradient(optax.sgd(lr)),
    "consensus": lambda lr: solvers.consensus(optax.sgd(lr), gamma=0.5),
    "sga": lambda lr: solvers.sga(optax.sgd(lr), lam=1.0),
    "cgd": lambda lr: solvers.competitive_gradient(optax.sgd(lr), eta=lr),
    "lookahead": lambda lr: solvers.lookahead(solvers.simultaneous_gda(optax.sgd(lr)), k=5, alpha=0.5),
    "proximal_point": lambda lr: solvers.proximal_point(lr, inner_steps=20),
    "hamiltonian": lambda lr: solvers.hamiltonian_gd(optax.sgd(lr)),
    "extragradient_plus": lambda lr: solvers.extragradient(optax.sgd(lr / 2), extrapolation=optax.sgd(lr)),
    "look_ahead": lambda lr: shaping.look_ahead(optax.sgd(lr), alpha=lr),
    "lola": lambda lr: shaping.lola(optax.sgd(lr), alpha=lr),
    "sos": lambda lr: shaping.sos(optax.sgd(lr), alpha=lr),
    "anchored_extragradient": lambda lr: accelerated.anchored_extragradient(lr),
    # EAG-V's recursion needs L: the step size is alpha_0, taken as the theorem's largest, (sqrt(5) - 1) / (2 L).
    "anchored_extragradient_varying": lambda lr: accelerated.anchored_extragradient(
        lr, variant="varying", lipschitz=_tied(EAG_V_LIPSCHITZ, lr)),
    "fast_extragradient": lambda lr: accelerated.fast_extragradient(lr),
    "follow_the_ridge": lambda lr: accelerated.follow_the_ridge(optax.sgd(lr)),
    "unrolled": lambda lr: unrolled(optax.sgd(lr), unroll=5),
    "mwu": lambda lr: solvers.multiplicative_weights(lr),
    "omwu": lambda lr: solvers.optimistic_multiplicative_weights(lr),
    "mirror_prox": lambda lr: solvers.mirror_prox(lr),
}


# -- solvers with their settings --------------------------------------------------------------------------------------
#: The step size itself, as the default of a setting tied to it (CGD's eta, LA/LOLA/SOS's alpha).
STEP = "step"


class OptimizerSpec(NamedTuple):
    """An optimizer by name: ``make(learning_rate, **settings)`` and its settings' defaults."""

    make: Callable[..., optax.GradientTransformation]
    settings: dict


def _sgd(lr, momentum=0.0, nesterov=False):
    return optax.sgd(lr) if momentum == 0 and not nesterov else optax.sgd(lr, momentum=momentum, nesterov=nesterov)


#: Optimizers ``--optimizer`` knows, each player getting its own with its own step size.
OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(_sgd, {"momentum": 0.0, "nesterov": False}),
    "adam": OptimizerSpec(optax.adam, {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 0.0}),
    "rmsprop": OptimizerSpec(optax.rmsprop, {"decay": 0.9, "eps": 1e-8}),
    "adagrad": OptimizerSpec(optax.adagrad, {"initial_accumulator_value": 0.1, "eps": 1e-7}),
}


class SolverSpec(NamedTuple):
    """A solver by name: ``build(opt, lr, lr_y, **settings) -> Solver`` and its settings' defaults.

    ``opt(scale=1.0)`` returns ``(opt_x, opt_y)``, the chosen optimizer at ``scale`` times each player's step
    size; ``lr`` and ``lr_y`` are the step sizes. ``optimizer`` says whether the solver takes optax optimizers
    (the entropic and proximal methods take step sizes), ``two_timescale`` whether it can give y its own step.
    """

    build: Callable[..., solvers.Solver]
    settings: dict
    optimizer: bool = True
    two_timescale: bool = True


#: EAG-V's Lipschitz constant tied to the step size: the L for which the step is the theorem's largest alpha_0,
#: (sqrt(5) - 1) / (2 L).
EAG_V_LIPSCHITZ = "0.618/step"
#: The defaults tied to the step size, each marker with its value at step size ``lr``.
_TIED = {STEP: lambda lr: lr, EAG_V_LIPSCHITZ: lambda lr: accelerated.EAG_V_MAX_STEP / lr}


def _tied(value, lr):
    return _TIED[value](lr) if isinstance(value, str) and value in _TIED else value


def is_tied(value) -> bool:
    """Whether a setting's value is a marker tied to the step size (:data:`STEP`, EAG-V's ``"0.618/step"``)."""
    return isinstance(value, str) and value in _TIED


def _lookahead(opt, lr, lr_y, *, inner, k, alpha):
    if inner == "lookahead" or inner not in SOLVER_SPECS:
        raise ValueError(f"lookahead.inner: expected a solver name other than lookahead, got {inner!r}")
    spec = SOLVER_SPECS[inner]
    return solvers.lookahead(spec.build(opt, lr, lr_y, **spec.settings), k=k, alpha=alpha)


#: Every solver of :data:`SOLVERS` with its settings; ``SOLVERS[name](lr)`` is ``make_solver(name, lr)``, its
#: defaults (tests check that the two agree).
SOLVER_SPECS: dict[str, SolverSpec] = {
    "simultaneous": SolverSpec(lambda opt, lr, lr_y: solvers.simultaneous_gda(*opt()), {}),
    "alternating": SolverSpec(lambda opt, lr, lr_y, **kw: solvers.alternating_gda(*opt(), **kw),
                              {"first": "x", "x_steps": 1, "y_steps": 1}),
    "extragradient": SolverSpec(lambda opt, lr, lr_y: solvers.extragradient(*opt()), {}),
    "optimistic": SolverSpec(lambda opt, lr, lr_y, **kw: solvers.optimistic_gda(*opt(), **kw), {"optimism": 1.0}),
    "past_extragradient": SolverSpec(lambda opt, lr, lr_y: solvers.past_extragradient(*opt()), {}),
    "consensus": SolverSpec(lambda opt, lr, lr_y, **kw: solvers.consensus(*opt(), **kw), {"gamma": 0.5}),
    "sga": SolverSpec(lambda opt, lr, lr_y, **kw: solvers.sga(*opt(), **kw), {"lam": 1.0, "align": False}),
    "cgd": SolverSpec(lambda opt, lr, lr_y, eta, cg_steps: solvers.competitive_gradient(
        *opt(), eta=_tied(eta, lr), cg_steps=cg_steps), {"eta": STEP, "cg_steps": 10}),
    "lookahead": SolverSpec(_lookahead, {"inner": "simultaneous", "k": 5, "alpha": 0.5}),
    "proximal_point": SolverSpec(lambda opt, lr, lr_y, **kw: solvers.proximal_point(lr, **kw), {"inner_steps": 20},
                                 optimizer=False, two_timescale=False),
    "hamiltonian": SolverSpec(lambda opt, lr, lr_y: solvers.hamiltonian_gd(opt()[0]), {}, two_timescale=False),
    "extragradient_plus": SolverSpec(lambda opt, lr, lr_y, update_scale: solvers.extragradient(
        *opt(update_scale), extrapolation=opt()[0]), {"update_scale": 0.5}, two_timescale=False),
    "look_ahead": SolverSpec(lambda opt, lr, lr_y, alpha: shaping.look_ahead(*opt(), alpha=_tied(alpha, lr)),
                             {"alpha": STEP}),
    "lola": SolverSpec(lambda opt, lr, lr_y, alpha: shaping.lola(*opt(), alpha=_tied(alpha, lr)), {"alpha": STEP}),
    "sos": SolverSpec(lambda opt, lr, lr_y, alpha, a, b: shaping.sos(*opt(), alpha=_tied(alpha, lr), a=a, b=b),
                      {"alpha": STEP, "a": 0.5, "b": 0.1}),
    "anchored_extragradient": SolverSpec(lambda opt, lr, lr_y: accelerated.anchored_extragradient(lr), {},
                                         optimizer=False, two_timescale=False),
    "anchored_extragradient_varying": SolverSpec(
        lambda opt, lr, lr_y, lipschitz: accelerated.anchored_extragradient(
            lr, variant="varying", lipschitz=_tied(lipschitz, lr)),
        {"lipschitz": EAG_V_LIPSCHITZ}, optimizer=False, two_timescale=False),
    "fast_extragradient": SolverSpec(lambda opt, lr, lr_y, **kw: accelerated.fast_extragradient(lr, **kw),
                                     {"rho": 0.0, "lipschitz": None}, optimizer=False, two_timescale=False),
    "follow_the_ridge": SolverSpec(lambda opt, lr, lr_y, **kw: accelerated.follow_the_ridge(*opt(), **kw),
                                   {"cg_steps": 10}),
    "unrolled": SolverSpec(lambda opt, lr, lr_y, unroll: unrolled(*opt(), unroll=unroll), {"unroll": 5}),
    "mwu": SolverSpec(lambda opt, lr, lr_y: solvers.multiplicative_weights(lr, lr_y), {}, optimizer=False),
    "omwu": SolverSpec(lambda opt, lr, lr_y: solvers.optimistic_multiplicative_weights(lr, lr_y), {},
                       optimizer=False),
    "mirror_prox": SolverSpec(lambda opt, lr, lr_y: solvers.mirror_prox(lr, lr_y), {}, optimizer=False),
}


def _items(settings: Optional[Mapping]) -> tuple:
    return tuple(sorted((settings or {}).items()))


class SolverFactory(NamedTuple):
    """``step_size -> Solver`` for a named solver with an optimizer and settings; equal arguments make equal (and
    hashable) factories, so that compiled cells are shared. Build one with :func:`solver_factory`.

    Called with one step size (both players) or a pair ``(lr_x, lr_y)``, as numbers or a traced array of shape
    ``()`` or ``(2,)``.
    """

    name: str
    optimizer: str = "sgd"
    optimizer_settings: tuple = ()
    settings: tuple = ()

    def __call__(self, step_size) -> solvers.Solver:
        lr, lr_y = _split_step(step_size)
        opt_spec = OPTIMIZERS[self.optimizer]
        opt_settings = dict(self.optimizer_settings)

        def opt(scale=1.0):
            return (opt_spec.make(lr * scale if scale != 1.0 else lr, **opt_settings),
                    opt_spec.make(lr_y * scale if scale != 1.0 else lr_y, **opt_settings))

        return SOLVER_SPECS[self.name].build(opt, lr, lr_y, **self.resolved())

    def resolved(self) -> dict:
        """Every setting of the solver with its value (defaults included), and the optimizer's."""
        return dict(SOLVER_SPECS[self.name].settings, **dict(self.settings))

    def optimizer_resolved(self) -> Optional[dict]:
        if not SOLVER_SPECS[self.name].optimizer:
            return None
        return dict(OPTIMIZERS[self.optimizer].settings, **dict(self.optimizer_settings))


def _split_step(step_size):
    if isinstance(step_size, (tuple, list)):
        return step_size[0], step_size[1]
    if isinstance(step_size, (jax.Array, np.ndarray)) and np.ndim(step_size) == 1:
        return step_size[0], step_size[1]
    return step_size, step_size


def solver_factory(name: str, *, optimizer: str = "sgd", optimizer_settings: Optional[Mapping] = None,
                   settings: Optional[Mapping] = None) -> SolverFactory:
    """A :class:`SolverFactory` for solver ``name`` of :data:`SOLVER_SPECS`, with ``optimizer`` (a name of
    :data:`OPTIMIZERS`) and any of their settings changed from the defaults; every name is checked.

    Example:
      >>> make = solver_factory("consensus", settings={"gamma": 0.3})
      >>> make(0.1) == solvers.consensus(optax.sgd(0.1), gamma=0.3)
      True
      >>> solver_factory("consensus", optimizer="adam")((0.1, 0.2)) == solvers.consensus(optax.adam(0.1),
      ...                                                                                 optax.adam(0.2), gamma=0.5)
      True
    """
    if name not in SOLVER_SPECS:
        raise ValueError(f"solvers: {name!r} has no settings table (SOLVER_SPECS); known: {', '.join(SOLVER_SPECS)}")
    spec = SOLVER_SPECS[name]
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    for key in settings or {}:
        if key not in spec.settings:
            known = ", ".join(spec.settings) or "none"
            raise ValueError(f"settings: {name} has no setting {key!r}; its settings: {known}")
    for key in optimizer_settings or {}:
        if key not in OPTIMIZERS[optimizer].settings:
            raise ValueError(f"optimizer_settings: {optimizer} has no setting {key!r}; its settings: "
                             f"{', '.join(OPTIMIZERS[optimizer].settings)}")
    if not spec.optimizer and (optimizer != "sgd" or optimizer_settings):
        raise ValueError(f"optimizer: {name} takes step sizes, not an optax optimizer, so --optimizer and its "
                         f"settings do not apply to it")
    return SolverFactory(name, optimizer, _items(optimizer_settings), _items(settings))


def describe_settings(values: Optional[Mapping]) -> str:
    """``"gamma=0.5 k=5"``: settings as text (``""`` for none)."""
    return " ".join(f"{k}={_show(v)}" for k, v in (values or {}).items())


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)

def _factory(name_or_factory):
    if isinstance(name_or_factory, SolverFactory):
        return name_or_factory.name, name_or_factory
    if callable(name_or_factory):
        return getattr(name_or_factory, "__name__", "solver"), name_or_factory
    if name_or_factory not in SOLVERS:
        raise ValueError(f"solvers: unknown solver {name_or_factory!r}; known: {', '.join(SOLVERS)}")
    if name_or_factory in SOLVER_SPECS:  # the same solver, with its settings known (and a factory equal by value)
        return name_or_factory, solver_factory(name_or_factory)
    return name_or_factory, SOLVERS[name_or_factory]


def _is_number(s) -> bool:
    return not isinstance(s, bool) and isinstance(s, (int, float, np.number)) and bool(np.isfinite(s)) and s > 0


def _step_sizes(step_sizes) -> list:
    """Positive numbers, or (x, y) pairs of them; with any pair, every entry as a pair (one compilation)."""
    if isinstance(step_sizes, (str, bytes)) or not isinstance(step_sizes, Sequence) and not (
            isinstance(step_sizes, np.ndarray) and step_sizes.ndim in (1, 2)):
        raise TypeError(f"step_sizes: expected a list of positive numbers (e.g. [0.05, 0.1]) or (x, y) pairs, got "
                        f"{type(step_sizes).__name__} {step_sizes!r}")
    out = []
    for s in list(step_sizes):
        if isinstance(s, (tuple, list, np.ndarray)) and len(s) == 2 and all(_is_number(v) for v in s):
            out.append((float(s[0]), float(s[1])))
        elif _is_number(s):
            out.append(float(s))
        else:
            raise ValueError(f"step_sizes: expected positive numbers or (x, y) pairs of them, got {list(step_sizes)!r}")
    if not out:
        raise ValueError("step_sizes: expected positive numbers, got []")
    if any(isinstance(s, tuple) for s in out):
        out = [s if isinstance(s, tuple) else (s, s) for s in out]
    return out


def _check_two_timescale(name, factory, step_sizes) -> None:
    pairs = [s for s in step_sizes if isinstance(s, tuple)]
    if not pairs:
        return
    if not isinstance(factory, SolverFactory):
        raise ValueError(f"step_sizes: {pairs[0]} gives y a step size of its own, which {name!r} (a function of one "
                         f"step size) cannot take")
    if not SOLVER_SPECS[factory.name].two_timescale and any(a != b for a, b in pairs):
        raise ValueError(f"step_sizes: {name} takes one step size for both players, got {pairs[0]}")


def iterate(x, y) -> jax.Array:
    """The iterate ``z = (x, y)`` flattened into one vector: the trace metric ``"z"`` of ``record_iterates``."""
    return ravel_pytree((x, y))[0]


_CACHE_SIZE = 64
_compiled_cells: "OrderedDict[tuple, Any]" = OrderedDict()


def starting_points(game: Game, keys: jax.Array):
    """``game.init`` of each key, batched: the starting points ``(x0s, y0s)`` that :func:`minimax.run` would draw.

    Drawn once per comparison and passed to every cell, so that the cells do not each compile the sampler (a
    Dirichlet draw for matrix games costs more to compile than the rest of a run).
    """
    if game.init is None:
        raise ValueError(f"game: {game.name!r} has no init function, so compare cannot draw starting points")
    starts = _batched_init(game)(keys)
    if not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(starts)):
        for name, part in zip(("x0", "y0"), starts):  # the rule of mm.run: a non-finite start is refused
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf).reshape(leaf.shape[0], -1), axis=1)
                                        for leaf in jax.tree.leaves(part)]), axis=0)
            if not bool(jnp.all(finite)):
                seed = int(jnp.argmin(finite))
                raise ValueError(f"init: game.init drew a non-finite {name} (NaN or inf) for seed {seed}; "
                                 f"expected a finite start")
    return starts


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _batched_init(game: Game):
    return jax.jit(jax.vmap(lambda key: game.init(key)))


def _signature(tree) -> tuple:
    leaves, treedef = jax.tree.flatten(tree)
    return (treedef,) + tuple((tuple(leaf.shape), str(leaf.dtype)) for leaf in leaves)


def compile_cell(game: Game, factory: Callable, step_size: float, keys: jax.Array, starts, *, steps: int,
                 record_every: Optional[int] = None, metrics: Optional[Mapping[str, Callable]] = None,
                 progress: Optional[Callable] = None):
    """The compiled, vmapped run of ``factory(step_size)`` over ``keys`` and ``starts``, and its compile seconds.

    Seed i runs ``mm.run(game, factory(step_size), key=keys[i], x0=x0s[i], y0=y0s[i], ...)`` with
    ``starts = (x0s, y0s)`` (see :func:`starting_points`). The step size is an argument of the compiled function,
    not a constant in it, so every step size of one solver on one game reuses one compilation: executables are
    cached by game, factory, steps, thinning, metrics, progress callback and the shapes and dtypes of the arguments
    (``compile_seconds`` is 0 on a hit). Call the executable as ``executable(jnp.asarray(step_size), keys,
    starts)``; :func:`run_cell` does.
    """
    lr = _step_size_array(step_size)
    items = _checks.metric_items(metrics)
    cache_key = (game, factory, steps, record_every, items, progress, _signature((lr, keys, starts)),
                 bool(jax.config.jax_enable_x64))
    if cache_key in _compiled_cells:
        _compiled_cells.move_to_end(cache_key)
        return _compiled_cells[cache_key], 0.0

    def one(lr_, key, start_):
        x0, y0 = start_
        return run(game, factory(lr_), steps=steps, key=key, x0=x0, y0=y0, record_every=record_every,
                   metrics=dict(items) or None, on_divergence="ignore", progress=progress)

    start = time.perf_counter()
    executable = jax.jit(jax.vmap(one, in_axes=(None, 0, 0)), compiler_options=_xla.compiler_options()).lower(
        lr, keys, starts).compile()
    seconds = time.perf_counter() - start
    _compiled_cells[cache_key] = executable
    if len(_compiled_cells) > _CACHE_SIZE:
        _compiled_cells.popitem(last=False)
    return executable, seconds


def _step_size_array(step_size) -> jax.Array:
    return jnp.asarray(step_size, jnp.result_type(float))


def run_cell(game: Game, factory: Callable, step_size: float, keys: jax.Array, *, steps: int,
             record_every: Optional[int] = None, metrics: Optional[Mapping[str, Callable]] = None,
             progress: Optional[Callable] = None, starts=None):
    """Runs ``factory(step_size)`` on ``game`` once per key, as one compiled vmapped call.

    Each key's run starts from ``game.init(key)`` (or from ``starts = (x0s, y0s)``, batched like the keys) and is
    the run ``mm.run(game, factory(step_size), key=key)`` would make. The step size is traced, so every step size
    of a solver reuses one compilation (see :func:`compile_cell`). ``metrics`` and ``progress`` are passed to
    :func:`minimax.run`; ``progress`` is called from the compiled loop (once per record, not once per key).

    Returns:
      The batched :class:`minimax.Result` (leading axis: keys) and the wall time of this call in seconds,
      compilation included when it happened.
    """
    start = time.perf_counter()
    starts = starting_points(game, keys) if starts is None else starts
    executable, _ = compile_cell(game, factory, step_size, keys, starts, steps=steps, record_every=record_every,
                                 metrics=metrics, progress=progress)
    result = jax.block_until_ready(executable(_step_size_array(step_size), keys, starts))
    if progress is not None:  # the run loop keeps a raising callback's exception: raise it here, by name
        guard = driver_module._guarded(progress)
        if guard.errors:
            err = guard.errors[0]
            guard.errors.clear()
            raise RuntimeError(f"progress: the callback raised {type(err).__name__}: {err}") from err
    return result, time.perf_counter() - start


class _CellProgress:
    """Turns each cell's ``(step, steps)`` into progress over the whole comparison; one object per comparison,
    so that it does not defeat the cache of compiled cells (the callback is part of the compiled function)."""

    def __init__(self, callback: Callable, cells: int):
        self.callback, self.cells, self.cell = callback, cells, 0

    def __call__(self, step, steps):
        steps = int(steps)
        self.callback(self.cell * steps + int(step), self.cells * steps)


def compare(
    game: Game,
    solver_names: Sequence = ("simultaneous", "alternating", "extragradient", "optimistic"),
    *,
    step_sizes: Sequence[float] = (0.1,),
    steps: int = 1000,
    seeds: int = 1,
    key: Optional[jax.Array] = None,
    record_every: Optional[int] = None,
    record_iterates: bool = False,
    on_cell: Optional[Callable[[dict], None]] = None,
    progress: Optional[Callable] = None,
    keep_results: bool = False,
) -> list[dict]:
    """Compares solvers on ``game`` over a grid of step sizes and seeds.

    Each (solver, step size) cell runs all seeds in one compiled, vmapped call; the step sizes of one solver share
    one compilation.

    Args:
      game: the game; its ``init`` draws each seed's starting point.
      solver_names: names from :data:`SOLVERS`, or factories ``step_size -> Solver`` (:func:`solver_factory`
        makes one with another optimizer or settings).
      step_sizes: the step sizes to try for each solver: numbers (both players), or ``(x, y)`` pairs for two
        timescales (factories from :func:`solver_factory` only).
      steps: steps per run.
      seeds: runs per cell (one vmapped call).
      key: the base key (default ``jax.random.key(0)``); seed i uses ``fold_in(key, i)``, the same starting
        points for every cell.
      record_every: trace thinning (default: about 200 records per run, 1000 with ``record_iterates``).
      record_iterates: also record the flattened iterate ``z = (x, y)`` as ``trace["z"]`` (for phase portraits
        and simplex plots; keep it for small games).
      on_cell: called with each row as soon as its cell is done.
      progress: ``progress(done, total)`` in steps over the whole comparison, called from the compiled loops
        (e.g. a :class:`minimax.progress.ProgressBar`).
      keep_results: also store the batched :class:`minimax.Result` under ``"result"`` and the solver factory
        under ``"factory"`` in each row (for plots).

    Returns:
      A list with one dict per (solver, step size), with ``game``, ``solver``, ``step_size`` (x's), ``step_size_y``, ``optimizer``,
      ``optimizer_settings`` and ``settings`` (every setting with its value, defaults included; None for a
      factory of one's own), ``steps``, ``seeds``, ``metric``
      (``dist``, ``gap``, ``residual`` or ``grad_norm``, as :func:`minimax.default_metric` picks), ``final`` (the
      median over seeds of the final metric), ``final_min`` and ``final_max`` (its spread over seeds),
      ``initial`` (median), ``avg_metric`` and ``final_avg`` (the averaged iterate's metric, ``dist_avg`` or
      ``gap_avg``, median over seeds; None when the trace has none), ``rate_step`` and ``rate_eval`` (median
      empirical rates per step and per gradient evaluation), ``radius`` (spectral radius at the equilibrium,
      when the game knows a single one; for a stochastic game the expected Jacobian's over
      :data:`RADIUS_SAMPLES` mini-batches), ``radius_note`` (why the radius says little, or None: an adaptive
      optimizer with a zero second moment, a boundary strategy, ...; :func:`minimax.linearisation_notes`),
      ``verdict`` (the most common label over seeds; a tie goes to the first in :data:`minimax.VERDICTS`),
      ``verdicts`` (counts), ``verdict_summary`` (every label with its count
      and the diverged seeds' step, ``verdict_summary()``), ``diverged_at`` (earliest divergence step or
      None), ``diverged_steps`` (each diverged seed's step), ``grad_evals`` (vector-field evaluations of the
      longest-running seed: its completed steps times the solver's ``grad_evals`` per step),
      ``compile_seconds`` (0 when the compilation was reused) and ``seconds`` (the compiled run of all seeds).
      Verdicts use ``stochastic=game.stochastic`` (see :func:`minimax.classify`).

    Example:
      >>> import games
      >>> rows = compare(games.bilinear(jnp.eye(1)), ["extragradient"], step_sizes=[0.1, 0.2], steps=200)
      >>> [(r["step_size"], r["verdict"]) for r in rows]
      [(0.1, 'converged'), (0.2, 'converged')]
    """
    if not isinstance(game, Game):
        raise TypeError(f"game: expected a minimax.Game, got {type(game).__name__}")
    seeds = _checks.positive_int(seeds, "seeds")
    steps = _checks.positive_int(steps, "steps")
    step_sizes = _step_sizes(step_sizes)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress: expected a function of (done, total), got {type(progress).__name__}")
    if isinstance(solver_names, str):
        solver_names = [solver_names]
    factories = [_factory(s) for s in solver_names]
    if key is not None and not _tree.is_key(key):
        raise TypeError(f"key: expected a PRNG key from jax.random.key(seed), got {type(key).__name__} "
                        f"{key!r}"[:200])
    for name, make in factories:  # each factory must build a solver that fits the game, checked before tracing
        _check_two_timescale(name, make, step_sizes)
        try:
            probe = make(step_sizes[0])
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"solvers: building {name!r} with step size {step_sizes[0]} failed: "
                             f"{type(err).__name__}: {err}") from err
        if not isinstance(probe, solvers.Solver):
            raise TypeError(f"solvers: the factory {name!r} must return a minimax.Solver, got "
                            f"{type(probe).__name__}")
        solvers.check_solver_fits(game, probe)
    key = jax.random.key(0) if key is None else key
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(seeds))
    starts = starting_points(game, keys)
    record_every = record_every or max(1, steps // (1000 if record_iterates else 200))
    metrics = {"z": iterate} if record_iterates else None
    cell_progress = None if progress is None else _CellProgress(progress, len(factories) * len(step_sizes))

    rows = []
    for name, factory in factories:
        for lr in step_sizes:
            executable, compile_seconds = compile_cell(game, factory, lr, keys, starts, steps=steps,
                                                       record_every=record_every, metrics=metrics,
                                                       progress=cell_progress)
            start = time.perf_counter()
            result = jax.block_until_ready(executable(_step_size_array(lr), keys, starts))
            seconds = time.perf_counter() - start
            lr_x, lr_y = _split_step(lr)
            row = {"game": game.name, "solver": name, "step_size": float(lr_x), "step_size_y": float(lr_y),
                   "steps": steps, "seeds": seeds}
            row.update(_settings_fields(factory))
            solver = factory(lr)
            radius, radius_note = _equilibrium_radius(game, factory, lr, solver.period)
            row.update(summarise(game, solver, result, radius=radius))
            row["radius_note"] = radius_note
            row.update(compile_seconds=compile_seconds, seconds=seconds)
            if keep_results:
                row.update(result=result, factory=factory)
            rows.append(row)
            if cell_progress is not None:
                cell_progress.cell += 1
                progress(cell_progress.cell * steps, cell_progress.cells * steps)
            if on_cell is not None:
                on_cell(row)
    return rows


def _settings_fields(factory) -> dict:
    """The row's ``optimizer``, ``optimizer_settings`` and ``settings``: every hidden default spelled out (None for a
    factory of one's own, whose settings are not known)."""
    if not isinstance(factory, SolverFactory):
        return {"optimizer": None, "optimizer_settings": None, "settings": None}
    opt = factory.optimizer_resolved()
    return {"optimizer": factory.optimizer if opt is not None else None, "optimizer_settings": opt,
            "settings": factory.resolved()}


def summarise(game: Game, solver: solvers.Solver, result, *, radius: Any = "auto") -> dict:
    """Summary statistics of a batched result (leading axis = seeds) of one solver on one game.

    Robust over seeds: ``final`` and ``initial`` are medians, ``final_min`` / ``final_max`` the spread, so one seed
    that blew up does not swamp the others; ``verdict_summary`` names every label that occurred with its count and
    each diverged seed's step (``"3 converged, 1 diverged@6"``). Rates are measured on each seed's records before
    its divergence step (after it, a trace repeats the last finite iterate's metrics). ``radius`` is the spectral
    radius at the equilibrium; ``"auto"`` computes it when the game knows a single equilibrium.
    """
    trace = result.trace
    metric = diagnostics.default_metric(trace)
    final = np.asarray(trace[metric][:, -1], np.float64)
    initial = np.asarray(trace[metric][:, 0], np.float64)
    verdicts = np.asarray(diagnostics.classify(result, metric, stochastic=game.stochastic),
                          dtype=str).ravel().tolist()
    diverged = np.asarray(result.diverged_step)
    finite_part = dict(trace)
    steps = np.asarray(trace["step"])
    before = (diverged[:, None] < 0) | (steps < diverged[:, None])
    finite_part[metric] = np.where(before, np.asarray(trace[metric], np.float64), np.nan)
    with np.errstate(all="ignore"):
        rate_step = diagnostics.empirical_rate(finite_part, metric)
        rate_eval = diagnostics.empirical_rate(finite_part, metric, per="grad_eval")
    counts = {v: verdicts.count(v) for v in diagnostics.VERDICTS if v in verdicts}
    avg_metric = f"{metric}_avg" if f"{metric}_avg" in trace else None
    if isinstance(radius, str) and radius == "auto":
        radius = None
        if _has_single_equilibrium(game):
            try:
                radius = update_spectrum(game, solver, *game.equilibrium)[1]
            except Exception:  # noqa: BLE001 - a radius is a bonus; non-smooth players (projections) may lack one
                radius = None
    row = {
        "metric": metric,
        "initial": _median(initial),
        "final": _median(final),
        "final_min": _extreme(final, np.min),
        "final_max": _extreme(final, np.max),
        "avg_metric": avg_metric,
        "final_avg": None if avg_metric is None else _median(np.asarray(trace[avg_metric][:, -1], np.float64)),
        "rate_step": _nanmedian(rate_step),
        "rate_eval": _nanmedian(rate_eval),
        "radius": radius,
        "verdict": _majority(counts),
        "verdicts": counts,
        "diverged_at": int(diverged[diverged >= 0].min()) if np.any(diverged >= 0) else None,
        "diverged_steps": [int(d) for d in diverged if d >= 0],
        # From the solver's count per step, in double precision: a float32 trace entry rounds beyond 2**24.
        "grad_evals": float(np.max(np.asarray(result.steps_completed))) * float(solver.grad_evals),
    }
    row["verdict_summary"] = verdict_summary(row["verdicts"], row["diverged_steps"])
    return row


def verdict_summary(counts: Mapping[str, int], diverged_steps: Sequence[int] = ()) -> str:
    """The verdicts of a cell's seeds in words: ``"converged"`` when all agree, else every label with its count,
    the most common first (``"3 converged, 1 diverged@6"``); diverged seeds whose iterate became non-finite carry
    the earliest such step."""
    steps = sorted(int(d) for d in diverged_steps)

    def label(v):
        if v == "diverged" and steps:
            return f"diverged@{steps[0]}"
        return v

    if len(counts) == 1:
        return label(next(iter(counts)))
    order = sorted(counts, key=lambda v: (-counts[v], diagnostics.VERDICTS.index(v)))
    return ", ".join(f"{counts[v]} {label(v)}" for v in order)


def _median(values: np.ndarray) -> Optional[float]:
    """The median of the finite values (a non-finite final metric sorts as the largest), or None for none."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return None
    return float(np.median(np.where(np.isnan(values), np.inf, values)))


def _extreme(values: np.ndarray, reduce) -> Optional[float]:
    values = np.asarray(values, np.float64)
    return float(reduce(np.where(np.isnan(values), np.inf, values))) if values.size else None


def _majority(counts: dict) -> str:
    """The most common verdict; a tie goes to the one first in :data:`minimax.VERDICTS` (converged, stalled,
    cycling, noise floor, diverged), whatever the order of the seeds."""
    return max(counts, key=lambda v: (counts[v], -diagnostics.VERDICTS.index(v)))


def _has_single_equilibrium(game: Game) -> bool:
    return game.equilibrium is not None and game.distance is None


_update_jacobian = jax.jit(diagnostics.update_jacobian, static_argnums=(0, 1))


def update_spectrum(game: Game, solver: solvers.Solver, x, y) -> tuple[np.ndarray, float]:
    """Eigenvalues of ``solver``'s linearised update at (x, y) and its per-step spectral radius.

    The same quantities as :func:`minimax.update_eigenvalues` and :func:`minimax.spectral_radius`, with the
    update's Jacobian built in one compiled call (eagerly, each costs more).
    """
    return _spectrum(_update_jacobian(game, solver, x, y), solver.period)


def _spectrum(matrix, period: int) -> tuple[np.ndarray, float]:
    matrix = np.asarray(matrix, np.complex128)
    if not np.all(np.isfinite(matrix)):  # e.g. a step size so large the linearisation overflows: no spectrum
        return np.full(matrix.shape[0], complex(np.nan, np.nan)), float("nan")
    eig = np.linalg.eigvals(matrix)
    return eig, float(np.max(np.abs(eig)) ** (1.0 / period))


#: Mini-batches the radius column of a stochastic game averages the update's Jacobian over.
RADIUS_SAMPLES = 16


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _jacobian_by_step_size(game: Game, factory: Callable):
    """``lr -> update Jacobian of factory(lr) at the equilibrium``, compiled once for all step sizes; for a
    stochastic game the expected Jacobian over :data:`RADIUS_SAMPLES` mini-batches."""
    x, y = game.equilibrium
    samples = RADIUS_SAMPLES if game.stochastic else None

    def jacobian(lr):  # the map of minimax.update_jacobian, without its point checks (they cannot run traced)
        fun, flat = spectra._map("update", game, factory(lr), samples, x, y, None, jax.random.key(0))
        return jax.jacfwd(fun)(flat)

    return jax.jit(jacobian)


def _equilibrium_radius(game: Game, factory: Callable, step_size: float, period: int):
    """``(radius, note)``: the spectral radius at the equilibrium (None when the game knows no single one or the
    linearisation is not finite) and why it says little, or None (:func:`minimax.linearisation_notes`)."""
    if not _has_single_equilibrium(game):
        return None, None
    x, y = game.equilibrium
    samples = RADIUS_SAMPLES if game.stochastic else None
    solver = factory(step_size)
    try:
        notes = spectra.linearisation_notes(game, solver, x, y, samples=samples)
    except Exception:  # noqa: BLE001 - a note is a bonus
        notes = []
    if samples:
        notes.insert(0, f"radius of the expected Jacobian over {samples} mini-batches")
    try:
        radius = _spectrum(_jacobian_by_step_size(game, factory)(_step_size_array(step_size)), period)[1]
    except Exception:  # noqa: BLE001 - as in summarise: a radius is a bonus
        radius = None
    if radius is None or not np.isfinite(radius):
        if len(notes) == (1 if samples else 0):
            try:
                notes.append("radius not finite at the equilibrium: "
                             + spectra._why_not_finite(game, solver, x, y, None, None, samples))
            except Exception:  # noqa: BLE001
                notes.append("radius not finite at the equilibrium")
        radius = None
    return radius, "; ".join(notes) or None


def _nanmedian(values) -> Optional[float]:
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    return float(np.median(values))
