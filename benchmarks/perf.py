"""Performance benchmarks of minimax against PyTorch eager and hand-written JAX loops (issue 5).

One command, from the repository root::

    python benchmarks/perf.py            # the full suite: the numbers in the README (about 20 minutes on 2 cores)
    python benchmarks/perf.py --quick    # smaller sizes, a few minutes: checks that everything runs
    python benchmarks/perf.py --only 1,3 # some workloads (1, 2, 3, 4a, 4b, flops, memory)

It writes ``benchmarks/results/perf_<platform>[_quick].json`` (machine, versions, date, load, every timing) and a
markdown table next to it. Numbers are reported, never asserted by the tests.

Workloads (issue 5):
  1. dispatch-bound: f = xy, extragradient, 100 000 steps, one run;
  2. compute-bound: f = x^T A y, A 64x64, extragradient, 4096 runs (vmap), 1000 steps;
  3. the 8-Gaussian ring GAN (2 hidden layers of 128, batch 512, Adam), simultaneous and Extra-Adam, 2000 steps,
     also against a hand-fused lax.scan of the same model with no minimax in between;
  4a. 4096 Dirac-GAN runs (64 step sizes x 64 seeds), 2000 steps, one mm.sweep call vs a loop of single runs;
  4b. 64 ring-GAN runs (4 learning rates x 16 seeds) as one mm.sweep call vs 64 sequential runs;
  flops: this machine's float32 matrix-product rate (JAX, NumPy, PyTorch), the physical limit for workload 3;
  memory: peak memory of a 10^6-step run with and without trace thinning, each in a fresh process.

Method: every timing is the median of ``--repeats`` runs after a warm-up (workloads 3 and 4b: implementations
timed in alternation, ratios the medians of per-round ratios, see :func:`interleaved`); JAX compile time is measured apart
(ahead-of-time ``lower().compile()``) and excluded from the run times; each JAX timing blocks on its result.
The load average is recorded before each workload, because other processes on a shared machine slow timings.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, Optional

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import games  # noqa: E402
import minimax as mm  # noqa: E402
import baselines_jax as bj  # noqa: E402

try:
    import torch  # noqa: E402
    import baselines_torch as bt  # noqa: E402
except ImportError:  # the bench extra is not installed: JAX-only numbers
    torch = bt = None

SIZES = {
    "full": dict(w1_steps=100_000, w2_runs=4096, w2_steps=1000, w3_steps=2000, w4a_grid=(64, 64), w4a_steps=2000,
                 w4a_sequential=4096, w4b_grid=(4, 16), w4b_steps=200, memory_steps=1_000_000, repeats=3, w3_rounds=5,
                 torch_repeats=3, matmul_sizes=(2048, 4096)),
    "quick": dict(w1_steps=10_000, w2_runs=512, w2_steps=200, w3_steps=100, w4a_grid=(16, 16), w4a_steps=500,
                  w4a_sequential=64, w4b_grid=(2, 4), w4b_steps=20, memory_steps=100_000, repeats=2, w3_rounds=2,
                  torch_repeats=1, matmul_sizes=(2048,)),
}
TARGETS = {
    "1": "toolkit >= 1000x PyTorch eager",
    "3_torch": "toolkit >= 2x PyTorch eager",
    "3_fused": "toolkit within 1.2x of the hand-fused scan",
    "4a": "one vmapped call >= 100x the throughput of a loop of single runs",
    "4b_cpu": "one call never slower than sequential runs (CPU)",
    "4b_gpu": "one call >= 10x sequential runs (GPU)",
}


# -- timing -------------------------------------------------------------------------------------------------------
def load() -> list:
    return [round(v, 2) for v in os.getloadavg()]


def timed(fn: Callable, repeats: int, warmup: int = 1) -> dict:
    """Median (and all) wall times of ``fn()`` over ``repeats`` calls after ``warmup`` calls; fn must block.

    Also the CPU time of this process per call (all threads): on a loaded machine wall time grows with the
    other processes' load, CPU time much less.
    """
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times,
            "cpu_median_s": statistics.median(cpu)}


def interleaved(fns: dict, rounds: int) -> tuple[dict, list]:
    """Times several implementations of one workload in alternation: each round calls every ``fns[name]()`` once,
    in an order rotated from round to round. Returns ``timed``-style dicts per name and the per-round times.

    On a shared machine the speed drifts by tens of percent over minutes; timing A three times and then B three
    times folds that drift into the ratio A/B, while a ratio taken within each round (see :func:`paired_ratio`)
    compares calls made seconds apart.
    """
    names = list(fns)
    per_round = []
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        row = {}
        for name in order:
            start, start_cpu = time.perf_counter(), time.process_time()
            fns[name]()
            row[name] = (time.perf_counter() - start, time.process_time() - start_cpu)
        per_round.append(row)
    out = {}
    for name in names:
        times = [row[name][0] for row in per_round]
        out[name] = {"median_s": statistics.median(times), "min_s": min(times), "times_s": times,
                     "cpu_median_s": statistics.median(row[name][1] for row in per_round), "interleaved": True}
    return out, per_round


def paired_ratio(per_round: list, num: str, den: str) -> float:
    """The median over rounds of time(num) / time(den), both measured in the same round."""
    return statistics.median(row[num][0] / row[den][0] for row in per_round)


def compiled(fn: Callable, *args, options: Optional[dict] = None):
    """``jax.jit(fn, compiler_options=options)`` compiled ahead of time for ``args``; returns (executable, compile
    seconds). The toolkit's workloads pass ``mm.compiler_options()``: the options ``mm.run`` uses when called
    directly, which a ``jax.jit`` around it must be given (README, Performance); baselines keep XLA's defaults."""
    start = time.perf_counter()
    exe = jax.jit(fn, compiler_options=options).lower(*args).compile()
    return exe, time.perf_counter() - start


