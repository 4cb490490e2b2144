"""Sweeps: seeds x hyperparameters as one compiled call, sharded over every device, chunked to fit in memory.

:func:`sweep` runs ``make_solver(**hyperparameters)`` on a game for every point of a grid and every seed. The
flattened batch of runs is split over a one-axis device mesh (``jax.sharding``, ``shard_map``): each device
computes its block of runs vmapped, or in groups of ``vmap_size``. Each chunk of the batch is one call of one
compiled function; grids larger than memory are cut into chunks of the same shape, so they reuse that
compilation. Results come back to the host as NumPy arrays whose leading axes are the grid axes and then the
seeds (:class:`Sweep`).

Run ``(grid point, seed s)`` is exactly ``mm.run(game, make_solver(**point), key=fold_in(key, s), ...)``: it does
not depend on the chunk size, the number of devices, or which other runs share its batch, beyond floating-point
rounding where XLA picks a kernel by batch shape (matrix products).

What does not live here: the run loop itself (:mod:`minimax.driver`) and any plotting or tables.
"""

from __future__ import annotations

import collections
import inspect
import itertools
import numbers
import os
import warnings
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from minimax import _checks, _tree, _xla
from minimax.driver import DivergenceError, DivergenceWarning, _as_arrays, check_point, run
from minimax.game import Game
from minimax.progress import ProgressBar
from minimax.solvers import Solver

__all__ = ["sweep", "Sweep"]

AXIS = "batch"  # the mesh axis the runs are sharded over


class Sweep(NamedTuple):
    """What :func:`sweep` returns: host arrays indexed by the grid, then the seed.

    Attributes:
      result: the runs' :class:`minimax.Result` (or what ``reduce`` made of each), every leaf with leading axes
        ``(len(grid[name_1]), ..., len(grid[name_k]), len(seeds))``.
      grid: ``{name: values}`` in the order of the leading axes (NumPy arrays of the dtype the runs saw).
      seeds: the seeds; run ``(..., j)`` used the key ``fold_in(key, seeds[j])``.
      diverged_step: per run, the step that diverged or -1 (also in ``result`` when there is no ``reduce``).
    """

    result: Any
    grid: dict
    seeds: np.ndarray
    diverged_step: np.ndarray

    @property
    def axes(self) -> tuple:
        """The names of the leading axes, the grid's and then ``"seed"``."""
        return (*self.grid, "seed")

    @property
    def shape(self) -> tuple:
        return tuple(len(v) for v in self.grid.values()) + (len(self.seeds),)

    def select(self, **coords) -> Any:
        """The result at given grid values (and/or ``seed=``), those axes dropped.

        Example: ``sw.select(learning_rate=0.1)`` has leading axes ``(seed,)`` on a one-axis grid.
        """
        index = []
        for name, values in list(self.grid.items()) + [("seed", self.seeds)]:
            if name not in coords:
                index.append(slice(None))
                continue
            value = coords.pop(name)
            hits = np.flatnonzero(values == np.asarray(value, values.dtype))
            if hits.size == 0:
                raise ValueError(f"{name}: {value!r} is not among the swept values {values.tolist()}")
            index.append(int(hits[0]))
        if coords:
            raise ValueError(f"select: unknown axes {sorted(coords)}; the axes are {self.axes}")
        index = tuple(index)
        return jax.tree.map(lambda a: a[index], self.result)


