"""`fastcoadd info` and fastcoadd.info: reports on warp and coadd files."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import fastcoadd as fc
from fastcoadd.cli import main
from fastcoadd.demo import DEFAULT_DEMO_PLANES, make_demo_warps, write_warp
from fastcoadd.info import describe, describe_calibration, describe_mask, describe_wcs


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    paths = make_demo_warps(folder / "warps", n_warps=3, shape=(40, 50), seed=5)
    fc.assemble(paths, output=folder / "coadd.fits")
    return folder, paths


def small_wcs():
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [3.0, 2.5]  # the centre of a 5 x 4 image
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.cd = [[-0.2 / 3600, 0.0], [0.0, 0.2 / 3600]]
    return wcs


def test_coadd_report(demo):
    folder, _ = demo
    text = describe(folder / "coadd.fits")
    assert text.splitlines()[0] == f"{folder / 'coadd.fits'}: coadd, 50 x 40 pixels (x by y)"
    for expected in ("0 PRIMARY", "1 IMAGE", "4 NIMAGE", "5 INPUTS         BinTableHDU   3 rows x 6 columns",
                     "WCS: RA---TAN / DEC--TAN", "pixel   0.2000 x 0.2000 arcsec",
                     "Calibration: BUNIT='nJy' -> the coadd is in nJy", "STATISTIC='MEANCLIP'",
                     "NIMAGE (good inputs per pixel): min", "INPUTS (3 warps, 3 used):",
                     "Mask planes (", "CLIPPED", "INEXACT_PSF"):
        assert expected in text, expected
    for path in ("warp_000.fits", "warp_001.fits", "warp_002.fits"):
        assert path in text


def test_warp_report(demo):
    _, paths = demo
    text = describe(paths[0])
    assert ": warp, 50 x 40 pixels" in text and "VISIT: 1000" in text
    assert "MAGZERO=" in text and "scale to nJy" in text and "AB zero point" in text
    assert "NIMAGE" not in text and "INPUTS" not in text
    assert "EXTTYPE=IMAGE" in text


def test_mask_counts_are_exact(tmp_path):
    mask = np.zeros((5, 6), np.int32)
    mask[0, :] = 1 << 1  # SAT: 6 pixels
    mask[1, :2] |= 1 << 8  # NO_DATA: 2 pixels
    mask[4, 5] = 1 << 20  # a bit no plane names
    image = np.zeros((5, 6), np.float32)
    image[1, :2] = np.nan
    write_warp(tmp_path / "w.fits", image, mask, np.ones((5, 6), np.float32), visit=None,
               calibration={}, wcs=small_wcs(), mask_planes=DEFAULT_DEMO_PLANES)
    text = describe(tmp_path / "w.fits")
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("  ")}
    assert lines["SAT"][1:3] == ["1", "6"]
    assert lines["NO_DATA"][1:3] == ["8", "2"]
    assert lines["BAD"][1:3] == ["0", "0"]
    assert lines["(unnamed:"][2:4] == ["20", "1"]
    assert "pixels with any bit: 9 " in text
    assert "VISIT: (none" in text
    assert "Calibration: none" in text and "--zero-point" in text and "zero_points=" in text
    assert "IMAGE: 28 finite pixels, 2 NaN/inf" in text


def test_mask_counts_read_in_bands(monkeypatch):
    import fastcoadd.info as info

    monkeypatch.setattr(info, "_BAND_PIXELS", 7)  # one row of 7 columns per band
    mask = (np.arange(5 * 7).reshape(5, 7) % 3).astype(np.int32)
    text = describe_mask(mask, mask.shape, {"A": 0, "B": 1})
    counts = {line.split()[0]: int(line.split()[2]) for line in text.splitlines()[2:]}
    assert counts == {"A": int(np.count_nonzero(mask & 1)), "B": int(np.count_nonzero(mask & 2))}


def test_compressed_warp_report(tmp_path):
    paths = make_demo_warps(tmp_path, n_warps=1, shape=(30, 20), seed=1, compressed=True)
    text = describe(paths[0])
    assert "1 IMAGE          CompImageHDU  20 x 30 float32 (GZIP_2)" in text
    assert "2 MASK           CompImageHDU  20 x 30 int32 (RICE_1)" in text


def test_wcs_summary():
    text = describe_wcs(small_wcs(), (4, 5))
    assert "centre  RA 150.000000 Dec +2.000000 deg" in text
    assert "field   0.017 x 0.013 arcmin" in text
    assert "+y axis 0.00 deg east of north" in text and "flipped" not in text
    assert describe_wcs(None, (4, 5)) == "WCS: none"


@pytest.mark.parametrize(("cards", "expected"), [
    ({"BUNIT": "nJy"}, "scale to nJy 1 (AB zero point 31.4001)"),
    ({"MAGZERO": 27.0}, "scale to nJy 57.5475 (AB zero point 27.0000)"),
    ({"FLUXMAG0": 1e11}, "scale to nJy 36.31 (AB zero point 27.5000)"),
    ({"MAGZERO": "junk"}, "invalid (MAGZERO is not a number"),
])
def test_calibration_line(cards, expected):
    assert expected in describe_calibration(cards)




def test_info_command_on_demo_output(demo, capsys):
    folder, paths = demo
    assert main(["info", str(folder / "coadd.fits"), str(paths[1])]) == 0
    out = capsys.readouterr().out
    assert out.count("INPUTS (3 warps, 3 used):") == 1 and "VISIT: 1007" in out
    assert "\n\n" + str(paths[1]) + ": warp" in out


@pytest.mark.parametrize(("make", "code", "message"), [
    (lambda p: None, 3, "no such file"),
    (lambda p: p.write_bytes(b"not fits at all" * 300), 3, "not a readable FITS file"),
    (lambda p: fits.PrimaryHDU(np.zeros((2, 2))).writeto(p), 3, "missing extension IMAGE, MASK, VARIANCE"),
])
def test_info_errors(tmp_path, capsys, make, code, message):
    path = tmp_path / "x.fits"
    make(path)
    assert main(["info", str(path)]) == code
    err = capsys.readouterr().err
    assert message in err and str(path) in err


def test_info_on_a_directory(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 3
    assert "is a directory" in capsys.readouterr().err

