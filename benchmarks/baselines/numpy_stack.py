"""Baseline 2: the whole stack as 3-D arrays (n, ny, nx); weighted MEAN with np.nansum.

Every warp is read once into float32 stacks (calibrated, NaN where not good); weights (SPEC §4) come
from the loaded planes; then Σw·x / Σw over the finite entries with float64 sums.
"""

from __future__ import annotations

import time

import numpy as np
from _common import good_of, open_warps, parse_args, read_planes, weight_of, write_result


def main() -> None:
    args = parse_args(__doc__)
    started = time.perf_counter()
    warps = open_warps(args.warps)
    images = variances = None
    weights = np.empty(len(warps))
    for i, warp in enumerate(warps):
        image, mask, variance = read_planes(warp)
        if images is None:
            images = np.empty((len(warps), *image.shape), dtype=np.float32)
            variances = np.empty_like(images)
        weights[i] = weight_of(warp, image, mask, variance)
        good = good_of(image, mask, warp.bad)
        images[i] = np.where(good, image * np.float32(warp.scale), np.nan)
        variances[i] = np.where(good, variance * np.float32(warp.scale**2), np.nan)
    usable = np.isfinite(weights)
    images, variances, weights = images[usable], variances[usable], weights[usable]
    w = weights[:, None, None]
    sum_w = np.nansum(np.where(np.isnan(images), 0.0, w), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(w * images, axis=0) / sum_w
        var = np.nansum(w * w * variances, axis=0) / sum_w**2
    mean[sum_w == 0] = np.nan
    var[sum_w == 0] = np.nan
    write_result(args.output, mean, var, started, method="numpy-stack")


if __name__ == "__main__":
    main()
