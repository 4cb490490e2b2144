"""Solver comparison: every (solver, step size) cell runs all seeds in one compiled, vmapped call.

:func:`compare` returns plain rows (dicts) that the command line prints as a table or writes as JSON/CSV, and that
notebooks turn into plots. :data:`SOLVERS` names the solver factories by a step size, so a comparison is a list of
names and a grid of step sizes. This module is pure library code: no printing, no plotting.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimax import diagnostics, solvers
from minimax.driver import run
from minimax.game import Game

__all__ = ["SOLVERS", "compare", "run_cell"]

#: Solver factories by name, each a function of one step size (used for both players, plain SGD steps).
SOLVERS: dict[str, Callable[[float], solvers.Solver]] = {
    "simultaneous": lambda lr: solvers.simultaneous_gda(optax.sgd(lr)),
    "alternating": lambda lr: solvers.alternating_gda(optax.sgd(lr)),
    "extragradient": lambda lr: solvers.extragradient(optax.sgd(lr)),
    "optimistic": lambda lr: solvers.optimistic_gda(optax.sgd(lr)),
    "past_extragradient": lambda lr: solvers.past_extragradient(optax.sgd(lr)),
    "consensus": lambda lr: solvers.consensus(optax.sgd(lr), gamma=0.5),
    "sga": lambda lr: solvers.sga(optax.sgd(lr), lam=1.0),
    "lookahead": lambda lr: solvers.lookahead(solvers.simultaneous_gda(optax.sgd(lr)), k=5, alpha=0.5),
    "proximal_point": lambda lr: solvers.proximal_point(lr, inner_steps=20),
    "mwu": lambda lr: solvers.multiplicative_weights(lr),
    "omwu": lambda lr: solvers.optimistic_multiplicative_weights(lr),
    "mirror_prox": lambda lr: solvers.mirror_prox(lr),
}


def _factory(name_or_factory):
    if callable(name_or_factory):
        return getattr(name_or_factory, "__name__", "solver"), name_or_factory
    if name_or_factory not in SOLVERS:
        raise ValueError(f"solvers: unknown solver {name_or_factory!r}; known: {', '.join(SOLVERS)}")
    return name_or_factory, SOLVERS[name_or_factory]


def run_cell(game: Game, factory: Callable, step_size: float, keys: jax.Array, *, steps: int,
             record_every: Optional[int] = None):
    """Runs ``factory(step_size)`` on ``game`` once per key, as one compiled vmapped call.

    The step size is traced, so every step size of a solver reuses one compilation.
    Returns the batched :class:`minimax.Result` (leading axis: keys) and the wall time in seconds.
    """

    def one(lr, key):
        return run(game, factory(lr), steps=steps, key=key, record_every=record_every, on_divergence="ignore")

    batched = jax.jit(jax.vmap(one, in_axes=(None, 0)))
    lr = jnp.asarray(step_size, jnp.result_type(float))
    start = time.perf_counter()
    result = jax.block_until_ready(batched(lr, keys))
    return result, time.perf_counter() - start


def compare(
    game: Game,
    solver_names: Sequence = ("simultaneous", "alternating", "extragradient", "optimistic"),
    *,
    step_sizes: Sequence[float] = (0.1,),
    steps: int = 1000,
    seeds: int = 1,
    key: Optional[jax.Array] = None,
    record_every: Optional[int] = None,
    on_cell: Optional[Callable[[dict], None]] = None,
    keep_results: bool = False,
) -> list[dict]:
    """Compares solvers on ``game`` over a grid of step sizes and seeds.

    Args:
      game: the game; its ``init`` draws each seed's starting point.
      solver_names: names from :data:`SOLVERS`, or factories ``step_size -> Solver``.
      step_sizes: the step sizes to try for each solver.
      steps: steps per run.
      seeds: runs per cell (one vmapped call).
      key: the base key (default ``jax.random.key(0)``); seed i uses ``fold_in(key, i)``, the same starting
        points for every cell.
      record_every: trace thinning (default: about 200 records per run).
      on_cell: called with each row as soon as its cell is done (progress reporting).
      keep_results: also store the batched :class:`minimax.Result` under ``"result"`` in each row.

    Returns:
      One dict per (solver, step size): ``solver``, ``step_size``, ``metric`` (``dist``, ``gap`` or
      ``grad_norm``), ``final`` and ``final_sd`` (mean and sd over seeds of the final metric), ``initial``,
      ``rate_step`` and ``rate_eval`` (median empirical rates per step and per gradient evaluation),
      ``radius`` (spectral radius at the equilibrium, when the game knows a single one), ``verdict`` (the most
      common label over seeds), ``verdicts`` (counts), ``diverged_at`` (earliest divergence step or None),
      ``grad_evals`` and ``seconds`` (compile and run).
    """
    if not isinstance(game, Game):
        raise TypeError(f"game: expected a minimax.Game, got {type(game).__name__}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds: expected a positive integer, got {seeds!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: expected a positive integer, got {steps!r}")
    step_sizes = list(step_sizes)
    if not step_sizes or any(not np.isfinite(s) or s <= 0 for s in step_sizes):
        raise ValueError(f"step_sizes: expected positive numbers, got {step_sizes!r}")
    factories = [_factory(s) for s in solver_names]
    key = jax.random.key(0) if key is None else key
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(seeds))
    record_every = record_every or max(1, steps // 200)

    rows = []
    for name, factory in factories:
        for lr in step_sizes:
            result, seconds = run_cell(game, factory, lr, keys, steps=steps, record_every=record_every)
            row = summarise(game, factory(lr), result)
            row.update(solver=name, step_size=float(lr), steps=steps, seeds=seeds, seconds=seconds)
            if keep_results:
                row["result"] = result
            rows.append(row)
            if on_cell is not None:
                on_cell(row)
    return rows


def summarise(game: Game, solver: solvers.Solver, result) -> dict:
    """Summary statistics of a batched result (leading axis = seeds) of one solver on one game."""
    trace = result.trace
    metric = diagnostics.default_metric(trace)
    final = np.asarray(trace[metric][:, -1], np.float64)
    initial = np.asarray(trace[metric][:, 0], np.float64)
    verdicts = diagnostics.classify(result, metric)
    labels, counts = np.unique(np.asarray(verdicts, dtype=str), return_counts=True)
    diverged = np.asarray(result.diverged_step)
    radius = None
    if game.equilibrium is not None and game.distance is None:
        try:
            radius = diagnostics.spectral_radius(game, solver, *game.equilibrium)
        except Exception:  # noqa: BLE001 - a radius is a bonus; non-smooth players (projections) may not have one
            radius = None
    with np.errstate(all="ignore"):
        rate_step = diagnostics.empirical_rate(trace, metric)
        rate_eval = diagnostics.empirical_rate(trace, metric, per="grad_eval")
    return {
        "metric": metric,
        "initial": float(np.mean(initial)),
        "final": float(np.mean(final)),
        "final_sd": float(np.std(final)),
        "rate_step": _nanmedian(rate_step),
        "rate_eval": _nanmedian(rate_eval),
        "radius": radius,
        "verdict": str(labels[np.argmax(counts)]),
        "verdicts": {str(k): int(v) for k, v in zip(labels, counts)},
        "diverged_at": int(diverged[diverged >= 0].min()) if np.any(diverged >= 0) else None,
        "grad_evals": float(np.asarray(trace["grad_evals"])[0, -1]),
    }


def _nanmedian(values) -> Optional[float]:
    values = np.asarray(values, np.float64)
    if np.all(np.isnan(values)):
        return None
    return float(np.nanmedian(values))
