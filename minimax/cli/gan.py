"""``minimax gan``: train a GAN on a mixture of Gaussians with one solver, print the mode metrics, save a PNG.

The recipe (networks, optimiser, schedule) lives here as :class:`Settings` and :func:`build` so that the
mode-coverage benchmark (``benchmarks/gan_mixtures.py``) and the notebook train exactly what the command line
trains. Training is one compiled ``mm.run`` (a ``lax.scan``); the progress bar is its ``progress`` callback.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

import games
import minimax as mm
from minimax.cli._common import DeprecatedAlias, add_progress_option, seed_int, show_progress, writable_folder
from games import mixtures
from games.gan import LOSSES

__all__ = ["Settings", "SOLVERS", "DATA", "SCHEDULES", "build", "learning_rate", "mode_metric_fn", "add_parser",
           "main"]

SOLVERS = {
    "simultaneous": mm.simultaneous_gda,
    "alternating": mm.alternating_gda,
    "extragradient": mm.extragradient,
    "optimistic": mm.optimistic_gda,
}
DATA = {"ring": mixtures.ring, "grid": mixtures.grid}
SCHEDULES = ("constant", "decay")
N_EVAL = 2500  # samples per evaluation, as in the VEEGAN / PacGAN protocol


class Settings(NamedTuple):
    """One training recipe; the defaults are the benchmark's."""

    data: str = "ring"
    solver: str = "simultaneous"
    steps: int = 10_000
    lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    schedule: str = "decay"
    batch_size: int = 512
    width: int = 128
    depth: int = 2
    latent_dim: int = 2
    r1: float = 0.0
    loss: str = "minimax"


