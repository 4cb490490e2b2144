"""``minimax compare``: which solver works on a game? A table of final distance, rates, radius and verdict.

Everything the user typed is checked (games loaded and tried on their starting point, solvers, step sizes, output
paths, matplotlib for plots) before anything is compiled; then each (solver, step size) cell runs all seeds in one
compiled, vmapped call (:func:`minimax.compare.compare`).
"""

from __future__ import annotations

import argparse
import importlib
import csv
import json
import math
import os
import re
import sys
from typing import NamedTuple, Optional

import jax

import games
from minimax.cli._common import (GAME_SPEC_HELP, UsageError, add_progress_option, load_game, positive_int, seed_int,
                                 show_progress, writable_folder)
from minimax.driver import check_point, check_solver_step
from minimax.progress import ProgressBar
from minimax.solvers import check_solver_fits

comparison = importlib.import_module("minimax.compare")  # the module: minimax.compare is the function

DEFAULT_GAMES = ("bilinear", "dirac_gan")
DEFAULT_SOLVERS = ("simultaneous", "alternating", "extragradient", "optimistic")
DEFAULT_OUT = "minimax-out"
#: Option defaults; a run whose options all equal them is "bare" and writes its plots to DEFAULT_OUT.
DEFAULTS = dict(game=None, solvers=",".join(DEFAULT_SOLVERS), step_sizes="0.1", steps=3000, seeds=4, seed=0,
                json=None, csv=None, out=None, progress="auto", optimizer="sgd", set=None)


def _settings_help() -> str:
    """Every solver's and optimizer's settings with their defaults, for --help."""
    width = max(len(n) for n in list(comparison.SOLVER_SPECS) + list(comparison.OPTIMIZERS)) + 2
    lines = ["solver settings (--set NAME.KEY=VALUE; 'step' means the step size itself):"]
    for name, spec in comparison.SOLVER_SPECS.items():
        text = comparison.describe_settings(spec.settings) or "-"
        if not spec.optimizer:
            text += "  (takes step sizes, not --optimizer)"
        elif not spec.two_timescale:
            text += "  (one step size for both players)"
        lines.append(f"  {name:<{width}}{text}")
    others = [n for n in comparison.SOLVERS if n not in comparison.SOLVER_SPECS]
    if others:
        lines.append(f"  {', '.join(others)}: a step size only")
    lines.append("optimizer settings (--optimizer NAME, --set NAME.KEY=VALUE):")
    for name, spec in comparison.OPTIMIZERS.items():
        lines.append(f"  {name:<{width}}{comparison.describe_settings(spec.settings)}")
    return "\n".join(lines) + "\n"