def block(fn: Callable, *args) -> Callable:
    return lambda: jax.block_until_ready(fn(*args))


def ratio(slow: float, fast: float) -> float:
    return slow / fast if fast > 0 else float("inf")


def verdict(value: float, target: float, larger_is_better: bool = True) -> dict:
    met = value >= target if larger_is_better else value <= target
    return {"value": value, "target": target, "met": bool(met),
            "margin": value / target if larger_is_better else target / value}


# -- workload 1: dispatch-bound --------------------------------------------------------------------------------------
def workload_1(cfg: dict) -> dict:
    steps, lr, reps = cfg["w1_steps"], 0.01, cfg["repeats"]  # lr 0.01: the iterate shrinks by e^-5, no denormals
    game = mm.Game(value=lambda x, y: x * y, name="xy")
    solver = mm.extragradient(optax.sgd(lr))
    x0, y0 = jnp.float32(1.0), jnp.float32(1.0)
    run = lambda x, y: mm.run(game, solver, steps=steps, x0=x, y0=y, record_every=None)  # noqa: E731
    exe, compile_s = compiled(run, x0, y0, options=mm.compiler_options())
    toolkit = timed(block(exe, x0, y0), reps)
    final = exe(x0, y0)
    out = {"steps": steps, "step_size": lr, "toolkit": dict(toolkit, compile_s=compile_s)}
    finals = {"toolkit": (float(final.x), float(final.y))}

    step = bj.eg_step(lambda x, y: x * y, lr)
    start = time.perf_counter()
    jax.block_until_ready(step(x0, y0))
    naive_compile = time.perf_counter() - start
    naive = timed(lambda: bj.python_loop(step, x0, y0, steps), max(1, reps - 1))
    out["naive_jax"] = dict(naive, compile_s=naive_compile)
    finals["naive_jax"] = tuple(float(v) for v in bj.python_loop(step, x0, y0, steps))

    if bt is not None:
        out["torch"] = timed(lambda: bt.eg_scalar(1.0, 1.0, lr, steps), cfg["torch_repeats"], warmup=0)
        finals["torch"] = bt.eg_scalar(1.0, 1.0, lr, steps)
    out["final_xy"] = finals
    out["agree"] = bool(np.allclose(np.array(list(finals.values())), finals["toolkit"], rtol=1e-3))
    t = toolkit["median_s"]
    out["us_per_step"] = {k: 1e6 * out[k]["median_s"] / steps for k in ("toolkit", "naive_jax", "torch") if k in out}
    out["ratios"] = {"naive_jax_over_toolkit": ratio(naive["median_s"], t)}
    if "torch" in out:
        r = ratio(out["torch"]["median_s"], t)
        out["ratios"]["torch_over_toolkit"] = r
        out["ratios"]["torch_over_toolkit_with_compile"] = ratio(out["torch"]["median_s"], t + compile_s)
        out["target"] = dict(verdict(r, 1000.0), what=TARGETS["1"])
    return out


