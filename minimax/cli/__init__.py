"""The ``minimax`` command line. It sits on top of the library; the core never imports it.

Subcommands live in their own modules (``compare``); ``main`` dispatches. Bad arguments print one line and exit
with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from minimax.cli import compare as _compare
from minimax.cli import gan as _gan

__all__ = ["main"]

_SUBCOMMANDS = {"compare": _compare, "gan": _gan}


class UsageError(Exception):
    """A bad command-line argument: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minimax",
        description="Compare solvers on two-player zero-sum games and study their dynamics.",
        epilog="Run 'minimax' with no arguments for the built-in comparison (bilinear game and Dirac-GAN).",
    )
    sub = parser.add_subparsers(dest="command")
    for name, module in _SUBCOMMANDS.items():
        module.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        argv = ["compare"]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed its message
        return int(exit_.code or 0)
    module = _SUBCOMMANDS[args.command]
    try:
        return int(module.main(args) or 0)
    except UsageError as err:
        print(f"minimax {args.command}: error: {err}", file=sys.stderr)
        return 2
