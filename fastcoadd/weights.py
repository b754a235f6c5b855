"""Per-warp weights (SPEC §4): the inverse of the clipped mean of the scaled variance plane."""

from __future__ import annotations

import numpy as np

from ._kernels.selection import select_float32
from ._kernels.statistics import unweighted_clip_passes

_QUARTILES = (0.25, 0.5, 0.75)


def quantiles_by_selection(values: np.ndarray, quantiles: tuple[float, ...], value_scale: float = 1.0
                           ) -> list[float]:
    """Exact quantiles of ``values * value_scale`` by numpy's default (linear) rule, in linear time.

    Finds the two order statistics around each fractional index ``q · (n - 1)`` (radix
    selection for float32, :func:`numpy.partition` otherwise), scales them in float64 and
    interpolates as :func:`numpy.percentile` does. Scaling by a positive factor keeps the
    order, so this equals the percentile of the scaled values exactly.

    Parameters
    ----------
    values : ndarray of float, shape (n,)
        Values without NaN; not changed.
    quantiles : tuple of float
        Quantiles in [0, 1].
    value_scale : float
        Positive factor applied to the values.
    """
    n = values.size
    if n == 0:
        return [float("nan")] * len(quantiles)
    positions = [q * (n - 1) for q in quantiles]
    ranks = sorted({min(int(np.floor(p)) + d, n - 1) for p in positions for d in (0, 1)})
    if values.dtype == np.float32:
        selected = select_float32(np.ascontiguousarray(values), np.array(ranks, dtype=np.int64))
    else:
        selected = np.partition(values, ranks)[ranks]
    at_rank = {rank: float(np.float64(value) * value_scale)
               for rank, value in zip(ranks, selected, strict=True)}
    result = []
    for position in positions:
        lower = int(np.floor(position))
        if lower >= n - 1:
            result.append(at_rank[n - 1])
            continue
        t = position - lower
        a, b = at_rank[lower], at_rank[lower + 1]
        diff = b - a
        result.append(b - diff * (1.0 - t) if t >= 0.5 else a + diff * t)
    return result


def unweighted_clipped_mean(values: np.ndarray, sigma: float, iterations: int, value_scale: float = 1.0
                            ) -> float:
    """MEANCLIP (SPEC §3.3) of ``values * value_scale`` with unit weights.

    Parameters
    ----------
    values : ndarray of float, shape (n,)
        Values without NaN; not changed.
    sigma : float
        Clipping threshold.
    iterations : int
        Number of passes.
    value_scale : float
        Positive factor applied to every value in float64.

    Returns
    -------
    float
        The clipped mean; NaN when ``values`` is empty.
    """
    n = values.size
    if n == 0:
        return float("nan")
    q1, median, q3 = quantiles_by_selection(values, _QUARTILES, value_scale)
    result = np.empty(5, dtype=np.float64)
    unweighted_clip_passes(np.ascontiguousarray(values), value_scale, median, q3 - q1, sigma, iterations,
                           result)
    return float(result[0])


def weight_from_variance(good_variances: np.ndarray, sigma: float, iterations: int, scale: float = 1.0
                         ) -> float:
    """Weight of a warp: ``1 / MEANCLIP(variance · scale²)`` over its good pixels; NaN if there are none."""
    mean_variance = unweighted_clipped_mean(good_variances, sigma, iterations, scale * scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(1.0) / np.float64(mean_variance))
