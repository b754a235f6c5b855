"""Online weighted MEAN: accumulate warp by warp into float64 running sums (SPEC §5).

The running sums of a tile live in one float64 array ``sums`` of shape
``(N_SUMS + n_thresholds, ny, nx)`` indexed by the constants below; the last
entries hold the rejected weight R_b of each threshold plane.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit_parallel, prange
from .maskbits import RULE_BAD, finish_mask, rejection_bits
from .statistics import finish_sums, pass_variance

SUM_W = 0  # Σw over good inputs
SUM_W2 = 1  # Σw²
SUM_W2V = 2  # Σw²v
SHIFT = 3  # the first good value, subtracted before the two sums below
SUM_WD = 4  # Σw(x - shift)
SUM_WD2 = 5  # Σw(x - shift)²
N_SUMS = 6


@jit_parallel
def accumulate_warp(
    image: np.ndarray,
    variance: np.ndarray,
    mask: np.ndarray,
    scale: float,
    weight: float,
    rules: np.ndarray,
    threshold_bits: np.ndarray,
    sums: np.ndarray,
    or_mask: np.ndarray,
    rejection_flags: np.ndarray,
    n_good: np.ndarray,
) -> None:
    """Add one warp's tile to the running sums.

    A pixel is good when ``x = image * scale`` is finite and ``mask & bad == 0``;
    then ``Σw += w``, ``Σw² += w²``, ``Σw²v += w²·v·scale²``, ``Σwd += w·d`` and
    ``Σwd² += w·d²`` with ``d = x - shift`` (the shift is the first good value; the
    same sums, in the same order, as the tiled kernel, so both give identical bits),
    the mask is OR-ed in and the count grows. Otherwise the input's bad bits are
    remapped into ``rejection_flags`` and its weight is added to R_b of every
    threshold plane b it carries.

    Parameters
    ----------
    image, variance : ndarray of float, shape (ny, nx)
        One warp's tile in its own units.
    mask : ndarray of int32, shape (ny, nx)
        Its mask in the output plane numbering.
    scale, weight : float
        Calibration to nJy and the warp's weight.
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
    ny, nx = image.shape
    n_thresholds = threshold_bits.shape[0]
    bad = rules[RULE_BAD]
    scale2 = scale * scale
    for y in prange(ny):
        for x in range(nx):
            m = np.int64(mask[y, x])
            value = np.float64(image[y, x]) * scale
            if math.isfinite(value) and (m & bad) == 0:
                if n_good[y, x] == 0:
                    sums[SHIFT, y, x] = value
                d = value - sums[SHIFT, y, x]
                sums[SUM_W, y, x] += weight
                sums[SUM_W2, y, x] += weight * weight
                sums[SUM_W2V, y, x] += weight * weight * (np.float64(variance[y, x]) * scale2)
                sums[SUM_WD, y, x] += weight * d
                sums[SUM_WD2, y, x] += weight * d * d
                or_mask[y, x] |= m
                n_good[y, x] += 1
            else:
                rejection_flags[y, x] |= rejection_bits(m & bad, rules)
                for j in range(n_thresholds):
                    if m & threshold_bits[j]:
                        sums[N_SUMS + j, y, x] += weight


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
