"""What the subcommands share: the one-line usage error, an argument parser that raises it, argument types, and
loading a game from a built-in name, a file or a module.

Nothing here runs a game.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import sys
from typing import Callable

from minimax.game import Game

__all__ = ["UsageError", "ArgumentParser", "positive_int", "load_game", "GAME_SPEC_HELP", "PROGRESS_CHOICES",
           "add_progress_option", "show_progress", "DeprecatedAlias"]

GAME_SPEC_HELP = "a built-in name, path/to/file.py:function or package.module:function"


class UsageError(Exception):
    """A bad command-line argument: printed as one line, exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose errors raise :class:`UsageError` instead of printing usage and exiting, so that
    the command prints exactly one line. Subparsers made from it are of this class too."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


PROGRESS_CHOICES = ("auto", "always", "never")


def add_progress_option(parser, what: str = "runs") -> None:
    """``--progress auto|always|never``, spelled and meaning the same in every subcommand."""
    parser.add_argument("--progress", choices=PROGRESS_CHOICES, default="auto",
                        help=f"progress bar on standard error for {what} longer than a second or so: 'auto' draws it "
                        "when standard error is a terminal. Default: auto. Example: --progress never")


def show_progress(choice: str, stream=None) -> bool:
    """Whether ``--progress choice`` draws a bar on ``stream`` (default standard error)."""
    stream = sys.stderr if stream is None else stream
    return choice == "always" or (choice == "auto" and hasattr(stream, "isatty") and stream.isatty())


class DeprecatedAlias(argparse.Action):
    """An old spelling kept working for one release: it sets what the new option would (``const``, or the value
    given) and prints a one-line note on standard error naming the new spelling (``replacement``)."""

    def __init__(self, option_strings, dest, replacement: str, **kwargs):
        self.replacement = replacement
        kwargs.setdefault("help", f"deprecated: use {replacement} (this spelling goes in the next release)")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)
        print(f"{parser.prog}: note: {option_string} is deprecated and goes in the next release; use "
              f"{self.replacement}", file=sys.stderr)


def positive_int(text: str) -> int:
    """An ``argparse`` type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """An ``argparse`` type: a PRNG seed, an integer in [0, 2**63)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 2**63), got {text}")
    return value


def writable_folder(path: str, option: str) -> None:
    """Raises UsageError unless ``path`` is a folder or can be created as one (every existing ancestor a folder)."""
    full = os.path.abspath(path)
    probe = full
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        where = "exists and is not a folder" if probe == full else f"is under {probe!r}, which is a file"
        raise UsageError(f"{option}: {path!r} {where}")
    if not os.access(probe, os.W_OK):
        raise UsageError(f"{option}: {probe!r} is not writable")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def load_game(spec: str, builtin: dict[str, Callable[[], Game]], *, option: str = "--game") -> tuple[str, Game]:
    """The game named by ``spec``, and a label for it.

    ``spec`` is a key of ``builtin``; or ``path/to/file.py:function`` (``path/to/file.py`` alone means
    ``:make_game``); or ``package.module:function``, imported with the current directory on the path. The function
    is called without arguments and must return a :class:`minimax.Game`; the attribute may also be a Game itself.
    Every failure (missing file or module, import error, missing or non-callable attribute, a factory that fails
    or returns something else) raises :class:`UsageError` with one line that names ``option``.
    """
    if spec in builtin:
        return spec, builtin[spec]()
    target, sep, attr = spec.rpartition(":")
    if not sep:
        if spec.endswith(".py"):
            target, attr = spec, "make_game"
        else:
            raise UsageError(f"{option}: unknown game {spec!r}; built-in games: {', '.join(builtin)}; "
                             f"or give path/to/file.py:function or package.module:function")
    if not target or not attr:
        raise UsageError(f"{option}: expected {GAME_SPEC_HELP}, got {spec!r}")
    if not attr.isidentifier():
        raise UsageError(f"{option}: {attr!r} is not a Python name (in {spec!r})")
    is_file = target.endswith(".py") or "/" in target or os.sep in target
    module = _import_file(target, option) if is_file else _import_module(target, option)

    if not hasattr(module, attr):
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == module.__name__)
        hint = f" (it defines: {', '.join(names[:8])})" if names else ""
        raise UsageError(f"{option}: {target} defines no {attr!r}{hint}")
    obj = getattr(module, attr)
    if isinstance(obj, Game):
        game = obj
    elif not callable(obj):
        raise UsageError(f"{option}: {target}:{attr} is a {type(obj).__name__}, not a function returning a "
                         f"minimax.Game")
    else:
        try:
            game = obj()
        except Exception as err:  # noqa: BLE001 - the user's factory failed: report it on one line
            raise UsageError(f"{option}: calling {attr}() from {target} failed: {_first_line(err)}") from err
        if not isinstance(game, Game):
            raise UsageError(f"{option}: {attr}() from {target} returned a {type(game).__name__}, expected a "
                             f"minimax.Game")
    label = game.name if game.name != "game" else attr
    return label, game


def _import_file(path: str, option: str):
    if not os.path.isfile(path):
        raise UsageError(f"{option}: no such file {path!r}")
    if not path.endswith(".py"):
        raise UsageError(f"{option}: {path!r} is not a Python file (.py)")
    full = os.path.abspath(path)
    name = "_minimax_user_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(full))[0])
    spec = importlib.util.spec_from_file_location(name, full)
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(full)
    sys.path.insert(0, folder)  # so that the file can import its neighbours
    sys.modules[name] = module  # dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - SyntaxError, ImportError, anything the file raises
        sys.modules.pop(name, None)
        raise UsageError(f"{option}: importing {path} failed: {_first_line(err)}") from err
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def _import_module(name: str, option: str):
    if not all(part.isidentifier() for part in name.split(".")):
        raise UsageError(f"{option}: {name!r} is neither a file (path/to/file.py) nor a module name "
                         f"(package.module)")
    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and (name == err.name or name.startswith(err.name + ".")):
            raise UsageError(f"{option}: no module named {err.name!r} (is it installed, or in the current "
                             f"directory?)") from err
        raise UsageError(f"{option}: importing {name} failed: {_first_line(err)}") from err
    except (Exception, SystemExit) as err:  # noqa: BLE001
        raise UsageError(f"{option}: importing {name} failed: {_first_line(err)}") from err
    finally:
        if added and os.getcwd() in sys.path:
            sys.path.remove(os.getcwd())
