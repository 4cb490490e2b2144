"""Compile time and program size of the ring GAN's run loop beside a hand-written scan (issue 16). Reported only.

    python benchmarks/compile_cost.py                 # this checkout
    python benchmarks/compile_cost.py --rev 9a2a723   # also a past commit, from a git worktree, in a subprocess

For each variant: seconds to lower and compile (median of 3 fresh compilations, caches cleared in between), the
optimized HLO's instruction count and its number of while loops. Variants: ``mm.run`` with its default arguments
(a record every step), with ``record_every=None``, and the hand-fused ``lax.scan`` of the same model
(``baselines_jax.gan_fused``), all with minimax's compile options. Writes
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

def measure(fn, *args):
    times, out = [], None
    for _ in range(3):
        jax.clear_caches()
        start = time.perf_counter()
        compiled = jax.jit(fn, compiler_options=mm.compiler_options()).lower(*args).compile()
        times.append(time.perf_counter() - start)
        out = size(compiled.as_text())
    return dict(out, compile_s=statistics.median(times), compile_times_s=times)

res = {{}}
res["default"] = measure(lambda k: mm.run(game, solver, steps=steps, key=k), key)
res["record_every_none"] = measure(lambda k: mm.run(game, solver, steps=steps, key=k, record_every=None), key)
if {fused}:
    import baselines_jax as bj
    ring = games.mixtures.ring()
    fused = bj.gan_fused("simultaneous", steps, ring.means, ring.std, GAN["batch"], GAN["latent"], GAN["lr"],
                         GAN["b1"]).__wrapped__
    res["hand_fused_scan"] = measure(fused, game.init(key), key)
print("RESULT" + json.dumps(res))
'''


def probe(root: pathlib.Path, fused: bool) -> dict:
    code = PROBE.format(root=str(root), bench=str(HERE), fused=fused)
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
    fused_s = res["now"]["hand_fused_scan"]["compile_s"]
    res["compile_over_hand_fused (target <= 1.5)"] = {
        name: {k: v["compile_s"] / fused_s for k, v in variants.items() if k != "hand_fused_scan"}
        for name, variants in res.items() if isinstance(variants, dict) and "default" in variants}
    import jax

    path = HERE / "results" / f"compile_cost_{jax.default_backend()}.json"
    path.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