EXAMPLES = f"""\
examples:
  minimax                                   the built-in comparison: bilinear game and Dirac-GAN, plots in ./{DEFAULT_OUT}
  minimax compare --game dirac_gan_r1 --solvers simultaneous,alternating --step-sizes 0.05,0.1,0.2
  minimax compare --game rock_paper_scissors --solvers mwu,omwu,mirror_prox --steps 2000 --out plots
  minimax compare --game notebooks/examples/my_game.py:make_game --seeds 8 --csv rows.csv
  minimax compare --game mypackage.games:make_game --json -      (rows as JSON on stdout, the table on stderr)
  minimax compare --solvers consensus,lookahead --set consensus.gamma=0.3 --set lookahead.inner=extragradient
  minimax compare --game dirac_gan --optimizer adam --set adam.b1=0.5 --step-sizes 0.01:0.04   (two timescales)

columns: final = median over seeds of the metric at the last step (dist: distance to the equilibrium, else gap:
duality gap, else residual: natural residual when a player is constrained, else grad_norm: vector-field norm);
spread = largest / smallest final metric over seeds (1 when they agree); avg = the same median for the averaged
iterate (dist_avg or gap_avg; '-' when the game knows neither); rate/step and rate/grad = measured contraction
factor over the second half of the run per step and per gradient evaluation (below 1 converges); radius =
spectral radius of the solver's linearised update at the equilibrium ('-' when the game knows none or it is not
finite; for a stochastic game the expected Jacobian's over 16 mini-batches; '*' when a note under the table says
why it means little, e.g. an adaptive optimizer whose second moment is zero there); verdict =
converged, stalled, cycling, noise floor or diverged (see minimax.classify; @step when an iterate became
non-finite; with counts, most common first, when the seeds disagree: '3 converged, 1 diverged@6'); compile and
run = seconds (compile 0 when the step size reused a compilation).
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "compare",
        help="compare solvers on a game (the default subcommand)",
        description="Run each solver at each step size over several seeds (one compiled, vmapped call per cell)\n"
        "and print final distance (or duality gap, or vector-field norm), empirical rates, spectral radius,\n"
        "verdict and wall time. With no options: the built-in comparison on the bilinear game and the\n"
        f"Dirac-GAN, with its plots written to ./{DEFAULT_OUT}.",
        epilog=EXAMPLES + "\n" + _settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--game", action="append", metavar="GAME",
                   help=f"{GAME_SPEC_HELP}; repeat for several games. Built-in: {', '.join(games.BUILTIN)}. "
                   "A file given alone (my_game.py) means my_game.py:make_game; the function takes no arguments and "
                   f"returns a minimax.Game with an init. Default: {' and '.join(DEFAULT_GAMES)}. "
                   "Example: --game notebooks/examples/my_game.py:make_game")
    p.add_argument("--solvers", default=DEFAULTS["solvers"], metavar="LIST",
                   help=f"comma-separated solver names from: {', '.join(comparison.SOLVERS)} (mwu, omwu and "
                   f"mirror_prox need a matrix game). Default: {DEFAULTS['solvers']}. "
                   "Example: --solvers extragradient,optimistic")
    p.add_argument("--step-sizes", default=DEFAULTS["step_sizes"], metavar="LIST",
                   help="comma-separated positive step sizes, each tried with every solver: one number for both "
                   "players, or X:Y for x's and y's own step sizes (two timescales). Default: 0.1. "
                   "Example: --step-sizes 0.05,0.1,0.05:0.2")
    p.add_argument("--optimizer", default=DEFAULTS["optimizer"], metavar="NAME",
                   help=f"the optax optimizer of each player, at its step size: {', '.join(comparison.OPTIMIZERS)} "
                   "(its settings with --set, defaults below; proximal_point, anchored_extragradient and the "
                   "entropic solvers take step sizes instead). Default: sgd. Example: --optimizer adam")
    p.add_argument("--set", action="append", metavar="NAME.KEY=VALUE",
                   help="change a solver's or the optimizer's setting from its default (listed below); repeat, or "
                   "separate with commas. Example: --set consensus.gamma=0.3,adam.b1=0.5")
    p.add_argument("--steps", type=positive_int, default=DEFAULTS["steps"], metavar="N",
                   help=f"steps per run. Default: {DEFAULTS['steps']}. Example: --steps 500")
    p.add_argument("--seeds", type=positive_int, default=DEFAULTS["seeds"], metavar="N",
                   help=f"runs per cell, each from its own starting point game.init(key), vmapped into one call. "
                   f"Default: {DEFAULTS['seeds']}. Example: --seeds 16")
    p.add_argument("--seed", type=seed_int, default=DEFAULTS["seed"], metavar="N",
                   help="base PRNG seed; seed i of every cell starts from the same point. Default: 0. "
                   "Example: --seed 1")
    p.add_argument("--json", metavar="PATH",
                   help="also write the table's rows (with more fields) as a JSON list to PATH ('-': standard "
                   "output, the table then goes to standard error); non-finite numbers are written as null. "
                   "Example: --json rows.json")
    p.add_argument("--csv", metavar="PATH",
                   help="also write the rows as CSV to PATH ('-': standard output). Example: --csv rows.csv")
    p.add_argument("--out", metavar="DIR",
                   help="write the plots (convergence against steps and gradient evaluations; phase portrait for "
                   "games with one number per player; eigenvalues at the equilibrium; strategies on the simplex for "
                   f"matrix games) to DIR, created if needed; needs matplotlib. Default: ./{DEFAULT_OUT} when run "
                   "with no options, else no plots. Example: --out plots")
    add_progress_option(p)
    return p


# -- checking the arguments -------------------------------------------------------------------------------------------
def _step_sizes(text: str) -> list:
    """Numbers, or X:Y pairs; with any pair, every entry becomes a pair (one compilation per solver)."""
    message = f"--step-sizes: expected comma-separated positive numbers such as 0.05,0.1 or pairs X:Y, got {text!r}"
    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            numbers = tuple(float(v) for v in part.split(":"))
        except ValueError:
            raise UsageError(message) from None
        if len(numbers) not in (1, 2) or any(not (math.isfinite(v) and v > 0) for v in numbers):
            raise UsageError(message)
        values.append(numbers[0] if len(numbers) == 1 else numbers)
    if not values:
        raise UsageError(message)
    if any(isinstance(v, tuple) for v in values):
        values = [v if isinstance(v, tuple) else (v, v) for v in values]
    return values


def _solvers(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError(f"--solvers: expected comma-separated solver names from: {', '.join(comparison.SOLVERS)}")
    for s in names:
        if s not in comparison.SOLVERS:
            raise UsageError(f"--solvers: unknown solver {s!r}; known: {', '.join(comparison.SOLVERS)}")
    return list(dict.fromkeys(names))


def _value(text: str, default, where: str):
    """``text`` read as the type of ``default`` (a setting's default)."""
    low = text.strip().lower()
    if isinstance(default, bool):
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise UsageError(f"--set {where}: expected true or false, got {text!r}")
    if comparison.is_tied(default):
        if low == default:
            return default
        default = 0.0
    if default is None:  # an optional number (FEG's lipschitz: none means unchecked)
        if low == "none":
            return None
        default = 0.0
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"--set {where}: expected an integer, got {text!r}") from None
    if isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"--set {where}: expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise UsageError(f"--set {where}: expected a finite number, got {text!r}")
        return value
    return text.strip()