# -- workload 2: compute-bound ---------------------------------------------------------------------------------------
def workload_2(cfg: dict) -> dict:
    runs, steps, lr, reps, n = cfg["w2_runs"], cfg["w2_steps"], 0.05, cfg["repeats"], 64
    rng = np.random.default_rng(0)
    A = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)  # sigma_max ~ 2: EG with 0.05 is stable
    X0 = rng.standard_normal((runs, n)).astype(np.float32)
    Y0 = rng.standard_normal((runs, n)).astype(np.float32)
    game, solver = games.bilinear(jnp.asarray(A)), mm.extragradient(optax.sgd(lr))

    def batched(X, Y):
        return jax.vmap(lambda x, y: mm.run(game, solver, steps=steps, x0=x, y0=y, record_every=None))(X, Y)

    X, Y = jnp.asarray(X0), jnp.asarray(Y0)
    exe, compile_s = compiled(batched, X, Y, options=mm.compiler_options())
    toolkit = timed(block(exe, X, Y), reps)
    res = exe(X, Y)
    out = {"runs": runs, "steps": steps, "n": n, "step_size": lr, "toolkit": dict(toolkit, compile_s=compile_s)}
    flops_per_step = 4 * 2 * runs * n * n  # two gradient evaluations, each A y and A^T x: 2 n^2 flops apiece
    finals = {"toolkit": float(jnp.mean(jnp.sqrt(jnp.sum(res.x ** 2, 1) + jnp.sum(res.y ** 2, 1))))}

    step = bj.eg_step(lambda X, Y: jnp.sum((X @ jnp.asarray(A)) * Y), lr)
    jax.block_until_ready(step(X, Y))
    naive = timed(lambda: bj.python_loop(step, X, Y, steps), reps)
    out["naive_jax"] = naive
    Xn, Yn = bj.python_loop(step, X, Y, steps)
    finals["naive_jax"] = float(jnp.mean(jnp.sqrt(jnp.sum(Xn ** 2, 1) + jnp.sum(Yn ** 2, 1))))
    if bt is not None:
        out["torch"] = timed(lambda: bt.eg_bilinear(A, X0, Y0, lr, steps), cfg["torch_repeats"], warmup=1)
        Xt, Yt = bt.eg_bilinear(A, X0, Y0, lr, steps)
        finals["torch"] = float(np.mean(np.sqrt(np.sum(Xt ** 2, 1) + np.sum(Yt ** 2, 1))))
    out["final_mean_dist"] = finals
    out["agree"] = bool(np.allclose(list(finals.values()), finals["toolkit"], rtol=1e-3))
    out["gflops"] = {k: flops_per_step * steps / out[k]["median_s"] / 1e9 for k in ("toolkit", "naive_jax", "torch")
                     if k in out}
    t = toolkit["median_s"]
    out["ratios"] = {"naive_jax_over_toolkit": ratio(naive["median_s"], t)}
    if "torch" in out:
        out["ratios"]["torch_over_toolkit"] = ratio(out["torch"]["median_s"], t)
    return out


# -- workload 3: the ring GAN ----------------------------------------------------------------------------------------
GAN = dict(g_sizes=(2, 128, 128, 2), d_sizes=(2, 128, 128, 1), batch=512, latent=2, lr=1e-3, b1=0.5)


def ring_game():
    return games.gan(games.mlp(list(GAN["g_sizes"])), games.mlp(list(GAN["d_sizes"])), games.mixtures.ring(),
                     latent_dim=GAN["latent"], batch_size=GAN["batch"])


def make_gan_solver(solver: str, learning_rate):
    opt = optax.adam(learning_rate, b1=GAN["b1"])
    return mm.simultaneous_gda(opt) if solver == "simultaneous" else mm.extragradient(opt)


def gan_flops_per_evaluation(g_sizes=GAN["g_sizes"], d_sizes=GAN["d_sizes"], batch=GAN["batch"]) -> int:
    """Matrix-product FLOPs of one vector-field evaluation of the ring GAN (forward and backward, both players).

    With M_G = sum of fan_in * fan_out over G's layers (M_D for D) and g1, d1 their first layers' products:
    forward B M_G (G) + 2 B M_D (D on the real and the fake batch); weight gradients the same again; input
    gradients B (M_G - g1) (G, not into z), B (M_D - d1) (D on real data, not into the data) and B M_D (D on the
    fake batch, into G). In all 2 B (3 M_G - g1 + 6 M_D - d1) flops (a multiply-add is 2). Elementwise work
    (biases, ReLU, log-sigmoid, Adam) adds under 1% and is left out.
    """
    m = lambda sizes: sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))  # noqa: E731
    return 2 * batch * (3 * m(g_sizes) - g_sizes[0] * g_sizes[1] + 6 * m(d_sizes) - d_sizes[0] * d_sizes[1])


def gan_agreement() -> dict:
    """Whether minimax, the hand-fused scan and PyTorch compute the same thing.

    ``field``: the largest difference in the vector field at the initial parameters on one batch, relative to the
    field's largest entry (float32 rounding: ~1e-6). Per solver, the largest parameter difference after 2 steps
    from the same parameters and batches, next to how far the parameters ``moved``. Adam divides each gradient
    entry by its own size, so an entry near zero that rounds to the other sign in one implementation moves by a
    whole step of 1e-3 there: after two extragradient steps this showed up at 2e-3 between implementations whose
    matrix products come from different libraries (PyTorch's vs XLA's Eigen path), while the fields agree to
    ~1e-6. The fused scan is compiled with minimax's options."""
    ring, game, key = games.mixtures.ring(), ring_game(), jax.random.key(0)
    p0 = game.init(key)
    diff = lambda a, b: max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))))  # noqa: E731
                            for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    k0 = jax.random.fold_in(jax.random.fold_in(key, 1), 0)
    batch = bj.ring_batch(k0, ring.means, ring.std, GAN["batch"], GAN["latent"])
    gg, gd = jax.jit(jax.grad(bj.gan_value, argnums=(0, 1)), compiler_options=mm.compiler_options())(*p0, *batch)
    fused_field = (gg, jax.tree.map(jnp.negative, gd))
    scale = max(float(np.max(np.abs(np.asarray(u)))) for u in jax.tree.leaves(fused_field))
    out = {"field": {"toolkit_vs_fused": diff(jax.jit(game.vector_field)(*p0, k0), fused_field) / scale}}
    if bt is not None:
        net = bt.RingGAN(lr=GAN["lr"], b1=GAN["b1"], batch=GAN["batch"], latent=GAN["latent"])
        net.load(*p0)
        out["field"]["torch_vs_fused"] = diff(net.field(tuple(torch.tensor(np.array(a)) for a in batch)),
                                              fused_field) / scale
    for solver in ("simultaneous", "extragradient"):
        res = mm.run(game, make_gan_solver(solver, GAN["lr"]), steps=2, key=key, record_every=None)
        fused_fn = bj.gan_fused(solver, 2, ring.means, ring.std, GAN["batch"], GAN["latent"], GAN["lr"], GAN["b1"])
        fused = jax.jit(fused_fn, compiler_options=mm.compiler_options())(p0, key)
        row = {"toolkit_vs_fused": diff((res.x, res.y), fused)}
        if bt is not None:
            net = bt.RingGAN(lr=GAN["lr"], b1=GAN["b1"], batch=GAN["batch"], latent=GAN["latent"])
            net.load(*p0)
            k_steps = jax.random.fold_in(key, 1)
            as_torch = lambda k: tuple(torch.tensor(np.array(a)) for a in  # noqa: E731
                                       bj.ring_batch(k, ring.means, ring.std, GAN["batch"], GAN["latent"]))
            for t in range(2):
                kt = jax.random.fold_in(k_steps, t)
                if solver == "simultaneous":
                    net.simultaneous_step(as_torch(kt))
                else:
                    net.extragradient_step([as_torch(jax.random.fold_in(kt, j)) for j in (0, 1)])
            row["torch_vs_fused"] = diff(net.export(), fused)
        row["moved"] = diff(p0, fused)
        out[solver] = row
    return out