# -- checks before tracing ----------------------------------------------------------------------------------------
def _check_grid(grid, dtype) -> dict:
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid: expected a mapping {{name: values}}, got {type(grid).__name__}")
    out = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"grid: every name must be a keyword of make_solver, got {name!r}")
        if name == "seed":
            raise ValueError("grid: 'seed' is reserved for the seed axis; pass seeds= instead")
        if isinstance(values, (str, bytes)) or isinstance(values, numbers.Number):
            raise TypeError(f"grid[{name!r}]: expected a sequence of numbers, got {type(values).__name__}")
        try:
            arr = np.asarray(values)
        except Exception as err:  # noqa: BLE001 - ragged or odd input
            raise TypeError(f"grid[{name!r}]: expected a sequence of numbers ({err})") from err
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"grid[{name!r}]: expected a non-empty 1-D sequence of numbers, got shape {arr.shape}")
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise TypeError(f"grid[{name!r}]: expected real numbers, got dtype {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"grid[{name!r}]: contains non-finite values {arr.tolist()}")
        out[name] = arr.astype(dtype)
    return out


def _check_seeds(seeds) -> np.ndarray:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        return np.arange(_checks.positive_int(seeds, "seeds"), dtype=np.int32)
    if isinstance(seeds, (bool, str, bytes, float)) or seeds is None:
        raise TypeError(f"seeds: expected a positive integer or a sequence of seeds, got {type(seeds).__name__}")
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        raise ValueError(f"seeds: expected a positive integer or a non-empty 1-D sequence of integers, got {seeds!r}")
    if np.any(arr < 0) or np.any(arr > np.iinfo(np.int32).max):
        raise ValueError(f"seeds: expected integers in [0, 2**31), got {arr.tolist()}")
    return arr.astype(np.int32)


def _check_factory(make_solver, grid: dict) -> None:
    if not callable(make_solver):
        raise TypeError(f"make_solver: expected a function of the grid's hyperparameters returning a minimax.Solver, "
                        f"got {type(make_solver).__name__}")
    try:
        params = inspect.signature(make_solver).parameters.values()
    except (TypeError, ValueError):
        params = None
    if params is not None:
        names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            unknown = sorted(set(grid) - names)
            if unknown:
                raise TypeError(f"grid: make_solver takes no argument named {unknown[0]!r} "
                                f"(its arguments: {sorted(names)})")
        missing = [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
                   p.KEYWORD_ONLY) and p.name not in grid]
        if missing:
            raise TypeError(f"grid: make_solver needs a value for {missing[0]!r}; add it to the grid")
    example = {name: values[0].item() for name, values in grid.items()}
    try:
        solver = make_solver(**example)
    except Exception as err:  # noqa: BLE001 - name the user's factory
        hint = (" (a sweep passes grid values as floating-point scalars, traced inside the compiled call: only values "
                "used in arithmetic can be swept; loop over structural ones in Python)") if grid else ""
        raise ValueError(f"make_solver: calling it with {example} failed: {type(err).__name__}: {err}{hint}") from err
    if not isinstance(solver, Solver):
        raise TypeError(f"make_solver: must return a minimax.Solver (e.g. mm.extragradient(optax.sgd(lr))), "
                        f"got {type(solver).__name__}")


def _check_traced_factory(make_solver, grid: dict) -> None:
    """Hyperparameters are traced scalars inside the sweep: structural ones (a loop count) cannot be swept."""

    def probe(hyper):
        make_solver(**hyper)
        return jnp.zeros(())

    try:
        jax.eval_shape(probe, {name: jax.ShapeDtypeStruct((), values.dtype) for name, values in grid.items()})
    except Exception as err:  # noqa: BLE001
        msg = str(err).splitlines()[0] if str(err) else ""
        raise ValueError(
            f"grid: make_solver failed on traced hyperparameters ({type(err).__name__}: {msg}). A sweep traces "
            f"{sorted(grid)} as array scalars, so only values used in arithmetic (step sizes, weights) can be "
            "swept; loop over structural ones (integers such as lookahead's k) in Python"
        ) from err


def _check_devices(devices) -> list:
    if devices is None:
        return list(jax.devices())
    if isinstance(devices, jax.Device):
        devices = [devices]
    devices = list(devices) if isinstance(devices, Sequence) else devices
    if not isinstance(devices, list) or not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"devices: expected a non-empty sequence of jax devices (jax.devices()), got {devices!r}")
    return devices


