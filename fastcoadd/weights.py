"""Per-warp weights (SPEC §4): the inverse of the clipped mean of the scaled variance plane."""

from __future__ import annotations

import numpy as np

from ._kernels.statistics import clip_passes


def quantiles_by_selection(values: np.ndarray, quantiles: tuple[float, ...]) -> list[float]:
    """Exact quantiles by numpy's default (linear) rule, in linear time.

    Uses :func:`numpy.partition` at the two order statistics around each fractional
    index ``q · (n - 1)`` and interpolates between them as :func:`numpy.percentile` does.

    Parameters
    ----------
    values : ndarray of float64, shape (n,)
        Values without NaN; reordered in place.
    quantiles : tuple of float
        Quantiles in [0, 1].
    """
    n = values.size
    if n == 0:
        return [float("nan")] * len(quantiles)
    positions = [q * (n - 1) for q in quantiles]
    kth = sorted({min(int(np.floor(p)) + d, n - 1) for p in positions for d in (0, 1)})
    values.partition(kth)
    result = []
    for position in positions:
        lower = int(np.floor(position))
        if lower >= n - 1:
            result.append(float(values[n - 1]))
            continue
        t = position - lower
        a, b = float(values[lower]), float(values[lower + 1])
        diff = b - a
        result.append(b - diff * (1.0 - t) if t >= 0.5 else a + diff * t)
    return result


def unweighted_clipped_mean(values: np.ndarray, sigma: float, iterations: int) -> float:
    """MEANCLIP (SPEC §3.3) of ``values`` with unit weights.

    Parameters
    ----------
    values : ndarray of float64, shape (n,)
        Values without NaN; reordered in place.
    sigma : float
        Clipping threshold.
    iterations : int
        Number of passes.

    Returns
    -------
    float
        The clipped mean; NaN when ``values`` is empty.
    """
    n = values.size
    if n == 0:
        return float("nan")
    q1, median, q3 = quantiles_by_selection(values, (0.25, 0.5, 0.75))
    result = np.empty(5, dtype=np.float64)
    ones = np.broadcast_to(np.float64(1.0), values.shape)
    clip_passes(values, ones, values, n, median, q3 - q1, sigma, iterations, result)
    return float(result[0])


def weight_from_variance(good_variances: np.ndarray, sigma: float, iterations: int) -> float:
    """Weight of a warp: ``1 / MEANCLIP(variance)`` over its good pixels; NaN if there are none."""
    mean_variance = unweighted_clipped_mean(good_variances, sigma, iterations)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(1.0) / np.float64(mean_variance))