def workload_3(cfg: dict, peak_gflops: Optional[float]) -> dict:
    steps, reps = cfg["w3_steps"], cfg["repeats"]
    ring, game, key = games.mixtures.ring(), ring_game(), jax.random.key(0)
    p0 = game.init(key)
    flops_eval = gan_flops_per_evaluation()
    out = {"steps": steps, **GAN, "flops_per_gradient_evaluation": flops_eval, "agreement": gan_agreement()}
    for solver in ("simultaneous", "extragradient"):
        evals = 1 if solver == "simultaneous" else 2
        row = {"gradient_evaluations_per_step": evals}
        sv = make_gan_solver(solver, GAN["lr"])
        exe_t, compile_t = compiled(lambda k: mm.run(game, sv, steps=steps, key=k, record_every=None), key,
                                    options=mm.compiler_options())
        fused_fn = bj.gan_fused(solver, steps, ring.means, ring.std, GAN["batch"], GAN["latent"], GAN["lr"], GAN["b1"])
        exe_f, compile_f = compiled(fused_fn, p0, key)
        # The same hand-fused scan compiled with minimax's options: the apples-to-apples floor for the 1.2x target.
        exe_fo, compile_fo = compiled(fused_fn, p0, key, options=mm.compiler_options())
        loop = bj.gan_python_loop(solver, ring.means, ring.std, GAN["batch"], GAN["latent"], GAN["lr"], GAN["b1"])
        loop(p0, key, 2)  # compiles the step
        fns = {"toolkit": block(exe_t, key), "fused": block(exe_f, p0, key), "fused_same_options": block(exe_fo, p0, key),
               "naive_jax": lambda: loop(p0, key, steps)}
        if bt is not None:
            net = bt.RingGAN(lr=GAN["lr"], b1=GAN["b1"], batch=GAN["batch"], latent=GAN["latent"])
            net.train(5, solver)  # warm-up: allocator, threads
            fns["torch"] = lambda: net.train(steps, solver)
        fns["toolkit"](), fns["fused"](), fns["fused_same_options"]()  # warm-up
        # Every implementation once per round, in rotated order: the ratios below are medians of per-round ratios.
        timings, per_round = interleaved(fns, max(reps, cfg["w3_rounds"]))
        row.update(timings)
        row["toolkit"]["compile_s"], row["fused"]["compile_s"] = compile_t, compile_f
        row["fused_same_options"]["compile_s"] = compile_fo
        t = row["toolkit"]["median_s"]
        names = [k for k in ("toolkit", "fused", "fused_same_options", "naive_jax", "torch") if k in row]
        row["ms_per_step"] = {k: 1e3 * row[k]["median_s"] / steps for k in names}
        row["gflops"] = {k: flops_eval * evals * steps / row[k]["median_s"] / 1e9 for k in names}
        if peak_gflops:
            row["fraction_of_matmul_peak"] = {k: v / peak_gflops for k, v in row["gflops"].items()}
        row["ratios"] = {"toolkit_over_fused": paired_ratio(per_round, "toolkit", "fused"),
                         "toolkit_over_fused_same_options": paired_ratio(per_round, "toolkit", "fused_same_options"),
                         "naive_jax_over_toolkit": paired_ratio(per_round, "naive_jax", "toolkit")}
        # Judged against the fused scan with the same compile options, the stricter of the two floors.
        row["target_fused"] = dict(verdict(row["ratios"]["toolkit_over_fused_same_options"], 1.2,
                                           larger_is_better=False), what=TARGETS["3_fused"])
        if "torch" in row:
            row["ratios"]["torch_over_toolkit"] = paired_ratio(per_round, "torch", "toolkit")
            row["target_torch"] = dict(verdict(row["ratios"]["torch_over_toolkit"], 2.0), what=TARGETS["3_torch"])
        out[solver] = row
    return out