def _check_optional_positive(value, name):
    """A positive number or None (integer arguments go through ``_checks.positive_int``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name}: expected a positive number or None, got {value!r}")
    return value


# -- the compiled batch -------------------------------------------------------------------------------------------
class _Spec(NamedTuple):
    """Everything static about a sweep: the compiled function depends on these and on shapes only."""

    game: Game
    make_solver: Callable
    steps: int
    record_every: Optional[int]
    metrics: tuple
    max_norm: Optional[float]
    summary_every: Optional[int]
    reduce: Optional[Callable]
    vmap_size: Optional[int]


def _batched_runs(spec: _Spec, mesh, hyper: dict, seeds, key, start):
    """The runs of one chunk, each device computing its own block of them (``shard_map`` over the batch axis).

    On a device the block is vmapped, or looped over in groups of ``vmap_size`` (``lax.map``); a block (or group)
    of one run is computed unbatched, because XLA's CPU backend runs matrix products with a batch dimension of
    size 1 about 30% slower than without one.
    """

    def one(h, seed, key, start):
        x0, y0 = (None, None) if start is None else start
        res = run(spec.game, spec.make_solver(**h), steps=spec.steps, key=jax.random.fold_in(key, seed), x0=x0, y0=y0,
                  record_every=spec.record_every, metrics=dict(spec.metrics) or None, max_norm=spec.max_norm,
                  summary_every=spec.summary_every, on_divergence="ignore")
        return (res if spec.reduce is None else spec.reduce(res)), res.diverged_step

    def local(h, s, key, start):
        single = lambda hs: one(*hs, key, start)  # noqa: E731
        n = s.shape[0]
        if spec.vmap_size is None or spec.vmap_size >= n:
            if n == 1:
                return jax.tree.map(lambda a: a[None], single(jax.tree.map(lambda a: a[0], (h, s))))
            return jax.vmap(one, in_axes=(0, 0, None, None))(h, s, key, start)
        if spec.vmap_size == 1:
            return jax.lax.map(single, (h, s))
        return jax.lax.map(single, (h, s), batch_size=spec.vmap_size)

    batch, replicated = PartitionSpec(AXIS), PartitionSpec()
    per_device = jax.shard_map(local, mesh=mesh, in_specs=(batch, batch, replicated, replicated), out_specs=batch,
                               check_vma=False)
    return per_device(hyper, seeds, key, start)


_CACHE: "collections.OrderedDict[tuple, Any]" = collections.OrderedDict()
_CACHE_SIZE = 32


def _compiled(spec: _Spec, mesh, chunk: int, hyper: dict, seeds, key, start) -> tuple:
    """``(executable, per-device bytes of one call)`` for these static settings and shapes, compiled once and
    cached with XLA's memory analysis (asked once: it takes ~50 ms for a ring-GAN sweep, see
    ``benchmarks/profile_gan_step.py``, and was paid on every call when asked per call)."""
    leaves, treedef = jax.tree.flatten((hyper, start))
    abstract = tuple((tuple(jnp.shape(a)), str(jnp.result_type(a))) for a in leaves)
    cache_key = (spec, tuple(mesh.devices.flat), chunk, treedef, abstract, str(key.dtype), jax.config.jax_enable_x64)
    if cache_key in _CACHE:
        _CACHE.move_to_end(cache_key)
        return _CACHE[cache_key]
    batch, replicated = NamedSharding(mesh, PartitionSpec(AXIS)), NamedSharding(mesh, PartitionSpec())
    fn = jax.jit(
        lambda h, s, k, x: _batched_runs(spec, mesh, h, s, k, x),
        in_shardings=(batch, batch, replicated, replicated),
        out_shardings=batch,
        compiler_options=_xla.compiler_options(mesh.devices.flat[0].platform),
    )
    compiled = fn.lower(hyper, seeds, key, start).compile()
    _CACHE[cache_key] = (compiled, _memory_bytes(compiled))
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return _CACHE[cache_key]


def _memory_bytes(compiled) -> Optional[int]:
    """Per-device bytes of one call (arguments, outputs, temporaries), from XLA's analysis; None if unknown."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend reports it
        return None
    if m is None:
        return None
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes)


