"""Baseline 3: astropy ``sigma_clip(axis=0, sigma=3, maxiters=2)`` on the 3-D stack, then the weighted
mean of the values it keeps.

astropy's rule differs from MEANCLIP (SPEC §3.3): the centre is the median and the width the unweighted
standard deviation of the survivors, re-evaluated each iteration, and the clipping is cumulative.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from _common import ITERATIONS, SIGMA, good_of, open_warps, parse_args, read_planes, weight_of, write_result
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning


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
    with warnings.catch_warnings():  # NaN marks the inputs that are not good; astropy warns about them
        warnings.simplefilter("ignore", AstropyUserWarning)
        clipped = sigma_clip(images, sigma=SIGMA, maxiters=ITERATIONS, axis=0, masked=True, copy=False)
    kept = ~np.ma.getmaskarray(clipped)  # excludes NaN (not good) and clipped values
    sum_w, sum_wx, sum_w2v = (np.zeros(images.shape[1:]) for _ in range(3))
    for i, weight in enumerate(weights):  # float64 sums, one warp at a time to spare memory
        sum_w += np.where(kept[i], weight, 0.0)
        sum_wx += np.where(kept[i], weight * images[i].astype(np.float64), 0.0)
        sum_w2v += np.where(kept[i], weight * weight * variances[i].astype(np.float64), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sum_wx / sum_w
        var = sum_w2v / sum_w**2
    mean[sum_w == 0] = np.nan
    var[sum_w == 0] = np.nan
    write_result(args.output, mean, var, started, method="astropy-sigclip")


if __name__ == "__main__":
    main()
