"""Mode-coverage benchmark: GANs on the 8-ring and the 5x5 grid of Gaussians, four solvers, several seeds.

For each data set and solver, the seeds run as one compiled, vmapped ``mm.run``. Each final generator is scored
on 2500 samples with the VEEGAN / PacGAN protocol (high quality: within 3 sd of the nearest mode; a mode is
covered if it is the nearest mode of a high-quality sample). Writes a JSON record (machine, versions, date,
settings, per-seed results, wall times), a markdown table and a PNG of seed 0's samples.

    python benchmarks/gan_mixtures.py                      # the full benchmark (tens of minutes on 2 CPU cores)
    python benchmarks/gan_mixtures.py --quick              # a 1-minute smoke run, written as *_quick.*

Run from the repository root (``python benchmarks/gan_mixtures.py``); settings are the defaults of
``minimax.cli.gan.Settings`` unless overridden here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import games  # noqa: E402
import minimax as mm  # noqa: E402
from games import mixtures  # noqa: E402
from minimax.cli.gan import DATA, N_EVAL, SOLVERS, Settings, build, mode_metric_fn  # noqa: E402

DEFAULTS = Settings()
GOALS = {"ring": (8, 0.90), "grid": (24, 0.80)}  # (modes, high-quality fraction), mean over seeds


def parse_steps(text: str, datasets) -> dict:
    """``"10000"`` for every data set, or ``"ring:10000,grid:20000"``."""
    if ":" not in text:
        return {d: int(text) for d in datasets}
    out = dict(item.split(":") for item in text.split(","))
    return {d: int(out[d]) for d in datasets}


def run_cell(settings: Settings, seeds: int, records: int, base_key):
    game, solver, generator, discriminator, mixture = build(settings)
    metric = mode_metric_fn(generator, mixture, settings.latent_dim, jax.random.key(12345))
    record_every = max(settings.steps // records, 1)

    def one(key):
        return mm.run(game, solver, steps=settings.steps, key=key, record_every=record_every,
                      metrics={"mode_metrics": metric}, on_divergence="ignore")

    keys = jax.random.split(base_key, seeds)
    fn = jax.jit(jax.vmap(one))
    t0 = time.perf_counter()
    compiled = fn.lower(keys).compile()
    t1 = time.perf_counter()
    res = jax.block_until_ready(compiled(keys))
    t2 = time.perf_counter()

    # Final scores on fresh latents (not the trace's fixed ones): 2500 samples per seed.
    eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, 777))(keys)
    samples = jax.vmap(lambda p, k: games.gan_samples(generator, p, k, N_EVAL, latent_dim=settings.latent_dim))(
        res.x, eval_keys)
    final = jax.vmap(lambda s: mixtures.mode_metrics(s, mixture))(samples)
    return dict(
        modes=np.asarray(final["modes"]).tolist(),
        high_quality=np.asarray(final["high_quality"]).tolist(),
        reverse_kl=np.asarray(final["reverse_kl"]).tolist(),
        diverged_step=np.asarray(res.diverged_step).tolist(),
        compile_seconds=round(t1 - t0, 2),
        run_seconds=round(t2 - t1, 2),
        trace_steps=np.asarray(res.trace["step"][0]).tolist(),
        trace_modes=np.asarray(res.trace["mode_metrics"][..., 0]).round(3).tolist(),
        trace_high_quality=np.asarray(res.trace["mode_metrics"][..., 1]).round(4).tolist(),
        trace_value=np.asarray(res.trace["value"]).round(4).tolist() if "value" in res.trace else None,
    ), np.asarray(samples[0])


def summary(values):
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def markdown(record) -> str:
    s = record["settings"]
    lines = [
        f"GAN mode coverage, {record['seeds']} seeds per row (mean ± sd), {N_EVAL} samples per seed, 3-sigma protocol.",
        f"MLPs {s['depth']}x{s['width']} (ReLU) for both players, latent N(0, I_{s['latent_dim']}), batch "
        f"{s['batch_size']}, Adam lr {s['lr']:g} (b1 {s['beta1']}, b2 {s['beta2']}, schedule {s['schedule']}) for "
        f"each player, R1 {s['r1']:g}, {s['loss']} loss. Wall time: all seeds together (vmapped), compilation "
        f"excluded (in brackets: compilation). Machine: {record['machine']['cpu_count']} CPU cores "
        f"({record['machine']['processor'] or record['machine']['machine']}), jax {record['versions']['jax']}, "
        f"{record['date'][:10]}; load average {record['machine']['load_before']} at start (machine shared).",
        "",
        "| data | solver | steps | modes covered | high quality (%) | reverse KL | wall time (s) | goal |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in record["results"]:
        m, md = summary(row["modes"])
        h, hd = summary(row["high_quality"])
        k, kd = summary(row["reverse_kl"])
        goal_modes, goal_hq = GOALS[row["data"]]
        met = "met" if (m >= goal_modes and h >= goal_hq) else "not met"
        lines.append(
            f"| {row['data']} ({row['mixture_modes']}) | {row['solver']} | {row['steps']} | {m:.1f} ± {md:.1f} | "
            f"{100 * h:.1f} ± {100 * hd:.1f} | {k:.3f} ± {kd:.3f} | {row['run_seconds']:.0f} "
            f"({row['compile_seconds']:.0f}) | {met} |")
    lines.append("")
    lines.append("Goal (issue 3): ring 8/8 modes with >= 90 % high quality; grid >= 24/25 modes with >= 80 %.")
    return "\n".join(lines) + "\n"


def save_figure(samples_by_cell, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minimax.plot.gan import plot_samples

    datasets = sorted({d for d, _ in samples_by_cell}, key=list(DATA).index)
    solvers = [s for s in SOLVERS if any(s == c[1] for c in samples_by_cell)]
    fig, axes = plt.subplots(len(datasets), len(solvers), figsize=(3.3 * len(solvers), 3.4 * len(datasets)),
                             layout="constrained", squeeze=False)
    for i, d in enumerate(datasets):
        for j, s in enumerate(solvers):
            ax = axes[i, j]
            plot_samples(samples_by_cell[(d, s)], DATA[d](), ax=ax, title=f"{s}, {d}")
            if (i, j) != (len(datasets) - 1, 0):
                ax.legend().remove()
    fig.suptitle("Generator samples, seed 0\n(blue: within 3 sd of a mode)" if len(solvers) == 1 else
                 "Generator samples after training, seed 0 (blue: within 3 sd of a mode)", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="ring,grid", help="comma-separated data sets (ring, grid)")
    p.add_argument("--solvers", default="simultaneous,alternating,extragradient,optimistic",
                   help="comma-separated solvers (any of minimax gan's)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", default="10000", help="steps for every data set, or 'ring:N,grid:M'")
    p.add_argument("--records", type=int, default=20, help="trace records per run (mode metrics over training)")
    p.add_argument("--lr", type=float, default=DEFAULTS.lr)
    p.add_argument("--beta1", type=float, default=DEFAULTS.beta1)
    p.add_argument("--schedule", default=DEFAULTS.schedule)
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    p.add_argument("--width", type=int, default=DEFAULTS.width)
    p.add_argument("--depth", type=int, default=DEFAULTS.depth)
    p.add_argument("--latent-dim", type=int, default=DEFAULTS.latent_dim)
    p.add_argument("--r1", type=float, default=DEFAULTS.r1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny settings for a smoke test; files get a _quick suffix")
    p.add_argument("--tag", default="", help="suffix of the output files (gan_mixtures_<tag>.*), for extra runs")
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)

    datasets = [d for d in args.data.split(",") if d]
    solvers = [s for s in args.solvers.split(",") if s]
    for d in datasets:
        if d not in DATA:
            p.error(f"--data: unknown data set {d!r}")
    for s in solvers:
        if s not in SOLVERS:
            p.error(f"--solvers: unknown solver {s!r}")
    steps = parse_steps(args.steps, datasets)
    base = dict(lr=args.lr, beta1=args.beta1, schedule=args.schedule, batch_size=args.batch_size, width=args.width,
                depth=args.depth, latent_dim=args.latent_dim, r1=args.r1)
    seeds, suffix = args.seeds, (f"_{args.tag}" if args.tag else "")
    if args.quick:
        base.update(batch_size=64, width=32)
        steps = {d: 200 for d in datasets}
        seeds, suffix = 2, "_quick"

    record = dict(
        benchmark="gan_mixtures",
        command="python " + " ".join([pathlib.Path(sys.argv[0]).as_posix()] + (argv or sys.argv[1:])),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        machine=dict(platform=platform.platform(), machine=platform.machine(), processor=platform.processor(),
                     cpu_count=os.cpu_count(), device=str(jax.devices()[0]),
                     load_before=[round(x, 2) for x in os.getloadavg()]),
        versions=dict(python=platform.python_version(), jax=jax.__version__, jaxlib=jax.lib.__version__,
                      optax=optax.__version__, numpy=np.__version__),
        seeds=seeds,
        settings=dict(Settings()._asdict(), **base, steps=steps),
        results=[],
    )
    samples_by_cell = {}
    for d in datasets:
        for s in solvers:
            settings = Settings(**dict(base, data=d, solver=s, steps=steps[d]))
            print(f"{d:5s} {s:14s} {steps[d]} steps x {seeds} seeds ...", end=" ", flush=True)
            row, samples = run_cell(settings, seeds, args.records, jax.random.key(args.seed))
            row = dict(data=d, mixture_modes=DATA[d]().modes, solver=s, steps=steps[d], **row)
            record["results"].append(row)
            samples_by_cell[(d, s)] = samples
            m, h = summary(row["modes"]), summary(row["high_quality"])
            print(f"modes {m[0]:.1f} ± {m[1]:.1f}, high quality {100 * h[0]:.1f} ± {100 * h[1]:.1f} %, "
                  f"{row['run_seconds']:.0f} s (+{row['compile_seconds']:.0f} s compile)", flush=True)
    record["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]

    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"gan_mixtures{suffix}.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / f"gan_mixtures{suffix}.md").write_text(markdown(record))
    save_figure(samples_by_cell, out / f"gan_mixtures{suffix}.png")
    print(markdown(record))
    print(f"wrote {out / f'gan_mixtures{suffix}.json'}, .md and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
