"""The run loop with its default arguments against hand-written loops (issue 11). Reported, never asserted.

    python benchmarks/run_loop.py            # about 3 minutes on 2 cores
    python benchmarks/run_loop.py --quick    # a smoke run

Three measurements, each side by side in one process, implementations interleaved round by round (rotated
order), ratios the medians of per-round ratios:

1. the README's ring GAN (2x128 players, batch 512, Adam(1e-3, b1=0.5), simultaneous GDA): ``mm.run`` with its
   default arguments (a record every step), the same with the trace's metrics evaluated separately as before this
   change (the solver's observation removed), ``record_every=None``, the hand-fused ``lax.scan`` of the same
   model compiled with minimax's options, and PyTorch eager (denormals flushed, as XLA does);
2. f = xy, extragradient, 100 000 steps: default ``mm.run`` against a hand-fused ``lax.scan`` of the same step;
3. recompilation: ``mm.run`` with ``mm.extragradient(optax.sgd(0.2))`` after ``optax.sgd(0.1)``, and a
   ``minimax compare`` over five step sizes, with the compilations counted.

Writes ``benchmarks/results/run_loop_<platform>[_quick].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import baselines_jax as bj  # noqa: E402
import games  # noqa: E402
import minimax as mm  # noqa: E402
from minimax import driver  # noqa: E402
from perf import GAN, interleaved, load, machine, paired_ratio, ring_game, versions  # noqa: E402

try:
    import torch  # noqa: F401,E402
    import baselines_torch as bt  # noqa: E402
except ImportError:
    bt = None


def ring_gan(steps: int, rounds: int) -> dict:
    game, key = ring_game(), jax.random.key(0)
    ring = games.mixtures.ring()
    solver = mm.simultaneous_gda(optax.adam(GAN["lr"], b1=GAN["b1"]))
    old_way = solver._replace(observing_step=None)
    p0 = game.init(key)
    fused = jax.jit(bj.gan_fused("simultaneous", steps, ring.means, ring.std, GAN["batch"], GAN["latent"],
                                 GAN["lr"], GAN["b1"]).__wrapped__, compiler_options=mm.compiler_options())
    fns = {
        "default": lambda: jax.block_until_ready(mm.run(game, solver, steps=steps, key=key)),
        "default_metrics_evaluated_separately": lambda: jax.block_until_ready(
            mm.run(game, old_way, steps=steps, key=key)),
        "record_every_none": lambda: jax.block_until_ready(mm.run(game, solver, steps=steps, key=key,
                                                                  record_every=None)),
        "fused": lambda: jax.block_until_ready(fused(p0, key)),
    }
    if bt is not None:
        bt.configure(os.cpu_count() or 1)
        net = bt.RingGAN(lr=GAN["lr"], b1=GAN["b1"], batch=GAN["batch"], latent=GAN["latent"])
        net.train(5, "simultaneous")
        fns["torch"] = lambda: net.train(steps, "simultaneous")
    compile_s = {}
    for name, fn in fns.items():  # first calls compile; timed apart
        start = time.perf_counter()
        fn()
        compile_s[name] = time.perf_counter() - start
    timings, per_round = interleaved(fns, rounds)
    out = {"steps": steps, "rounds": rounds, "first_call_s": compile_s, "timings": timings,
           "ms_per_step": {k: 1e3 * v["median_s"] / steps for k, v in timings.items()}}
    out["ratios"] = {
        "default_over_fused (target <= 1.1)": paired_ratio(per_round, "default", "fused"),
        "old_default_over_fused (before)": paired_ratio(per_round, "default_metrics_evaluated_separately", "fused"),
        "record_every_none_over_fused": paired_ratio(per_round, "record_every_none", "fused"),
    }
    if "torch" in fns:
        out["ratios"]["torch_over_default (target >= 2)"] = paired_ratio(per_round, "torch", "default")
        out["ratios"]["torch_over_old_default (before)"] = paired_ratio(
            per_round, "torch", "default_metrics_evaluated_separately")
    return out


def toy(steps: int, rounds: int) -> dict:
    game = mm.Game(value=lambda x, y: x * y, name="xy")
    lr = 0.01
    solver = mm.extragradient(optax.sgd(lr))
    x0, y0 = jnp.float32(1.0), jnp.float32(1.0)
    step = bj.eg_step(lambda x, y: x * y, lr).__wrapped__

    @jax.jit
    def fused(x, y):
        return jax.lax.scan(lambda c, _: (step(*c), None), (x, y), length=steps)[0]

    fns = {
        "default": lambda: jax.block_until_ready(mm.run(game, solver, steps=steps, x0=x0, y0=y0)),
        "default_metrics_evaluated_separately": lambda: jax.block_until_ready(
            mm.run(game, solver._replace(observing_step=None), steps=steps, x0=x0, y0=y0)),
        "record_every_none": lambda: jax.block_until_ready(mm.run(game, solver, steps=steps, x0=x0, y0=y0,
                                                                  record_every=None)),
        "fused": lambda: jax.block_until_ready(fused(x0, y0)),
    }
    for fn in fns.values():
        fn()
    timings, per_round = interleaved(fns, rounds)
    return {"steps": steps, "timings": timings,
            "ns_per_step": {k: 1e9 * v["median_s"] / steps for k, v in timings.items()},
            "ratios": {"default_over_fused (target <= 3)": paired_ratio(per_round, "default", "fused"),
                       "old_default_over_fused (before)": paired_ratio(
                           per_round, "default_metrics_evaluated_separately", "fused"),
                       "record_every_none_over_fused": paired_ratio(per_round, "record_every_none", "fused")}}


def recompilation() -> dict:
    game = games.bilinear(jnp.array([[1.0, 0.3], [0.0, 2.0]]))
    key = jax.random.key(0)
    out = {}
    timings = {}
    for lr in (0.1, 0.2, 0.3):
        before = driver._run_compiled._cache_size()
        start = time.perf_counter()
        jax.block_until_ready(mm.run(game, mm.extragradient(optax.sgd(lr)), steps=1000, key=key))
        timings[f"sgd({lr})"] = {"seconds": time.perf_counter() - start,
                                 "compilations": driver._run_compiled._cache_size() - before}
    out["mm.run, new step size each call"] = timings
    # The old behaviour, for comparison: the same solvers with their numbers compiled in as constants.
    timings = {}
    for lr in (0.1, 0.2, 0.3):
        solver = mm.extragradient(optax.sgd(lr))
        skeleton = mm._program.fingerprint(solver, holes=True)[0]
        driver._NUMBERS_AS_CONSTANTS.add(skeleton)
        start = time.perf_counter()
        jax.block_until_ready(mm.run(game, solver, steps=1000, key=key))
        timings[f"sgd({lr})"] = time.perf_counter() - start
        driver._NUMBERS_AS_CONSTANTS.discard(skeleton)
    out["numbers as constants (before), seconds"] = timings
    rows = mm.compare(games.bilinear(jnp.eye(2)), ["extragradient", "optimistic"],
                      step_sizes=[0.05, 0.1, 0.2, 0.3, 0.4], steps=500, seeds=2)
    out["compare, 2 solvers x 5 step sizes: cells that compiled"] = sum(r["compile_seconds"] > 0 for r in rows)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    gan_steps, rounds, toy_steps = (100, 3, 10_000) if args.quick else (500, 9, 100_000)
    res = {"machine": machine(), "versions": versions(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "load_before": load()}
    res["ring_gan"] = ring_gan(gan_steps, rounds)
    print(json.dumps(res["ring_gan"]["ratios"], indent=1), flush=True)
    res["toy"] = toy(toy_steps, rounds)
    print(json.dumps(res["toy"]["ratios"], indent=1), flush=True)
    res["recompilation"] = recompilation()
    print(json.dumps(res["recompilation"], indent=1), flush=True)
    res["load_after"] = load()
    name = f"run_loop_{jax.default_backend()}{'_quick' if args.quick else ''}.json"
    (HERE / "results" / name).write_text(json.dumps(res, indent=1))
    print("wrote", HERE / "results" / name)
    return res


if __name__ == "__main__":
    main()
