"""A bounded pool of open files, so thousands of warps never hold thousands of descriptors."""

from __future__ import annotations

import contextlib
import resource
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator


def default_capacity() -> int:
    """Open files a run may hold at once: a quarter of the soft descriptor limit, between 8 and 512."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 4096
    return max(8, min(512, soft // 4))


class HandlePool:
    """Least-recently-used set of open handles, safe to share between reading threads.

    When the pool is full, the least recently used handle that no thread is using is
    closed; a handle is reopened when needed again.

    Parameters
    ----------
    capacity : int
        Most handles open at once (exceeded only while every open handle is in use).
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity or default_capacity()
        self._open: OrderedDict[object, tuple[object, Callable[[], None]]] = OrderedDict()
        self._in_use: dict[object, int] = {}
        self._lock = threading.Lock()

    def get(self, key: object, opener: Callable[[], tuple[object, Callable[[], None]]]) -> object:
        """Return the handle for ``key``, opening it with ``opener() -> (handle, close)`` if needed.

        Use :meth:`use` instead when other threads may read at the same time.
        """
        with self._lock:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key][0]
            self._evict()
            handle, close = opener()
            self._open[key] = (handle, close)
            return handle

    @contextlib.contextmanager
    def use(self, key: object, opener: Callable[[], tuple[object, Callable[[], None]]]) -> Iterator[object]:
        """Context manager: the handle for ``key``, protected from eviction while in use."""
        with self._lock:
            self._in_use[key] = self._in_use.get(key, 0) + 1
        try:
            yield self.get(key, opener)
        finally:
            with self._lock:
                self._in_use[key] -= 1
                if not self._in_use[key]:
                    del self._in_use[key]

    def _evict(self) -> None:
        while len(self._open) >= self.capacity:
            victim = next((k for k in self._open if k not in self._in_use), None)
            if victim is None:
                return
            _, close = self._open.pop(victim)
            close()

    def release(self, key: object) -> None:
        """Close the handle for ``key`` if it is open."""
        with self._lock:
            entry = self._open.pop(key, None)
        if entry is not None:
            entry[1]()

    def close_all(self) -> None:
        """Close every open handle."""
        with self._lock:
            entries = list(self._open.values())
            self._open.clear()
        for _, close in entries:
            close()

    def __len__(self) -> int:
        return len(self._open)
