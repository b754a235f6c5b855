"""Per-pixel statistics shared by the tiled and the 1-D kernels (SPEC §3.2-3.4).

Everything here works on short float64 buffers for one pixel and is inlined into
the kernels that call it.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

#: sigma of a normal distribution per unit inter-quartile range, 1 / (2 * 0.6744897...)
IQR_TO_SIGMA = 0.741301109252802

STATISTIC_MEAN = 0
STATISTIC_MEANCLIP = 1
STATISTIC_MEDIAN = 2


@jit
def insertion_sort(values: np.ndarray, n: int) -> None:
    """Sort ``values[:n]`` in place (fast for the short stacks of one pixel)."""
    for i in range(1, n):
        v = values[i]
        j = i - 1
        while j >= 0 and values[j] > v:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = v


@jit
def sort_prefix(values: np.ndarray, n: int) -> None:
    """Sort ``values[:n]`` in place: insertion sort when short, quicksort otherwise."""
    if n <= 48:
        insertion_sort(values, n)
    else:
        values[:n].sort()


@jit
def quantile_sorted(values: np.ndarray, n: int, q: float) -> float:
    """Quantile ``q`` of sorted ``values[:n]`` by numpy's default (linear) rule.

    The fractional index is ``q * (n - 1)``; between neighbours a and b at fraction
    t the result is ``a + (b - a) * t`` for t < 0.5 and ``b - (b - a) * (1 - t)``
    otherwise, exactly as :func:`numpy.percentile` computes it.
    """
    if n == 0:
        return np.nan
    position = q * (n - 1)
    lower = math.floor(position)
    if lower >= n - 1:
        return values[n - 1]
    t = position - lower
    a = values[lower]
    b = values[lower + 1]
    diff = b - a
    if t >= 0.5:
        return b - diff * (1.0 - t)
    return a + diff * t


@jit
def debiased_scatter(sum_w: float, sum_w2: float, m2: float) -> float:
    """De-biased weighted scatter s² (SPEC §3.2).

    ``s² = (M2 / Σw) · (Σw)² / ((Σw)² − Σw²)`` with ``M2 = Σ w (x − μ)²``; NaN when
    the denominator is not positive (n = 1, or a single non-zero weight).
    """
    denominator = sum_w * sum_w - sum_w2
    if not denominator > 0.0:
        return np.nan
    return (m2 / sum_w) * (sum_w * sum_w) / denominator


@jit
def weighted_pass(
    values: np.ndarray,
    weights: np.ndarray,
    variances: np.ndarray,
    n: int,
    center: float,
    half_width: float,
    result: np.ndarray,
) -> int:
    """One pass of the weighted statistics over the inputs within ``half_width`` of ``center``.

    Inputs i < n with ``|values[i] - center| <= half_width`` (float64, inclusive) are
    kept. The sums run in input order.

    Parameters
    ----------
    values, weights, variances : ndarray of float64, shape (>= n,)
        The good inputs at one pixel.
    n : int
        Number of good inputs.
    center, half_width : float
        The keep interval; if either is NaN nothing is kept.
    result : ndarray of float64, shape (5,)
        Changed in place: ``[mean, scatter s², Σw, Σw², Σw²v]`` of the kept inputs.
        The mean ``Σwx / Σw`` and ``M2 = Σw(x - mean)²`` come from a weighted Welford
        update (West 1979): it gives identical inputs back exactly, so a later pass
        centred on the mean with a zero half-width still keeps them.

    Returns
    -------
    int
        Number of inputs kept.
    """
    sum_w = 0.0
    sum_w2 = 0.0
    sum_w2v = 0.0
    running_mean = 0.0
    m2 = 0.0
    kept = 0
    if not (math.isnan(center) or math.isnan(half_width)):
        for i in range(n):
            x = values[i]
            if abs(x - center) <= half_width:
                w = weights[i]
                kept += 1
                sum_w2 += w * w
                sum_w2v += w * w * variances[i]
                new_sum_w = sum_w + w
                if new_sum_w > 0.0:
                    delta = x - running_mean
                    running_mean += delta * (w / new_sum_w)
                    m2 += w * delta * (x - running_mean)
                sum_w = new_sum_w
    result[0] = running_mean if sum_w != 0.0 else np.nan
    result[1] = debiased_scatter(sum_w, sum_w2, m2) if kept > 0 else np.nan
    result[2] = sum_w
    result[3] = sum_w2
    result[4] = sum_w2v
    return kept


@jit
def pass_variance(result: np.ndarray, variance_from_scatter: bool) -> float:
    """Coadd variance of a pass: ``Σw²v / (Σw)²``, or ``s² · Σw² / (Σw)²`` from scatter."""
    sum_w = result[2]
    if sum_w == 0.0:
        return np.nan
    if variance_from_scatter:
        return result[1] * result[3] / (sum_w * sum_w)
    return result[4] / (sum_w * sum_w)


@jit
def clip_passes(
    values: np.ndarray,
    weights: np.ndarray,
    variances: np.ndarray,
    n: int,
    median: float,
    iqr: float,
    sigma: float,
    iterations: int,
    result: np.ndarray,
) -> int:
    """The N-sigma clipping passes of SPEC §3.3, given the median and IQR of the n inputs.

    Pass k = 0 is centred on the median with half-width ``sigma · 0.741301109252802 · IQR``;
    pass k > 0 on the previous weighted mean with ``sigma · sqrt(max(s²_prev, 0))``
    (the IQR rule again when n <= 1). Each pass re-tests all n inputs.

    Returns
    -------
    int
        Number of inputs kept by the last pass; ``result`` holds its statistics.
    """
    kept = 0
    center = median
    half_width = sigma * IQR_TO_SIGMA * iqr
    for k in range(iterations):
        if k > 0:
            center = result[0]
            if n <= 1:
                half_width = sigma * IQR_TO_SIGMA * iqr
            else:
                scatter = result[1]
                half_width = sigma * math.sqrt(scatter if scatter > 0.0 else (scatter * 0.0))
        kept = weighted_pass(values, weights, variances, n, center, half_width, result)
    return kept
