"""A bounded pool of open files, so thousands of warps never hold thousands of descriptors."""

from __future__ import annotations

import resource
from collections import OrderedDict
from collections.abc import Callable


def default_capacity() -> int:
    """Open files a run may hold at once: a quarter of the soft descriptor limit, between 8 and 512."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 4096
    return max(8, min(512, soft // 4))


class HandlePool:
    """Least-recently-used set of open handles; the oldest is closed when the pool is full.

    Parameters
    ----------
    capacity : int
        Most handles open at once.
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity or default_capacity()
        self._open: OrderedDict[object, tuple[object, Callable[[], None]]] = OrderedDict()

    def get(self, key: object, opener: Callable[[], tuple[object, Callable[[], None]]]) -> object:
        """Return the handle for ``key``, opening it with ``opener() -> (handle, close)`` if needed."""
        if key in self._open:
            self._open.move_to_end(key)
            return self._open[key][0]
        while len(self._open) >= self.capacity:
            _, (_, close) = self._open.popitem(last=False)
            close()
        handle, close = opener()
        self._open[key] = (handle, close)
        return handle

    def release(self, key: object) -> None:
        """Close the handle for ``key`` if it is open."""
        entry = self._open.pop(key, None)
        if entry is not None:
            entry[1]()

    def close_all(self) -> None:
        """Close every open handle."""
        while self._open:
            _, (_, close) = self._open.popitem(last=False)
            close()

    def __len__(self) -> int:
        return len(self._open)
