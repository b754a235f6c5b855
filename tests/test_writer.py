"""The coadd file (SPEC §2): layout, header, INPUTS table, plane cards, atomic replacement."""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from conftest import memory_warp

import fastcoadd as fc
from fastcoadd._io import coadd_writer


@pytest.fixture
def result():
    rng = np.random.default_rng(0)
    warps = [memory_warp(rng.normal(5, 1, (6, 7)), variance=1.0, visit=10 + i, name=f"w{i}.fits") for i in range(3)]
    warps.append(memory_warp(np.full((6, 7), np.nan), variance=np.nan, visit=99, name="empty.fits"))
    return fc.assemble(warps)


def test_layout_and_header(result, tmp_path):
    path = fc.write_coadd(result, tmp_path / "coadd.fits")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE", "NIMAGE", "INPUTS"]
        header = hdul[0].header
        assert header["BUNIT"] == "nJy" and header["NINPUTS"] == 3 and header["NSKIPPED"] == 1
        assert header["STATISTIC"] == "MEANCLIP" and header["CLIPSIG"] == 3.0 and header["CLIPITER"] == 2
        assert header["BADPLANE"] == "NO_DATA,BAD,SAT,EDGE" and header["FCVERS"] == fc.__version__
        assert hdul["IMAGE"].data.dtype == np.dtype(">f4") and hdul["MASK"].data.dtype == np.dtype(">i4")
        assert hdul["NIMAGE"].data.dtype == np.dtype(">i4")
        np.testing.assert_array_equal(hdul["IMAGE"].data, result.image)
        np.testing.assert_array_equal(hdul["NIMAGE"].data, result.nimage)
        mask_header = hdul["MASK"].header
        for name, bit in result.planes.items():
            assert mask_header[f"MP_{name}"] == bit
        for added in ("NO_DATA", "CLIPPED", "REJECTED", "SENSOR_EDGE", "INEXACT_PSF", "INTRP"):
            assert f"MP_{added}" in mask_header
    table = Table.read(path, hdu="INPUTS")
    assert list(table["FILE"]) == ["w0.fits", "w1.fits", "w2.fits", "empty.fits"]
    assert list(table["VISIT"]) == [10, 11, 12, 99]
    assert list(table["USED"]) == [True, True, True, False]
    assert table["REASON"][3] == "image is all NaN"
    np.testing.assert_allclose(table["WEIGHT"][:3], 1.0)


def test_coadd_reads_back_as_a_warp(result, tmp_path):
    """A coadd has the three warp planes, so it can itself be an input (e.g. to a deeper stack)."""
    path = fc.write_coadd(result, tmp_path / "coadd.fits")
    again = fc.assemble([path], fc.CoaddConfig(statistic="mean", interpolate=False))
    finite = np.isfinite(result.image)
    np.testing.assert_array_equal(again.image[finite], result.image[finite])


def test_failed_write_leaves_existing_file_and_no_temporary(result, tmp_path, monkeypatch):
    path = tmp_path / "coadd.fits"
    path.write_bytes(b"old")

    def broken_writeto(self, fileobj, **kwargs):
        fileobj.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fits.HDUList, "writeto", broken_writeto)
    with pytest.raises(fc.OutputError, match="No space left"):
        fc.write_coadd(result, path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["coadd.fits"]


def test_interrupted_write_leaves_nothing(result, tmp_path, monkeypatch):
    def interrupted(self, fileobj, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fits.HDUList, "writeto", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fc.write_coadd(result, tmp_path / "coadd.fits")
    assert os.listdir(tmp_path) == []


def test_output_errors(result, tmp_path):
    with pytest.raises(fc.OutputError, match="does not exist"):
        coadd_writer.write_atomic(fits.HDUList([fits.PrimaryHDU()]), tmp_path / "missing" / "c.fits")
    with pytest.raises(fc.OutputError, match="is a directory"):
        fc.write_coadd(result, tmp_path)


def test_output_equal_to_an_input_is_refused(tmp_path):
    from fastcoadd.demo import make_demo_warps

    paths = make_demo_warps(tmp_path, n_warps=2, shape=(16, 16))
    before = paths[0].read_bytes()
    with pytest.raises(fc.OutputError, match="is also an input"):
        fc.assemble(paths, output=paths[0])
    assert paths[0].read_bytes() == before


def test_same_inputs_give_a_byte_identical_file(tmp_path):
    from fastcoadd.demo import make_demo_warps

    paths = make_demo_warps(tmp_path / "w", n_warps=3, shape=(24, 24))
    fc.assemble(paths, output=tmp_path / "a.fits", config=fc.CoaddConfig(tile_shape=(5, 24), threads=1),
                date=False)
    fc.assemble(paths[::-1], output=tmp_path / "b.fits", config=fc.CoaddConfig(tile_shape=(24, 7), threads=2),
                date=False)
    assert (tmp_path / "a.fits").read_bytes() == (tmp_path / "b.fits").read_bytes()


def test_sip_distortion_survives_in_the_coadd_wcs(tmp_path):
    from astropy.wcs import WCS, Sip

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [5.0, 5.0]
    wcs.wcs.cd = np.diag([-5e-5, 5e-5])
    coefficients = np.zeros((3, 3))
    coefficients[2, 0] = 1e-6
    wcs.sip = Sip(coefficients, coefficients, None, None, wcs.wcs.crpix)
    warp = memory_warp(np.ones((10, 10)), wcs=wcs)
    path = tmp_path / "sip.fits"
    fc.assemble([warp], output=path)
    header = fits.getheader(path, "IMAGE")
    assert header["CTYPE1"] == "RA---TAN-SIP" and header["A_2_0"] == 1e-6
    assert WCS(header).sip is not None
