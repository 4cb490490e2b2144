"""Where a ring-GAN training step spends its time, with XLA's default compile options and with minimax's.

Profiles 200 simultaneous steps of the benchmark's ring GAN (``perf.ring_game``) with ``jax.profiler`` and XLA's
per-operation trace events, and lists the operations that take over 40 us a call: the 512 x 128 by 128 x 128
matrix products show up as ``ynn_fusion.*`` (YNNPACK) with XLA's defaults and as ``dot*`` (Eigen) with minimax's
options. Also times XLA's memory analysis of a compiled ring-GAN sweep, which ``mm.sweep`` used to ask for on
every call. Profiling adds its own overhead per operation; compare the two settings, not these totals with
``perf.py``.

    python benchmarks/profile_gan_step.py   # about a minute -> results/profile_gan_step_cpu.json
"""

from __future__ import annotations

import collections
import datetime
import glob
import json
import os
import pathlib
import sys
import tempfile
import time

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jaxlib import _profile_data  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import perf  # noqa: E402

import minimax as mm  # noqa: E402

STEPS = 200


def profile(options) -> dict:
    game, key = perf.ring_game(), jax.random.key(0)
    solver = perf.make_gan_solver("simultaneous", perf.GAN["lr"])
    exe, _ = perf.compiled(lambda k: mm.run(game, solver, steps=STEPS, key=k, record_every=None).x, key,
                           options=options)
    jax.block_until_ready(exe(key))
    with tempfile.TemporaryDirectory() as tmp:
        jax.profiler.start_trace(tmp)
        jax.block_until_ready(exe(key))
        jax.profiler.stop_trace()
        data = _profile_data.ProfileData.from_file(sorted(glob.glob(f"{tmp}/**/*.xplane.pb", recursive=True))[-1])
        total = collections.defaultdict(lambda: [0, 0.0])
        for plane in data.planes:
            for line in plane.lines:
                for event in line.events:
                    total[event.name][0] += 1
                    total[event.name][1] += event.duration_ns
    per_call = {name: ns / count / 1e3 for name, (count, ns) in total.items()
                if count >= STEPS and not name.startswith(("$", "ThunkExecutor"))}
    return {name: round(us, 1) for name, us in sorted(per_call.items(), key=lambda t: -t[1]) if us > 40}


def memory_analysis_seconds() -> float:
    game, key = perf.ring_game(), jax.random.key(0)
    make = lambda learning_rate: perf.make_gan_solver("simultaneous", learning_rate)  # noqa: E731
    mm.sweep(game, make, steps=2, grid={"learning_rate": np.array([1e-4, 3e-4], np.float32)}, seeds=4, key=key,
             vmap_size=1, on_divergence="ignore")
    sweep_module = sys.modules["minimax.sweep"]  # the module; ``minimax.sweep`` is the function
    compiled, _ = next(reversed(sweep_module._CACHE.values()))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        compiled.memory_analysis()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> dict:
    res = {"command": "python benchmarks/profile_gan_step.py",
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "versions": perf.versions(), "steps": STEPS,
           "us_per_call_over_40us": {"xla_defaults": profile(None), "minimax_options": profile(mm.compiler_options())},
           "sweep_memory_analysis_s": memory_analysis_seconds()}
    print(json.dumps(res, indent=1))
    path = HERE / "results" / "profile_gan_step_cpu.json"
    path.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {path}")
    return res


if __name__ == "__main__":
    main()