def default_memory_budget(devices) -> int:
    """Bytes one chunk may use per device: half of what an accelerator has free; on CPU, where the devices share
    the host's memory, a quarter of the available memory split between them."""
    try:
        stats = devices[0].memory_stats()
    except Exception:  # noqa: BLE001
        stats = None
    if stats and stats.get("bytes_limit"):
        return int(0.5 * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        available = 8 << 30
    return int(0.25 * available / max(1, len([d for d in devices if d.process_index == jax.process_index()])))


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _global(host: np.ndarray, sharding) -> jax.Array:
    """A global array from the same host data on every process (one process: a sharded device_put)."""
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _to_host(tree):
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


# -- the public entry point ---------------------------------------------------------------------------------------
def sweep(
    game: Game,
    make_solver: Callable[..., Solver],
    *,
    steps: int,
    grid: Optional[Mapping[str, Sequence[float]]] = None,
    seeds=1,
    key: Optional[jax.Array] = None,
    x0: Any = None,
    y0: Any = None,
    record_every: Optional[int] = None,
    metrics: Optional[Mapping[str, Callable]] = None,
    max_norm: Optional[float] = None,
    summary_every: Optional[int] = None,
    reduce: Optional[Callable] = None,
    chunk_size: Optional[int] = None,
    memory_budget: Optional[float] = None,
    vmap_size: Optional[int] = None,
    devices: Optional[Sequence] = None,
    on_divergence: str = "warn",
    progress=None,
) -> Sweep:
    """Runs ``make_solver(**point)`` on ``game`` for every grid point and seed, as one compiled, sharded call.

    Args:
      game: a :class:`minimax.Game`.
      make_solver: ``make_solver(**hyperparameters) -> Solver``, e.g.
        ``lambda learning_rate: mm.extragradient(optax.sgd(learning_rate))`` or, for optax's own
        hyperparameters, ``lambda lr, b1: mm.simultaneous_gda(optax.inject_hyperparams(optax.adam)(lr, b1=b1))``.
        It is called with traced scalars inside the compiled function, so only values used in arithmetic can be
        swept. Pass the same function object to reuse the compilation across calls.
      steps: steps per run.
      grid: ``{name: values}``; the runs cover the Cartesian product of the values, in this order of axes.
        ``None`` or ``{}``: no hyperparameter axis (``make_solver()`` takes no arguments).
      seeds: the number of seeds n (seeds 0..n-1) or a sequence of non-negative integers. Seed s uses the key
        ``fold_in(key, s)`` (the starting point from ``game.init`` and the mini-batches of stochastic games), the
        same for every grid point.
      key: the base PRNG key (default ``jax.random.key(0)``).
      x0: a starting x shared by all runs (default: each run draws one from ``game.init``).
      y0: a starting y; give both or neither.
      record_every: trace thinning, as in :func:`minimax.run`; default ``None``: only the start and the end.
      metrics: extra trace entries, as in :func:`minimax.run`.
      max_norm: as in :func:`minimax.run`.
      summary_every: on-device running summaries, as in :func:`minimax.run`.
      reduce: ``reduce(result) -> pytree`` applied to each run on the device; only its output comes back (e.g.
        ``lambda r: r.trace["dist"][-1]``). Default: the whole :class:`minimax.Result`.
      chunk_size: runs per compiled call (rounded up to a multiple of the device count). Default: all runs, or
        as many as fit ``memory_budget`` by XLA's memory analysis. A fixed chunk size compiles once for grids of
        any size (the last chunk is padded).
      memory_budget: bytes one call may use per device. Default: half of what an accelerator has free; on CPU a
        quarter of the available memory, split between the devices.
      vmap_size: runs each device advances together. Default: all of its runs in the chunk at once (``vmap``),
        what accelerators want. A smaller value loops over groups of that many inside the same compiled call
        (``lax.map``), with less memory. On a CPU, where one run's matrix products already keep the cores busy,
        vmapping many runs of a network game measured slower than running them one after another;
        ``vmap_size=1`` then takes as long as the sequential runs, and a ``chunk_size`` of a few runs (one
        vmapped call per chunk) was a little faster (``benchmarks/perf.py``, workload 4b).
      devices: the devices to shard the runs over (default ``jax.devices()``: every device of every process).
      on_divergence: ``"warn"`` (default), ``"raise"`` or ``"ignore"``, once for the whole sweep, naming how many
        runs diverged; per run, ``Sweep.diverged_step``.
      progress: ``None`` (a :class:`minimax.progress.ProgressBar` when there are several chunks, drawn after a
        second and a half), ``False`` (none), or a function ``progress(runs_done, runs_total)`` called after each
        chunk.

    Returns:
      A :class:`Sweep` of host (NumPy) arrays with leading axes ``(*grid axes, seed)``.

    Example:
      >>> import jax.numpy as jnp, optax, minimax as mm, games
      >>> def make(learning_rate):
      ...     return mm.extragradient(optax.sgd(learning_rate))
      >>> sw = mm.sweep(games.bilinear(jnp.eye(2)), make, steps=100, grid={"learning_rate": [0.1, 0.5]}, seeds=3)
      >>> sw.axes, sw.result.trace["dist"].shape      # 2 step sizes x 3 seeds x (start, end)
      (('learning_rate', 'seed'), (2, 3, 2))
      >>> final = sw.result.trace["dist"][..., -1]
      >>> bool((final[1] < final[0]).all())           # the larger step (still below 1/sigma) converges faster
      True
    """
    if not isinstance(game, Game):
        raise TypeError(f"game: expected a minimax.Game, got {type(game).__name__}")
    steps = _checks.positive_int(steps, "steps")
    dtype = np.dtype(jnp.result_type(float))
    grid = _check_grid(grid, dtype)
    _check_factory(make_solver, grid)
    seeds = _check_seeds(seeds)
    record_every = _checks.positive_int(record_every, "record_every", allow_none=True)
    summary_every = _checks.positive_int(summary_every, "summary_every", allow_none=True)
    if max_norm is not None and not (isinstance(max_norm, numbers.Real) and max_norm > 0):
        raise ValueError(f"max_norm: expected a positive number or None, got {max_norm!r}")
    metric_items = _checks.metric_items(metrics)
    if reduce is not None and not callable(reduce):
        raise TypeError(f"reduce: expected a function of a Result, got {type(reduce).__name__}")
    chunk_size = _checks.positive_int(chunk_size, "chunk_size", allow_none=True)
    vmap_size = _checks.positive_int(vmap_size, "vmap_size", allow_none=True)
    memory_budget = _check_optional_positive(memory_budget, "memory_budget")
    devices = _check_devices(devices)
    if on_divergence not in ("warn", "raise", "ignore"):
        raise ValueError(f"on_divergence: expected 'warn', 'raise' or 'ignore', got {on_divergence!r}")
    if not (progress is None or progress is False or callable(progress)):
        raise TypeError(f"progress: expected None, False or a function of (runs_done, runs_total), got {progress!r}")
    if key is None:
        key = jax.random.key(0)
    elif not _tree.is_key(key):
        raise TypeError(f"key: expected a PRNG key from jax.random.key(seed), got {type(key).__name__} of shape "
                        f"{getattr(key, 'shape', None)}")
    if (x0 is None) != (y0 is None):
        raise ValueError("x0, y0: give both starting points or neither (to draw them from game.init per seed)")
    start = None
    if x0 is not None:
        start = (_as_arrays(x0, "x0"), _as_arrays(y0, "y0"))
        check_point(game, *start, key)
    elif game.init is None:
        raise ValueError("x0, y0: the game has no init function, so pass both starting points")

    # The flattened batch: grid points in row-major order, the seed varying fastest.
    points = list(itertools.product(*[range(len(v)) for v in grid.values()]))
    n_points, n_seeds = len(points), len(seeds)
    total = n_points * n_seeds
    flat_hyper = {name: np.repeat(values[[p[i] for p in points]], n_seeds)
                  for i, (name, values) in enumerate(grid.items())}
    flat_seeds = np.tile(seeds, n_points)

    mesh = jax.make_mesh((len(devices),), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)
    batch_sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    spec = _Spec(game, make_solver, steps, record_every, metric_items, max_norm, summary_every, reduce, vmap_size)
    if reduce is not None:
        _check_reduce(spec, {name: values[0] for name, values in grid.items()}, key, start)

    def inputs(lo: int, chunk: int):
        idx = np.minimum(np.arange(lo, lo + chunk), total - 1)  # pad by repeating the last run
        hyper = {name: _global(v[idx], batch_sharding) for name, v in flat_hyper.items()}
        return hyper, _global(flat_seeds[idx], batch_sharding)

    def compile_for(chunk: int):
        hyper, s = inputs(0, chunk)
        return _compiled(spec, mesh, chunk, hyper, s, key, start)

    n_dev = len(devices)
    if chunk_size is not None:
        chunk = _round_up(min(chunk_size, total), n_dev)
    else:
        chunk = _round_up(total, n_dev)
    if grid:
        _check_traced_factory_once(make_solver, grid)
    compiled, used = compile_for(chunk)
    if chunk_size is None:
        budget = memory_budget or default_memory_budget(devices)
        while used is not None and used > budget and chunk > n_dev:
            chunk = max(n_dev, (int(chunk * 0.9 * budget / used) // n_dev) * n_dev)
            compiled, used = compile_for(chunk)

    n_chunks = -(-total // chunk)
    bar = None
    if progress is None and n_chunks > 1:
        bar = ProgressBar(f"sweep {game.name}")
        report = bar
    elif callable(progress):
        report = progress
    else:
        report = None
    pieces = []
    for c in range(n_chunks):
        lo = c * chunk
        hyper, s = inputs(lo, chunk)
        out = _to_host(compiled(hyper, s, key, start))
        keep = min(chunk, total - lo)
        pieces.append(jax.tree.map(lambda a: a[:keep], out))
        if report is not None:
            report(lo + keep, total)
    if bar is not None:
        bar.close()

    shape = tuple(len(v) for v in grid.values()) + (n_seeds,)
    joined = jax.tree.map(lambda *parts: np.concatenate(parts).reshape(shape + parts[0].shape[1:]), *pieces)
    result, diverged_step = joined
    _report(diverged_step, on_divergence)
    return Sweep(result, {name: values for name, values in grid.items()}, seeds, diverged_step)


def _check_reduce(spec: _Spec, point: dict, key, start) -> None:
    """``reduce`` applied to the abstract Result of one run (nothing is computed): an error in it, or an output
    that is not arrays, is reported naming ``reduce`` rather than from inside the compiled sweep."""
    def one():
        x0, y0 = (None, None) if start is None else start
        return run(spec.game, spec.make_solver(**point), steps=spec.steps, key=key, x0=x0, y0=y0,
                   record_every=spec.record_every, metrics=dict(spec.metrics) or None, max_norm=spec.max_norm,
                   summary_every=spec.summary_every, on_divergence="ignore")

    result = jax.eval_shape(one)
    try:
        out = jax.eval_shape(spec.reduce, result)
    except Exception as err:  # noqa: BLE001 - name the user's function
        text = str(err).strip().splitlines()
        raise ValueError(f"reduce: calling it on a run's Result failed: {type(err).__name__}: "
                         f"{text[0] if text else ''}") from err
    bad = [leaf for leaf in jax.tree.leaves(out) if not isinstance(leaf, jax.ShapeDtypeStruct)]
    if bad or not jax.tree.leaves(out):
        got = type(bad[0]).__name__ if bad else "nothing"
        raise TypeError(f"reduce: must return an array or a pytree of arrays (e.g. r.trace['dist'][-1]), got {got}")


_CHECKED: "collections.OrderedDict[tuple, bool]" = collections.OrderedDict()


def _check_traced_factory_once(make_solver, grid) -> None:
    """The traced check of ``make_solver``, once per factory and grid names (it costs a trace)."""
    key = (make_solver, tuple(grid), tuple(v.dtype.str for v in grid.values()))
    if key in _CHECKED:
        return
    _check_traced_factory(make_solver, grid)
    _CHECKED[key] = True
    while len(_CHECKED) > _CACHE_SIZE:
        _CHECKED.popitem(last=False)


def _report(diverged_step: np.ndarray, on_divergence: str) -> None:
    if on_divergence == "ignore":
        return
    count = int(np.sum(diverged_step >= 0))
    if not count:
        return
    msg = (f"sweep: {count} of {diverged_step.size} runs diverged (each keeps its last finite iterate; see "
           "Sweep.diverged_step for which, and when)")
    if on_divergence == "raise":
        raise DivergenceError(msg)
    warnings.warn(msg, DivergenceWarning, stacklevel=3)
