"""``minimax gan``: train a GAN with one solver over one or more seeds, print the metrics, save a PNG.

Data: a mixture of Gaussians (``ring``, ``grid``; MLP players, mode coverage by the 3-sigma protocol) or 8 x 8
images (``digits``, ``stacked-digits``; DCGAN players, metrics by the library's digit classifier). The recipe
(networks, optimiser, schedule) lives here as :class:`Settings` and :func:`build` so that the mode-coverage
benchmark (``benchmarks/gan_mixtures.py``) and the notebook train exactly what the command line trains. Training
is one compiled ``mm.run`` (a ``lax.scan``), vmapped over the seeds and compiled ahead of time so that the
compile time and the training time are reported apart; the progress bar is the run's ``progress`` callback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
import time
import warnings
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

import games
import minimax as mm
from minimax import _xla
from minimax.compare import SOLVERS as _COMPARE_SOLVERS
from minimax.cli._common import DeprecatedAlias, seed_int, writable_folder
from minimax.solvers import check_solver_fits
from games import mixtures
from games.gan import LOSSES

__all__ = ["Settings", "SOLVERS", "DATA", "IMAGE_DATA", "SCHEDULES", "build", "learning_rate", "make_solver",
           "mode_metric_fn", "compile_runs", "add_parser", "main"]


#: Every solver of :data:`minimax.compare.SOLVERS`, as ``maker(optimizer, lr) -> Solver``: ``optimizer(lr)``
#: builds each player's Adam (with the schedule; keyword options go to optax.adam), ``lr`` is the base step size. The solvers' own constants are
#: compare's; the solvers that take a step size and no optimizer (proximal point, the anchored and fast
#: extragradients, the multiplicative-weights family) get ``lr`` as a constant step size, without Adam.
SOLVERS: dict[str, Callable] = {
    "simultaneous": lambda opt, lr: mm.simultaneous_gda(opt(lr)),
    "alternating": lambda opt, lr: mm.alternating_gda(opt(lr)),
    "extragradient": lambda opt, lr: mm.extragradient(opt(lr)),
    "optimistic": lambda opt, lr: mm.optimistic_gda(opt(lr)),
    "past_extragradient": lambda opt, lr: mm.past_extragradient(opt(lr)),
    "consensus": lambda opt, lr: mm.consensus(opt(lr), gamma=0.5),
    "sga": lambda opt, lr: mm.sga(opt(lr), lam=1.0),
    "cgd": lambda opt, lr: mm.competitive_gradient(opt(lr), eta=lr),
    "lookahead": lambda opt, lr: mm.lookahead(mm.simultaneous_gda(opt(lr)), k=5, alpha=0.5),
    "hamiltonian": lambda opt, lr: mm.hamiltonian_gd(opt(lr)),
    "extragradient_plus": lambda opt, lr: mm.extragradient(opt(lr / 2), extrapolation=opt(lr)),
    "look_ahead": lambda opt, lr: mm.look_ahead(opt(lr), alpha=lr),
    "lola": lambda opt, lr: mm.lola(opt(lr), alpha=lr),
    "sos": lambda opt, lr: mm.sos(opt(lr), alpha=lr),
    "follow_the_ridge": lambda opt, lr: mm.follow_the_ridge(opt(lr)),
    "unrolled": lambda opt, lr: mm.unrolled(opt(lr, eps_root=1e-8), unroll=5),  # finite through a zero gradient
}
_STEP_SIZE_ONLY = tuple(name for name in _COMPARE_SOLVERS if name not in SOLVERS)
for _name in _STEP_SIZE_ONLY:
    SOLVERS[_name] = (lambda name: lambda opt, lr: _COMPARE_SOLVERS[name](lr))(_name)
SOLVERS = {name: SOLVERS[name] for name in _COMPARE_SOLVERS}  # compare's order
DATA = {"ring": mixtures.ring, "grid": mixtures.grid}
IMAGE_DATA = ("digits", "stacked-digits")
SCHEDULES = ("constant", "decay")
N_EVAL = 2500  # samples per evaluation, as in the VEEGAN / PacGAN protocol
DIGITS_EVAL = 2000  # generated digits per evaluation of --data digits (10 classes, 200 a class)
#: Per data family, the defaults of the options whose best value depends on it (``None`` on the command line).
FAMILY_DEFAULTS = {"mixture": dict(width=128, latent_dim=2, batch_size=512),
                   "images": dict(width=16, latent_dim=16, batch_size=64)}


class Settings(NamedTuple):
    """One training recipe; the defaults are the benchmark's (on the mixtures)."""

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
    r2: float = 0.0