def _settings(items, solver_names, optimizer: str) -> tuple[dict, dict]:
    """``--set`` as ``({solver: {key: value}}, {optimizer key: value})``, every name and value checked."""
    if optimizer not in comparison.OPTIMIZERS:
        raise UsageError(f"--optimizer: unknown optimizer {optimizer!r}; known: {', '.join(comparison.OPTIMIZERS)}")
    per_solver, opt = {}, {}
    for item in [part for text in items or () for part in text.split(",") if part.strip()]:
        name, dot, rest = item.strip().partition(".")
        key, eq, value = rest.partition("=")
        if not dot or not eq or not key:
            raise UsageError(f"--set: expected NAME.KEY=VALUE (e.g. consensus.gamma=0.3), got {item.strip()!r}")
        key = key.strip()
        if name in comparison.OPTIMIZERS:
            if name != optimizer:
                raise UsageError(f"--set {item.strip()}: the optimizer is {optimizer} (choose it with --optimizer "
                                 f"{name})")
            defaults = comparison.OPTIMIZERS[name].settings
            target = opt
        elif name in comparison.SOLVER_SPECS:
            if name not in solver_names:
                raise UsageError(f"--set {item.strip()}: {name} is not among --solvers ({', '.join(solver_names)})")
            defaults = comparison.SOLVER_SPECS[name].settings
            target = per_solver.setdefault(name, {})
        else:
            known = ", ".join(list(comparison.SOLVER_SPECS) + list(comparison.OPTIMIZERS))
            raise UsageError(f"--set {item.strip()}: {name!r} is neither a solver with settings nor an optimizer; "
                             f"known: {known}")
        if key not in defaults:
            raise UsageError(f"--set {item.strip()}: {name} has no setting {key!r}; its settings: "
                             f"{', '.join(defaults) or 'none'}")
        target[key] = _value(value, defaults[key], item.strip())
    if "lookahead" in per_solver and "inner" in per_solver["lookahead"]:
        inner = per_solver["lookahead"]["inner"]
        if inner == "lookahead" or inner not in comparison.SOLVER_SPECS:
            raise UsageError(f"--set lookahead.inner={inner}: expected a solver name other than lookahead")
    return per_solver, opt


