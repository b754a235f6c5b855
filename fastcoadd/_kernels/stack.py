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

    Variances are ``variance[i] * scales[i]**2``. Rows run in parallel; each output
    pixel depends only on its own inputs, so the result is independent of tiling and
    thread count.

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
    for y in prange(ny):
        values = np.empty(n_inputs, dtype=np.float64)
        good_weights = np.empty(n_inputs, dtype=np.float64)
        good_variances = np.empty(n_inputs, dtype=np.float64)
        ordered = np.empty(n_inputs, dtype=np.float64)
        rejected_weight = np.empty(n_thresholds, dtype=np.float64)
        result = np.empty(5, dtype=np.float64)
        for x in range(nx):
            n = 0
            or_mask = np.int64(0)
            rejection_flags = np.int64(0)
            good_weight = 0.0
            rejected_weight[:] = 0.0
            for i in range(n_inputs):
                m = np.int64(mask[i, y, x])
                value = np.float64(image[i, y, x]) * scales[i]
                if math.isfinite(value) and (m & bad) == 0:
                    values[n] = value
                    good_weights[n] = weights[i]
                    good_variances[n] = np.float64(variance[i, y, x]) * (scales[i] * scales[i])
                    or_mask |= m
                    good_weight += weights[i]
                    n += 1
                else:
                    rejection_flags |= rejection_bits(m & bad, rules)
                    for j in range(n_thresholds):
                        if m & threshold_bits[j]:
                            rejected_weight[j] += weights[i]
            kept = n
            if n == 0:
                mean = np.nan
                var = np.nan
            elif statistic == STATISTIC_MEANCLIP:
                ordered[:n] = values[:n]
                sort_prefix(ordered, n)
                median = quantile_sorted(ordered, n, 0.5)
                iqr = quantile_sorted(ordered, n, 0.75) - quantile_sorted(ordered, n, 0.25)
                kept = clip_passes(values, good_weights, good_variances, n, median, iqr,
                                   sigma, iterations, result)
                mean = result[0]
                var = pass_variance(result, variance_from_scatter)
            else:
                weighted_pass(values, good_weights, good_variances, n, 0.0, np.inf, result)
                mean = result[0]
                var = pass_variance(result, variance_from_scatter)
                if statistic == STATISTIC_MEDIAN:
                    ordered[:n] = values[:n]
                    sort_prefix(ordered, n)
                    mean = quantile_sorted(ordered, n, 0.5)
                    var = var * _HALF_PI
            out_image[y, x] = mean
            out_variance[y, x] = var
            out_nimage[y, x] = n
            out_mask[y, x] = finish_mask(or_mask, n, kept < n, rejection_flags, good_weight,
                                         rejected_weight, threshold_bits, threshold_values,
                                         var, rules)
