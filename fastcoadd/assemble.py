"""The orchestrator: inputs -> scales and weights -> tile loop -> after-stacking steps -> result.

Warps are read tile by tile; only the tile buffers and the whole-patch output planes
live in memory, so the footprint is set by the memory budget, not by the number of
warps.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numba
import numpy as np
from astropy.wcs import WCS

from ._io.coadd_writer import check_writable, write_atomic
from ._io.fits_warp import FitsWarp
from ._io.handles import HandlePool
from ._kernels.interpolate import interpolate_rows, replace_nonpositive_variance
from ._kernels.maskbits import (
    N_RULES,
    RULE_BAD,
    RULE_CLIPPED,
    RULE_EDGE,
    RULE_FLAG_REJECTIONS,
    RULE_INEXACT_PSF,
    RULE_NO_DATA,
    RULE_REJECTED,
    RULE_SENSOR_EDGE,
    remap_mask_tile,
)
from ._kernels.online import N_SUMS, accumulate_warps_serial, finish_online_mean
from ._kernels.selection import gather_good_values
from ._kernels.stack import stack_tile
from ._kernels.statistics import STATISTIC_MEAN, STATISTIC_MEANCLIP, STATISTIC_MEDIAN
from ._lowmem import count_equal, count_nonzero_and, finite_median
from ._tiling import Tile, iter_tiles, plan_tile_shape
from ._timing import StepTimes
from ._validate import VarianceAudit, check_distinct, check_outputs_fit, check_plane_names, check_wcs
from .calibration import scale_from_header
from .config import CoaddConfig
from .errors import ConfigError, IncompatibleWarpError, NoUsableInputError, OutputError
from .interop import coadd_to_hdulist, warp_from_nddata
from .masks import bit_map, bits_of, is_identity, merge_planes
from .progress import ProgressCallback
from .result import CoaddResult, InputRecord
from .warp import MemoryWarpSource, Warp, WarpSource
from .weights import weight_from_variance

if TYPE_CHECKING:
    from astropy.nddata import NDData

log = logging.getLogger(__name__)

_STATISTIC_CODES = {"mean": STATISTIC_MEAN, "meanclip": STATISTIC_MEANCLIP, "median": STATISTIC_MEDIAN}
#: Relative tolerance when comparing WCS parameters between warps (SPEC §1).
WCS_RTOL = 1e-9
#: Rows of a band read at once while computing weights, in pixels.
_WEIGHT_BAND_PIXELS = 4 * 1024**2
#: Warps read and accumulated together by the online mean (running sums are loaded once per batch).
_ONLINE_BATCH = 8
#: Bytes of one thread's row block in the online mean (the batch's rows, copied out of the memory
#: maps): small enough to stay in the cache between the copy and the accumulation.
_ONLINE_BLOCK_BYTES = 6 * 1024**2
#: Elements between the tiles of consecutive inputs in the tile buffers (see _TileBuffers): 528 elements
#: shift each tile by 33 cache lines, so up to 64 inputs start on distinct lines of a 4 KiB page.
_SLOT_PAD = 528

WarpLike = Union[str, os.PathLike, Warp, "NDData"]


def _is_nddata(value: object) -> bool:
    """Whether ``value`` is an astropy NDData (CCDData too), without importing astropy.nddata.

    An NDData can only exist once its module is imported, so the check looks the module up
    instead of importing it: astropy.nddata would add about half a second to every start-up.
    """
    nddata = sys.modules.get("astropy.nddata")
    return nddata is not None and isinstance(value, nddata.NDData)


def assemble(
    warps: Sequence[WarpLike],
    config: CoaddConfig | None = None,
    output: str | os.PathLike | None = None,
    *,
    scales: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
    zero_points: float | Sequence[float | None] | None = None,
    overwrite: bool = True,
    date: bool = True,
    progress: ProgressCallback | None = None,
) -> CoaddResult:
    """Combine warps into a coadd.

    Parameters
    ----------
    warps : sequence of path, Warp or NDData
        Warp FITS files (SPEC §1), in-memory :class:`~fastcoadd.Warp` objects and/or
        :class:`~astropy.nddata.NDData` / ``CCDData`` (see :func:`fastcoadd.warp_from_nddata`).
        They are combined in canonical order: by VISIT (warps without one last), then name.
    config : CoaddConfig, optional
        How to combine; SPEC's defaults when omitted.
    output : path, optional
        Write the coadd here (SPEC §2), atomically.
    scales : sequence of float, optional
        Calibration of each warp (same order as ``warps``) instead of its header's.
    weights : sequence of float, optional
        Weight of each warp instead of the inverse clipped-mean variance.
    zero_points : float or sequence, optional
        AB zero point for warps whose headers carry no calibration (one for all, or one per warp).
    overwrite : bool
        Replace an existing file at ``output``.
    date : bool
        Write the ``DATE`` keyword (time of writing) into ``output``; False makes the file
        depend on the inputs and configuration only (byte-identical reruns).

    Returns
    -------
    CoaddResult
        The coadd planes, mask planes and the table of inputs.

    Raises
    ------
    FastcoaddError
        A subclass naming the input and the problem: :class:`WarpFormatError`,
        :class:`IncompatibleWarpError`, :class:`CalibrationError`, :class:`MaskPlaneError`,
        :class:`NoUsableInputError`, :class:`OutputError` or :class:`ConfigError`.
    """
    config = CoaddConfig() if config is None else config
    if not isinstance(config, CoaddConfig):
        raise ConfigError(f"config must be a fastcoadd.CoaddConfig, got {type(config).__name__}")
    started = time.perf_counter()
    if isinstance(warps, (str, os.PathLike, Warp)) or _is_nddata(warps):
        warps = [warps]
    try:
        warps = list(warps)
    except TypeError:
        raise ConfigError(f"warps must be a sequence of paths or Warps, got {type(warps).__name__}") from None
    if not warps:
        raise NoUsableInputError("no warps given")
    scales = _per_warp(scales, len(warps), "scales")
    weights = _per_warp(weights, len(warps), "weights")
    if zero_points is None or isinstance(zero_points, (int, float)):
        zero_points = [zero_points] * len(warps)
    zero_points = _per_warp(zero_points, len(warps), "zero_points", allow_none=True)
    output_path = _check_output(output, warps, overwrite)
    pool = HandlePool()
    try:
        # hostile values overflow to inf and NaN, which the rules of SPEC §3 handle; no numpy warnings
        with _numba_threads(config.threads), np.errstate(all="ignore"):
            result = _assemble(warps, config, scales, weights, zero_points, pool,
                               progress or _no_progress)
    finally:
        pool.close_all()
    if output_path is not None:
        writing = time.perf_counter()
        write_coadd(result, output_path, date=date)
        result.stats["seconds"]["write"] = time.perf_counter() - writing
    result.stats["wall_seconds"] = time.perf_counter() - started
    return result


def write_coadd(result: CoaddResult, path: str | os.PathLike, *, date: bool = True) -> Path:
    """Write a :class:`CoaddResult` to ``path`` (SPEC §2), atomically.

    ``date`` writes the ``DATE`` keyword (UTC time of writing, or ``SOURCE_DATE_EPOCH``
    when set); without it the file depends on the inputs and configuration only.
    """
    return write_atomic(coadd_to_hdulist(result, date=date), path)


# -- the steps ---------------------------------------------------------------------------------
def _assemble(
    warps: list[WarpLike],
    config: CoaddConfig,
    scales: list[float] | None,
    weights: list[float] | None,
    zero_points: list[float | None],
    pool: HandlePool,
    progress: ProgressCallback,
) -> CoaddResult:
    times = StepTimes()
    opening = time.perf_counter()
    sources = [_open(warp, index, pool) for index, warp in enumerate(warps)]
    order = sorted(range(len(sources)), key=lambda i: _canonical_key(sources[i]))
    sources = [sources[i] for i in order]
    for source in sources:
        check_wcs(source)
    reference = sources[0]
    for source in sources[1:]:
        _check_compatible(reference, source)
    check_distinct(sources)
    check_outputs_fit(reference.shape, config)
    wcs = next((s.wcs for s in sources if s.wcs is not None), None)
    warp_scales = [
        float(scales[i]) if scales is not None else scale_from_header(
            source.calibration, zero_point=zero_points[i], target_zero_point=config.target_zero_point,
            path=source.name)
        for i, source in zip(order, sources, strict=True)
    ]
    planes = merge_planes(source.planes for source in sources)
    check_plane_names(config, planes)
    times.add("open and check inputs", time.perf_counter() - opening)
    if weights is not None:
        measured = [_given_weight(float(weights[i])) for i in order]
    else:
        audits = [VarianceAudit(s, bits_of(config.bad_planes, s.planes)) for s in sources]
        with times.measure("weights"):
            measured = _measure_weights(audits, warp_scales, config, progress, times)  # type: ignore[arg-type]
        measured = [(weight, audit.reason or reason)
                    for (weight, reason), audit in zip(measured, audits, strict=True)]
    records: list[InputRecord] = []
    used: list[int] = []
    for position, (weight, reason) in enumerate(measured):
        source = sources[position]
        if reason:
            log.warning("skipping %s: %s", source.name, reason)
        else:
            used.append(position)
        records.append(InputRecord(source.name, source.visit, warp_scales[position], weight,
                                   not reason, reason))
    if not used:
        raise NoUsableInputError("no usable warp: " + "; ".join(f"{r.file}: {r.reason}" for r in records))
    stacked = _stack(
        [sources[p] for p in used],
        np.array([warp_scales[p] for p in used], dtype=np.float64),
        np.array([records[p].weight for p in used], dtype=np.float64),
        planes, config, progress, times,
    )
    image, variance, mask, nimage, tile_shape = stacked
    with times.measure("interpolate and finish"):
        if config.interpolate:
            _interpolate(image, variance, mask, planes)
        replace_nonpositive_variance(variance)
    counting = time.perf_counter()
    stats = {
        "tile_shape": tile_shape,
        "n_inputs": len(records),
        "n_used": len(used),
        "pixels_clipped": count_nonzero_and(mask, 1 << planes["CLIPPED"]),
        "pixels_no_data": count_equal(nimage, 0),
    }
    times.add("interpolate and finish", time.perf_counter() - counting)
    stats["seconds"] = dict(times.seconds)
    log.debug("seconds per step: %s", ", ".join(f"{k} {v:.3f}" for k, v in times.seconds.items()))
    return CoaddResult(image, mask, variance, nimage, planes, records, config, wcs, stats)


def _measure_weights(sources: list[WarpSource], scales: list[float], config: CoaddConfig,
                     progress: ProgressCallback, times: StepTimes) -> list[tuple[float, str]]:
    """Weights of all warps (SPEC §4), measured concurrently, each with the reason to skip it."""
    workers = max(1, min(len(sources), config.threads or numba.get_num_threads()))
    local = threading.local()

    def measure(index: int) -> tuple[float, str]:
        if not hasattr(local, "buffers"):
            local.buffers = _WeightBuffers()
        return _measure_weight(sources[index], scales[index], config, local.buffers, times)

    measured: list[tuple[float, str]] = []
    progress("weights", 0, len(sources))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for weight, reason in pool.map(measure, range(len(sources))):
            measured.append((weight, reason))
            log.debug("weight %.6g for %s%s", weight, sources[len(measured) - 1].name,
                      f" (skipped: {reason})" if reason else "")
            progress("weights", len(measured), len(sources))
    return measured


class _WeightBuffers:
    """Per-thread buffers reused from warp to warp (fresh allocations would page-fault every time)."""

    def __init__(self) -> None:
        self.arrays: dict[tuple[str, np.dtype], np.ndarray] = {}

    def get(self, name: str, size: int, dtype: np.dtype) -> np.ndarray:
        key = (name, np.dtype(dtype))
        array = self.arrays.get(key)
        if array is None or array.size < size:
            array = self.arrays[key] = np.empty(size, dtype=dtype)
        return array


def _measure_weight(source: WarpSource, scale: float, config: CoaddConfig, buffers: _WeightBuffers,
                    times: StepTimes) -> tuple[float, str]:
    """Weight of one warp (SPEC §4) and the reason to skip it ("" when usable)."""
    ny, nx = source.shape
    bad = bits_of(config.bad_planes, source.planes)
    variance_dtype = _plane_dtype(source, "VARIANCE")
    good_variances = buffers.get("good", ny * nx, variance_dtype)
    n_good = 0
    n_finite = 0
    band = max(1, min(ny, _WEIGHT_BAND_PIXELS // max(nx, 1)))
    for y0 in range(0, ny, band):
        rows = slice(y0, min(y0 + band, ny))
        shape = (rows.stop - rows.start, nx)
        reading = time.perf_counter()
        image = source.read("IMAGE", rows, slice(None),
                            out=_view(buffers.get("image", band * nx, source.image_dtype), shape))
        mask = source.read("MASK", rows, slice(None),
                           out=_view(buffers.get("mask", band * nx, _plane_dtype(source, "MASK")), shape))
        variance = source.read("VARIANCE", rows, slice(None),
                               out=_view(buffers.get("variance", band * nx, variance_dtype), shape))
        gathering = time.perf_counter()
        n_good, finite = gather_good_values(image, mask, variance, bad, good_variances, n_good)
        n_finite += finite
        times.add("weights: read (thread-seconds)", gathering - reading)
        times.add("weights: select good pixels (thread-seconds)", time.perf_counter() - gathering)
    if n_finite == 0:
        return math.nan, "image is all NaN"
    if n_good == 0:
        return math.nan, "no good pixel (all masked or without variance)"
    with times.measure("weights: clipped mean (thread-seconds)"):
        weight = weight_from_variance(good_variances[:n_good], config.sigma, config.iterations, scale)
    if not (math.isfinite(weight) and weight > 0):
        return weight, f"weight {weight!r} is not finite and positive"
    return weight, ""


def _stack(
    sources: list[WarpSource],
    scales: np.ndarray,
    weights: np.ndarray,
    planes: dict[str, int],
    config: CoaddConfig,
    progress: ProgressCallback,
    times: StepTimes,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Run the tile loop and return (image, variance, mask, nimage, tile shape)."""
    shape = sources[0].shape
    n = len(sources)
    rules = _mask_rules(planes, config)
    threshold_bits = np.array([1 << planes[name] for name, _ in config.propagation_thresholds
                               if name in planes], dtype=np.int64)
    threshold_values = np.array([value for name, value in config.propagation_thresholds
                                 if name in planes], dtype=np.float64)
    n_thresholds = threshold_bits.size
    float_dtype = np.result_type(np.float32, *[s.image_dtype for s in sources],
                                 *[_plane_dtype(s, "VARIANCE") for s in sources])
    online = config.statistic == "mean" and config.online_mean
    workers = max(1, min(n, config.threads or numba.get_num_threads()))
    batch_size = min(n, _ONLINE_BATCH)
    per_input = 2 * float_dtype.itemsize + 4
    if online:
        # running sums, OR masks and counts; the batch's mapped tiles; a quarter more for the row
        # blocks the threads copy them into (see _online_block_rows)
        bytes_per_pixel = (N_SUMS + n_thresholds) * 8 + 8 + 8 + 4 + batch_size * per_input * 5 // 4
    else:
        bytes_per_pixel = n * per_input + 2 * 8
    tile_shape = config.tile_shape or plan_tile_shape(shape, bytes_per_pixel, config.memory_budget)
    tile_pixels = tile_shape[0] * tile_shape[1]
    log.debug("tile shape %s for %d inputs (%d bytes per pixel)", tile_shape, n, bytes_per_pixel)
    tiles = list(iter_tiles(shape, tile_shape))
    progress("stacking", 0, len(tiles))
    readers = [_TileReader(source, planes, float_dtype) for source in sources]

    out_image = np.empty(shape, dtype=np.float32)
    out_variance = np.empty(shape, dtype=np.float32)
    out_mask = np.empty(shape, dtype=np.int32)
    out_nimage = np.empty(shape, dtype=np.int32)
    statistic = _STATISTIC_CODES[config.statistic]
    # The planes of one tile are read concurrently (copies and page faults release the
    # GIL); the kernels then run on all cores.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        if online:
            sums_buffer = np.empty((N_SUMS + n_thresholds) * tile_pixels, dtype=np.float64)
            or_buffer = np.empty(tile_pixels, dtype=np.int64)
            flags_buffer = np.empty(tile_pixels, dtype=np.int64)
            count_buffer = np.empty(tile_pixels, dtype=np.int32)
            block_rows = _online_block_rows(tile_shape, batch_size, per_input, workers)
            block_buffers = [_TileBuffers(batch_size, block_rows * tile_shape[1], float_dtype)
                             for _ in range(workers)]
            for done, tile in enumerate(tiles, 1):
                h, w = tile.shape
                sums = _view(sums_buffer, (N_SUMS + n_thresholds, h, w))
                or_mask, flags, count = (_view(or_buffer, (h, w)), _view(flags_buffer, (h, w)),
                                         _view(count_buffer, (h, w)))
                sums[...] = 0.0
                or_mask[...] = 0
                flags[...] = 0
                count[...] = 0
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    with times.measure("stack: read tiles"):
                        views = list(pool.map(_TileReader.open, readers[start:stop], [tile] * (stop - start)))
                    try:
                        with times.measure("stack: combine"):
                            _accumulate_tile(pool, views, block_buffers, block_rows, scales[start:stop],
                                             weights[start:stop], rules, threshold_bits, sums, or_mask,
                                             flags, count, times)
                    finally:
                        for view in views:
                            view.close()
                finishing = time.perf_counter()
                finish_online_mean(sums, or_mask, flags, count, config.variance_from_scatter, rules,
                                   threshold_bits, threshold_values, out_image[tile.rows, tile.cols],
                                   out_variance[tile.rows, tile.cols], out_mask[tile.rows, tile.cols],
                                   out_nimage[tile.rows, tile.cols])
                times.add("stack: combine", time.perf_counter() - finishing)
                progress("stacking", done, len(tiles))
        else:
            stack_buffers = _TileBuffers(n, tile_pixels, float_dtype)
            for done, tile in enumerate(tiles, 1):
                h, w = tile.shape
                image, variance, mask = stack_buffers.views(n, h, w)
                with times.measure("stack: read tiles"):
                    _read_tiles(pool, readers, range(n), tile, image, variance, mask)
                combining = time.perf_counter()
                stack_tile(image, variance, mask, scales, weights, statistic, config.sigma,
                           config.iterations, config.variance_from_scatter, rules, threshold_bits,
                           threshold_values, out_image[tile.rows, tile.cols],
                           out_variance[tile.rows, tile.cols], out_mask[tile.rows, tile.cols],
                           out_nimage[tile.rows, tile.cols])
                times.add("stack: combine", time.perf_counter() - combining)
                progress("stacking", done, len(tiles))
    return out_image, out_variance, out_mask, out_nimage, tile_shape


