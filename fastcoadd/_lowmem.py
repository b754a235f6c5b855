"""Whole-patch reductions in small chunks, so the steps after stacking stay inside the memory budget.

``image[np.isfinite(image)]`` and ``np.median`` of it copy a whole plane twice; a ``mask & bit``
makes a whole-plane temporary. At 4096² that is 64 MiB each, on top of the output planes
the budget already holds. These helpers give the same numbers from row chunks of at most
``CHUNK_PIXELS`` pixels.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Pixels per chunk: temporaries stay at a few MiB whatever the patch size.
CHUNK_PIXELS = 1 << 18
_BUCKETS = 1 << 16


def count_nonzero_and(plane: np.ndarray, bits: int) -> int:
    """``np.count_nonzero(plane & bits)`` without a whole-plane temporary."""
    value = np.array(bits, dtype=np.int64).astype(plane.dtype)
    return sum(int(np.count_nonzero(chunk & value)) for chunk in _row_chunks(plane))


def count_equal(plane: np.ndarray, value: int) -> int:
    """``np.count_nonzero(plane == value)`` without a whole-plane temporary."""
    return sum(int(np.count_nonzero(chunk == value)) for chunk in _row_chunks(plane))


def finite_median(plane: np.ndarray) -> float | None:
    """``np.median(plane[np.isfinite(plane)])`` of a float32 plane, without copies; None if none is finite.

    Exact: the middle order statistics are found by radix selection on the float bits (a
    histogram of the high 16 bits, then of the low 16 bits inside the chosen bucket), and
    combined as :func:`numpy.median` combines them.
    """
    if plane.dtype != np.float32:
        finite = plane[np.isfinite(plane)]
        return float(np.median(finite)) if finite.size else None
    high = np.zeros(_BUCKETS, dtype=np.int64)
    for keys in _finite_keys(plane):
        high += np.bincount(keys >> 16, minlength=_BUCKETS)
    n = int(high.sum())
    if n == 0:
        return None
    ranks = sorted({(n - 1) // 2, n // 2})
    below = np.cumsum(high) - high  # values in the buckets before each bucket
    chosen = {rank: int(np.searchsorted(np.cumsum(high), rank, side="right")) for rank in ranks}
    low = {bucket: np.zeros(_BUCKETS, dtype=np.int64) for bucket in set(chosen.values())}
    for keys in _finite_keys(plane):
        top = keys >> 16
        for bucket, histogram in low.items():
            histogram += np.bincount(keys[top == bucket] & 0xFFFF, minlength=_BUCKETS)
    values = []
    for rank in ranks:
        bucket = chosen[rank]
        position = rank - int(below[bucket])
        low_bits = int(np.searchsorted(np.cumsum(low[bucket]), position, side="right"))
        values.append(_value_of(np.uint32((bucket << 16) | low_bits)))
    return float(np.median(np.array(values, dtype=np.float32)))  # one value, or the mean of two


def _row_chunks(plane: np.ndarray) -> Iterator[np.ndarray]:
    rows = max(1, CHUNK_PIXELS // max(plane.shape[-1], 1))
    for start in range(0, plane.shape[0], rows):
        yield plane[start:start + rows]


def _finite_keys(plane: np.ndarray) -> Iterator[np.ndarray]:
    """Unsigned keys that sort like the finite float32 values of each chunk."""
    for chunk in _row_chunks(plane):
        bits = np.ascontiguousarray(chunk).view(np.uint32)[np.isfinite(chunk)]
        negative = (bits & np.uint32(0x80000000)) != 0
        yield np.where(negative, ~bits, bits | np.uint32(0x80000000)).astype(np.int64)


def _value_of(key: np.uint32) -> np.float32:
    bits = np.uint32(key ^ np.uint32(0x80000000)) if key & np.uint32(0x80000000) else np.uint32(~key)
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]