def learning_rate(lr: float, steps: int, schedule: str):
    """``"constant"``: ``lr`` throughout. ``"decay"``: ``lr`` for the first half of the run, then a cosine decay
    to ``lr / 100`` over the second half (sharpens the generator's modes once they are found)."""
    if schedule == "constant":
        return lr
    half = max(steps // 2, 1)
    return optax.join_schedules(
        [optax.constant_schedule(lr), optax.cosine_decay_schedule(lr, max(steps - half, 1), alpha=0.01)], [half])


def make_solver(settings: Settings) -> mm.Solver:
    """``settings.solver`` with Adam (``lr``, ``beta1``, ``beta2``, the schedule) for each player."""

    def adam(lr, **options):
        return optax.adam(learning_rate(lr, settings.steps, settings.schedule), b1=settings.beta1,
                          b2=settings.beta2, **options)

    return SOLVERS[settings.solver](adam, settings.lr)


def _image_data(name: str):
    """The image data set ``name``: :class:`games.datasets.Digits` or :class:`games.datasets.StackedDigits`."""
    return games.datasets.digits() if name == "digits" else games.datasets.stacked_digits()


def build(settings: Settings):
    """``(game, solver, generator, discriminator, data)`` for ``settings``.

    Mixtures (``data`` a :class:`games.mixtures.Mixture`): MLPs with ``depth`` hidden ReLU layers of ``width``
    for both players. Images (``data`` the :class:`games.datasets.Digits` or
    :class:`games.datasets.StackedDigits`): :func:`games.dcgan_generator` and :func:`games.dcgan_discriminator`
    of ``width`` (``depth`` unused), trained on the training split. Adam for each player (its own state), the
    chosen solver. Raises ImportError for the images without scikit-learn."""
    if settings.data in IMAGE_DATA:
        data = _image_data(settings.data)
        channels = 1 if settings.data == "digits" else data.channels
        generator = games.dcgan_generator(settings.latent_dim, channels=channels, width=settings.width)
        discriminator = games.dcgan_discriminator(channels, width=settings.width)
        source = data.train_images if settings.data == "digits" else data
    else:
        data = source = DATA[settings.data]()
        hidden = [settings.width] * settings.depth
        generator = games.mlp([settings.latent_dim, *hidden, data.dim])
        discriminator = games.mlp([data.dim, *hidden, 1])
    game = games.gan(generator, discriminator, source, latent_dim=settings.latent_dim,
                     batch_size=settings.batch_size, loss=settings.loss, r1=settings.r1, r2=settings.r2,
                     name=f"gan({settings.data}, {settings.loss})")
    return game, make_solver(settings), generator, discriminator, data


def mode_metric_fn(generator, mixture, latent_dim: int, key):
    """``fn(x, y) -> [modes, high_quality, reverse_kl]`` on ``N_EVAL`` samples from a fixed key, for
    ``mm.run(metrics=...)``: the same latents at every record, so curves show the generator, not resampling."""

    def fn(x, y):
        m = mixtures.mode_metrics(games.gan_samples(generator, x, key, N_EVAL, latent_dim=latent_dim), mixture)
        dtype = m["high_quality"].dtype
        return jnp.stack([m["modes"].astype(dtype), m["high_quality"], m["reverse_kl"]])

    return fn


def seed_keys(seed: int, seeds: int) -> jax.Array:
    """The PRNG keys of seeds ``seed, seed + 1, ..., seed + seeds - 1``: run i is ``mm.run(key=key(seed + i))``."""
    return jnp.stack([jax.random.key(seed + i) for i in range(seeds)])


def compile_runs(settings: Settings, keys: jax.Array, *, progress=None, records: int = 100,
                 checkpoint_every: Optional[int] = None):
    """``(executable, parts, compile_seconds)``: ``executable(keys)`` runs ``settings`` once per key, vmapped
    in one compiled call, and returns the batched :class:`minimax.Result` (leading axis: the seeds); ``parts``
    is :func:`build`'s tuple. On the mixtures the trace holds ``mode_metrics`` = [modes, high_quality,
    reverse_kl] at ``records`` evenly spaced steps; ``result.checkpoints`` the snapshots every
    ``checkpoint_every`` steps."""
    parts = build(settings)
    game, solver, generator, _, data = parts
    check_solver_fits(game, solver)
    metrics = None
    if settings.data in DATA:
        metrics = {"mode_metrics": mode_metric_fn(generator, data, settings.latent_dim, jax.random.key(12345))}
    record_every = max(settings.steps // records, 1)

    def one(key):
        return mm.run(game, solver, steps=settings.steps, key=key, record_every=record_every, metrics=metrics,
                      progress=progress, on_divergence="ignore", checkpoint_every=checkpoint_every)

    if keys.shape[0] == 1:  # one seed: the plain run, without the batching of vmap (faster to compile)
        def batched(keys):
            return jax.tree.map(lambda a: a[None], one(keys[0]))
    else:
        batched = jax.vmap(one)
    start = time.perf_counter()
    executable = jax.jit(batched, compiler_options=_xla.compiler_options()).lower(keys).compile()
    return executable, parts, time.perf_counter() - start


def train(settings: Settings, key, *, progress=None, records: int = 100, checkpoint_every: Optional[int] = None):
    """One training run: ``(result, generator, discriminator, data)``; the trace holds ``mode_metrics`` =
    [modes, high_quality, reverse_kl] at ``records`` evenly spaced steps (on the mixtures), and
    ``result.checkpoints`` the snapshots every ``checkpoint_every`` steps."""
    game, solver, generator, discriminator, data = build(settings)
    metrics = None
    if settings.data in DATA:
        metrics = {"mode_metrics": mode_metric_fn(generator, data, settings.latent_dim, jax.random.key(12345))}
    result = mm.run(game, solver, steps=settings.steps, key=key, record_every=max(settings.steps // records, 1),
                    metrics=metrics, progress=progress, on_divergence="warn", checkpoint_every=checkpoint_every)
    return result, generator, discriminator, data


# -- the command line ---------------------------------------------------------------------------------------------
def _family(data: str) -> str:
    return "images" if data in IMAGE_DATA else "mixture"


def add_parser(sub) -> argparse.ArgumentParser:
    d = Settings()
    mix, img = FAMILY_DEFAULTS["mixture"], FAMILY_DEFAULTS["images"]

    def by_family(option):
        return f"(default: {mix[option]} for ring and grid, {img[option]} for the digits)"

    p = sub.add_parser(
        "gan",
        help="train a GAN on a mixture of Gaussians or on 8x8 digits and report mode coverage",
        description=textwrap.fill("Train a GAN (Adam per player) with one solver over one or more seeds, vmapped in one compiled "
        "loop. ring, grid: MLP players on the 8-ring or the 5x5 grid of Gaussians; prints modes covered, "
        "high-quality percentage and reverse KL (3-sigma protocol) and saves the samples and the decision surface. "
        "digits, stacked-digits: DCGAN players on scikit-learn's 8x8 digits (10 classes) or on three stacked digits "
        "(1000 modes; needs pip install \"minimax[images]\"); prints the modes covered and KL to uniform as the "
        "library's digit classifier labels the samples, and the Frechet distance to held-out images, and saves a "
        "grid of samples. Compile time and training time are reported apart.", 100),
        epilog="examples:\n  minimax gan --data ring --solver extragradient --steps 20000\n"
        "  minimax gan --data digits --steps 2000 --seeds 4 --json runs.json\n"
        "  minimax gan --data stacked-digits --solver optimistic --r1 1 --eval-samples 5000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", default=d.data,
                   help=f"data set: {', '.join((*DATA, *IMAGE_DATA))} (default: {d.data})")
    entropic = ("mwu", "omwu", "mirror_prox")
    p.add_argument("--solver", default=d.solver,
                   help=f"solver, any of minimax compare's: {', '.join(SOLVERS)}; those without an optimizer "
                   f"({', '.join(n for n in _STEP_SIZE_ONLY if n not in entropic)}) take --lr as a constant step "
                   f"size, and {', '.join(entropic)} (players on a simplex) are refused (default: {d.solver})")
    p.add_argument("--steps", type=int, default=d.steps, help=f"training steps (default: {d.steps})")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="runs from seeds --seed, --seed + 1, ..., vmapped in one compiled call; the metrics are "
                   "printed as the mean and by seed (default: 1)")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate of both players (default: {d.lr:g})")
    p.add_argument("--beta1", type=float, default=d.beta1, help=f"Adam b1 (default: {d.beta1})")
    p.add_argument("--schedule", default=d.schedule,
                   help=f"learning-rate schedule: {', '.join(SCHEDULES)}; decay: constant for half the run, then "
                   f"cosine decay to 1%% (default: {d.schedule})")
    p.add_argument("--batch-size", type=int, default=None, help=f"batch size {by_family('batch_size')}")
    p.add_argument("--width", type=int, default=None,
                   help=f"hidden units per MLP layer, or the DCGAN's feature maps {by_family('width')}")
    p.add_argument("--depth", type=int, default=d.depth, help=f"hidden layers of the MLPs (default: {d.depth})")
    p.add_argument("--latent-dim", type=int, default=None, help=f"latent dimension {by_family('latent_dim')}")
    p.add_argument("--r1", type=float, default=d.r1,
                   help="R1 penalty weight gamma: (gamma/2) E ||grad_x logit||^2 on real samples (default: 0)")
    p.add_argument("--r2", type=float, default=d.r2,
                   help="R2 penalty weight: the same on generated samples, unseen by the generator (default: 0)")
    p.add_argument("--loss", default=d.loss,
                   help=f"{' or '.join(LOSSES)} (zero-sum or general-sum) (default: {d.loss})")
    p.add_argument("--seed", type=seed_int, default=0, help="PRNG seed of the first run (default: 0)")
    p.add_argument("--eval-samples", type=int, default=None, metavar="N",
                   help=f"generated samples per evaluation (default: {N_EVAL} for ring and grid, {DIGITS_EVAL} for "
                   f"digits, {games.digit_metrics.STACKED_SAMPLES} for stacked-digits, the stacked-MNIST protocol)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the PNGs (gan_<data>_<solver>.png, and spectra_<data>_<solver>.png with "
                   "--spectrum-every), created if needed; 'none' writes none (default: the current folder)")
    p.add_argument("--output", action=DeprecatedAlias, replacement="--out DIR", default=None, metavar="PATH",
                   help="deprecated, use --out DIR: the samples' PNG path ('none' to skip); goes in the next "
                   "release")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="also write the settings, timings and metrics of every seed as JSON to PATH, '-' for "
                   "standard output (the report then goes to standard error) (default: none)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress on standard error: 'auto' redraws a bar on a terminal and prints a plain line "
                   "every 10%% otherwise; 'always' redraws the bar even when not a terminal (default: auto)")
    p.add_argument("--no-progress", action=DeprecatedAlias, replacement="--progress never", dest="progress",
                   nargs=0, const="never", help="deprecated, use --progress never; goes in the next release")
    p.add_argument("--spectrum-every", type=int, default=None, metavar="N",
                   help="snapshot the run (the first seed) every N steps and print the top eigenvalues of the game "
                        "Jacobian and the update's spectral radius at each (matrix-free); plots them to "
                        "spectra_<data>_<solver>.png (default: off)")
    p.add_argument("--spectrum-k", type=int, default=6, metavar="K",
                   help="eigenvalues per snapshot with --spectrum-every, largest modulus (default: 6)")
    return p


def _check_path(path: Optional[str], flag: str, suffix: Optional[str] = None) -> None:
    from minimax.cli import UsageError

    if path is None or path in ("none", "-"):
        return
    if suffix is not None and not path.lower().endswith(suffix):
        raise UsageError(f"{flag}: expected a path ending in {suffix} (or 'none'), got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))  # checked now, not after the training
    if not os.path.isdir(folder):
        raise UsageError(f"{flag}: the folder {folder!r} of {path!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag}: {folder!r} is not writable")


def settings_from_args(args) -> Settings:
    """Checks the parsed arguments; raises :class:`minimax.cli.UsageError` with one line per problem. Fills in
    the data-dependent defaults (``args.batch_size``, ``args.width``, ``args.latent_dim``, ``args.eval_samples``)."""
    from minimax.cli import UsageError

    if args.data not in DATA and args.data not in IMAGE_DATA:
        raise UsageError(f"--data: unknown data set {args.data!r}; choose from {', '.join((*DATA, *IMAGE_DATA))}")
    if args.solver not in SOLVERS:
        raise UsageError(f"--solver: unknown solver {args.solver!r}; choose from {', '.join(SOLVERS)}")
    if args.schedule not in SCHEDULES:
        raise UsageError(f"--schedule: expected one of {', '.join(SCHEDULES)}, got {args.schedule!r}")
    if args.loss not in LOSSES:
        raise UsageError(f"--loss: expected one of {', '.join(LOSSES)}, got {args.loss!r}")
    defaults = FAMILY_DEFAULTS[_family(args.data)]
    for option in ("batch_size", "width", "latent_dim"):
        if getattr(args, option, None) is None:
            setattr(args, option, defaults[option])
    if getattr(args, "eval_samples", None) is None:
        args.eval_samples = {"digits": DIGITS_EVAL, "stacked-digits": games.digit_metrics.STACKED_SAMPLES}.get(
            args.data, N_EVAL)
    seeds = getattr(args, "seeds", 1)
    for flag, value in (("--steps", args.steps), ("--batch-size", args.batch_size), ("--width", args.width),
                        ("--depth", args.depth), ("--latent-dim", args.latent_dim), ("--seeds", seeds)):
        if value < 1:
            raise UsageError(f"{flag}: expected a positive integer, got {value}")
    if args.seed + seeds > 2**63:
        raise UsageError(f"--seeds: the last seed --seed + --seeds - 1 = {args.seed + seeds - 1} is past 2**63 - 1")
    if args.eval_samples < 2:
        raise UsageError(f"--eval-samples: expected at least 2 samples (a covariance), got {args.eval_samples}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr: expected a positive number, got {args.lr}")
    if not 0 <= args.beta1 < 1:
        raise UsageError(f"--beta1: expected a number in [0, 1), got {args.beta1}")
    for flag, value in (("--r1", args.r1), ("--r2", getattr(args, "r2", 0.0))):
        if not (math.isfinite(value) and value >= 0):
            raise UsageError(f"{flag}: expected a non-negative number, got {value}")
    _check_path(args.output, "--output", ".png")
    out_dir = getattr(args, "out", None)
    if out_dir is not None and out_dir != "none":
        writable_folder(out_dir, "--out")
    _check_path(getattr(args, "json", None), "--json")
    every = getattr(args, "spectrum_every", None)
    if every is not None and not 1 <= every <= args.steps:
        raise UsageError(f"--spectrum-every: expected a number of steps in [1, --steps={args.steps}], got {every}")
    if every is not None and getattr(args, "spectrum_k", 6) < 1:
        raise UsageError(f"--spectrum-k: expected a positive integer, got {args.spectrum_k}")
    settings = Settings(data=args.data, solver=args.solver, steps=args.steps, lr=args.lr, beta1=args.beta1,
                        schedule=args.schedule, batch_size=args.batch_size, width=args.width, depth=args.depth,
                        latent_dim=args.latent_dim, r1=args.r1, loss=args.loss, r2=getattr(args, "r2", 0.0))
    if make_solver(settings).geometry == "entropic":
        raise UsageError(f"--solver: {args.solver} uses the entropic geometry, which needs players on a simplex "
                         "(matrix games); a GAN's players are network weights")
    if args.data in IMAGE_DATA:
        try:
            _image_data(args.data)
        except ImportError:
            raise UsageError(f'--data {args.data}: needs scikit-learn; install it with pip install "minimax[images]"'
                             ) from None
    return settings


def spectra(settings: Settings, result, *, k: int, key, progress=None) -> dict:
    """:func:`minimax.spectra_along` over ``result.checkpoints`` (one run's): the top ``k`` eigenvalues of J and
    the radius of the solver's update (Adam's moments from each snapshot) at each."""
    game, solver, *_ = build(settings)
    return mm.spectra_along(game, result.checkpoints, k=k, solver=solver, key=key, progress=progress)


def _spectra_with_notes(*args, **kwargs) -> tuple[dict, list[str]]:
    """:func:`spectra`, with its :class:`minimax.LinearisationWarning` warnings collected as notes (each once) for the
    report rather than printed as Python warnings; other warnings pass through."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        along = spectra(*args, **kwargs)
    notes = []
    for w in caught:
        if issubclass(w.category, mm.LinearisationWarning):
            notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return along, list(dict.fromkeys(notes))


def _print_spectra(along: dict, out, notes=()) -> None:
    print("spectra along training (top eigenvalues of the game Jacobian, largest modulus; rho of the update)",
          file=out)
    print(f"{'step':>8} {'|lambda|_max':>13} {'max Re':>10} {'min Re':>10} {'max |Im|':>10} {'rho':>11}", file=out)
    for step, eig, rho in zip(along["step"], along["eigenvalues"], along["radius"]):
        print(f"{int(step):>8} {np.max(np.abs(eig)):>13.5g} {np.max(eig.real):>10.4g} {np.min(eig.real):>10.4g} "
              f"{np.max(np.abs(eig.imag)):>10.4g} {rho:>11.7f}", file=out)
    for note in notes:
        print(textwrap.fill(note, 116, initial_indent="note: ", subsequent_indent="      "), file=out)


def evaluate(settings: Settings, generator, data, x, key, n: int, classifier=None) -> dict:
    """The metrics of one trained generator ``x`` on ``n`` samples from ``key``, as plain numbers.

    Mixtures: ``modes``, ``num_modes``, ``high_quality`` (a fraction), ``reverse_kl``. Images: ``modes`` and
    ``num_modes`` (10 classes or 1000 stacked modes) and ``kl`` (mode histogram vs uniform) by ``classifier``
    (:func:`games.digit_metrics.mode_coverage`), and ``frechet`` to held-out images
    (:func:`games.digit_metrics.frechet_distance`): the 364 held-out digits, or ``n`` stacked held-out digits."""
    samples = games.gan_samples(generator, x, key, n, latent_dim=settings.latent_dim)
    if settings.data in DATA:
        m = mixtures.mode_metrics(samples, data)
        return {"modes": int(m["modes"]), "num_modes": int(data.modes), "high_quality": float(m["high_quality"]),
                "reverse_kl": float(m["reverse_kl"])}
    dm = games.digit_metrics
    coverage = dm.mode_coverage(samples, classifier)
    if settings.data == "digits":
        real = data.test_images
    else:
        real = games.datasets.stacked_digits(split="test").sample(jax.random.fold_in(key, 1), n)
    return {"modes": coverage["modes"], "num_modes": coverage["num_modes"], "kl": coverage["kl"],
            "frechet": dm.frechet_distance(samples, real, classifier)}


def _numbers(values, spec: str) -> str:
    """One value as ``spec``; several as their mean and the values by seed."""
    if len(values) == 1:
        return format(values[0], spec)
    mean = float(np.mean(values))
    return f"{mean:{spec.replace('d', '.1f')}} mean, by seed " + " ".join(format(v, spec) for v in values)


def _print_metrics(settings: Settings, runs: list, n: int, out, classifier=None, reference=None) -> None:
    def col(name):
        return [r[name] for r in runs]

    def line(label, name, spec, suffix=""):
        print(f"{label:<15} {_numbers(col(name), spec)}{suffix}", file=out)

    if settings.data in DATA:
        k = runs[0]["num_modes"]
        print(f"{'modes covered':<15} " + ("/".join([_numbers(col('modes'), 'd'), str(k)]) if len(runs) == 1
                                          else f"{_numbers(col('modes'), 'd')} (of {k})"), file=out)
        hq = [100 * v for v in col("high_quality")]
        print(f"{'high quality':<15} {_numbers(hq, '.1f')}%  (within 3 sd of a mode, {n} samples)", file=out)
        line("reverse KL", "reverse_kl", ".3f", "  (mode histogram vs uniform)")
        return
    k = runs[0]["num_modes"]
    what = "classes covered" if settings.data == "digits" else "modes covered"
    modes = _numbers(col("modes"), "d")
    print(f"{what:<15} {modes}/{k}" if len(runs) == 1 else f"{what:<15} {modes} (of {k})",
          f" ({n} samples labelled by the digit classifier, {100 * classifier.accuracy:.1f}% held-out accuracy)",
          sep="", file=out)
    line("KL to uniform", "kl", ".3f", f"  ({'class' if settings.data == 'digits' else 'mode'} histogram vs uniform)")
    against = "the 364 held-out digits" if settings.data == "digits" else f"{n} held-out stacked digits"
    ref = f"; training vs held-out digits: {reference:.3f}" if reference is not None else ""
    line("Frechet dist.", "frechet", ".3f", f"  (classifier features, vs {against}{ref})")


def _save_image_grid(images, path: str, title: str, columns: int = 8) -> None:
    """A PNG of ``images`` ``(n, 8, 8, C)`` in [-1, 1] as a grid (grey for C = 1, RGB for C = 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = np.clip((np.asarray(images, np.float64) + 1.0) / 2.0, 0.0, 1.0)
    rows = math.ceil(images.shape[0] / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.8, rows * 0.8 + 0.5), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < images.shape[0]:
            im = images[i]
            ax.imshow(im[..., 0] if im.shape[-1] == 1 else im, cmap="gray" if im.shape[-1] == 1 else None,
                      vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _header(settings: Settings, args) -> str:
    if settings.data in DATA:
        what = f"{settings.data} ({DATA[settings.data]().modes} modes)"
        nets = f"MLPs {settings.depth}x{settings.width}"
    else:
        what = f"{settings.data} ({'10 classes' if settings.data == 'digits' else '1000 modes'})"
        nets = f"DCGAN width {settings.width}"
    seeds = f"seed {args.seed}" if args.seeds == 1 else f"seeds {args.seed}..{args.seed + args.seeds - 1}"
    return (f"gan: {what}, {settings.solver}, {settings.steps} steps, Adam lr {settings.lr:g} (b1 {settings.beta1}, "
            f"{settings.schedule}), batch {settings.batch_size}, {nets}, latent {settings.latent_dim}, "
            f"r1 {settings.r1:g}, r2 {settings.r2:g}, {settings.loss} loss, {seeds}; "
            f"jax {jax.__version__} on {jax.devices()[0].platform}")


def main(args) -> int:
    from minimax.progress import ProgressBar

    settings = settings_from_args(args)
    out = sys.stderr if args.json == "-" else sys.stdout
    folder = getattr(args, "out", None) or "."  # --output (deprecated) names the PNG itself; spectra then go to "."
    output: Optional[str] = args.output
    if output is None:
        output = "none" if folder == "none" else os.path.join(folder, f"gan_{settings.data}_{settings.solver}.png")
    if folder not in (".", "none"):
        os.makedirs(folder, exist_ok=True)
    mode = getattr(args, "progress", "auto")
    print(_header(settings, args), file=out, flush=True)

    def bar(label):
        return None if mode == "never" else ProgressBar(label, delay=0.5, tty=True if mode == "always" else None)

    tbar = bar("training")
    every = args.spectrum_every
    keys = seed_keys(args.seed, args.seeds)
    print(f"compiling {args.seeds} run{'s' if args.seeds > 1 else ''} of {settings.steps} steps"
          + (" (vmapped over the seeds)" if args.seeds > 1 else "") + " ...", file=out, flush=True)
    executable, parts, compile_seconds = compile_runs(settings, keys, progress=tbar, checkpoint_every=every)
    game, solver, generator, discriminator, data = parts
    print(f"compiled in {compile_seconds:.1f} s; training", file=out, flush=True)
    if tbar is not None:
        tbar.restart()
    start = time.perf_counter()
    result = jax.block_until_ready(executable(keys))
    train_seconds = time.perf_counter() - start
    if tbar is not None:
        tbar.close()
    first = jax.tree.map(lambda a: a[0], result)
    along, notes = None, []
    if every is not None:
        sbar = bar("spectra")
        along, notes = _spectra_with_notes(settings, first, k=args.spectrum_k,
                                           key=jax.random.fold_in(jax.random.key(args.seed), 7), progress=sbar)
        if sbar is not None:
            sbar.close()

    classifier = reference = None
    if settings.data in IMAGE_DATA:
        dm = games.digit_metrics
        print(f"digit classifier: loading (trained once, then cached in {dm.cache_dir()})", file=out, flush=True)
        classifier = dm.digit_classifier()
        if settings.data == "digits":
            reference = dm.frechet_distance(data.train_images, data.test_images, classifier)
    seeds = [args.seed + i for i in range(args.seeds)]
    runs = []
    for i, seed in enumerate(seeds):  # a few host-side evaluations, one per seed
        x = jax.tree.map(lambda a: a[i], result.x)
        metrics = evaluate(settings, generator, data, x, jax.random.fold_in(jax.random.key(seed), 99),
                           args.eval_samples, classifier)
        trace = jax.tree.map(lambda a: a[i], result.trace)
        # v(g, d) on the last recorded batch (the non-saturating game records the discriminator's loss -v)
        value = trace["value"][-1] if "value" in trace else -trace["loss_y"][-1]
        runs.append({"seed": seed, **metrics, "final_value": float(value),
                     "steps_completed": int(result.steps_completed[i]), "diverged_step": int(result.diverged_step[i])})
    _print_metrics(settings, runs, args.eval_samples, out, classifier, reference)
    print(f"{'final v(g, d)':<15} {_numbers([r['final_value'] for r in runs], '.4f')}  "
          f"(-log 4 = {-math.log(4):.4f} at the equilibrium)", file=out)
    done = [r["steps_completed"] for r in runs]
    diverged = [(r["seed"], r["diverged_step"]) for r in runs if r["diverged_step"] >= 0]
    print(f"{'steps done':<15} {_numbers(done, 'd')}"
          + ("".join(f"  (seed {s} diverged at step {t})" for s, t in diverged) if args.seeds > 1 else
             (f"  (diverged at step {diverged[0][1]})" if diverged else "")), file=out)
    per_step = train_seconds / settings.steps
    print(f"{'compile time':<15} {compile_seconds:.1f} s", file=out)
    print(f"{'training time':<15} {train_seconds:.1f} s  ({1e3 * per_step:.3g} ms a step"
          + (f" for {args.seeds} seeds vmapped" if args.seeds > 1 else "") + ")", file=out)
    if along is not None:
        _print_spectra(along, out, notes)
    written = []
    if output != "none":
        key = jax.random.fold_in(jax.random.key(args.seed), 99)
        title = f"{settings.solver} on {settings.data}, {settings.steps} steps, seed {args.seed}"
        if settings.data in IMAGE_DATA:
            _save_image_grid(games.gan_samples(generator, first.x, key, 64, latent_dim=settings.latent_dim), output,
                             title)
        else:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            from minimax.plot.gan import plot_gan

            fig = plot_gan(generator, first.x, discriminator, first.y, data, latent_dim=settings.latent_dim,
                           key=key, suptitle=f"{settings.solver} on {data.name}, {settings.steps} steps, "
                                             f"seed {args.seed}")
            fig.savefig(output, dpi=120)
            plt.close(fig)
        written.append(output)
        print(f"wrote {output}", file=out)
        if along is not None:
            import matplotlib.pyplot as plt

            from minimax.plot.spectra import eigenvalues_along_training

            path = os.path.join(folder if folder != "none" else ".", f"spectra_{settings.data}_{settings.solver}.png")
            fig = eigenvalues_along_training(along, title=f"{settings.solver} on {settings.data}, seed {args.seed}")
            fig.savefig(path, dpi=120)
            plt.close(fig)
            written.append(path)
            print(f"wrote {path}", file=out)
    if args.json is not None:
        record = {"settings": settings._asdict(), "seeds": seeds, "eval_samples": args.eval_samples,
                  "compile_seconds": compile_seconds, "train_seconds": train_seconds, "seconds_per_step": per_step,
                  "jax": jax.__version__, "platform": jax.devices()[0].platform, "runs": runs, "files": written}
        if classifier is not None:
            record["classifier_accuracy"] = classifier.accuracy
        if reference is not None:
            record["frechet_train_vs_held_out"] = reference
        if along is not None:
            record["spectrum_notes"] = notes
        text = json.dumps(record, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
            print(f"wrote {args.json}", file=out)
    return 0
