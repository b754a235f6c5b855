"""Baseline 4: ``ccdproc.combine(method='average', sigma_clip=True, mem_limit=2e9, weights=...)``.

Inputs are CCDData objects in memory: calibrated image (NaN where not good) and mask = not good.
Choices, from reading ccdproc 2.5's ``combiner.py``:

* ``combine`` tiles the stack to respect ``mem_limit``; weights must then be 1-D (one per image), because
  per-pixel weights would have to match every tile's shape.
* Its sigma clipping runs astropy ``sigma_clip`` on the raw data array (the mask is not passed), one
  iteration, ±3σ. The default centre/width functions (``numpy.ma.mean`` / ``numpy.ma.std``) return NaN
  for a pixel with any NaN input, which would disable clipping there; the documented string choices
  ``'median'`` / ``'std'`` are NaN-aware, so they are used (with NaN marking the inputs that are not good).
* The weighted average divides Σw·x (over kept values) by Σw over *all* images, kept or not
  (astropy/ccdproc#893, fixed upstream after 2.5.1 by PR #952): wherever an input is masked or clipped the
  result is biased towards 0. This is ccdproc's behaviour and is measured as is.
* Pixels where every input is masked come out as 0 with the output mask set; they are written as NaN.
"""

from __future__ import annotations

import time

import astropy.units as u
import numpy as np
from _common import good_of, open_warps, parse_args, read_planes, weight_of, write_result
from astropy.nddata import CCDData
from ccdproc import combine


def main() -> None:
    args = parse_args(__doc__)
    started = time.perf_counter()
    warps = open_warps(args.warps)
    ccds = []
    weights = []
    for warp in warps:
        image, mask, variance = read_planes(warp)
        weight = weight_of(warp, image, mask, variance)
        if not np.isfinite(weight):
            continue
        good = good_of(image, mask, warp.bad)
        data = np.where(good, image * np.float32(warp.scale), np.float32(np.nan))
        ccds.append(CCDData(data, mask=~good, unit=u.nJy))
        weights.append(weight)
    result = combine(ccds, method="average", weights=np.array(weights), mem_limit=2e9, sigma_clip=True,
                     sigma_clip_low_thresh=3, sigma_clip_high_thresh=3, sigma_clip_func="median",
                     sigma_clip_dev_func="std")
    image = np.array(result.data, dtype=np.float64)
    if result.mask is not None:
        image[result.mask] = np.nan
    write_result(args.output, image, None, started, method="ccdproc")


if __name__ == "__main__":
    main()
