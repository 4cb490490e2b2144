"""Argument checks shared by the library's entry points (run, sweep, compare, the solver factories).

They run before anything is traced and raise with a message that names the argument and says what was expected.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Mapping, Optional


def positive_int(value: Any, name: str, *, allow_none: bool = False) -> Optional[int]:
    """``value`` as an int >= 1 (or None with ``allow_none``).

    Raises TypeError for a bool or a non-integer (``1.5``, ``"10"``, a float that happens to be whole) and
    ValueError for an integer below 1, each naming ``name``.
    """
    if value is None and allow_none:
        return None
    expected = "a positive integer or None" if allow_none else "a positive integer"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected {expected}, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    return int(value)


def metric_items(metrics: Optional[Mapping[str, Callable]]) -> tuple:
    """``metrics`` (``{name: fn(x, y)}`` or None) as sorted ``(name, fn)`` pairs: hashable, for static arguments."""
    if metrics is None:
        return ()
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics: expected a mapping {{name: fn(x, y)}}, got {type(metrics).__name__}")
    for name, fn in metrics.items():
        if not isinstance(name, str):
            raise TypeError(f"metrics: expected string names, got {name!r} of type {type(name).__name__}")
        if not callable(fn):
            raise TypeError(f"metrics[{name!r}]: expected a function fn(x, y), got {type(fn).__name__}")
    return tuple(sorted(metrics.items()))