# -- workload 4: sweeps ----------------------------------------------------------------------------------------------
def dirac_make(learning_rate):
    return mm.extragradient(optax.sgd(learning_rate))


def workload_4a(cfg: dict) -> dict:
    (n_lr, n_seeds), steps, reps = cfg["w4a_grid"], cfg["w4a_steps"], cfg["repeats"]
    game, key = games.dirac_gan(), jax.random.key(0)
    lrs = np.geomspace(0.01, 0.5, n_lr).astype(np.float32)
    kwargs = dict(steps=steps, grid={"learning_rate": lrs}, seeds=n_seeds, key=key, on_divergence="ignore")
    start = time.perf_counter()
    sw = mm.sweep(game, dirac_make, **kwargs)  # compiles
    first_s = time.perf_counter() - start
    one_call = timed(lambda: mm.sweep(game, dirac_make, **kwargs), reps, warmup=0)
    runs = n_lr * n_seeds
    out = {"runs": runs, "steps": steps, "grid": f"{n_lr} step sizes x {n_seeds} seeds",
           "sweep": dict(one_call, first_call_s=first_s, compile_s=first_s - one_call["median_s"])}

    single = jax.jit(lambda lr, k: mm.run(game, dirac_make(lr), steps=steps, key=k, record_every=None,
                                          on_divergence="ignore"), compiler_options=mm.compiler_options())
    flat_lr = np.repeat(lrs, n_seeds)
    flat_key = [jax.random.fold_in(key, s) for s in range(n_seeds)] * n_lr
    count = min(cfg["w4a_sequential"], runs)
    jax.block_until_ready(single(flat_lr[0], flat_key[0]))

    def loop():
        for i in range(count):
            jax.block_until_ready(single(flat_lr[i], flat_key[i]))

    seq = timed(loop, max(1, reps - 1), warmup=0)
    out["sequential"] = dict(seq, runs_timed=count, note="one jitted single run (step size traced, compiled once) "
                                                         "called once per run")
    check = single(flat_lr[-1], flat_key[-1])
    out["agree"] = bool(np.allclose(check.x, sw.result.x[-1, -1], rtol=1e-5, atol=1e-6))
    # The loop as a user writes it with mm.run: a new solver per step size, so a compilation per step size
    # (the seeds of one step size reuse it). Timed over a few step sizes with all their seeds.
    few = min(2 if runs >= 1024 else 1, n_lr)

    def natural():
        for i in range(few):
            solver = mm.extragradient(optax.sgd(float(lrs[i])))
            for s in range(n_seeds):
                jax.block_until_ready(mm.run(game, solver, steps=steps, key=jax.random.fold_in(key, s),
                                             record_every=None, on_divergence="ignore").x)

    start = time.perf_counter()
    natural()
    out["mm_run_loop"] = {"runs_timed": few * n_seeds, "s_per_run": (time.perf_counter() - start) / (few * n_seeds),
                          "note": "for each step size a new mm.extragradient(optax.sgd(lr)) (one compilation), "
                                  "then mm.run once per seed"}
    sweep_rate = runs / one_call["median_s"]
    seq_rate = count / seq["median_s"]
    out["runs_per_s"] = {"sweep": sweep_rate, "sequential": seq_rate, "mm_run_loop": 1 / out["mm_run_loop"]["s_per_run"]}
    out["ratios"] = {"sweep_over_sequential_throughput": sweep_rate / seq_rate,
                     "sweep_over_mm_run_loop_throughput": sweep_rate * out["mm_run_loop"]["s_per_run"]}
    out["target"] = dict(verdict(sweep_rate / seq_rate, 100.0), what=TARGETS["4a"])
    return out


