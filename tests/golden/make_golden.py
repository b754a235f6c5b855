"""Regenerate the tiny golden files: three 24x32 warps and the coadds fastcoadd makes of them.

Run from anywhere after a deliberate change of semantics, and review what it reports
before committing the new files:

    .venv/bin/python tests/golden/make_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits

import fastcoadd as fc
from fastcoadd.demo import make_demo_warp_arrays, write_warp

HERE = Path(__file__).resolve().parent
INPUTS = [f"warp_{index}.fits" for index in range(3)]
CONFIGS = {
    "mean": fc.CoaddConfig(statistic="mean"),
    "meanclip": fc.CoaddConfig(statistic="meanclip"),
    "median": fc.CoaddConfig(statistic="median", variance_from_scatter=True),
}
PLANES = ("IMAGE", "MASK", "VARIANCE", "NIMAGE")


def main() -> None:
    os.chdir(HERE)  # inputs are named by relative paths in the INPUTS tables
    for name, warp in zip(INPUTS, make_demo_warp_arrays(len(INPUTS), (24, 32), seed=5), strict=True):
        write_warp(name, warp["image"], warp["mask"], warp["variance"], visit=warp["visit"],
                   calibration=warp["header_calibration"], wcs=warp["wcs"])
    for statistic, config in CONFIGS.items():
        target = Path(f"coadd_{statistic}.fits")
        before = {p: fits.getdata(target, p) for p in PLANES} if target.exists() else None
        fc.assemble(INPUTS, config, output=target)
        if before is not None:
            changed = [p for p in PLANES if not np.array_equal(before[p], fits.getdata(target, p), equal_nan=True)]
            print(f"{target}: {'changed ' + ', '.join(changed) if changed else 'unchanged'}")


if __name__ == "__main__":
    main()
