"""A small progress bar for long runs, drawn on a terminal stream."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class ProgressCallback(Protocol):
    """Called as ``progress(stage, done, total)`` while a coadd is assembled."""

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Report that ``done`` of ``total`` steps of ``stage`` are finished."""


class TerminalProgress:
    """Draw ``stage [#####.....]  50%  12/24`` on one line, at most ``rate`` times a second.

    Parameters
    ----------
    stream : text stream, optional
        Where to draw (standard error by default).
    rate : float
        Most redraws per second.
    width : int
        Characters of the bar.
    """

    def __init__(self, stream: TextIO | None = None, rate: float = 10.0, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.interval = 1.0 / rate
        self.width = width
        self._last = 0.0
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Redraw the bar (always at the first and the last step of a stage)."""
        now = time.monotonic()
        finished = done >= total
        if stage == self._stage and not finished and now - self._last < self.interval:
            return
        self._stage = stage
        self._last = now
        fraction = done / total if total else 1.0
        filled = round(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{stage:<10} [{bar}] {100 * fraction:5.1f}%  {done}/{total}")
        if finished:
            self.stream.write("\n")
        self.stream.flush()


def wants_progress(stream: TextIO, quiet: bool) -> bool:
    """True when a bar is useful: not quiet and the stream is a terminal."""
    return not quiet and hasattr(stream, "isatty") and stream.isatty()
