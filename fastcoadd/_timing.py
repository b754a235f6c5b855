"""Where the time of one assembly goes: seconds per named step, summed over threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class StepTimes:
    """Accumulates the seconds spent in named steps; safe to use from several threads.

    A step measured on several threads at once (the weights are measured warp by warp
    on a thread pool) adds up the threads' seconds, so it can exceed the wall time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}

    def add(self, step: str, seconds: float) -> None:
        """Add ``seconds`` to ``step``."""
        with self._lock:
            self.seconds[step] = self.seconds.get(step, 0.0) + seconds

    @contextmanager
    def measure(self, step: str) -> Iterator[None]:
        """Add the wall time of the ``with`` block to ``step``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(step, time.perf_counter() - start)
