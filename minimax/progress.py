"""A dependency-free progress bar for long runs, usable as :func:`minimax.run`'s ``progress`` callback.

It draws on standard error only once a run has taken longer than ``delay`` seconds, so quick runs stay silent,
and redraws at most every ``interval`` seconds. Nothing here is imported by the core loop; the driver only calls
the function it is given.
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """A text progress bar: ``bar(done, total)`` updates it, ``bar.close()`` ends the line.

    Args:
      label: text in front of the bar.
      delay: seconds before the bar first appears.
      interval: minimum seconds between redraws.
      stream: where to draw (default ``sys.stderr``).
      width: bar width in characters.

    Example:
      >>> import io
      >>> out = io.StringIO()
      >>> bar = ProgressBar("demo", delay=0.0, interval=0.0, stream=out, width=10)
      >>> bar(5, 10); bar(10, 10); bar.close()
      >>> out.getvalue().splitlines()[-1].split("\\r")[-1]
      'demo [##########] 10/10 100% 0:00'
    """

    def __init__(self, label: str = "", *, delay: float = 1.5, interval: float = 0.2,
                 stream: Optional[TextIO] = None, width: int = 30):
        self.label = label
        self.delay = delay
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.start = time.perf_counter()
        self._last = -float("inf")
        self._shown = False
        self._state = (0, 1)

    def __call__(self, done, total) -> None:
        done, total = int(done), max(int(total), 1)
        self._state = (done, total)
        now = time.perf_counter()
        finished = self._state[0] >= total
        if now - self.start < self.delay and not (finished and self._shown):
            return
        if now - self._last < self.interval and not finished:
            return
        self._last = now
        self._draw(now)

    def _draw(self, now: float) -> None:
        done, total = self._state
        frac = min(done / total, 1.0)
        filled = int(round(frac * self.width))
        elapsed = int(now - self.start)
        text = (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {frac:4.0%} "
                f"{elapsed // 60}:{elapsed % 60:02d}")
        self.stream.write("\r" + text.lstrip())
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erases the bar's line, so that other output can take it; the next update draws the bar again."""
        if self._shown:
            self.stream.write("\r" + " " * (self.width + len(self.label) + 30) + "\r")
            self.stream.flush()

    def close(self) -> None:
        """Ends the bar's line (only if it was drawn)."""
        if self._shown:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
