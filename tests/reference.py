"""Plain-numpy reference twins of the fastcoadd kernels, written from SPEC.md.

Every twin follows the SPEC text with plain loops, one pixel at a time. The weighted
statistics of SPEC §3.2 are computed exactly (``fractions.Fraction`` on the float64
inputs) and rounded once, so the twins carry no summation-order rounding at all.

A fast float64 kernel may still legitimately differ from the exact result where float
rounding decides the outcome: a value on the clipping boundary ``|x − c| == h`` of a
pass whose centre and half-width are themselves rounded (SPEC §3.3, passes k > 0), a
mean that cancels to nearly zero, an ill-conditioned scatter, or a propagation ratio
that sits on its threshold (SPEC §3.5 step 2). :func:`reference_stack` reports such
pixels in ``notes`` so that a test can exclude the draw instead of loosening its
tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from fastcoadd._kernels.maskbits import (
    RULE_BAD,
    RULE_CLIPPED,
    RULE_EDGE,
    RULE_FLAG_REJECTIONS,
    RULE_INEXACT_PSF,
    RULE_NO_DATA,
    RULE_REJECTED,
    RULE_SENSOR_EDGE,
)
from fastcoadd._kernels.statistics import STATISTIC_MEAN, STATISTIC_MEANCLIP, STATISTIC_MEDIAN

#: SPEC §3.3: sigma of a normal distribution per unit inter-quartile range.
IQR_TO_SIGMA = 0.741301109252802

#: A value within this fraction of the data scale of the clip boundary is fragile.
BOUNDARY_RTOL = 1e-9
#: A mean smaller than this fraction of the largest contributing value is fragile.
CANCELLATION_LIMIT = 1e-7
#: Condition numbers of the scatter (and of its de-biasing denominator) above this are fragile.
CONDITION_LIMIT = 1e6
#: A propagation ratio within this of its threshold is fragile (unless the sums are exact).
THRESHOLD_ATOL = 1e-9


@dataclass
class PassStatistics:
    """Weighted statistics of one set of inputs (SPEC §3.2), exact then rounded to float64."""

    mean: float
    scatter: float
    sum_w: Fraction
    sum_w2: Fraction
    variance_sum: float  # Σw²v, float because v may be NaN or infinite
    identical: bool  # all inputs with non-zero weight have the same value
    mean_fragile: bool  # the mean cancels to nearly zero
    scatter_fragile: bool  # the scatter (or its de-biasing) is ill-conditioned


def weighted_statistics(x: np.ndarray, w: np.ndarray, v: np.ndarray) -> PassStatistics:
    """SPEC §3.2 over the given inputs: μ = Σwx/Σw and the de-biased weighted scatter.

    ``s² = (Σw(x−μ)²/Σw) · (Σw)² / ((Σw)² − Σw²)``, NaN unless the denominator is > 0;
    μ is NaN when Σw = 0. Sums are exact; each result is rounded once.
    """
    ws = [Fraction(float(wi)) for wi in w]
    xs = [Fraction(float(xi)) for xi in x]
    sum_w = sum(ws, Fraction(0))
    sum_w2 = sum((wi * wi for wi in ws), Fraction(0))
    terms = np.asarray(w, np.float64) ** 2 * np.asarray(v, np.float64)
    if np.all(np.isfinite(terms)):
        variance_sum = float(sum((wi * wi * Fraction(float(vi)) for wi, vi in zip(ws, v, strict=True)),
                                 Fraction(0)))
    else:
        variance_sum = float(np.sum(terms))  # NaN or inf either way
    contributing = [xi for xi, wi in zip(x, w, strict=True) if wi != 0.0]
    identical = len(set(contributing)) <= 1
    if sum_w == 0:
        return PassStatistics(math.nan, math.nan, sum_w, sum_w2, variance_sum, identical, False, False)
    exact_mean = sum((wi * xi for wi, xi in zip(ws, xs, strict=True)), Fraction(0)) / sum_w
    mean = float(exact_mean)
    largest = max(abs(float(xi)) for xi in contributing)
    mean_fragile = not identical and abs(mean) < CANCELLATION_LIMIT * largest
    denominator = sum_w * sum_w - sum_w2
    m2 = sum((wi * (xi - exact_mean) ** 2 for wi, xi in zip(ws, xs, strict=True)), Fraction(0))
    scatter_fragile = False
    if denominator > 0:
        scatter = float(m2 * sum_w / denominator)  # = (M2/Σw)·(Σw)²/denominator
        if sum_w * sum_w > CONDITION_LIMIT * denominator:
            scatter_fragile = True
        if m2 > 0:
            spread = sum((wi * abs(xi - exact_mean) for wi, xi in zip(ws, xs, strict=True)), Fraction(0))
            if Fraction(largest) * spread > CONDITION_LIMIT * m2:
                scatter_fragile = True
    else:
        scatter = math.nan
    return PassStatistics(mean, scatter, sum_w, sum_w2, variance_sum, identical, mean_fragile,
                          scatter_fragile)


def pass_variance(stats: PassStatistics, variance_from_scatter: bool) -> float:
    """SPEC §3.2 coadd variance: Σw²v/(Σw)², or s²·Σw²/(Σw)² from the scatter; NaN if Σw = 0."""
    if stats.sum_w == 0:
        return math.nan
    if variance_from_scatter:
        if math.isnan(stats.scatter):
            return math.nan
        return float(Fraction(stats.scatter) * stats.sum_w2 / (stats.sum_w * stats.sum_w))
    if not math.isfinite(stats.variance_sum):
        return stats.variance_sum
    return float(Fraction(stats.variance_sum) / (stats.sum_w * stats.sum_w))


def _empty_statistics() -> PassStatistics:
    return PassStatistics(math.nan, math.nan, Fraction(0), Fraction(0), 0.0, True, False, False)


def clipped_statistics(
    x: np.ndarray,
    w: np.ndarray,
    v: np.ndarray,
    sigma: float,
    iterations: int,
    notes: list[str] | None = None,
    where: str = "",
) -> tuple[PassStatistics, np.ndarray]:
    """SPEC §3.3 MEANCLIP passes over the good inputs; returns the last pass and its kept set.

    Pass 0 is centred on the unweighted median with ``h = sigma · 0.741301109252802 · IQR``
    (numpy's linear quantiles); pass k > 0 on the previous weighted mean with
    ``h = sigma · sqrt(max(s²_prev, 0))`` (the IQR rule again when n ≤ 1). Each pass
    re-tests all inputs, keeping ``|x − c| ≤ h`` compared in float64; a NaN centre or
    half-width keeps nothing.
    """
    n = x.size
    q1, median, q3 = np.percentile(x, [25.0, 50.0, 75.0])
    iqr = float(q3 - q1)
    iqr_half_width = sigma * IQR_TO_SIGMA * iqr
    stats = _empty_statistics()
    kept = np.zeros(n, dtype=bool)
    for k in range(iterations):
        if k == 0:
            center, half_width = float(median), iqr_half_width
        else:
            center = stats.mean
            if n <= 1:
                half_width = iqr_half_width
            else:
                previous = stats.scatter
                half_width = sigma * math.sqrt(max(previous, 0.0)) if not math.isnan(previous) else math.nan
        if math.isnan(center) or math.isnan(half_width):
            kept = np.zeros(n, dtype=bool)
            stats = _empty_statistics()
            continue
        distance = np.abs(x - center)
        if k > 0 and notes is not None and not (half_width == 0.0 and stats.identical):
            # c and h of this pass carry rounding; a value on the boundary may go either way
            scale = max(float(np.max(np.abs(x))), abs(center), half_width)
            margin = np.abs(distance - half_width)
            if np.any(margin <= BOUNDARY_RTOL * scale):
                notes.append(f"{where}: a value lies on the clip boundary in pass {k}")
        kept = distance <= half_width
        stats = weighted_statistics(x[kept], w[kept], v[kept]) if kept.any() else _empty_statistics()
    return stats, kept


def _on_grid(values: np.ndarray) -> bool:
    """True if every value is a multiple of 2**-10 below 2**30: sums of a few are exact in any order."""
    scaled = np.asarray(values, np.float64) * 1024.0
    return bool(np.all((scaled == np.round(scaled)) & (np.abs(scaled) < 2.0**40)))


def output_mask(
    masks: np.ndarray,
    good: np.ndarray,
    clipped: bool,
    weights: np.ndarray,
    variance: float,
    rules: np.ndarray,
    threshold_bits: np.ndarray,
    threshold_values: np.ndarray,
    notes: list[str] | None = None,
    where: str = "",
) -> int:
    """SPEC §3.5 for one pixel, step by step.

    1. OR of the good inputs' masks; 2. plane b with threshold t is set when
    R_b > 0 and R_b/(Σ_G w + R_b) > t, R_b the weight of not-good inputs carrying b;
    3. n = 0 gives exactly NO_DATA; 4. CLIPPED if anything was clipped; 5. (when
    rejections are flagged and n < N) each input's bad bits other than NO_DATA, EDGE,
    CLIPPED set REJECTED, EDGE sets SENSOR_EDGE, CLIPPED sets CLIPPED; 6. (when
    rejections are flagged) INEXACT_PSF wherever SENSOR_EDGE, CLIPPED or REJECTED is
    set; 7. a variance of exactly 0 adds NO_DATA.
    """
    bad = int(rules[RULE_BAD])
    no_data, edge, clipped_bit = int(rules[RULE_NO_DATA]), int(rules[RULE_EDGE]), int(rules[RULE_CLIPPED])
    rejected_bit, sensor_edge = int(rules[RULE_REJECTED]), int(rules[RULE_SENSOR_EDGE])
    inexact_psf = int(rules[RULE_INEXACT_PSF])
    masks = [int(m) for m in masks]
    n = int(np.count_nonzero(good))
    result = 0
    for m, is_good in zip(masks, good, strict=True):  # step 1
        if is_good:
            result |= m
    good_weight = sum((Fraction(float(wi)) for wi, g in zip(weights, good, strict=True) if g), Fraction(0))
    for b, t in zip(threshold_bits, threshold_values, strict=True):  # step 2
        carrying = [float(wi) for wi, g, m in zip(weights, good, masks, strict=True) if not g and m & int(b)]
        rejected = sum((Fraction(wi) for wi in carrying), Fraction(0))
        if rejected > 0:
            ratio = float(rejected) / (float(good_weight) + float(rejected))
            if ratio > t:
                result |= int(b)
            exact_sums = _on_grid(np.asarray(weights, np.float64))
            if notes is not None and not exact_sums and abs(ratio - t) <= THRESHOLD_ATOL:
                notes.append(f"{where}: propagation ratio {ratio!r} on its threshold {t!r}")
    if n == 0:  # step 3
        return no_data
    if clipped:  # step 4
        result |= clipped_bit
    if rules[RULE_FLAG_REJECTIONS]:
        if n < len(masks):  # step 5
            for m in masks:
                bad_bits = m & bad
                if bad_bits & ~(no_data | edge | clipped_bit):
                    result |= rejected_bit
                if bad_bits & edge:
                    result |= sensor_edge
                if bad_bits & clipped_bit:
                    result |= clipped_bit
        if result & (sensor_edge | clipped_bit | rejected_bit):  # step 6
            result |= inexact_psf
    if variance == 0.0:  # step 7
        result |= no_data
    return result


def reference_stack(
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
    notes: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Twin of ``stack_tile``: SPEC §3.1-3.5 pixel by pixel.

    Input i is good at a pixel when ``x = image·scale`` (float64) is finite and
    ``mask & bad == 0``; its variance is ``variance·scale²``. MEAN and MEANCLIP follow
    §3.2 and §3.3, MEDIAN is ``np.median`` of the good values with the MEAN variance
    × π/2 (§3.4), the mask follows §3.5. Arrays may have any byte order.

    Returns
    -------
    tuple
        ``(image float32, variance float32, mask int32, nimage int32)``, each (ny, nx).
        Fragile pixels (see the module docstring) are described in ``notes``.
    """
    image = np.asarray(image, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    mask = np.asarray(mask).astype(np.int64)
    scales = np.asarray(scales, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    _, ny, nx = image.shape
    out = np.full((ny, nx), np.nan, dtype=np.float64)
    out_variance = np.full((ny, nx), np.nan, dtype=np.float64)
    out_mask = np.zeros((ny, nx), dtype=np.int32)
    out_nimage = np.zeros((ny, nx), dtype=np.int32)
    bad = int(rules[RULE_BAD])
    with np.errstate(all="ignore"):
        for y in range(ny):
            for x in range(nx):
                where = f"pixel ({y}, {x})"
                values = image[:, y, x] * scales
                variances = variance[:, y, x] * (scales * scales)
                good = np.isfinite(values) & ((mask[:, y, x] & bad) == 0)
                n = int(np.count_nonzero(good))
                clipped = False
                value = var = math.nan
                if n > 0:
                    xg, wg, vg = values[good], weights[good], variances[good]
                    if statistic == STATISTIC_MEANCLIP:
                        stats, kept = clipped_statistics(xg, wg, vg, sigma, iterations, notes, where)
                        clipped = not kept.all()
                        value = stats.mean
                    else:
                        stats = weighted_statistics(xg, wg, vg)
                        value = stats.mean if statistic == STATISTIC_MEAN else float(np.median(xg))
                    var = pass_variance(stats, variance_from_scatter)
                    if statistic == STATISTIC_MEDIAN:
                        var = var * (math.pi / 2)
                    if notes is not None:
                        if stats.mean_fragile and statistic != STATISTIC_MEDIAN:
                            notes.append(f"{where}: the mean cancels to nearly zero")
                        if stats.scatter_fragile and variance_from_scatter:
                            notes.append(f"{where}: the scatter is ill-conditioned")
                out[y, x] = value
                out_variance[y, x] = var
                out_nimage[y, x] = n
                out_mask[y, x] = output_mask(mask[:, y, x], good, clipped, weights, var, rules,
                                             threshold_bits, threshold_values, notes, where)
        return out.astype(np.float32), out_variance.astype(np.float32), out_mask, out_nimage


def reference_online_mean(
    image: np.ndarray,
    variance: np.ndarray,
    mask: np.ndarray,
    scales: np.ndarray,
    weights: np.ndarray,
    variance_from_scatter: bool,
    rules: np.ndarray,
    threshold_bits: np.ndarray,
    threshold_values: np.ndarray,
    notes: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Twin of ``accumulate_warp`` (once per input) + ``finish_online_mean``.

    SPEC §5: the online MEAN gives the results of §3.2 and §3.5, so this is
    :func:`reference_stack` with ``STATISTIC_MEAN`` over the inputs stacked on axis 0.
    """
    return reference_stack(image, variance, mask, scales, weights, STATISTIC_MEAN, 3.0, 1,
                           variance_from_scatter, rules, threshold_bits, threshold_values, notes)


def reference_clipped_mean_1d(
    values: np.ndarray, sigma: float, iterations: int, notes: list[str] | None = None
) -> float:
    """Twin of ``fastcoadd.weights.unweighted_clipped_mean``: SPEC §3.3 with unit weights (§4).

    NaN for an empty input.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return math.nan
    ones = np.ones_like(values)
    stats, _ = clipped_statistics(values, ones, values, sigma, iterations, notes, "values")
    if notes is not None and stats.mean_fragile:
        notes.append("values: the mean cancels to nearly zero")
    return stats.mean


def reference_interpolate(
    image: np.ndarray,
    variance: np.ndarray,
    mask: np.ndarray,
    no_data_bit: int,
    intrp_bit: int,
    fallback_image: float,
    fallback_variance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Twin of ``interpolate_rows``: SPEC §3.6 linear fill of NO_DATA runs along each row.

    A run of NO_DATA pixels between anchors a and b (pixels without NO_DATA whose image
    value is finite) takes ``p(a) + (p(b) − p(a))·(x − a)/(b − a)`` for image and variance;
    a run touching a row end, or next to a non-finite neighbour, takes the fallback values.
    Every filled pixel gets ``intrp_bit``. Returns new (image, variance, mask) arrays.
    """
    source_image = np.asarray(image, dtype=np.float64)
    source_variance = np.asarray(variance, dtype=np.float64)
    out_image = np.array(image, dtype=np.float32)
    out_variance = np.array(variance, dtype=np.float32)
    out_mask = np.array(mask, dtype=np.int32)
    ny, nx = out_image.shape
    with np.errstate(all="ignore"):
        for y in range(ny):
            missing = [bool(int(mask[y, x]) & no_data_bit) for x in range(nx)]
            x = 0
            while x < nx:
                if not missing[x]:
                    x += 1
                    continue
                start = x
                while x < nx and missing[x]:
                    x += 1
                a, b = start - 1, x
                anchored = (a >= 0 and b < nx and bool(np.isfinite(source_image[y, a]))
                            and bool(np.isfinite(source_image[y, b])))
                for k in range(start, x):
                    if anchored:
                        for plane, out in ((source_image, out_image), (source_variance, out_variance)):
                            pa, pb = plane[y, a], plane[y, b]
                            out[y, k] = pa + (pb - pa) * (k - a) / (b - a)
                    else:
                        out_image[y, k] = fallback_image
                        out_variance[y, k] = fallback_variance
                    out_mask[y, k] |= intrp_bit
    return out_image, out_variance, out_mask


def reference_replace_nonpositive_variance(variance: np.ndarray) -> np.ndarray:
    """Twin of ``replace_nonpositive_variance``: SPEC §3.6, every variance not > 0 becomes +inf."""
    variance = np.array(variance)
    with np.errstate(invalid="ignore"):
        variance[~(variance > 0)] = np.inf
    return variance


def reference_remap(mask_in: np.ndarray, bit_map: np.ndarray) -> np.ndarray:
    """Twin of ``remap_mask_tile``: input bit k (k below the mask's width) becomes ``bit_map[k]``.

    The output is the OR of ``bit_map[k]`` over the bits set in each input value
    (SPEC §1: planes are matched by name, so each input bit moves to its plane's output bit).
    """
    mask_in = np.asarray(mask_in)
    width = mask_in.dtype.itemsize * 8
    unsigned = mask_in.astype(mask_in.dtype.newbyteorder("=")).view(f"u{mask_in.dtype.itemsize}")
    out = np.zeros(mask_in.shape, dtype=np.int64)
    for index in np.ndindex(mask_in.shape):
        value = int(unsigned[index])
        for k in range(width):
            if value >> k & 1:
                out[index] |= int(bit_map[k])
    return out.astype(np.int32)
