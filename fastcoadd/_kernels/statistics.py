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
def merge_exchange_sort(values: np.ndarray, n: int) -> None:
    """Sort ``values[:n]`` in place with Batcher's merge-exchange network (Knuth 5.2.2 M).

    The sequence of compare-exchanges does not depend on the data and each one is a
    branch-free min/max, so short stacks sort about three times faster than by
    insertion. Values must not be NaN.
    """
    if n < 2:
        return
    t = 1
    while (1 << t) < n:
        t += 1
    p = 1 << (t - 1)
    while p > 0:
        q = 1 << (t - 1)
        r = 0
        d = p
        while True:
            for i in range(n - d):
                if (i & p) == r:
                    a = values[i]
                    b = values[i + d]
                    values[i] = min(a, b)
                    values[i + d] = max(a, b)
            if q == p:
                break
            d = q - p
            q >>= 1
            r = p
        p >>= 1


@jit
def sort_prefix(values: np.ndarray, n: int) -> None:
    """Sort ``values[:n]`` in place: a sorting network when short, quicksort otherwise."""
    if n <= 128:
        merge_exchange_sort(values, n)
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
def finish_sums(
    sum_w: float, sum_w2: float, sum_w2v: float, shift: float, sum_wd: float, sum_wd2: float,
    kept: int, result: np.ndarray,
) -> None:
    """Turn shifted weighted sums into ``result = [mean, s², Σw, Σw², Σw²v]``.

    With ``d = x - shift`` for a shift taken from the data (the first kept input with
    a non-zero weight, so zero-weight inputs far away cannot spoil the precision),
    ``mean = shift + Σwd / Σw`` (= Σwx / Σw) and ``M2 = Σwd² - (Σwd)² / Σw``
    (= Σw(x - mean)², floored at 0); s² is the de-biased scatter of SPEC §3.2. Identical
    inputs give d = 0, so their mean comes back exactly and M2 is exactly 0.
    """
    if sum_w != 0.0:
        mean = shift + sum_wd / sum_w
        m2 = sum_wd2 - sum_wd * (sum_wd / sum_w)
        if m2 < 0.0:
            m2 = 0.0
    else:
        mean = np.nan
        m2 = np.nan
    result[0] = mean
    result[1] = debiased_scatter(sum_w, sum_w2, m2) if kept > 0 else np.nan
    result[2] = sum_w
    result[3] = sum_w2
    result[4] = sum_w2v


@jit
def weighted_pass(
    values: np.ndarray,
    weights: np.ndarray,
    variances: np.ndarray,
    n: int,
    value_scale: float,
    center: float,
    half_width: float,
    result: np.ndarray,
) -> int:
    """One pass of the weighted statistics over the inputs within ``half_width`` of ``center``.

    With ``x_i = values[i] * value_scale`` (float64), inputs i < n with
    ``|x_i - center| <= half_width`` (inclusive) are kept. The sums run in input order.

    Parameters
    ----------
    values, weights, variances : ndarray, shape (>= n,)
        The good inputs at one pixel (or the values of a 1-D list).
    n : int
        Number of good inputs.
    value_scale : float
        Factor applied to every value (1.0 for values already scaled).
    center, half_width : float
        The keep interval; if either is NaN nothing is kept.
    result : ndarray of float64, shape (5,)
        Changed in place: ``[mean, scatter s², Σw, Σw², Σw²v]`` of the kept inputs
        (see :func:`finish_sums`).

    Returns
    -------
    int
        Number of inputs kept.
    """
    sum_w = 0.0
    sum_w2 = 0.0
    sum_w2v = 0.0
    shift = 0.0
    sum_wd = 0.0
    sum_wd2 = 0.0
    kept = 0
    if not (math.isnan(center) or math.isnan(half_width)):
        for i in range(n):
            x = values[i] * value_scale
            if abs(x - center) <= half_width:
                w = weights[i]
                if sum_w == 0.0:  # no weight yet: shift to this value (earlier ones add 0)
                    shift = x
                kept += 1
                d = x - shift
                sum_w += w
                sum_w2 += w * w
                sum_w2v += w * w * variances[i]
                sum_wd += w * d
                sum_wd2 += w * d * d
    finish_sums(sum_w, sum_w2, sum_w2v, shift, sum_wd, sum_wd2, kept, result)
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
def next_window(result: np.ndarray, n: int, iqr: float, sigma: float) -> tuple[float, float]:
    """Centre and half-width of a clipping pass after the first (SPEC §3.3), from the last pass's ``result``.

    The previous mean with ``sigma · sqrt(max(s², 0))``; the IQR rule again when n <= 1.
    """
    if n <= 1:
        return result[0], sigma * IQR_TO_SIGMA * iqr
    scatter = result[1]
    return result[0], sigma * math.sqrt(scatter if scatter > 0.0 else (scatter * 0.0))