def _factories(solver_names, step_sizes, optimizer: str, per_solver: dict, opt_settings: dict) -> dict:
    """The factory of each solver: its settings and the optimizer where it takes one; a solver without a settings
    table takes the step size alone."""
    pairs = [s for s in step_sizes if isinstance(s, tuple) and s[0] != s[1]]
    out = {}
    for name in solver_names:
        if name not in comparison.SOLVER_SPECS:
            if optimizer != "sgd" or opt_settings or pairs:
                raise UsageError(f"--solvers: {name} takes one step size and plain SGD here (it has no settings "
                                 "table), so --optimizer, its settings and X:Y step sizes do not apply to it")
            out[name] = comparison.SOLVERS[name]
            continue
        spec = comparison.SOLVER_SPECS[name]
        if pairs and not spec.two_timescale:
            raise UsageError(f"--step-sizes: {name} takes one step size for both players, got "
                             f"{pairs[0][0]:g}:{pairs[0][1]:g}")
        kwargs = dict(optimizer=optimizer, optimizer_settings=opt_settings) if spec.optimizer else {}
        out[name] = comparison.solver_factory(name, settings=per_solver.get(name), **kwargs)
    return out


def _settings_line(factories, optimizer: str, opt_settings: dict) -> str:
    """The table header's line of settings: the optimizer's and every solver's, defaults included."""
    opt_values = dict(comparison.OPTIMIZERS[optimizer].settings, **opt_settings)
    parts = [f"optimizer {optimizer} ({comparison.describe_settings(opt_values)})"]
    for name, factory in factories.items():
        if isinstance(factory, comparison.SolverFactory):
            text = comparison.describe_settings(factory.resolved())
            if not comparison.SOLVER_SPECS[name].optimizer:
                text = (text + " " if text else "") + "(step sizes, no optimizer)"
            if text:
                parts.append(f"{name} {text}")
    return "settings: " + "; ".join(parts)


def _check_game(spec: str, label: str, game, factories, step_size, key) -> None:
    """The game can be compared: it draws starting points, its payoff runs on them, and every solver fits it."""
    if game.init is None:
        raise UsageError(f"--game {spec}: the game has no init function; compare draws each seed's starting point "
                         "from game.init(key), so give Game an init=")
    try:
        start = game.init(key)
        if not (isinstance(start, (tuple, list)) and len(start) == 2):
            raise TypeError("init: game.init(key) must return a pair (x0, y0)")
        x0, y0 = start
        check_point(game, x0, y0, key)
    except (ValueError, TypeError) as err:
        raise UsageError(f"--game {spec}: {str(err).splitlines()[0]}") from None
    for name, factory in factories.items():
        try:
            solver = factory(step_size)
        except (ValueError, TypeError) as err:
            raise UsageError(f"--set: building {name} failed: {str(err).splitlines()[0]}") from None
        try:
            check_solver_fits(game, solver)
        except ValueError:
            raise UsageError(f"--solvers: {name} works only on games whose players are both on a simplex (matrix "
                             f"games such as rock_paper_scissors), not on {label!r}") from None
        try:
            check_solver_step(game, solver, x0, y0, key)
        except (ValueError, TypeError) as err:
            raise UsageError(f"--solvers: {name} cannot run on {label!r}: {str(err).splitlines()[0]}") from None


def _check_output(path: Optional[str], option: str) -> None:
    if path is None or path == "-":
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option}: the folder {folder!r} of {path!r} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{option}: {path!r} is a folder; expected a file name")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"{option}: {path!r} cannot be written")


def _check_plots(out: str, explicit: bool) -> bool:
    """True when plots can be written to ``out``; without matplotlib, an explicit --out is a usage error and the
    default one is skipped with a note."""
    writable_folder(out, "--out")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if explicit:
            raise UsageError("--out: plots need matplotlib; install it with: python -m pip install -e '.[plot]'") \
                from None
        print("note: plots skipped, matplotlib is not installed (python -m pip install -e '.[plot]')",
              file=sys.stderr)
        return False
    return True


def _is_bare(args) -> bool:
    return all(getattr(args, name) == value for name, value in DEFAULTS.items())


