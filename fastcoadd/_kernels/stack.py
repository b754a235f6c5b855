"""Tiled stacking kernel: every input of a tile in memory at once (MEAN, MEANCLIP, MEDIAN)."""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit_parallel, prange
from .maskbits import RULE_BAD, finish_mask, rejection_bits
from .statistics import (
    STATISTIC_MEANCLIP,
    STATISTIC_MEDIAN,
    clip_passes,
    pass_variance,
    quantile_sorted,
    sort_prefix,
    weighted_pass,
)

_HALF_PI = math.pi / 2.0
#: Columns gathered at once, so a block's buffers stay in the fast caches.
_COLUMN_BLOCK = 256


@jit_parallel
def stack_tile(
    image: np.ndarray,
    variance: np.ndarray,
    mask: np.ndarray,
    scales: np.ndarray,
    weights: np.ndarray,
    statistic: int,
    sigma: float,
    iterations: int,
    variance_from_scatter: bool,
    rules: np.ndarray,
    threshold_bits: np.ndarray,
    threshold_values: np.ndarray,
    out_image: np.ndarray,
    out_variance: np.ndarray,
    out_mask: np.ndarray,
    out_nimage: np.ndarray,
) -> None:
    """Combine a tile of stacked inputs pixel by pixel (SPEC §3).

    Input i is good at a pixel when ``x = image[i] * scales[i]`` is finite and
    ``mask[i] & rules[RULE_BAD] == 0``. Over the good inputs G (n = |G|):

    - MEAN: ``μ = Σwx / Σw``, variance ``Σw²v / (Σw)²`` (or from scatter);
    - MEANCLIP: the clipping passes of SPEC §3.3 starting from the unweighted median
      and IQR of G, then MEAN over the last kept set;
    - MEDIAN: the unweighted median of G, variance as MEAN × π/2.

    Variances are ``variance[i] * scales[i]**2``. Chunks of rows run in parallel; each
    output pixel depends only on its own inputs, summed in input order, so the result
    is independent of tiling and thread count.

    Parameters
    ----------
    image, variance : ndarray of float32 or float64, shape (n_inputs, ny, nx)
        Native-endian input planes in the warps' own units.
    mask : ndarray of int32, shape (n_inputs, ny, nx)
        Input masks already in the output plane numbering.
    scales, weights : ndarray of float64, shape (n_inputs,)
        Calibration to nJy and the per-input weight.
    statistic : int
        ``STATISTIC_MEAN``, ``STATISTIC_MEANCLIP`` or ``STATISTIC_MEDIAN``.
    sigma : float
        Clipping threshold in standard deviations.
    iterations : int
        Number of clipping passes (>= 1).
    variance_from_scatter : bool
        Take the variance from the scatter of the inputs instead of their variance planes.
    rules : ndarray of int64
        Mask rules (see :mod:`.maskbits`).
    threshold_bits, threshold_values : ndarray
        Propagation thresholds (SPEC §3.5 step 2).
    out_image, out_variance : ndarray of float32, shape (ny, nx)
        Changed in place: coadd value and variance (NaN where n = 0).
    out_mask, out_nimage : ndarray of int32, shape (ny, nx)
        Changed in place: coadd mask and the number of good inputs.
    """
    n_inputs, ny, nx = image.shape
    n_thresholds = threshold_bits.shape[0]
    bad = rules[RULE_BAD]
    # Rows are split into chunks; each chunk owns its buffers (no shared writes). The
    # inputs of a block of a row are first copied input by input (streaming through
    # memory), then each pixel's short stack is combined from a contiguous buffer.
    n_chunks = min(ny, 64)
    block = min(nx, _COLUMN_BLOCK)
    for chunk in prange(n_chunks):
        values = np.empty((block, n_inputs), dtype=np.float64)
        good_weights = np.empty((block, n_inputs), dtype=np.float64)
        good_variances = np.empty((block, n_inputs), dtype=np.float64)
        counts = np.empty(block, dtype=np.int64)
        or_masks = np.empty(block, dtype=np.int64)
        rejection_flags = np.empty(block, dtype=np.int64)
        good_weight = np.empty(block, dtype=np.float64)
        rejected_weight = np.empty((block, n_thresholds), dtype=np.float64)
        ordered = np.empty(n_inputs, dtype=np.float64)
        result = np.empty(5, dtype=np.float64)
        n_blocks = (nx + block - 1) // block
        first = (chunk * ny // n_chunks) * n_blocks
        last = ((chunk + 1) * ny // n_chunks) * n_blocks
        for row_block in range(first, last):  # (row, column block) pairs of this chunk
            y = row_block // n_blocks
            x0 = (row_block % n_blocks) * block
            width = min(block, nx - x0)
            counts[:] = 0
            or_masks[:] = 0
            rejection_flags[:] = 0
            good_weight[:] = 0.0
            rejected_weight[:, :] = 0.0
            for i in range(n_inputs):
                scale = scales[i]
                scale2 = scale * scale
                weight = weights[i]
                for x in range(width):
                    m = np.int64(mask[i, y, x0 + x])
                    value = np.float64(image[i, y, x0 + x]) * scale
                    if math.isfinite(value) and (m & bad) == 0:
                        k = counts[x]
                        values[x, k] = value
                        good_weights[x, k] = weight
                        good_variances[x, k] = np.float64(variance[i, y, x0 + x]) * scale2
                        counts[x] = k + 1
                        or_masks[x] |= m
                        good_weight[x] += weight
                    else:
                        rejection_flags[x] |= rejection_bits(m & bad, rules)
                        for j in range(n_thresholds):
                            if m & threshold_bits[j]:
                                rejected_weight[x, j] += weight
            for x in range(width):
                n = counts[x]
                pixel_values = values[x]
                kept = n
                if n == 0:
                    mean = np.nan
                    var = np.nan
                elif statistic == STATISTIC_MEANCLIP:
                    ordered[:n] = pixel_values[:n]
                    sort_prefix(ordered, n)
                    median = quantile_sorted(ordered, n, 0.5)
                    iqr = quantile_sorted(ordered, n, 0.75) - quantile_sorted(ordered, n, 0.25)
                    kept = clip_passes(pixel_values, good_weights[x], good_variances[x], n, 1.0, median,
                                       iqr, sigma, iterations, result)
                    mean = result[0]
                    var = pass_variance(result, variance_from_scatter)
                else:
                    weighted_pass(pixel_values, good_weights[x], good_variances[x], n, 1.0, 0.0, np.inf,
                                  result)
                    mean = result[0]
                    var = pass_variance(result, variance_from_scatter)
                    if statistic == STATISTIC_MEDIAN:
                        ordered[:n] = pixel_values[:n]
                        sort_prefix(ordered, n)
                        mean = quantile_sorted(ordered, n, 0.5)
                        var = var * _HALF_PI
                out_image[y, x0 + x] = mean
                out_variance[y, x0 + x] = var
                out_nimage[y, x0 + x] = n
                out_mask[y, x0 + x] = finish_mask(or_masks[x], n, kept < n, rejection_flags[x],
                                                  good_weight[x], rejected_weight[x], threshold_bits,
                                                  threshold_values, var, rules)