def learning_rate(lr: float, steps: int, schedule: str):
    """``"constant"``: ``lr`` throughout. ``"decay"``: ``lr`` for the first half of the run, then a cosine decay
    to ``lr / 100`` over the second half (sharpens the generator's modes once they are found)."""
    if schedule == "constant":
        return lr
    half = max(steps // 2, 1)
    return optax.join_schedules(
        [optax.constant_schedule(lr), optax.cosine_decay_schedule(lr, max(steps - half, 1), alpha=0.01)], [half])


def build(settings: Settings):
    """``(game, solver, generator, discriminator, mixture)`` for ``settings``: MLPs with ``depth`` hidden ReLU
    layers of ``width`` for both players, Adam for each player (its own state), the chosen solver."""
    mixture = DATA[settings.data]()
    hidden = [settings.width] * settings.depth
    generator = games.mlp([settings.latent_dim, *hidden, mixture.dim])
    discriminator = games.mlp([mixture.dim, *hidden, 1])
    game = games.gan(generator, discriminator, mixture, latent_dim=settings.latent_dim,
                     batch_size=settings.batch_size, loss=settings.loss, r1=settings.r1)
    opt = optax.adam(learning_rate(settings.lr, settings.steps, settings.schedule), b1=settings.beta1,
                     b2=settings.beta2)
    solver = SOLVERS[settings.solver](opt)
    return game, solver, generator, discriminator, mixture


def mode_metric_fn(generator, mixture, latent_dim: int, key):
    """``fn(x, y) -> [modes, high_quality, reverse_kl]`` on ``N_EVAL`` samples from a fixed key, for
    ``mm.run(metrics=...)``: the same latents at every record, so curves show the generator, not resampling."""

    def fn(x, y):
        m = mixtures.mode_metrics(games.gan_samples(generator, x, key, N_EVAL, latent_dim=latent_dim), mixture)
        dtype = m["high_quality"].dtype
        return jnp.stack([m["modes"].astype(dtype), m["high_quality"], m["reverse_kl"]])

    return fn


# -- the command line ---------------------------------------------------------------------------------------------
def add_parser(sub) -> argparse.ArgumentParser:
    d = Settings()
    p = sub.add_parser(
        "gan",
        help="train a GAN on a mixture of Gaussians and report mode coverage",
        description="Train a GAN (MLP generator and discriminator, Adam per player) on the 8-ring or the 5x5 grid "
        "of Gaussians with one solver, in one compiled loop; print modes covered, high-quality percentage and "
        "reverse KL on 2500 samples (3-sigma protocol), and save a PNG of the samples and the decision surface.",
        epilog="example: minimax gan --data ring --solver extragradient --steps 20000",
    )
    p.add_argument("--data", default=d.data, help=f"data set: {', '.join(DATA)} (default {d.data})")
    p.add_argument("--solver", default=d.solver, help=f"solver: {', '.join(SOLVERS)} (default {d.solver})")
    p.add_argument("--steps", type=int, default=d.steps, help=f"training steps (default {d.steps})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate of both players (default {d.lr:g})")
    p.add_argument("--beta1", type=float, default=d.beta1, help=f"Adam b1 (default {d.beta1})")
    p.add_argument("--schedule", default=d.schedule,
                   help=f"learning-rate schedule: {', '.join(SCHEDULES)} (default {d.schedule}: constant for half "
                   "the run, then cosine decay to 1%%)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"batch size (default {d.batch_size})")
    p.add_argument("--width", type=int, default=d.width, help=f"hidden units per layer (default {d.width})")
    p.add_argument("--depth", type=int, default=d.depth, help=f"hidden layers (default {d.depth})")
    p.add_argument("--latent-dim", type=int, default=d.latent_dim, help=f"latent dimension (default {d.latent_dim})")
    p.add_argument("--r1", type=float, default=d.r1, help="R1 penalty weight gamma (default 0)")
    p.add_argument("--loss", default=d.loss, help="minimax (zero-sum) or non_saturating (general-sum)")
    p.add_argument("--seed", type=seed_int, default=0, help="PRNG seed (default 0)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the PNGs (gan_<data>_<solver>.png, and spectra_<data>_<solver>.png with "
                   "--spectrum-every), created if needed; 'none' writes none (default: the current folder)")
    add_progress_option(p, "training")
    p.add_argument("--output", action=DeprecatedAlias, replacement="--out DIR", default=None, metavar="PATH",
                   help="deprecated, use --out DIR: the samples' PNG path ('none' to skip); goes in the next "
                   "release")
    p.add_argument("--no-progress", action=DeprecatedAlias, replacement="--progress never", dest="progress",
                   nargs=0, const="never", help="deprecated, use --progress never; goes in the next release")
    p.add_argument("--spectrum-every", type=int, default=None, metavar="N",
                   help="snapshot the run every N steps and print the top eigenvalues of the game Jacobian and the "
                        "update's spectral radius at each (matrix-free); plots them to spectra_<data>_<solver>.png")
    p.add_argument("--spectrum-k", type=int, default=6, metavar="K",
                   help="eigenvalues per snapshot with --spectrum-every (default 6, largest modulus)")
    return p


def settings_from_args(args) -> Settings:
    """Checks the parsed arguments; raises :class:`minimax.cli.UsageError` with one line per problem."""
    from minimax.cli import UsageError

    if args.data not in DATA:
        raise UsageError(f"--data: unknown data set {args.data!r}; choose from {', '.join(DATA)}")
    if args.solver not in SOLVERS:
        raise UsageError(f"--solver: unknown solver {args.solver!r}; choose from {', '.join(SOLVERS)}")
    if args.schedule not in SCHEDULES:
        raise UsageError(f"--schedule: expected one of {', '.join(SCHEDULES)}, got {args.schedule!r}")
    if args.loss not in LOSSES:
        raise UsageError(f"--loss: expected one of {', '.join(LOSSES)}, got {args.loss!r}")
    for flag, value in (("--steps", args.steps), ("--batch-size", args.batch_size), ("--width", args.width),
                        ("--depth", args.depth), ("--latent-dim", args.latent_dim)):
        if value < 1:
            raise UsageError(f"{flag}: expected a positive integer, got {value}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr: expected a positive number, got {args.lr}")
    if not 0 <= args.beta1 < 1:
        raise UsageError(f"--beta1: expected a number in [0, 1), got {args.beta1}")
    if not (math.isfinite(args.r1) and args.r1 >= 0):
        raise UsageError(f"--r1: expected a non-negative number, got {args.r1}")
    out = getattr(args, "out", None)
    if out is not None and out != "none":
        writable_folder(out, "--out")
    if args.output is not None and args.output != "none" and not args.output.lower().endswith(".png"):
        raise UsageError(f"--output: expected a path ending in .png (or 'none'), got {args.output!r}")
    if args.output is not None and args.output != "none":  # checked now, not after the training
        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder):
            raise UsageError(f"--output: the folder {folder!r} of {args.output!r} does not exist")
        if not os.access(folder, os.W_OK):
            raise UsageError(f"--output: {folder!r} is not writable")
    every = getattr(args, "spectrum_every", None)
    if every is not None and not 1 <= every <= args.steps:
        raise UsageError(f"--spectrum-every: expected a number of steps in [1, --steps={args.steps}], got {every}")
    if every is not None and getattr(args, "spectrum_k", 6) < 1:
        raise UsageError(f"--spectrum-k: expected a positive integer, got {args.spectrum_k}")
    return Settings(data=args.data, solver=args.solver, steps=args.steps, lr=args.lr, beta1=args.beta1,
                    schedule=args.schedule, batch_size=args.batch_size, width=args.width, depth=args.depth,
                    latent_dim=args.latent_dim, r1=args.r1, loss=args.loss)


def train(settings: Settings, key, *, progress=None, records: int = 100, checkpoint_every: Optional[int] = None):
    """One training run: ``(result, generator, discriminator, mixture)``; the trace holds ``mode_metrics`` =
    [modes, high_quality, reverse_kl] at ``records`` evenly spaced steps, and ``result.checkpoints`` the
    snapshots every ``checkpoint_every`` steps."""
    game, solver, generator, discriminator, mixture = build(settings)
    metrics = {"mode_metrics": mode_metric_fn(generator, mixture, settings.latent_dim, jax.random.key(12345))}
    result = mm.run(game, solver, steps=settings.steps, key=key, record_every=max(settings.steps // records, 1),
                    metrics=metrics, progress=progress, on_divergence="warn", checkpoint_every=checkpoint_every)
    return result, generator, discriminator, mixture


def spectra(settings: Settings, result, *, k: int, key, progress=None) -> dict:
    """:func:`minimax.spectra_along` over ``result.checkpoints``: the top ``k`` eigenvalues of J and the radius
    of the solver's update (Adam's moments from each snapshot) at each."""
    game, solver, *_ = build(settings)
    return mm.spectra_along(game, result.checkpoints, k=k, solver=solver, key=key, progress=progress)


def _print_spectra(along: dict) -> None:
    print("spectra along training (top eigenvalues of the game Jacobian, largest modulus; rho of the update)")
    print(f"{'step':>8} {'|lambda|_max':>13} {'max Re':>10} {'min Re':>10} {'max |Im|':>10} {'rho':>11}")
    for step, eig, rho in zip(along["step"], along["eigenvalues"], along["radius"]):
        print(f"{int(step):>8} {np.max(np.abs(eig)):>13.5g} {np.max(eig.real):>10.4g} {np.min(eig.real):>10.4g} "
              f"{np.max(np.abs(eig.imag)):>10.4g} {rho:>11.7f}")


def main(args) -> int:
    from minimax.progress import ProgressBar

    settings = settings_from_args(args)
    folder = getattr(args, "out", None) or "."  # --output (deprecated) names the PNG itself; spectra then go to "."
    output: Optional[str] = args.output
    if output is None:
        output = "none" if folder == "none" else os.path.join(folder, f"gan_{settings.data}_{settings.solver}.png")
    if folder not in (".", "none"):
        os.makedirs(folder, exist_ok=True)
    print(f"gan: {settings.data} ({DATA[settings.data]().modes} modes), {settings.solver}, {settings.steps} steps, "
          f"Adam lr {settings.lr:g} (b1 {settings.beta1}, {settings.schedule}), batch {settings.batch_size}, "
          f"MLPs {settings.depth}x{settings.width}, latent {settings.latent_dim}, r1 {settings.r1:g}, "
          f"{settings.loss} loss, seed {args.seed}; jax {jax.__version__} on {jax.devices()[0].platform}", flush=True)
    progress = getattr(args, "progress", "auto")
    bar = ProgressBar("training", delay=0.5) if show_progress(progress) else None
    start = time.perf_counter()
    every = getattr(args, "spectrum_every", None)
    result, generator, discriminator, mixture = train(settings, jax.random.key(args.seed), progress=bar,
                                                      checkpoint_every=every)
    jax.block_until_ready(result)
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    along = None
    if every is not None:
        sbar = ProgressBar("spectra", delay=0.5) if show_progress(progress) else None
        along = spectra(settings, result, k=args.spectrum_k, key=jax.random.fold_in(jax.random.key(args.seed), 7),
                        progress=sbar)
        if sbar is not None:
            sbar.close()
    m = mixtures.mode_metrics(
        games.gan_samples(generator, result.x, jax.random.fold_in(jax.random.key(args.seed), 99), N_EVAL,
                          latent_dim=settings.latent_dim), mixture)
    # v(g, d) on the last recorded batch (the non-saturating game records the discriminator's loss -v)
    value = result.trace["value"][-1] if "value" in result.trace else -result.trace["loss_y"][-1]
    print(f"modes covered   {int(m['modes'])}/{mixture.modes}")
    print(f"high quality    {100 * float(m['high_quality']):.1f}%  (within 3 sd of a mode, {N_EVAL} samples)")
    print(f"reverse KL      {float(m['reverse_kl']):.3f}  (mode histogram vs uniform)")
    print(f"final v(g, d)   {float(value):.4f}  (-log 4 = {-math.log(4):.4f} at the equilibrium)")
    print(f"steps done      {int(result.steps_completed)}"
          + (f"  (diverged at step {int(result.diverged_step)})" if int(result.diverged_step) >= 0 else ""))
    print(f"wall time       {seconds:.1f} s (compilation included)")
    if along is not None:
        _print_spectra(along)
    if output != "none":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from minimax.plot.gan import plot_gan

        fig = plot_gan(generator, result.x, discriminator, result.y, mixture, latent_dim=settings.latent_dim,
                       key=jax.random.fold_in(jax.random.key(args.seed), 99),
                       suptitle=f"{settings.solver} on {mixture.name}, {settings.steps} steps, seed {args.seed}")
        fig.savefig(output, dpi=120)
        plt.close(fig)
        print(f"wrote {output}")
        if along is not None:
            from minimax.plot.spectra import eigenvalues_along_training

            path = os.path.join(folder if folder != "none" else ".", f"spectra_{settings.data}_{settings.solver}.png")
            fig = eigenvalues_along_training(along, title=f"{settings.solver} on {mixture.name}, seed {args.seed}")
            fig.savefig(path, dpi=120)
            plt.close(fig)
            print(f"wrote {path}")
    return 0