def workload_4b(cfg: dict) -> dict:
    (n_lr, n_seeds), steps = cfg["w4b_grid"], cfg["w4b_steps"]
    reps = max(1, cfg["repeats"] - 1)
    game, key = ring_game(), jax.random.key(0)
    lrs = np.array([1e-4, 3e-4, 1e-3, 3e-3][:n_lr], np.float32)
    make = lambda learning_rate: make_gan_solver("simultaneous", learning_rate)  # noqa: E731
    runs = n_lr * n_seeds
    out = {"runs": runs, "steps": steps, "grid": f"{n_lr} learning rates x {n_seeds} seeds", "solver": "simultaneous"}
    on_gpu = jax.devices()[0].platform == "gpu"
    fns, first = {}, {}
    for label, vmap_size in (("sweep_vmap", None), ("sweep_looped", 1)):
        kwargs = dict(steps=steps, grid={"learning_rate": lrs}, seeds=n_seeds, key=key, vmap_size=vmap_size,
                      on_divergence="ignore")
        start = time.perf_counter()
        mm.sweep(game, make, **kwargs)
        first[label] = time.perf_counter() - start
        fns[label] = functools.partial(mm.sweep, game, make, **kwargs)
    single = jax.jit(lambda lr, k: mm.run(game, make(lr), steps=steps, key=k, record_every=None,
                                          on_divergence="ignore"), compiler_options=mm.compiler_options())
    flat_lr = np.repeat(lrs, n_seeds)
    flat_key = [jax.random.fold_in(key, s) for s in range(n_seeds)] * n_lr
    jax.block_until_ready(single(flat_lr[0], flat_key[0]))

    def loop():
        for i in range(runs):
            jax.block_until_ready(single(flat_lr[i], flat_key[i]))

    fns["sequential"] = loop
    timings, per_round = interleaved(fns, max(reps, 3))  # the three in alternation: see interleaved()
    out.update(timings)
    for label in first:
        out[label].update(compile_s=first[label] - out[label]["median_s"], vmap_size=fns[label].keywords["vmap_size"])
    out["ratios"] = {"sequential_over_sweep_vmap": paired_ratio(per_round, "sequential", "sweep_vmap"),
                     "sequential_over_sweep_looped": paired_ratio(per_round, "sequential", "sweep_looped")}
    best = max(out["ratios"].values())
    out["target"] = (dict(verdict(best, 10.0), what=TARGETS["4b_gpu"]) if on_gpu
                     else dict(verdict(best, 1.0), what=TARGETS["4b_cpu"] + " (best of vmap and vmap_size=1)"))
    return out


# -- the machine's matrix-product rate -------------------------------------------------------------------------------
def matmul_rate(cfg: dict) -> dict:
    out = {}
    reps = max(3, cfg["repeats"])
    for n in cfg["matmul_sizes"]:
        flops = 2 * n ** 3
        a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
        f = jax.jit(lambda a, b: a @ b)
        jax.block_until_ready(f(a, a))
        out[f"jax_{n}"] = flops / timed(block(f, a, a), reps)["median_s"] / 1e9
        an = np.asarray(a)
        out[f"numpy_{n}"] = flops / timed(lambda: an @ an, reps)["median_s"] / 1e9
        if torch is not None:
            at = torch.from_numpy(an.copy())
            out[f"torch_{n}"] = flops / timed(lambda: at @ at, reps)["median_s"] / 1e9
    # the GAN's own shapes: a chain of (1024 x 128) @ (128 x 128) products, the bulk of its work
    a = jax.random.normal(jax.random.key(1), (1024, 128), jnp.float32)
    w = jax.random.normal(jax.random.key(2), (128, 128), jnp.float32) / np.sqrt(128)
    f = jax.jit(lambda a, w: jax.lax.fori_loop(0, 200, lambda i, h: jnp.tanh(h @ w), a))
    jax.block_until_ready(f(a, w))
    out["jax_gan_shape_1024x128x128"] = 2 * 1024 * 128 * 128 * 200 / timed(block(f, a, w), reps)["median_s"] / 1e9
    out["peak_gflops"] = max(v for k, v in out.items() if k.split("_")[0] in ("jax", "numpy", "torch")
                             and "gan" not in k)
    return {"gflops": out}


# -- peak memory of a long run ---------------------------------------------------------------------------------------
MEMORY_PROBE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import jax, jax.numpy as jnp, optax, games, minimax as mm
import minimax.driver as driver
steps, record_every, summary_every, with_x = {steps}, {record_every}, {summary_every}, {with_x}
A = jax.random.normal(jax.random.key(0), (64, 64)) / 8.0
game, solver = games.bilinear(A), mm.extragradient(optax.sgd(0.05))
metrics = {{"x": lambda x, y: x}} if with_x else None
x0, y0 = game.init(jax.random.key(1))
def hwm_mib():  # this process's peak RSS; ru_maxrss would carry the parent's over fork + exec
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
lowered = driver._run_compiled.lower(game, solver, steps, min(record_every or steps, steps),
                                     tuple(sorted((metrics or {{}}).items())), None, None, x0, y0, jax.random.key(0),
                                     summary_every=summary_every)
compiled = lowered.compile()  # the loop mm.run would compile, called directly so compilation is not in the run
m = compiled.memory_analysis()
base = hwm_mib()
start = time.perf_counter()
res = jax.block_until_ready(compiled(x0, y0, jax.random.key(0)))
seconds = time.perf_counter() - start
peak = hwm_mib()
trace_bytes = sum(v.nbytes for v in res.trace.values())
print(json.dumps(dict(peak_rss_mib=peak, peak_rss_before_run_mib=base, trace_mib=trace_bytes / 2**20,
                      xla_output_mib=m.output_size_in_bytes / 2**20, xla_temp_mib=m.temp_size_in_bytes / 2**20,
                      seconds=seconds)))
