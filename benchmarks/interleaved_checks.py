"""Longer interleaved comparisons behind the README's statements about compile options and sweeps.

``perf.py`` gives each workload a few rounds; these checks give a few settings many rounds of shorter runs, each
implementation once per round in rotated order, and report medians of the ratios within rounds (see
``perf.interleaved``). Three checks:

* ``options``: minimax's CPU compile options against XLA's defaults on the ring GAN (simultaneous and
  extragradient), 4096 batched 64x64 bilinear games and a 4096-run Dirac-GAN batch;
* ``fused``: the ring GAN in minimax against the hand-fused scan compiled with the same options;
* ``sweep``: ``mm.sweep(..., vmap_size=1)`` against the same runs one after another, and a bare ``lax.map``.

    python benchmarks/interleaved_checks.py            # about 10 minutes on 2 cores -> results/interleaved_cpu.json
    python benchmarks/interleaved_checks.py --rounds 3 # a quick check that it runs
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import baselines_jax as bj  # noqa: E402
import perf  # noqa: E402

import games  # noqa: E402
import minimax as mm  # noqa: E402


def compare(fns: dict, rounds: int, base: str) -> dict:
    for fn in fns.values():
        fn()  # warm-up
    timings, per_round = perf.interleaved(fns, rounds)
    return {"median_s": {k: v["median_s"] for k, v in timings.items()},
            f"ratio_to_{base}": {k: perf.paired_ratio(per_round, k, base) for k in fns if k != base}}


def check_options(rounds: int) -> dict:
    """Each workload compiled with XLA's defaults and with ``mm.compiler_options()`` (top-level jit either way)."""
    key, ours = jax.random.key(0), mm.compiler_options()
    game = perf.ring_game()
    dirac = games.dirac_gan()
    lrs = jnp.asarray(np.repeat(np.geomspace(0.01, 0.5, 64), 64).astype(np.float32))
    keys = jax.random.split(key, 4096)
    bilinear = games.bilinear(jax.random.normal(key, (64, 64)) / 8)  # built outside the traced functions
    X0 = jax.random.normal(jax.random.fold_in(key, 1), (4096, 64))
    work = {
        "gan_simultaneous_500": lambda k: mm.run(game, perf.make_gan_solver("simultaneous", 1e-3), steps=500, key=k,
                                                 record_every=None).x,
        "gan_extragradient_250": lambda k: mm.run(game, perf.make_gan_solver("extragradient", 1e-3), steps=250,
                                                  key=k, record_every=None).x,
        "bilinear_64x64_4096_runs_1000": lambda k: jax.vmap(lambda x: mm.run(
            bilinear, mm.extragradient(optax.sgd(0.05)), steps=1000, x0=x, y0=x, record_every=None).x)(X0),
        "dirac_4096_runs_2000": lambda k: jax.vmap(lambda lr, kk: mm.run(
            dirac, perf.dirac_make(lr), steps=2000, key=kk, record_every=None, on_divergence="ignore").x)(lrs, keys),
    }
    out = {}
    for name, fn in work.items():
        exes = {"xla_defaults": jax.jit(fn).lower(key).compile(),
                "minimax_options": jax.jit(fn, compiler_options=ours).lower(key).compile()}
        out[name] = compare({k: perf.block(e, key) for k, e in exes.items()}, rounds, "xla_defaults")
        print(name, out[name], flush=True)
    return out


def check_fused(rounds: int) -> dict:
    g, ring, key = perf.GAN, games.mixtures.ring(), jax.random.key(0)
    game = perf.ring_game()
    p0 = game.init(key)
    out = {}
    for solver, steps in (("simultaneous", 500), ("extragradient", 250)):
        sv = perf.make_gan_solver(solver, g["lr"])
        fused = bj.gan_fused(solver, steps, ring.means, ring.std, g["batch"], g["latent"], g["lr"], g["b1"])
        exe_t, _ = perf.compiled(lambda k: mm.run(game, sv, steps=steps, key=k, record_every=None), key,
                                 options=mm.compiler_options())
        exe_f, _ = perf.compiled(fused, p0, key, options=mm.compiler_options())
        out[f"{solver}_{steps}"] = compare({"toolkit": perf.block(exe_t, key), "fused_same_options":
                                            perf.block(exe_f, p0, key)}, rounds, "fused_same_options")
        print(solver, out[f"{solver}_{steps}"], flush=True)
    return out


def check_sweep(rounds: int) -> dict:
    game, key, steps, n = perf.ring_game(), jax.random.key(0), 200, 8
    make = lambda learning_rate: perf.make_gan_solver("simultaneous", learning_rate)  # noqa: E731
    lr = np.float32(1e-4)
    opts = mm.compiler_options()

    def one(lr_, seed):
        return mm.run(game, make(lr_), steps=steps, key=jax.random.fold_in(key, seed), record_every=None,
                      on_divergence="ignore")

    single = jax.jit(one, compiler_options=opts)
    mapped = jax.jit(lambda l, s: jax.lax.map(lambda a: one(*a), (l, s)), compiler_options=opts)
    lrs, seeds = jnp.full(n, lr), jnp.arange(n)
    kwargs = dict(steps=steps, grid={"learning_rate": np.array([lr, lr])}, seeds=n // 2, key=key, vmap_size=1,
                  on_divergence="ignore")

    def sequential():
        for i in range(n):
            jax.block_until_ready(single(lr, jnp.int32(i)))

    out = compare({"sequential": sequential, "lax_map": lambda: jax.block_until_ready(mapped(lrs, seeds)),
                   "sweep_vmap_size_1": functools.partial(mm.sweep, game, make, **kwargs)}, rounds, "sequential")
    print("sweep", out, flush=True)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", default="options,fused,sweep")
    parser.add_argument("--out", default=str(HERE / "results" / "interleaved_cpu.json"))
    args = parser.parse_args(argv)
    res = {"command": " ".join(["python", "benchmarks/interleaved_checks.py", *(argv or sys.argv[1:])]),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "rounds": args.rounds, "machine": perf.machine(), "versions": perf.versions(),
           "minimax_compiler_options": mm.compiler_options(), "load_start": perf.load()}
    checks = {"options": check_options, "fused": check_fused, "sweep": check_sweep}
    for name in [s.strip() for s in args.only.split(",") if s.strip()]:
        res[name] = checks[name](args.rounds)
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1, default=float) + "\n")
    print(f"wrote {path}")
    return res


if __name__ == "__main__":
    main()
