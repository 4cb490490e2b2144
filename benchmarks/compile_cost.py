"""Compile time and program size of the ring GAN's run loop beside a hand-written scan (issue 16). Reported only.

    python benchmarks/compile_cost.py                 # this checkout
    python benchmarks/compile_cost.py --rev 9a2a723   # also a past commit, from a git worktree, in a subprocess

For each variant: seconds to lower and compile (5 interleaved rounds of fresh compilations, caches cleared in
between; medians, and the median of the per-round ratios to the hand-fused scan), the
optimized HLO's instruction count and its number of while loops. Variants: ``mm.run`` with its default arguments
(a record every step), with ``record_every=None``, and the hand-fused ``lax.scan`` of the same model
(``baselines_jax.gan_fused``), all with minimax's compile options. The loop is measured from ``(x0, y0, key)`` as an
eager ``mm.run(..., key=k)`` compiles it (the start is drawn by ``game.init``, compiled separately once per game);
``default_init_inside`` traces the draw into the program too, as reports before 2026-12-03 did. Writes
``benchmarks/results/compile_cost_<platform>.json``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

PROBE = r'''
import json, re, statistics, sys, time
sys.path[:0] = [{root!r}, {bench!r}]
import jax, optax
import games, minimax as mm
from minimax import driver

GAN = dict(g_sizes=(2, 128, 128, 2), d_sizes=(2, 128, 128, 1), batch=512, latent=2, lr=1e-3, b1=0.5)
game = games.gan(games.mlp(list(GAN["g_sizes"])), games.mlp(list(GAN["d_sizes"])), games.mixtures.ring(),
                 latent_dim=GAN["latent"], batch_size=GAN["batch"])
solver = mm.simultaneous_gda(optax.adam(GAN["lr"], b1=GAN["b1"]))
key = jax.random.key(0)
steps = 2000

def size(text):
    return {{"hlo_instructions": sum(1 for line in text.splitlines() if re.match(r"\s+(ROOT )?%\S+ = ", line)),
            "while_loops": len(re.findall(r" while\(", text))}}

def compile_once(fn, *args):
    jax.clear_caches()
    start = time.perf_counter()
    compiled = jax.jit(fn, compiler_options=mm.compiler_options()).lower(*args).compile()
    return time.perf_counter() - start, size(compiled.as_text())

import baselines_jax as bj
ring = games.mixtures.ring()
fused = bj.gan_fused("simultaneous", steps, ring.means, ring.std, GAN["batch"], GAN["latent"], GAN["lr"],
                     GAN["b1"]).__wrapped__
x0, y0 = game.init(key)
# The program an eager mm.run(game, solver, steps=n, key=k) compiles: the start is drawn by game.init, compiled on its
# own (once per game), and handed to the loop, so the loop is measured from (x0, y0, key), as the hand-fused scan is
# from (params, key). default_init_inside draws the start inside the program (jit(lambda k: mm.run(..., key=k))), as
# reports before 2026-12-03 measured.
variants = {{
    "hand_fused_scan": (fused, (game.init(key), key)),
    "default": (lambda x, y, k: mm.run(game, solver, steps=steps, key=k, x0=x, y0=y), (x0, y0, key)),
    "record_every_none": (lambda x, y, k: mm.run(game, solver, steps=steps, key=k, x0=x, y0=y, record_every=None),
                          (x0, y0, key)),
    "default_init_inside": (lambda k: mm.run(game, solver, steps=steps, key=k), (key,)),
}}
times = {{name: [] for name in variants}}
res = {{}}
for round_ in range(5):  # interleaved: every variant once per round, in a rotating order
    names = list(variants)
    names = names[round_ % len(names):] + names[:round_ % len(names)]
    for name in names:
        fn, args = variants[name]
        t, sz = compile_once(fn, *args)
        times[name].append(t)
        res[name] = sz
for name in variants:
    res[name].update(compile_s=statistics.median(times[name]), compile_times_s=times[name])
    if name != "hand_fused_scan":
        res[name]["over_hand_fused_median_of_rounds"] = statistics.median(
            a / b for a, b in zip(times[name], times["hand_fused_scan"]))
print("RESULT" + json.dumps(res))
'''


def probe(root: pathlib.Path, fused: bool) -> dict:
    code = PROBE.format(root=str(root), bench=str(HERE))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    line = next(line for line in out.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default=None, help="also measure this past commit (a git worktree)")
    args = parser.parse_args(argv)
    res = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "now": probe(ROOT, fused=True)}
    if args.rev:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["git", "worktree", "add", "--detach", tmp, args.rev], cwd=ROOT, check=True,
                           capture_output=True)
            try:
                res[f"at {args.rev}"] = probe(pathlib.Path(tmp), fused=False)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", tmp], cwd=ROOT, capture_output=True)
    res["compile_over_hand_fused (target <= 1.5; median of per-round ratios)"] = {
        name: {k: v["over_hand_fused_median_of_rounds"] for k, v in variants.items() if k != "hand_fused_scan"}
        for name, variants in res.items() if isinstance(variants, dict) and "default" in variants}
    import jax

    path = HERE / "results" / f"compile_cost_{jax.default_backend()}.json"
    path.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