def _online_block_rows(tile_shape: tuple[int, int], batch_size: int, per_input: int, workers: int) -> int:
    """Rows of the blocks the threads of the online mean copy and accumulate.

    At most ``_ONLINE_BLOCK_BYTES`` per thread, and all threads' blocks together at most a
    quarter of the batch's tiles (the share the tile plan sets aside for them).
    """
    row_bytes = batch_size * tile_shape[1] * per_input
    block_bytes = min(_ONLINE_BLOCK_BYTES, row_bytes * tile_shape[0] // (4 * workers))
    return max(1, min(block_bytes // row_bytes, -(-tile_shape[0] // workers)))


def _accumulate_tile(pool: ThreadPoolExecutor, views: list[_TileView], block_buffers: list[_TileBuffers],
                     block_rows: int, scales: np.ndarray, weights: np.ndarray, rules: np.ndarray,
                     threshold_bits: np.ndarray, sums: np.ndarray, or_mask: np.ndarray, flags: np.ndarray,
                     count: np.ndarray, times: StepTimes) -> None:
    """Add a batch of warps' tiles to a tile's running sums (the online mean).

    The tile's rows are split between the threads; each thread copies its rows into its own
    small buffers, ``block_rows`` at a time, and accumulates them there while they are still
    in the cache. Warps enter in input order, so the sums depend neither on the batch size nor
    on the split.
    """
    n_batch = len(views)
    h, w = or_mask.shape
    share = -(-h // len(block_buffers))

    def accumulate_rows(worker: int) -> None:
        buffers = block_buffers[worker]
        copying = 0.0
        adding = 0.0
        for y0 in range(worker * share, min(h, (worker + 1) * share), block_rows):
            y1 = min(y0 + block_rows, (worker + 1) * share, h)
            started = time.perf_counter()
            image, variance, mask = buffers.views(n_batch, y1 - y0, w)
            for i, view in enumerate(views):
                view.copy_rows(y0, y1, image[i], variance[i], mask[i])
            copied = time.perf_counter()
            accumulate_warps_serial(image, variance, mask, scales, weights, rules, threshold_bits,
                                    sums[:, y0:y1], or_mask[y0:y1], flags[y0:y1], count[y0:y1])
            copying += copied - started
            adding += time.perf_counter() - copied
        times.add("stack: copy rows (thread-seconds)", copying)
        times.add("stack: accumulate (thread-seconds)", adding)

    list(pool.map(accumulate_rows, range(len(block_buffers))))


def _read_tiles(pool: ThreadPoolExecutor, readers: list[_TileReader], indices: range, tile: Tile,
                image: np.ndarray, variance: np.ndarray, mask: np.ndarray, first: int = 0) -> None:
    """Read the tile of every input in ``indices`` into slot ``index - first``, concurrently."""
    def read(i: int) -> None:
        readers[i].read(tile, image[i - first], variance[i - first], mask[i - first])

    list(pool.map(read, indices))


class _TileBuffers:
    """Buffers for the image, variance and mask tiles of several inputs, allocated once.

    The tile of input i starts ``i * (tile_pixels + _SLOT_PAD)`` elements into each
    buffer. Without the pad, tiles whose size is a multiple of 4 KiB (any tile of a
    power-of-two width) would start at the same offset within a page, so the kernels,
    which read pixel (y, x) of every input together, would have all their input
    streams competing for the same cache sets.
    """

    def __init__(self, n: int, tile_pixels: int, float_dtype: np.dtype) -> None:
        self.slot = tile_pixels + _SLOT_PAD
        self.image = np.empty(n * self.slot, dtype=float_dtype)
        self.variance = np.empty(n * self.slot, dtype=float_dtype)
        self.mask = np.empty(n * self.slot, dtype=np.int32)

    def views(self, n: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, h, w) views of the buffers; each input's (h, w) tile is C-contiguous."""
        return tuple(  # type: ignore[return-value]
            np.lib.stride_tricks.as_strided(buffer, shape=(n, h, w), writeable=True,
                                            strides=(self.slot * buffer.itemsize, w * buffer.itemsize,
                                                     buffer.itemsize))
            for buffer in (self.image, self.variance, self.mask))


class _TileReader:
    """Reads one warp's tiles into native buffers, its mask remapped to the output planes."""

    def __init__(self, source: WarpSource, planes: dict[str, int], float_dtype: np.dtype) -> None:
        self.source = source
        self.float_dtype = float_dtype
        self.bit_map = bit_map(source.planes, planes)
        self.identity = is_identity(self.bit_map, source.planes)
        self.declared = np.int64(bits_of(source.planes, source.planes)).astype(np.int32)
        mask_dtype = _plane_dtype(source, "MASK")
        # masks of at most 31 bits are read straight into the int32 tile; wider ones via a copy
        self.direct_mask = mask_dtype.itemsize < 4 or mask_dtype == np.int32

    def open(self, tile: Tile) -> _TileView:
        """The tile as a :class:`_TileView` (close it when done)."""
        return _TileView(self, tile)

    def convert_mask(self, stored: np.ndarray, mask: np.ndarray) -> None:
        """Fill ``mask`` (int32, output bits) from the stored mask values ``stored``."""
        if self.direct_mask:
            np.copyto(mask, stored, casting="unsafe")
            self._to_output_bits(mask, mask)
        else:
            self._to_output_bits(np.ascontiguousarray(stored, dtype=stored.dtype.newbyteorder("=")), mask)

    def _to_output_bits(self, raw: np.ndarray, mask: np.ndarray) -> None:
        """Write the native mask values ``raw`` into ``mask`` in the output plane numbering."""
        if self.identity:
            np.bitwise_and(raw, self.declared, out=mask, casting="unsafe")
        else:
            remap_mask_tile(raw, self.bit_map, mask)

    def read(self, tile: Tile, image: np.ndarray, variance: np.ndarray, mask: np.ndarray) -> None:
        """Fill ``image``, ``variance`` and ``mask`` (int32, output bits) with the tile."""
        source = self.source
        source.read("IMAGE", tile.rows, tile.cols, out=image)
        source.read("VARIANCE", tile.rows, tile.cols, out=variance)
        if self.direct_mask:
            self._to_output_bits(source.read("MASK", tile.rows, tile.cols, out=mask), mask)
        else:
            self._to_output_bits(source.read("MASK", tile.rows, tile.cols), mask)


class _TileView:
    """One warp's tile for the online mean: memory-mapped planes, copied out a few rows at a time.

    Planes that cannot be mapped (compressed, scaled) are read whole into native buffers first,
    through :meth:`_TileReader.read`, and copied from there.
    """

    def __init__(self, reader: _TileReader, tile: Tile) -> None:
        self._reader = reader
        source = reader.source
        views = [source.open_view(plane, tile.rows, tile.cols) for plane in ("IMAGE", "VARIANCE", "MASK")]
        self._views = views
        if any(view is None for view in views):
            for view in views:
                if view is not None:
                    view.close()
            self._views = []
            h, w = tile.shape
            self._image = np.empty((h, w), dtype=reader.float_dtype)
            self._variance = np.empty((h, w), dtype=reader.float_dtype)
            self._mask = np.empty((h, w), dtype=np.int32)
            reader.read(tile, self._image, self._variance, self._mask)
            self._decoded = True
        else:
            self._image, self._variance, self._mask = (view.array for view in views)
            self._decoded = False

    def copy_rows(self, y0: int, y1: int, image: np.ndarray, variance: np.ndarray, mask: np.ndarray) -> None:
        """Copy rows ``y0:y1`` of the tile into native buffers, the mask in output bits."""
        np.copyto(image, self._image[y0:y1], casting="same_kind")
        np.copyto(variance, self._variance[y0:y1], casting="same_kind")
        if self._decoded:
            np.copyto(mask, self._mask[y0:y1])
        else:
            self._reader.convert_mask(self._mask[y0:y1], mask)

    def close(self) -> None:
        """Unmap the planes."""
        self._image = self._variance = self._mask = None
        for view in self._views:
            view.close()
        self._views = []


def _interpolate(image: np.ndarray, variance: np.ndarray, mask: np.ndarray, planes: dict[str, int]) -> None:
    """Fill NO_DATA pixels along rows (SPEC §3.6); fallback: median of finite pixels, at least 0."""
    # chunked, exact: whole-plane copies here would take the peak memory above the budget
    fallback_image = max(finite_median(image) or 0.0, 0.0)
    fallback_variance = max(finite_median(variance) or 0.0, 0.0)
    interpolate_rows(image, variance, mask, 1 << planes["NO_DATA"], 1 << planes["INTRP"],
                     fallback_image, fallback_variance)


def _no_progress(stage: str, done: int, total: int) -> None:
    """Report nothing."""


# -- helpers -----------------------------------------------------------------------------------
def _open(warp: WarpLike, index: int, pool: HandlePool) -> WarpSource:
    if isinstance(warp, Warp):
        return MemoryWarpSource(warp, index)
    if isinstance(warp, (str, os.PathLike)):
        return FitsWarp(warp, pool)
    if _is_nddata(warp):  # CCDData too
        return MemoryWarpSource(warp_from_nddata(warp), index)
    raise ConfigError(
        f"warp {index} is a {type(warp).__name__}; expected a path, a fastcoadd.Warp or an NDData/CCDData")


def _canonical_key(source: WarpSource) -> tuple[bool, int, str]:
    return (source.visit is None, source.visit if source.visit is not None else 0, source.name)


def _given_weight(weight: float) -> tuple[float, str]:
    """An explicit weight and the reason to skip its warp (SPEC §4: finite and > 0)."""
    return weight, "" if weight > 0 else f"given weight {weight!r} is not positive"


def _check_compatible(reference: WarpSource, source: WarpSource) -> None:
    """Raise IncompatibleWarpError if ``source`` has another shape or WCS than ``reference``."""
    if source.shape != reference.shape:
        raise IncompatibleWarpError(
            f"shape {source.shape} differs from {reference.shape} of {reference.name}", source.name)
    if (reference.wcs is None) != (source.wcs is None):
        which, other = (source, reference) if source.wcs is None else (reference, source)
        raise IncompatibleWarpError(f"has no celestial WCS but {other.name} has one", which.name)
    if reference.wcs is None or source.wcs is None:
        return
    difference = wcs_difference(reference.wcs, source.wcs)
    if difference:
        raise IncompatibleWarpError(f"WCS differs from {reference.name}: {difference}", source.name)


def wcs_difference(a: WCS, b: WCS, rtol: float = WCS_RTOL) -> str:
    """Describe how two celestial WCS differ beyond ``rtol`` (CTYPE, CRPIX, CRVAL, CD); "" if they agree."""
    if list(a.wcs.ctype) != list(b.wcs.ctype):
        return f"CTYPE {list(b.wcs.ctype)} vs {list(a.wcs.ctype)}"
    quantities = {"CRPIX": (a.wcs.crpix, b.wcs.crpix), "CRVAL": (a.wcs.crval, b.wcs.crval),
                  "CD": (a.pixel_scale_matrix, b.pixel_scale_matrix)}
    for name, (expected, got) in quantities.items():
        expected = np.asarray(expected, dtype=np.float64)
        got = np.asarray(got, dtype=np.float64)
        tolerance = rtol * max(float(np.max(np.abs(expected))), np.finfo(np.float64).tiny)
        if expected.shape != got.shape or not np.all(np.abs(got - expected) <= tolerance):  # NaN differs
            return f"{name} {got.tolist()} vs {expected.tolist()}"
    return ""


def _mask_rules(planes: dict[str, int], config: CoaddConfig) -> np.ndarray:
    rules = np.zeros(N_RULES, dtype=np.int64)
    rules[RULE_BAD] = bits_of(config.bad_planes, planes)
    for index, name in ((RULE_NO_DATA, "NO_DATA"), (RULE_EDGE, "EDGE"), (RULE_CLIPPED, "CLIPPED"),
                        (RULE_REJECTED, "REJECTED"), (RULE_SENSOR_EDGE, "SENSOR_EDGE"),
                        (RULE_INEXACT_PSF, "INEXACT_PSF")):
        rules[index] = bits_of([name], planes)
    rules[RULE_FLAG_REJECTIONS] = int(config.flag_rejections)
    return rules


def _plane_dtype(source: WarpSource, plane: str) -> np.dtype:
    return source.plane_dtype(plane)  # type: ignore[attr-defined]


def _view(buffer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A C-contiguous view of the start of a flat buffer with the given shape."""
    return buffer[: math.prod(shape)].reshape(shape)


def _per_warp(values: object, n: int, what: str, allow_none: bool = False) -> list | None:
    if values is None:
        return None
    values = list(values)  # type: ignore[call-overload]
    if len(values) != n:
        raise ConfigError(f"{what} has {len(values)} entries for {n} warps")
    for value in values:
        if value is None and allow_none:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                or not math.isfinite(value) or value < 0 or (what == "scales" and value == 0):
            raise ConfigError(f"{what} must be finite and non-negative numbers, got {value!r}")
    return values


def _check_output(output: object, warps: list[WarpLike], overwrite: bool) -> Path | None:
    if output is None:
        return None
    if not isinstance(output, (str, os.PathLike)):
        raise ConfigError(f"output must be a path, got {type(output).__name__}")
    path = Path(output)
    resolved = path.resolve()
    for warp in warps:
        if isinstance(warp, (str, os.PathLike)) and (
                Path(warp).resolve() == resolved or _same_file(warp, path)):
            raise OutputError("is also an input warp", path)
    # a trial file in the output folder: missing, unwritable or read-only folders fail now, not after the run
    return check_writable(path, overwrite)


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True if both paths exist and are one file (hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextlib.contextmanager
def _numba_threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    previous = numba.get_num_threads()
    available = numba.config.NUMBA_NUM_THREADS
    if threads > available:
        log.warning("%d threads asked for, %d available; using %d", threads, available, available)
    numba.set_num_threads(min(threads, available))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


__all__ = ["assemble", "wcs_difference", "write_coadd"]
