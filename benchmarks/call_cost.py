"""The cost of one call (issue 16): the host time of a cached ``mm.run`` and recompilation of rebuilt games.

    python benchmarks/call_cost.py

1. Host cost of a cached call on the f = xy toy (``mm.run(game, extragradient(sgd(0.1)), steps=1, x0, y0,
   record_every=None)``, everything compiled already) beside the compiled program alone (the same
   ``_run_compiled`` executable called directly with its arguments): medians over interleaved rounds of 200
   calls each, and the median of per-round differences, which is what ``mm.run`` adds on the host.
2. The README's ring GAN written inline three times, as a notebook user writes it: the number of compilations of
   the run loop (target: one), and the time of each call.

Writes ``benchmarks/results/call_cost_<platform>.json``. Reported, never asserted.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import games  # noqa: E402
import minimax as mm  # noqa: E402
from minimax import driver  # noqa: E402


def toy_host_cost(rounds: int = 9, calls: int = 200) -> dict:
    game = mm.Game(value=lambda x, y: x * y, name="xy")
    solver = mm.extragradient(optax.sgd(0.1))
    x0, y0 = jnp.float32(1.0), jnp.float32(0.5)
    key = jax.random.key(0)

    def user():
        return mm.run(game, solver, steps=1, x0=x0, y0=y0, key=key, record_every=None)

    jax.block_until_ready(user())
    # The executable mm.run dispatches to, called with the same arguments: captured by wrapping the compiled entry.
    captured = {}
    original = driver._run_compiled

    class Spy:
        def __getattr__(self, name):
            return getattr(original, name)

        def __call__(self, *args, **kwargs):
            captured["call"] = (args, kwargs)
            return original(*args, **kwargs)

    driver._run_compiled = Spy()
    try:
        jax.block_until_ready(user())
    finally:
        driver._run_compiled = original
    args, kwargs = captured["call"]

    def compiled():
        return original(*args, **kwargs)

    jax.block_until_ready(compiled())
    fns = {"mm.run": user, "compiled program alone": compiled}
    per_call = {name: [] for name in fns}
    for r in range(rounds):
        names = list(fns)[r % 2:] + list(fns)[:r % 2]
        for name in names:
            start = time.perf_counter()
            for _ in range(calls):
                out = fns[name]()
            jax.block_until_ready(out)
            per_call[name].append((time.perf_counter() - start) / calls)
    added = [a - b for a, b in zip(per_call["mm.run"], per_call["compiled program alone"])]
    return {"ms_per_call": {k: 1e3 * statistics.median(v) for k, v in per_call.items()},
            "host_ms_added_by_mm.run (median of per-round differences; target <= 0.3)": 1e3 * statistics.median(added),
            "rounds": rounds, "calls_per_round": calls}


def gan_rebuilt_inline(steps: int = 20) -> dict:
    key = jax.random.key(0)
    before = driver._run_compiled._cache_size()
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        res = mm.run(games.gan(games.mlp([2, 128, 128, 2]), games.mlp([2, 128, 128, 1]), games.mixtures.ring(),
                               latent_dim=2, batch_size=512),
                     mm.simultaneous_gda(optax.adam(1e-3, b1=0.5)), steps=steps, key=key)
        jax.block_until_ready(res)
        seconds.append(time.perf_counter() - start)
    return {"compilations of the run loop (target 1)": driver._run_compiled._cache_size() - before,
            "seconds per call": seconds, "steps": steps}


def main() -> dict:
    res = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "toy": toy_host_cost(),
           "gan_rebuilt_inline": gan_rebuilt_inline()}
    path = HERE / "results" / f"call_cost_{jax.default_backend()}.json"
    path.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
