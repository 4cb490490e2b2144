"""The ``minimax`` command line. It sits on top of the library; the core never imports it.

Subcommands live in their own modules (``compare``), each with ``add_parser(sub)`` and ``main(args)``; ``main``
dispatches through :data:`_SUBCOMMANDS`. Bad arguments raise :class:`UsageError` and print one line, exit status 2,
never a traceback. Bare ``minimax`` runs ``minimax compare`` with its defaults, and options without a subcommand
go to ``compare`` (``minimax --game dirac_gan``).
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

from minimax.cli._common import ArgumentParser, UsageError
from minimax.cli import compare as _compare
from minimax.cli import gan as _gan

__all__ = ["main", "UsageError", "build_parser"]

_SUBCOMMANDS = {"compare": _compare, "gan": _gan}
_DEFAULT = "compare"


def build_parser() -> ArgumentParser:
    from minimax import __version__

    parser = ArgumentParser(
        prog="minimax",
        description="Compare solvers on two-player zero-sum games min_x max_y f(x, y) and study their dynamics.",
        epilog="Run 'minimax' with no arguments for the built-in comparison (bilinear game and Dirac-GAN, plots in "
        "./minimax-out), and 'minimax SUBCOMMAND --help' for a subcommand's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"minimax {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for module in _SUBCOMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line on ``argv`` (default ``sys.argv[1:]``) and returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = [_DEFAULT] + argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        print(f"minimax: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help and --version print and exit 0
        return int(exit_.code or 0)
    try:
        return int(_SUBCOMMANDS[args.command].main(args) or 0)
    except UsageError as err:
        print(f"minimax {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"minimax {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - a user's game or callback raising at run time: one line, exit 2
        if os.environ.get("MINIMAX_TRACEBACK"):
            raise
        text = str(err).strip().splitlines()
        detail = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
        print(f"minimax {args.command}: error: {detail} (MINIMAX_TRACEBACK=1 shows the traceback)",
              file=sys.stderr)
        return 2
