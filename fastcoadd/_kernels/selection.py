"""Linear-time helpers for the per-warp weights: gather good values, exact order statistics.

The weight of a warp needs the median and quartiles of millions of variance values.
A full sort costs several times the read; instead :func:`select_float32` finds the
exact order statistics with two radix-histogram passes over the 32-bit keys.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

_SIGN = np.uint32(0x80000000)
_ALL = np.uint32(0xFFFFFFFF)
_LOW = np.uint32(0xFFFF)
#: Interleaved copies of every radix histogram: in a smooth plane runs of equal keys would
#: otherwise serialise on one counter (each increment waiting for the previous store).
HISTOGRAM_COPIES = 4
_COPY_MASK = HISTOGRAM_COPIES - 1


@jit
def gather_good_values(
    image: np.ndarray, mask: np.ndarray, variance: np.ndarray, bad: int, out: np.ndarray, start: int
) -> tuple[int, int]:
    """Append the variance of every good pixel of a tile to ``out[start:]``, in row-major order.

    A pixel is good when its image value is finite, ``mask & bad == 0`` and its
    variance is not NaN (SPEC §4).

    Parameters
    ----------
    image, variance : ndarray of float, shape (ny, nx)
        One warp's tile, native byte order.
    mask : ndarray of int, shape (ny, nx)
        Its mask in the warp's own bit numbering.
    bad : int
        OR of the bad-plane bits in that numbering.
    out : ndarray, shape (>= start + ny * nx,)
        Changed in place: receives the values.
    start : int
        Where to start writing.

    Returns
    -------
    (int, int)
        The new end of the written values, and the number of finite image pixels.
    """
    ny, nx = image.shape
    end = start
    finite = 0
    for y in range(ny):
        for x in range(nx):
            if math.isfinite(image[y, x]):
                finite += 1
                v = variance[y, x]
                if (np.int64(mask[y, x]) & bad) == 0 and not math.isnan(v):
                    out[end] = v
                    end += 1
    return end, finite


@jit
def _order_key(bits: np.uint32) -> np.uint32:
    """Map float32 bits to unsigned keys that sort as the floats do."""
    if bits & _SIGN:
        return ~bits & _ALL
    return bits | _SIGN


@jit
def _float_bits(key: np.uint32) -> np.uint32:
    """Inverse of :func:`_order_key`."""
    if key & _SIGN:
        return key ^ _SIGN
    return ~key & _ALL


@jit
def select_float32(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Exact order statistics of float32 values (no NaN), by two 16-bit radix passes.

    Each histogram is kept in HISTOGRAM_COPIES interleaved copies (value i counts in
    copy ``i % HISTOGRAM_COPIES``), so runs of equal keys do not serialise on one counter.

    Parameters
    ----------
    values : ndarray of float32, shape (n,)
        The values; not changed.
    ranks : ndarray of int64
        0-based ranks, each in [0, n).

    Returns
    -------
    ndarray of float32
        ``sorted(values)[ranks]``.
    """
    n = values.shape[0]
    bits = values.view(np.uint32)
    high_copies = np.zeros((HISTOGRAM_COPIES, 65536), dtype=np.int64)
    for i in range(n):
        high_copies[i & _COPY_MASK, _order_key(bits[i]) >> 16] += 1
    high = np.zeros(65536, dtype=np.int64)
    for c in range(HISTOGRAM_COPIES):
        for b in range(65536):
            high[b] += high_copies[c, b]
    n_ranks = ranks.shape[0]
    rank_bin = np.empty(n_ranks, dtype=np.int64)
    rank_rest = np.empty(n_ranks, dtype=np.int64)
    for r in range(n_ranks):
        below = 0
        for b in range(65536):
            if below + high[b] > ranks[r]:
                rank_bin[r] = b
                rank_rest[r] = ranks[r] - below
                break
            below += high[b]
    slot = np.full(65536, -1, dtype=np.int64)
    n_slots = 0
    for r in range(n_ranks):
        if slot[rank_bin[r]] < 0:
            slot[rank_bin[r]] = n_slots
            n_slots += 1
    low_copies = np.zeros((n_slots, HISTOGRAM_COPIES, 65536), dtype=np.int64)
    for i in range(n):
        key = _order_key(bits[i])
        s = slot[key >> 16]
        if s >= 0:
            low_copies[s, i & _COPY_MASK, key & _LOW] += 1
    result = np.empty(n_ranks, dtype=np.float32)
    result_bits = result.view(np.uint32)
    for r in range(n_ranks):
        s = slot[rank_bin[r]]
        below = 0
        for b in range(65536):
            count = 0
            for c in range(HISTOGRAM_COPIES):
                count += low_copies[s, c, b]
            if below + count > rank_rest[r]:
                key = np.uint32((rank_bin[r] << 16) | b)
                result_bits[r] = _float_bits(key)
                break
            below += count
    return result
