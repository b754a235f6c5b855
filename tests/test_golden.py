"""Tiny golden files: the coadds of three committed 24x32 warps must not change by a single bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

import fastcoadd as fc

GOLDEN = Path(__file__).resolve().parent / "golden"
CONFIGS = {
    "mean": fc.CoaddConfig(statistic="mean"),
    "meanclip": fc.CoaddConfig(statistic="meanclip"),
    "median": fc.CoaddConfig(statistic="median", variance_from_scatter=True),
}


@pytest.mark.parametrize("statistic", sorted(CONFIGS))
def test_golden_coadd(statistic, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    result = fc.assemble([f"warp_{i}.fits" for i in range(3)], CONFIGS[statistic])
    with fits.open(GOLDEN / f"coadd_{statistic}.fits") as expected:
        for plane, got in (("IMAGE", result.image), ("MASK", result.mask), ("VARIANCE", result.variance),
                           ("NIMAGE", result.nimage)):
            np.testing.assert_array_equal(got, expected[plane].data, err_msg=plane)
        np.testing.assert_array_equal(expected["INPUTS"].data["WEIGHT"], [r.weight for r in result.inputs])
        assert {k[3:]: v for k, v in expected["MASK"].header.items() if k.startswith("MP_")} == result.planes
