"""A dependency-free progress bar for long runs, usable as :func:`minimax.run`'s ``progress`` callback.

It draws on standard error only once a run has taken longer than ``delay`` seconds, so quick runs stay silent.
On a terminal it redraws one line in place (``\\r``) at most every ``interval`` seconds; on anything else (a
file, a pipe, a CI log) it prints a plain line each time another ``every`` of the run is done (10 % by default),
so logs get a few lines instead of hundreds of carriage returns. Each line shows the time so far and an estimate
of the time left. Nothing here is imported by the core loop; the driver only calls the function it is given.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Optional, TextIO

__all__ = ["ProgressBar"]


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class ProgressBar:
    """A text progress bar: ``bar(done, total)`` updates it, ``bar.close()`` ends the line.

    Args:
      label: text in front of the bar.
      delay: seconds before the bar first appears.
      interval: minimum seconds between redraws on a terminal.
      stream: where to draw (default ``sys.stderr``).
      width: bar width in characters.
      tty: redraw one line in place (True) or print a plain line every ``every`` of the run (False); default
        ``stream.isatty()``.
      every: with ``tty=False``, the fraction of the run between two printed lines (default 0.1: every 10 %).

    Example:
      >>> import io
      >>> out = io.StringIO()
      >>> bar = ProgressBar("demo", delay=0.0, interval=0.0, stream=out, width=10, tty=True)
      >>> bar(5, 10); bar(10, 10); bar.close()
      >>> out.getvalue().splitlines()[-1].split("\\r")[-1]
      'demo [##########] 10/10 100% 0:00 eta 0:00'
      >>> log = io.StringIO()  # not a terminal: one plain line per 25 % here, no carriage returns
      >>> bar = ProgressBar("demo", delay=0.0, stream=log, width=4, every=0.25)
      >>> for i in range(11): bar(i, 10)
      >>> bar.close()
      >>> [line.split("]")[1].split()[0] for line in log.getvalue().splitlines()]
      ['0/10', '3/10', '5/10', '8/10', '10/10']
    """

    def __init__(self, label: str = "", *, delay: float = 1.5, interval: float = 0.2,
                 stream: Optional[TextIO] = None, width: int = 30, tty: Optional[bool] = None,
                 every: float = 0.1):
        if not 0 < every <= 1:
            raise ValueError(f"every: expected a fraction of the run in (0, 1], got {every!r}")
        self.label = label
        self.delay = delay
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty = tty
        self.every = every
        self.restart()

    def restart(self) -> None:
        """Starts the clock again (e.g. once compilation is over, so the estimate measures the steps alone)."""
        self.start = time.perf_counter()
        self._last = -float("inf")
        self._shown = False
        self._printed = -1  # the last fraction-of-the-run mark printed without a terminal
        self._state = (0, 1)

    def __call__(self, done, total) -> None:
        done, total = int(done), max(int(total), 1)
        self._state = (done, total)
        now = time.perf_counter()
        finished = done >= total
        if now - self.start < self.delay and not (finished and self._shown):
            return
        if self.tty:
            if now - self._last < self.interval and not finished:
                return
            self._last = now
            self._draw(now)
            return
        mark = self._mark(done, total)
        if mark > self._printed:
            self._printed = mark
            self._draw(now)

    def _mark(self, done: int, total: int) -> int:
        """How many ``every`` of the run are done (the last mark only at the end)."""
        if done >= total:
            return math.ceil(1 / self.every - 1e-9)
        return min(int(done / total / self.every + 1e-9), math.ceil(1 / self.every - 1e-9) - 1)

    def _text(self, now: float) -> str:
        done, total = self._state
        frac = min(done / total, 1.0)
        filled = int(round(frac * self.width))
        elapsed = now - self.start
        eta = _clock(elapsed * (total - done) / done) if done > 0 else "?"
        return (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {frac:4.0%} "
                f"{_clock(elapsed)} eta {eta}").lstrip()

    def _draw(self, now: float) -> None:
        self.stream.write(("\r" + self._text(now)) if self.tty else (self._text(now) + "\n"))
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erases the bar's line, so that other output can take it; the next update draws the bar again."""
        if self._shown:
            self.stream.write("\r" + " " * (self.width + len(self.label) + 30) + "\r")
            self.stream.flush()

    def close(self) -> None:
        """Ends the bar's line (only if it was drawn); without a terminal, prints the final line if it is new."""
        if not self._shown:
            return
        if self.tty:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
        elif self._mark(*self._state) > self._printed:
            self._printed = self._mark(*self._state)
            self._draw(time.perf_counter())
