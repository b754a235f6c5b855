"""Online weighted MEAN: accumulate warp by warp into float64 running sums (SPEC §5).

The running sums of a tile live in one float64 array ``sums`` of shape
``(N_SUMS + n_thresholds, ny, nx)`` indexed by the constants below; the last
entries hold the rejected weight R_b of each threshold plane.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit_parallel, prange, serial_twin
from .maskbits import RULE_BAD, finish_mask, rejection_bits
from .statistics import finish_sums, pass_variance

SUM_W = 0  # Σw over good inputs
SUM_W2 = 1  # Σw²
SUM_W2V = 2  # Σw²v
SHIFT = 3  # the first good value with a weight, subtracted before the two sums below
SUM_WD = 4  # Σw(x - shift)
SUM_WD2 = 5  # Σw(x - shift)²
N_SUMS = 6


@jit_parallel
def accumulate_warps(
    image: np.ndarray,
    variance: np.ndarray,
    mask: np.ndarray,
    scales: np.ndarray,
    weights: np.ndarray,
    rules: np.ndarray,
    threshold_bits: np.ndarray,
    sums: np.ndarray,
    or_mask: np.ndarray,
    rejection_flags: np.ndarray,
    n_good: np.ndarray,
) -> None:
    """Add a batch of warps' tiles to the running sums, warp after warp.

    For warp i, a pixel is good when ``x = image[i] * scales[i]`` is finite and
    ``mask[i] & bad == 0``; then ``Σw += w``, ``Σw² += w²``, ``Σw²v += w²·v·scale²``,
    ``Σwd += w·d`` and ``Σwd² += w·d²`` with ``d = x - shift`` (the shift is the first
    good value with a non-zero weight; the same sums, in the same order, as the tiled kernel, so both give
    identical bits), the mask is OR-ed in and the count grows. Otherwise the input's
    bad bits are remapped into ``rejection_flags`` and its weight is added to R_b of
    every threshold plane b it carries. The sums of a pixel are loaded once per batch,
    which saves memory traffic; the result does not depend on the batch size.

    Parameters
    ----------
    image, variance : ndarray of float, shape (n_batch, ny, nx)
        The warps' tiles in their own units.
    mask : ndarray of int32, shape (n_batch, ny, nx)
        Their masks in the output plane numbering.
    scales, weights : ndarray of float64, shape (n_batch,)
        Calibration to nJy and weight of each warp.
    rules : ndarray of int64
        Mask rules (see :mod:`.maskbits`).
    threshold_bits : ndarray of int64, shape (n_thresholds,)
        Planes with a propagation threshold.
    sums : ndarray of float64, shape (N_SUMS + n_thresholds, ny, nx)
        Changed in place: running sums.
    or_mask, rejection_flags : ndarray of int64, shape (ny, nx)
        Changed in place: OR of good masks, OR of rejection flags.
    n_good : ndarray of int32, shape (ny, nx)
        Changed in place: number of good inputs so far.
    """
    n_batch, ny, nx = image.shape
    n_thresholds = threshold_bits.shape[0]
    bad = rules[RULE_BAD]
    for y in prange(ny):
        for x in range(nx):
            count = n_good[y, x]
            shift = sums[SHIFT, y, x]
            sum_w = sums[SUM_W, y, x]
            sum_w2 = sums[SUM_W2, y, x]
            sum_w2v = sums[SUM_W2V, y, x]
            sum_wd = sums[SUM_WD, y, x]
            sum_wd2 = sums[SUM_WD2, y, x]
            good_mask = or_mask[y, x]
            flags = rejection_flags[y, x]
            for i in range(n_batch):
                m = np.int64(mask[i, y, x])
                weight = weights[i]
                value = np.float64(image[i, y, x]) * scales[i]
                if math.isfinite(value) and (m & bad) == 0:
                    if sum_w == 0.0:  # no weight yet: shift to this value (earlier ones add 0)
                        shift = value
                    d = value - shift
                    sum_w += weight
                    sum_w2 += weight * weight
                    sum_w2v += weight * weight * (np.float64(variance[i, y, x]) * (scales[i] * scales[i]))
                    sum_wd += weight * d
                    sum_wd2 += weight * d * d
                    good_mask |= m
                    count += 1
                else:
                    flags |= rejection_bits(m & bad, rules)
                    for j in range(n_thresholds):
                        if m & threshold_bits[j]:
                            sums[N_SUMS + j, y, x] += weight
            n_good[y, x] = count
            sums[SHIFT, y, x] = shift
            sums[SUM_W, y, x] = sum_w
            sums[SUM_W2, y, x] = sum_w2
            sums[SUM_W2V, y, x] = sum_w2v
            sums[SUM_WD, y, x] = sum_wd
            sums[SUM_WD2, y, x] = sum_wd2
            or_mask[y, x] = good_mask
            rejection_flags[y, x] = flags


#: :func:`accumulate_warps` on one thread, for callers that split the rows between threads themselves.
accumulate_warps_serial = serial_twin(accumulate_warps)


@jit_parallel
def finish_online_mean(
    sums: np.ndarray,
    or_mask: np.ndarray,
    rejection_flags: np.ndarray,
    n_good: np.ndarray,
    variance_from_scatter: bool,
    rules: np.ndarray,
    threshold_bits: np.ndarray,
    threshold_values: np.ndarray,
    out_image: np.ndarray,
    out_variance: np.ndarray,
    out_mask: np.ndarray,
    out_nimage: np.ndarray,
) -> None:
    """Turn the running sums into the coadd value, variance, mask and NIMAGE of a tile.

    ``μ = Σwx / Σw``; variance ``Σw²v / (Σw)²`` or, from scatter,
    ``s² · Σw² / (Σw)²`` with the de-biased scatter of SPEC §3.2 (computed by
    :func:`.statistics.finish_sums`, as in the tiled kernel); the mask by
    SPEC §3.5. Outputs are changed in place (see :func:`.stack.stack_tile`).
    """
    ny, nx = n_good.shape
    n_thresholds = threshold_bits.shape[0]
    for y in prange(ny):
        rejected_weight = np.empty(n_thresholds, dtype=np.float64)
        result = np.empty(5, dtype=np.float64)
        for x in range(nx):
            n = n_good[y, x]
            if n == 0:
                mean = np.nan
                var = np.nan
                sum_w = 0.0
            else:
                finish_sums(sums[SUM_W, y, x], sums[SUM_W2, y, x], sums[SUM_W2V, y, x], sums[SHIFT, y, x],
                            sums[SUM_WD, y, x], sums[SUM_WD2, y, x], n, result)
                mean = result[0]
                var = pass_variance(result, variance_from_scatter)
                sum_w = result[2]
            for j in range(n_thresholds):
                rejected_weight[j] = sums[N_SUMS + j, y, x]
            out_image[y, x] = mean
            out_variance[y, x] = var
            out_nimage[y, x] = n
            out_mask[y, x] = finish_mask(or_mask[y, x], n, False, rejection_flags[y, x], sum_w,
                                         rejected_weight, threshold_bits, threshold_values,
                                         var, rules)