# -- output ---------------------------------------------------------------------------------------------------------
def _fmt(value, spec: str, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    text = format(value, spec)  # inf and nan print as such
    return format(value, f">{width}.3e") if len(text) > width else text


def _verdict(row) -> str:
    return row.get("verdict_summary") or comparison.verdict_summary(row["verdicts"], row.get("diverged_steps") or (
        [row["diverged_at"]] if row.get("diverged_at") is not None else []))


def _spread(row) -> Optional[float]:
    """Largest over smallest final metric across seeds (1 when they agree)."""
    lo, hi = row.get("final_min"), row.get("final_max")
    if lo is None or hi is None:
        return None
    if lo <= 0:
        return 1.0 if hi == lo else math.inf
    return hi / lo


def _radius_text(row) -> str:
    """The radius, with a star when a note says why it means little (the notes follow the table)."""
    star = "*" if row.get("radius_note") else " "
    return _fmt(row["radius"], ">8.5f", 8) + star


def radius_notes(rows) -> list[str]:
    """The notes of the rows whose radius comes with one, for under the table."""
    groups: dict = {}  # one line per solver and note, naming its step sizes
    for r in rows:
        if r.get("radius_note"):
            groups.setdefault((r["solver"], r["radius_note"]), []).append(_step_text(r))
    return [f"* {solver} {', '.join(steps)}: {note}" for (solver, note), steps in groups.items()]


def _step_text(row) -> str:
    y = row.get("step_size_y")
    return f"{row['step_size']:g}" if y is None or y == row["step_size"] else f"{row['step_size']:g}:{y:g}"


class _Columns(NamedTuple):
    solver: int
    step: int


def _columns(solvers, step_texts) -> _Columns:
    return _Columns(max([20] + [len(s) for s in solvers]), max([6] + [len(t) for t in step_texts]))


def table_header(columns: _Columns) -> str:
    """The table's column names and the rule under them; the verdict comes last, as wide as it needs."""
    header = (f"{'solver':<{columns.solver}} {'step':>{columns.step}} {'metric':>9} {'final':>10} {'spread':>8} "
              f"{'avg':>10} {'rate/step':>10} {'rate/grad':>10} {'radius':>8}  {'compile':>7} {'run':>7}  verdict")
    return header + "\n" + "-" * (len(header) + 9)


def table_line(row, columns: _Columns) -> str:
    """One row of the table."""
    return (f"{row['solver']:<{columns.solver}} {_step_text(row):>{columns.step}} {row['metric']:>9} "
            f"{_fmt(row['final'], '>10.3e', 10)} {_fmt(_spread(row), '>8.3g', 8)} "
            f"{_fmt(row.get('final_avg'), '>10.3e', 10)} {_fmt(row['rate_step'], '>10.6f', 10)} "
            f"{_fmt(row['rate_eval'], '>10.6f', 10)} {_radius_text(row)} "
            f"{row['compile_seconds']:>7.2f} {row['seconds']:>7.3f}  {_verdict(row)}")


def format_table(rows) -> str:
    """The rows of one game as a fixed-width table (no leading blank line)."""
    columns = _columns([r["solver"] for r in rows], [_step_text(r) for r in rows])
    return "\n".join([table_header(columns)] + [table_line(r, columns) for r in rows] + radius_notes(rows))


CSV_FIELDS = ("game", "solver", "step_size", "step_size_y", "optimizer", "optimizer_settings", "settings", "steps",
              "seeds", "metric", "initial", "final", "final_min",
              "final_max", "avg_metric", "final_avg", "rate_step", "rate_eval", "radius", "radius_note", "verdict",
              "verdicts", "verdict_summary", "diverged_at", "diverged_steps", "grad_evals", "compile_seconds",
              "seconds")


def _plain(row) -> dict:
    """A row without the result objects, non-finite numbers as None (JSON has no NaN)."""
    out = {}
    for k in CSV_FIELDS:
        v = row.get(k)
        out[k] = None if isinstance(v, float) and not math.isfinite(v) else v
    return out


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        with open(path, "w", newline="") as f:
            f.write(text)


def _csv_text(rows) -> str:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        plain = _plain(row)
        plain["verdicts"] = " ".join(f"{k.replace(' ', '_')}:{v}" for k, v in plain["verdicts"].items())
        plain["diverged_steps"] = " ".join(str(d) for d in plain["diverged_steps"])
        for k in ("optimizer_settings", "settings"):
            plain[k] = None if plain[k] is None else comparison.describe_settings(plain[k])
        writer.writerow({k: "" if v is None else v for k, v in plain.items()})
    return buf.getvalue()


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", label).strip("_") or "game"


def _write_plots(game, label, rows, out) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window
    import matplotlib.pyplot as plt

    from minimax.plot import dynamics

    paths = []
    for kind, fig in dynamics.comparison_figures(game, rows).items():
        path = os.path.join(out, f"{_slug(label)}_{kind}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


# -- the command ----------------------------------------------------------------------------------------------------
def main(args) -> int:
    bare = _is_bare(args)
    solver_names = _solvers(args.solvers)
    step_sizes = _step_sizes(args.step_sizes)
    per_solver, opt_settings = _settings(args.set, solver_names, args.optimizer)
    factories = _factories(solver_names, step_sizes, args.optimizer, per_solver, opt_settings)
    if args.json == "-" and args.csv == "-":
        raise UsageError("--json, --csv: only one of them can write to standard output ('-')")
    _check_output(args.json, "--json")
    _check_output(args.csv, "--csv")
    key = jax.random.key(args.seed)
    loaded = []
    for spec in args.game or DEFAULT_GAMES:
        label, game = load_game(spec, games.BUILTIN)
        _check_game(spec, label, game, factories, step_sizes[0], key)
        loaded.append((label, game))
    out = args.out if args.out is not None else (DEFAULT_OUT if bare else None)
    if out is not None and not _check_plots(out, explicit=args.out is not None):
        out = None
    if out is not None:
        os.makedirs(out, exist_ok=True)

    table = sys.stderr if "-" in (args.json, args.csv) else sys.stdout
    show_bar = show_progress(args.progress)
    all_rows, plots = [], []
    for i, (label, game) in enumerate(loaded):
        # The header and the column names go out before the first compilation, each row as soon as its cell is done.
        print(("\n" if i else "") + f"{label}: {args.steps} steps, {args.seeds} seeds, jax {jax.__version__} on "
              f"{jax.devices()[0].platform}", file=table, flush=True)
        print(_settings_line(factories, args.optimizer, opt_settings), file=table, flush=True)
        columns = _columns(solver_names, [_step_text({"step_size": x, "step_size_y": y})
                                          for x, y in (s if isinstance(s, tuple) else (s, s) for s in step_sizes)])
        print(table_header(columns), file=table, flush=True)
        bar = ProgressBar(label, stream=sys.stderr) if show_bar else None

        def show(row, bar=bar, label=label):
            row["game"] = label
            if bar is not None:
                bar.clear()
            print(table_line(row, columns), file=table, flush=True)

        plot_this = out is not None
        entries = [f if isinstance(f, comparison.SolverFactory) else name for name, f in factories.items()]
        rows = comparison.compare(game, entries, step_sizes=step_sizes, steps=args.steps, seeds=args.seeds,
                                  key=key, progress=bar, keep_results=plot_this, record_iterates=plot_this,
                                  on_cell=show)
        if bar is not None:
            bar.close()
        for note in radius_notes(rows):
            print(note, file=table, flush=True)
        if plot_this:
            plots += _write_plots(game, label, rows, out)
        all_rows += rows

    if args.json is not None:
        _write(args.json, json.dumps([_plain(r) for r in all_rows], indent=1) + "\n")
    if args.csv is not None:
        _write(args.csv, _csv_text(all_rows))
    if plots:
        print(f"\nplots written to {out}{os.sep}: {', '.join(os.path.basename(p) for p in plots)}", file=table)
    for path, what in ((args.json, "JSON"), (args.csv, "CSV")):
        if path not in (None, "-"):
            print(f"rows written as {what} to {path}", file=table)
    table.flush()
    return 0
