"""Baseline 1: numpy running sums, one warp in memory at a time; weighted MEAN (SPEC §3.2) in float64.

Pass 1 reads every warp for its weight (SPEC §4); pass 2 reads every warp again and adds it to the sums
Σw, Σw·x and Σw²·v over its good pixels.
"""

from __future__ import annotations

import time

import numpy as np
from _common import good_of, open_warps, parse_args, read_planes, weight_of, write_result


def main() -> None:
    args = parse_args(__doc__)
    started = time.perf_counter()
    warps = open_warps(args.warps)
    weights = []
    for warp in warps:
        weights.append(weight_of(warp, *read_planes(warp)))
    sum_w = sum_wx = sum_w2v = None
    for warp, weight in zip(warps, weights, strict=True):
        if not np.isfinite(weight):
            continue
        image, mask, variance = read_planes(warp)
        good = good_of(image, mask, warp.bad)
        x = image.astype(np.float64) * warp.scale
        v = variance.astype(np.float64) * warp.scale**2
        if sum_w is None:
            sum_w, sum_wx, sum_w2v = (np.zeros(image.shape) for _ in range(3))
        sum_w += np.where(good, weight, 0.0)
        sum_wx += np.where(good, weight * x, 0.0)
        sum_w2v += np.where(good, weight * weight * v, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(sum_w > 0, sum_wx / sum_w, np.nan)
        var = np.where(sum_w > 0, sum_w2v / sum_w**2, np.nan)
    write_result(args.output, mean, var, started, method="numpy-running")


if __name__ == "__main__":
    main()