@jit
def clip_passes(
    values: np.ndarray,
    weights: np.ndarray,
    variances: np.ndarray,
    n: int,
    value_scale: float,
    median: float,
    iqr: float,
    sigma: float,
    iterations: int,
    result: np.ndarray,
) -> int:
    """The N-sigma clipping passes of SPEC §3.3, given the median and IQR of the n inputs.

    Pass k = 0 is centred on the median with half-width ``sigma · 0.741301109252802 · IQR``;
    pass k > 0 on the previous weighted mean with ``sigma · sqrt(max(s²_prev, 0))``
    (the IQR rule again when n <= 1). Each pass re-tests all n inputs; values are
    ``values[i] * value_scale`` (see :func:`weighted_pass`).

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
            center, half_width = next_window(result, n, iqr, sigma)
        kept = weighted_pass(values, weights, variances, n, value_scale, center, half_width, result)
    return kept


@jit
def unweighted_pass(values: np.ndarray, value_scale: float, center: float, half_width: float,
                    result: np.ndarray) -> int:
    """:func:`weighted_pass` with unit weights over a 1-D list.

    The sums are shifted by the first kept value, as in :func:`weighted_pass` (a shift by
    ``center`` would lose the relative precision of a mean much closer to 0 than the
    centre); that value is found first, so the summing loop has no branch. A constant
    list gives its value back exactly. ``result[4]`` (Σw²v) is not computed and set to NaN.

    Returns
    -------
    int
        Number of values kept.
    """
    if math.isnan(center) or math.isnan(half_width):
        finish_sums(0.0, 0.0, np.nan, 0.0, 0.0, 0.0, 0, result)
        return 0
    n = values.shape[0]
    shift = 0.0
    for i in range(n):
        x = np.float64(values[i]) * value_scale
        if abs(x - center) <= half_width:
            shift = x
            break
    kept = 0
    sum_d = 0.0
    sum_d2 = 0.0
    for i in range(n):
        x = np.float64(values[i]) * value_scale
        keep = abs(x - center) <= half_width
        d = x - shift if keep else 0.0
        kept += keep
        sum_d += d
        sum_d2 += d * d
    total = float(kept)
    finish_sums(total, total, np.nan, shift, sum_d, sum_d2, kept, result)
    return kept


@jit
def unweighted_clip_passes(values: np.ndarray, value_scale: float, median: float, iqr: float, sigma: float,
                           iterations: int, result: np.ndarray) -> int:
    """:func:`clip_passes` with unit weights over a long 1-D list (the weight of a warp, SPEC §4).

    Each pass is :func:`unweighted_pass` centred as in :func:`clip_passes`.

    Returns
    -------
    int
        Number of values kept by the last pass; ``result`` holds its statistics.
    """
    n = values.shape[0]
    kept = 0
    center = median
    half_width = sigma * IQR_TO_SIGMA * iqr
    for k in range(iterations):
        if k > 0:
            center, half_width = next_window(result, n, iqr, sigma)
        kept = unweighted_pass(values, value_scale, center, half_width, result)
    return kept
