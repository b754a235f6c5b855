"""Baseline 5, preparation: SWarp inputs from warps.

For each warp: ``wNNN.fits`` = image × scale (nJy; 0 where not good) and ``wNNN.weight.fits`` =
1 / (variance × scale²) where good and the variance is finite and > 0, else 0 (SWarp's MAP_WEIGHT).
Both carry the warp's WCS, so SWarp can combine them without resampling.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _common import good_of, open_warps, read_planes
from astropy.io import fits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("warps", nargs="+", type=Path)
    parser.add_argument("-o", "--output-dir", required=True, type=Path)
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for i, warp in enumerate(open_warps(args.warps)):
        image, mask, variance = read_planes(warp)
        scaled_variance = variance * np.float32(warp.scale**2)
        usable = good_of(image, mask, warp.bad) & np.isfinite(scaled_variance) & (scaled_variance > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(usable, np.float32(1.0) / scaled_variance, np.float32(0.0))
        data = np.where(usable, image * np.float32(warp.scale), np.float32(0.0))
        header = fits.getheader(warp.path, "IMAGE")
        for key in ("XTENSION", "PCOUNT", "GCOUNT", "EXTNAME", "EXTTYPE"):
            header.remove(key, ignore_missing=True)
        header["FLXSCALE"] = (1.0, "already calibrated to nJy")
        fits.PrimaryHDU(data.astype(np.float32), header).writeto(args.output_dir / f"w{i:03d}.fits",
                                                                 overwrite=True)
        fits.PrimaryHDU(weight.astype(np.float32), header).writeto(
            args.output_dir / f"w{i:03d}.weight.fits", overwrite=True)


if __name__ == "__main__":
    main()
