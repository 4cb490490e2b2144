"""mm.sweep: seeds x hyperparameters in one compiled call; equal to single runs, chunked, sharded, never retraced."""

import importlib
import os
import pathlib
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm

sweep_module = importlib.import_module("minimax.sweep")  # `minimax.sweep` the attribute is the function

ROOT = pathlib.Path(__file__).resolve().parents[1]
GAME = games.bilinear(jnp.array([[1.0, 0.4, 0.0], [0.2, 0.9, 0.1], [0.0, -0.3, 1.1]]))
DIRAC = games.dirac_gan()


def eg(learning_rate):
    return mm.extragradient(optax.sgd(learning_rate))


def adam_eg(learning_rate, b1):
    return mm.extragradient(optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate, b1=b1))


def test_every_run_equals_its_single_run():
    key = jax.random.key(5)
    grid = {"learning_rate": [0.01, 0.05, 0.1], "b1": [0.0, 0.9]}
    sw = mm.sweep(GAME, adam_eg, steps=40, grid=grid, seeds=[4, 9], key=key, record_every=10)
    assert sw.axes == ("learning_rate", "b1", "seed") and sw.shape == (3, 2, 2)
    assert sw.result.x.shape == (3, 2, 2, 3) and sw.result.trace["dist"].shape == (3, 2, 2, 5)
    assert sw.diverged_step.shape == (3, 2, 2) and (sw.diverged_step == -1).all()
    np.testing.assert_array_equal(sw.grid["learning_rate"], np.float32([0.01, 0.05, 0.1]))
    for i, j, k in [(0, 0, 0), (2, 1, 1), (1, 0, 1)]:
        single = mm.run(GAME, adam_eg(grid["learning_rate"][i], grid["b1"][j]), steps=40, record_every=10,
                        key=jax.random.fold_in(key, sw.seeds[k]))
        np.testing.assert_allclose(sw.result.x[i, j, k], single.x, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sw.result.trace["dist"][i, j, k], single.trace["dist"], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(sw.select(learning_rate=grid["learning_rate"][i], b1=grid["b1"][j],
                                                seed=int(sw.seeds[k])).x, sw.result.x[i, j, k])
    # a seed is the same starting point at every grid point
    starts = sw.result.trace["dist"][..., 0]
    np.testing.assert_array_equal(starts, np.broadcast_to(starts[0, 0], starts.shape))
    assert starts[0, 0, 0] != starts[0, 0, 1]


def test_select_rejects_unknown_values_and_axes():
    sw = mm.sweep(GAME, eg, steps=5, grid={"learning_rate": [0.1, 0.2]}, seeds=2)
    assert sw.select(learning_rate=0.2).x.shape == (2, 3)
    assert sw.select(seed=1).x.shape == (2, 3)
    with pytest.raises(ValueError, match=r"learning_rate: 0.3 is not among the swept values"):
        sw.select(learning_rate=0.3)
    with pytest.raises(ValueError, match=r"select: unknown axes \['lr'\]"):
        sw.select(lr=0.1)


def test_no_grid_and_a_shared_starting_point():
    sw = mm.sweep(GAME, lambda: eg(0.1), steps=20, seeds=3, x0=jnp.ones(3), y0=jnp.zeros(3))
    assert sw.axes == ("seed",) and sw.result.x.shape == (3, 3)
    single = mm.run(GAME, eg(0.1), steps=20, x0=jnp.ones(3), y0=jnp.zeros(3))
    for k in range(3):  # a deterministic game from one start: every seed is the same run
        np.testing.assert_allclose(sw.result.x[k], single.x, rtol=1e-6)


def test_no_retracing_when_only_numbers_change():
    traces = []

    def make(learning_rate):
        if isinstance(learning_rate, jax.core.Tracer):
            traces.append(learning_rate)
        return mm.extragradient(optax.sgd(learning_rate))

    first = mm.sweep(GAME, make, steps=30, grid={"learning_rate": [0.1, 0.2]}, seeds=2, key=jax.random.key(0))
    n_traces, n_compiled = len(traces), len(sweep_module._CACHE)
    assert n_traces >= 1
    # new step sizes, seeds, key and starting point: the same compiled function
    mm.sweep(GAME, make, steps=30, grid={"learning_rate": [0.3, 0.05]}, seeds=[7, 8], key=jax.random.key(1))
    again = mm.sweep(GAME, make, steps=30, grid={"learning_rate": [0.1, 0.2]}, seeds=2, key=jax.random.key(0))
    assert len(traces) == n_traces and len(sweep_module._CACHE) == n_compiled
    np.testing.assert_array_equal(again.result.x, first.result.x)
    # with a fixed chunk size, grids of other sizes reuse one compilation too (the last chunk is padded)
    mm.sweep(GAME, make, steps=30, grid={"learning_rate": [0.1, 0.2, 0.3]}, seeds=2, chunk_size=4)
    n_traces, n_compiled = len(traces), len(sweep_module._CACHE)
    mm.sweep(GAME, make, steps=30, grid={"learning_rate": np.linspace(0.05, 0.5, 7)}, seeds=3, chunk_size=4)
    assert len(traces) == n_traces and len(sweep_module._CACHE) == n_compiled


def test_chunks_are_invisible_but_for_progress():
    kwargs = dict(steps=50, grid={"learning_rate": [0.05, 0.1, 0.2, 0.4, 0.8]}, seeds=2, record_every=10)
    whole = mm.sweep(DIRAC, eg, **kwargs)
    seen = []
    chunked = mm.sweep(DIRAC, eg, chunk_size=4, progress=lambda done, total: seen.append((done, total)), **kwargs)
    assert seen == [(4, 10), (8, 10), (10, 10)]
    # Dirac-GAN runs are elementwise arithmetic: the batch shape cannot change a bit
    for a, b in zip(jax.tree.leaves(whole.result), jax.tree.leaves(chunked.result)):
        np.testing.assert_array_equal(a, b)
    # a memory budget below the whole batch's needs splits it automatically
    budgeted = mm.sweep(DIRAC, eg, memory_budget=20_000, progress=False, **kwargs)
    np.testing.assert_array_equal(budgeted.result.trace["dist"], whole.result.trace["dist"])
    _, per_run = next(reversed(sweep_module._CACHE.values()))
    assert per_run <= 20_000


def test_vmap_size_loops_inside_the_call():
    kwargs = dict(steps=30, grid={"learning_rate": [0.05, 0.1, 0.2]}, seeds=3, record_every=10)
    vmapped = mm.sweep(GAME, eg, **kwargs)
    looped = mm.sweep(GAME, eg, vmap_size=2, **kwargs)
    np.testing.assert_allclose(looped.result.trace["dist"], vmapped.result.trace["dist"], rtol=1e-5)


def test_reduce_and_summaries_come_back_alone():
    sw = mm.sweep(GAME, eg, steps=100, grid={"learning_rate": [0.1, 0.3]}, seeds=4, summary_every=10,
                  reduce=lambda r: {"final": r.trace["dist"][-1], "closest": r.summary["min"]["dist"]})
    assert sw.result["final"].shape == (2, 4)
    assert (sw.result["closest"] <= sw.result["final"] + 1e-7).all()
    assert (sw.result["final"][1] < sw.result["final"][0]).all()


def test_divergence_is_reported_once_for_the_sweep():
    kwargs = dict(steps=100, grid={"learning_rate": [0.1, 1e3]}, seeds=2, x0=jnp.ones(3), y0=jnp.ones(3))
    with pytest.warns(mm.DivergenceWarning, match=r"sweep: 2 of 4 runs diverged"):
        sw = mm.sweep(GAME, lambda learning_rate: mm.simultaneous_gda(optax.sgd(learning_rate)), **kwargs)
    assert (sw.diverged_step[0] == -1).all() and (sw.diverged_step[1] > 0).all()
    assert np.isfinite(sw.result.x).all()
    with pytest.raises(mm.DivergenceError, match="2 of 4"):
        mm.sweep(GAME, lambda learning_rate: mm.simultaneous_gda(optax.sgd(learning_rate)), on_divergence="raise",
                 **kwargs)


def test_float64_sweeps_stay_float64(x64):
    game = games.bilinear(jnp.eye(2))
    sw = mm.sweep(game, eg, steps=10, grid={"learning_rate": [0.1, 0.2]}, seeds=2)
    assert sw.grid["learning_rate"].dtype == np.float64
    assert sw.result.x.dtype == np.float64 and sw.result.trace["dist"].dtype == np.float64


# -- bad input: errors name the argument and come before anything is compiled ------------------------------------
@pytest.fixture
def no_compiling(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the sweep was compiled")

    monkeypatch.setattr(sweep_module, "_compiled", forbidden)


def structural(k):
    return mm.lookahead(eg(0.1), k=k)


def structural_int(inner_steps):
    return mm.proximal_point(0.1, inner_steps=int(inner_steps))


@pytest.mark.parametrize("change, error, match", [
    (dict(game="bilinear"), TypeError, "game: expected a minimax.Game"),
    (dict(make_solver=eg(0.1)), TypeError, "make_solver: expected a function"),
    (dict(make_solver=lambda learning_rate: optax.sgd(learning_rate)), TypeError, "make_solver: must return"),
    (dict(make_solver=lambda learning_rate: 1 / 0), ValueError, "make_solver: calling it with"),
    (dict(steps=0), ValueError, "steps: expected a positive integer"),
    (dict(grid=[0.1, 0.2]), TypeError, "grid: expected a mapping"),
    (dict(grid={"lr": [0.1]}), TypeError, "grid: make_solver takes no argument named 'lr'"),
    (dict(grid={}), TypeError, "grid: make_solver needs a value for 'learning_rate'"),
    (dict(grid={"learning_rate": []}), ValueError, r"grid\['learning_rate'\]: expected a non-empty 1-D"),
    (dict(grid={"learning_rate": 0.1}), TypeError, r"grid\['learning_rate'\]: expected a sequence"),
    (dict(grid={"learning_rate": [0.1, float("nan")]}), ValueError, r"grid\['learning_rate'\]: contains non-finite"),
    (dict(grid={"learning_rate": ["a"]}), TypeError, r"grid\['learning_rate'\]: expected real numbers"),
    (dict(grid={"seed": [1]}, make_solver=lambda **kw: eg(0.1)), ValueError, "grid: 'seed' is reserved"),
    (dict(make_solver=structural, grid={"k": [2, 3]}), ValueError, r"calling it with \{'k': 2.0\} failed.*arithmetic"),
    (dict(make_solver=structural_int, grid={"inner_steps": [2, 3]}), ValueError, "grid: make_solver failed on traced"),
    (dict(seeds=0), ValueError, "seeds: expected a positive integer"),
    (dict(seeds=[-1, 2]), ValueError, r"seeds: expected integers in \[0, 2\*\*31\)"),
    (dict(seeds=2.0), TypeError, "seeds: expected a positive integer or a sequence"),
    (dict(key=0), TypeError, "key: expected a PRNG key"),
    (dict(x0=jnp.ones(3)), ValueError, "x0, y0: give both"),
    (dict(x0=jnp.ones(2), y0=jnp.ones(3)), ValueError, r"x0: the array has shape \(2,\)"),
    (dict(record_every=0), ValueError, "record_every: expected a positive integer"),
    (dict(summary_every=-1), ValueError, "summary_every: expected a positive integer"),
    (dict(max_norm=-1.0), ValueError, "max_norm: expected a positive number"),
    (dict(metrics=[1]), TypeError, "metrics: expected a mapping"),
    (dict(reduce=3), TypeError, "reduce: expected a function"),
    (dict(chunk_size=0), ValueError, "chunk_size: expected a positive integer"),
    (dict(vmap_size=1.5), TypeError, "vmap_size: expected a positive integer or None, got float 1.5"),
    (dict(memory_budget=-5), ValueError, "memory_budget: expected a positive number"),
    (dict(devices=["cpu"]), TypeError, "devices: expected a non-empty sequence of jax devices"),
    (dict(on_divergence="stop"), ValueError, "on_divergence: expected"),
    (dict(progress="yes"), TypeError, "progress: expected None, False or a function"),
])
def test_bad_input(no_compiling, change, error, match):
    args = dict(game=GAME, make_solver=eg, steps=10, grid={"learning_rate": [0.1]})
    args.update(change)
    game, make_solver = args.pop("game"), args.pop("make_solver")
    with pytest.raises(error, match=match):
        mm.sweep(game, make_solver, **args)


def test_no_init_needs_a_starting_point(no_compiling):
    with pytest.raises(ValueError, match="x0, y0: the game has no init function"):
        mm.sweep(mm.Game(value=lambda x, y: x * y), eg, steps=5, grid={"learning_rate": [0.1]})


# -- eight devices -------------------------------------------------------------------------------------------------
EIGHT_DEVICES = textwrap.dedent("""
    import sys
    import jax, jax.numpy as jnp, numpy as np, optax
    import games, minimax as mm
    assert jax.device_count() == 8, jax.devices()
    from tests.test_sweep import cases
    out = {}
    for name, (game, make, kwargs) in cases().items():
        sw = mm.sweep(game, make, **kwargs)
        for i, leaf in enumerate(jax.tree.leaves(sw.result)):
            out[f"{name}/{i}"] = leaf
    np.savez(sys.argv[1], **out)
""")


def cases():
    """Small sweeps whose run count (12) is not a multiple of the 8 devices, so padding is exercised."""
    kwargs = dict(steps=60, grid={"learning_rate": [0.05, 0.1, 0.2]}, seeds=4, record_every=20,
                  key=jax.random.key(3))
    return {
        "dirac": (DIRAC, eg, kwargs),
        "bilinear_looped": (GAME, adam_eg_lr, dict(kwargs, vmap_size=1)),
        "bilinear": (GAME, adam_eg_lr, kwargs),
    }


def adam_eg_lr(learning_rate):
    return adam_eg(learning_rate, 0.9)


@pytest.mark.slow
def test_eight_devices_give_the_single_device_results(tmp_path):
    path = tmp_path / "eight.npz"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", EIGHT_DEVICES, str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    eight = np.load(path)
    assert jax.device_count() == 1
    for name, (game, make, kwargs) in cases().items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            single = mm.sweep(game, make, **kwargs)
        for i, (path, leaf) in enumerate(jax.tree_util.tree_flatten_with_path(single.result)[0]):
            where = jax.tree_util.keystr(path)
            if name == "dirac" and "avg" not in where:  # elementwise arithmetic: bit for bit
                np.testing.assert_array_equal(eight[f"{name}/{i}"], leaf, err_msg=f"{name}/{i} {where}")
            elif name == "dirac":
                # The running averages a + (v - a) / t: XLA may divide, or multiply by the reciprocal, depending on
                # how it vectorises 2 runs a device against 12, which moves an average by a float32 ulp (measured
                # in 2 of 12 entries of y_avg, 3e-8 absolute) and the average's distance likewise.
                scale = max(1.0, float(np.abs(leaf).max()))
                np.testing.assert_allclose(eight[f"{name}/{i}"], leaf, rtol=1e-6, atol=1e-7 * scale,
                                           err_msg=f"{name}/{i} {where}")
            else:
                # Each device runs 2 of the runs where the single device runs 12, so XLA compiles a different program
                # (a batched matrix-product kernel chosen by shape, a 2-trip loop unrolled and fused differently),
                # and float32 sums in x^T A y may round differently in the last bits: measured up to 5e-7 absolute,
                # a few float32 ulps of the largest entry (value = x^T A y can cancel to near 0, hence the atol).
                scale = max(1.0, float(np.abs(leaf).max()))
                np.testing.assert_allclose(eight[f"{name}/{i}"], leaf, rtol=1e-6, atol=1e-6 * scale,
                                           err_msg=f"{name}/{i}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # 8 s on the 2-core CPU (the README's slow step runs it)
def test_a_sweep_across_two_processes_equals_the_single_process_sweep(tmp_path):
    """Two local processes, two simulated CPU devices each, joined by jax.distributed (gloo collectives): one
    sweep over the four devices gives what one process on one device gives."""
    from multiprocess_sweep_case import run_case

    worker, port, out = ROOT / "tests" / "multiprocess_sweep_worker.py", str(_free_port()), tmp_path / "out.npz"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    procs = [subprocess.Popen([sys.executable, str(worker), str(i), port, str(out)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    try:
        logs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(logs)[-3000:]
    got = np.load(out)
    assert int(got["processes"]) == 2 and int(got["devices"]) == 4
    ref = run_case(jax.devices()[:1])
    assert got["x"].shape == ref.result.x.shape == (5, 3, 3)
    # To float rounding: XLA picks its kernels by batch shape (4 runs a device here, 15 on one device), and the
    # step size 0.8 amplifies the difference over 50 steps to ~2e-6.
    np.testing.assert_allclose(got["x"], ref.result.x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["dist"], ref.result.trace["dist"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["diverged"], ref.diverged_step)