"""


def peak_memory(cfg: dict) -> dict:
    steps = cfg["memory_steps"]
    configs = {
        "record_every=1, x recorded": (1, None, True),
        "record_every=1000, x recorded": (1000, None, True),
        "record_every=1": (1, None, False),
        "record_every=None": (None, None, False),
        "record_every=None, summary_every=1": (None, 1, False),
    }
    out = {"steps": steps, "game": "bilinear 64x64, extragradient; 'x recorded' adds metrics={'x': x} (64 floats)",
           "method": "peak resident memory (VmHWM) of a fresh Python process, JAX itself included, before the run "
                     "(after import and compilation) and after it; XLA's memory analysis (outputs + temporaries) "
                     "of the compiled loop, which is the run's own memory"}
    for label, (record_every, summary_every, with_x) in configs.items():
        code = MEMORY_PROBE.format(root=str(ROOT), steps=steps, record_every=record_every,
                                   summary_every=summary_every, with_x=with_x)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            out[label] = {"error": proc.stderr[-2000:]}
        else:
            out[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


# -- report ----------------------------------------------------------------------------------------------------------
def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        info["memory_gib"] = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    except (OSError, ValueError):
        pass
    dev = jax.devices()[0]
    info["jax_backend"] = dev.platform
    info["jax_devices"] = [f"{d.platform}:{d.device_kind}" for d in jax.devices()]
    info["gpu"] = dev.device_kind if dev.platform == "gpu" else None
    return info


def versions() -> dict:
    import jaxlib

    v = {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "optax": optax.__version__, "numpy": np.__version__,
         "minimax": mm.__version__}
    if torch is not None:
        v["torch"] = torch.__version__
    try:
        v["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                         text=True).stdout.strip()
    except OSError:
        pass
    return v


def fmt_s(x: float) -> str:
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def markdown(res: dict) -> str:
    w, lines = res["workloads"], []
    m = res["machine"]
    lines.append(f"Machine: {m.get('cpu', '?')}, {m['cpu_count']} cores, {m.get('memory_gib', '?')} GiB; "
                 f"device {m['jax_devices'][0]}; jax {res['versions']['jax']}, torch {res['versions'].get('torch', '-')}"
                 f" ({res['torch_threads']}); mode {res['mode']}; {res['date']}; load average at start "
                 f"{res['load_start']}; minimax's compile options {res.get('minimax_compiler_options')}.")
    lines.append("")
    lines.append("| workload | minimax | hand-fused scan | naive JAX loop | PyTorch eager | ratio | target |")
    lines.append("|---|---|---|---|---|---|---|")

    def tgt(t):
        if not t:
            return "-"
        return f"{'met' if t['met'] else 'NOT met'} ({t['what']}; {t['margin']:.2f}x the target)"

    def cell(d, k):
        return fmt_s(d[k]["median_s"]) if k in d else "-"

    if "1" in w:
        d = w["1"]
        r = d["ratios"].get("torch_over_toolkit")
        lines.append(f"| 1. f = xy, EG, {d['steps']:,} steps | {cell(d, 'toolkit')} (+{fmt_s(d['toolkit']['compile_s'])}"
                     f" compile) | - | {cell(d, 'naive_jax')} | {cell(d, 'torch')} | "
                     f"{r:,.0f}x PyTorch, {d['ratios']['naive_jax_over_toolkit']:,.0f}x naive JAX | {tgt(d.get('target'))} |"
                     if r else f"| 1 | {cell(d, 'toolkit')} | - | {cell(d, 'naive_jax')} | - | - | - |")
    if "2" in w:
        d = w["2"]
        lines.append(f"| 2. x^T A y (64x64), EG, {d['runs']} runs x {d['steps']} steps | {cell(d, 'toolkit')} "
                     f"(+{fmt_s(d['toolkit']['compile_s'])}) | - | {cell(d, 'naive_jax')} | {cell(d, 'torch')} | "
                     f"{d['ratios'].get('torch_over_toolkit', float('nan')):.1f}x PyTorch, "
                     f"{d['ratios']['naive_jax_over_toolkit']:.2f}x naive JAX | (none) |")
    if "3" in w:
        d = w["3"]
        for s in ("simultaneous", "extragradient"):
            r = d[s]
            frac = r.get("fraction_of_matmul_peak", {}).get("toolkit")
            lines.append(
                f"| 3. ring GAN, {s}, {d['steps']} steps | {cell(r, 'toolkit')} (+{fmt_s(r['toolkit']['compile_s'])}"
                f"; {r['gflops']['toolkit']:.1f} GFLOP/s{f', {frac:.0%} of matmul peak' if frac else ''}) | "
                f"{cell(r, 'fused')} ({cell(r, 'fused_same_options')} with minimax's options) | "
                f"{cell(r, 'naive_jax')} | {cell(r, 'torch')} | "
                f"{r['ratios'].get('torch_over_toolkit', float('nan')):.2f}x PyTorch; "
                f"{r['ratios']['toolkit_over_fused']:.3f}x the fused scan "
                f"({r['ratios']['toolkit_over_fused_same_options']:.3f}x with the same options) | "
                f"{tgt(r.get('target_torch'))}; "
                f"{tgt(r.get('target_fused'))} |")
    if "4a" in w:
        d = w["4a"]
        lines.append(f"| 4a. Dirac-GAN sweep, {d['grid']}, {d['steps']} steps | one call {cell(d, 'sweep')} "
                     f"(+{fmt_s(d['sweep']['compile_s'])}): {d['runs_per_s']['sweep']:,.0f} runs/s | - | "
                     f"loop of compiled single runs: {d['runs_per_s']['sequential']:,.0f} runs/s; loop of mm.run: "
                     f"{d['runs_per_s']['mm_run_loop']:,.0f} runs/s | - | "
                     f"{d['ratios']['sweep_over_sequential_throughput']:,.1f}x compiled loop, "
                     f"{d['ratios']['sweep_over_mm_run_loop_throughput']:,.0f}x mm.run loop | {tgt(d.get('target'))} |")
    if "4b" in w:
        d = w["4b"]
        lines.append(f"| 4b. ring-GAN sweep, {d['grid']}, {d['steps']} steps | vmap {cell(d, 'sweep_vmap')}, "
                     f"vmap_size=1 {cell(d, 'sweep_looped')} | - | {d['runs']} sequential runs "
                     f"{cell(d, 'sequential')} | - | {d['ratios']['sequential_over_sweep_vmap']:.2f}x (vmap), "
                     f"{d['ratios']['sequential_over_sweep_looped']:.2f}x (vmap_size=1) | {tgt(d.get('target'))} |")
    if "flops" in w:
        g = w["flops"]["gflops"]
        lines.append("")
        lines.append("Matrix-product rate (float32 GFLOP/s): " + ", ".join(f"{k} {v:.1f}" for k, v in g.items()) + ".")
    if "3" in w:
        lines.append(f"GAN FLOPs per gradient evaluation: {w['3']['flops_per_gradient_evaluation'] / 1e6:.1f} MFLOP "
                     "(formula in `benchmarks/perf.py:gan_flops_per_evaluation`).")
        a = w["3"]["agreement"]
        parts = []
        if "field" in a:  # results written before the field was compared lack it
            parts.append("vector field at the start, relative to its largest entry: "
                         + ", ".join(f"{k.replace('_vs_', ' vs ')} {v:.1e}" for k, v in a["field"].items()))
        for s in ("simultaneous", "extragradient"):
            parts.append(f"parameters after two {s} steps (moved {a[s]['moved']:.1e}): "
                         + ", ".join(f"{k.replace('_vs_', ' vs ')} {v:.1e}" for k, v in a[s].items() if k != "moved"))
        lines.append("GAN agreement (largest difference; see `gan_agreement`): " + "; ".join(parts) + ".")
    if "memory" in w:
        d = w["memory"]
        lines.append("")
        lines.append(f"Peak memory of a {d['steps']:,}-step run ({d['game']}):")
        lines.append("")
        lines.append("| configuration | peak RSS (MiB) | peak RSS before the run (MiB) | trace (MiB) | "
                     "XLA output + temp (MiB) | run time |")
        lines.append("|---|---|---|---|---|---|")
        for k, v in d.items():
            if isinstance(v, dict) and "peak_rss_mib" in v:
                lines.append(f"| {k} | {v['peak_rss_mib']:.0f} | {v['peak_rss_before_run_mib']:.0f} | "
                             f"{v['trace_mib']:.3f} | {v['xla_output_mib'] + v['xla_temp_mib']:.3f} | "
                             f"{fmt_s(v['seconds'])} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a check that everything runs")
    parser.add_argument("--only", default="1,2,3,4a,4b,flops,memory", help="comma-separated workloads")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/perf_<platform>[_quick].json)")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    cfg = dict(SIZES[mode])
    if args.repeats:
        cfg["repeats"] = cfg["torch_repeats"] = args.repeats
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    threads = bt.configure(os.cpu_count()) if bt is not None else None
    res = {"command": " ".join([os.path.basename(sys.executable), "benchmarks/perf.py", *(argv or sys.argv[1:])]),
           "mode": mode, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": machine(), "versions": versions(), "torch_threads": threads, "load_start": load(),
           "minimax_compiler_options": mm.compiler_options(),
           "sizes": cfg, "workloads": {}, "load": {}}
    if jax.devices()[0].platform != "gpu":
        res["gpu_note"] = "no GPU on this machine: CPU numbers only"
    peak = None
    order = ["flops", "1", "2", "3", "4a", "4b", "memory"]
    for name in [o for o in order if o in only]:
        res["load"][name] = load()
        print(f"[{time.strftime('%H:%M:%S')}] workload {name} (load {res['load'][name]})", flush=True)
        start = time.perf_counter()
        if name == "flops":
            out = matmul_rate(cfg)
            peak = out["gflops"]["peak_gflops"]
        elif name == "3":
            out = workload_3(cfg, peak)
        else:
            out = {"1": workload_1, "2": workload_2, "4a": workload_4a, "4b": workload_4b, "memory": peak_memory}[name](cfg)
        out["wall_s"] = time.perf_counter() - start
        res["workloads"][name] = out
        print(json.dumps(out, indent=1, default=float)[:3000], flush=True)
    res["load_end"] = load()
    platform_name = jax.devices()[0].platform
    path = pathlib.Path(args.out) if args.out else HERE / "results" / f"perf_{platform_name}{'_quick' if args.quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1, default=float) + "\n")
    path.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return res


if __name__ == "__main__":
    main()
