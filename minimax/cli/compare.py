"""``minimax compare``: which solver works on a game? A table of final distance, rates, radius and verdict."""

from __future__ import annotations

import argparse
import sys

import jax

import games
from minimax import compare as comparison

DEFAULT_GAMES = ("bilinear", "dirac_gan")
DEFAULT_SOLVERS = ("simultaneous", "alternating", "extragradient", "optimistic")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "compare",
        help="compare solvers on a game",
        description="Run each solver at each step size over several seeds (one compiled, vmapped call per cell) "
        "and print final distance, empirical rates, spectral radius and verdict.",
        epilog="example: minimax compare --game dirac_gan --solvers simultaneous,extragradient "
        "--step-sizes 0.05,0.1 --seeds 4 --steps 2000",
    )
    p.add_argument("--game", action="append", help=f"built-in game ({', '.join(games.BUILTIN)}); repeatable; "
                   f"default: {' and '.join(DEFAULT_GAMES)}")
    p.add_argument("--solvers", default=",".join(DEFAULT_SOLVERS),
                   help=f"comma-separated solvers from: {', '.join(comparison.SOLVERS)}")
    p.add_argument("--step-sizes", default="0.1", help="comma-separated positive step sizes (default 0.1)")
    p.add_argument("--steps", type=int, default=3000, help="steps per run (default 3000)")
    p.add_argument("--seeds", type=int, default=4, help="runs per cell, vmapped (default 4)")
    p.add_argument("--seed", type=int, default=0, help="base PRNG seed (default 0)")
    return p


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def format_table(rows) -> str:
    header = f"{'solver':<20} {'step':>6} {'metric':>9} {'final':>11} {'rate/step':>10} {'rate/grad':>10} " \
             f"{'radius':>8} {'verdict':<10} {'seconds':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        verdict = r["verdict"] if r["diverged_at"] is None else f"{r['verdict']}@{r['diverged_at']}"
        lines.append(
            f"{r['solver']:<20} {r['step_size']:>6g} {r['metric']:>9} {r['final']:>11.3e} "
            f"{_fmt(r['rate_step'], '>10.6f')} {_fmt(r['rate_eval'], '>10.6f')} {_fmt(r['radius'], '>8.5f')} "
            f"{verdict:<10} {r['seconds']:>7.2f}"
        )
    return "\n".join(lines)


def main(args) -> int:
    from minimax.cli import UsageError

    names = args.game or list(DEFAULT_GAMES)
    for name in names:
        if name not in games.BUILTIN:
            raise UsageError(f"--game: unknown game {name!r}; built-in games: {', '.join(games.BUILTIN)}")
    solver_names = [s.strip() for s in args.solvers.split(",") if s.strip()]
    for s in solver_names:
        if s not in comparison.SOLVERS:
            raise UsageError(f"--solvers: unknown solver {s!r}; known: {', '.join(comparison.SOLVERS)}")
    try:
        step_sizes = [float(s) for s in args.step_sizes.split(",")]
    except ValueError:
        raise UsageError(f"--step-sizes: expected comma-separated numbers, got {args.step_sizes!r}") from None
    if any(not s > 0 for s in step_sizes):
        raise UsageError(f"--step-sizes: step sizes must be positive, got {args.step_sizes!r}")
    if args.steps < 1:
        raise UsageError(f"--steps: expected a positive integer, got {args.steps}")
    if args.seeds < 1:
        raise UsageError(f"--seeds: expected a positive integer, got {args.seeds}")

    for name in names:
        game = games.BUILTIN[name]()
        if any(comparison.SOLVERS[s](0.1).geometry == "entropic" for s in solver_names) and game.x_constraint is None:
            raise UsageError(f"--solvers: entropic solvers (mwu, omwu, mirror_prox) need a matrix game, not {name!r}")
        print(f"\n{name}: {args.steps} steps, {args.seeds} seeds, jax {jax.__version__} on "
              f"{jax.devices()[0].platform}", flush=True)
        rows = comparison.compare(game, solver_names, step_sizes=step_sizes, steps=args.steps, seeds=args.seeds,
                                  key=jax.random.key(args.seed))
        print(format_table(rows), flush=True)
    sys.stdout.flush()
    return 0
