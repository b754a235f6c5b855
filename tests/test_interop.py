"""astropy interoperability: NDData/CCDData warps, coadds as CCDData and HDUList, coadd files read back."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import (
    CCDData,
    InverseVariance,
    NDData,
    StdDevUncertainty,
    UnknownUncertainty,
    VarianceUncertainty,
)
from astropy.table import Table
from astropy.wcs import WCS
from conftest import bit

import fastcoadd as fc
from fastcoadd.interop import coadd_to_hdulist, config_from_header, read_coadd, warp_from_nddata

SHAPE = (6, 7)


def patch_wcs() -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [4.0, 3.5]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.cd = [[-5.5e-5, 0.0], [0.0, 5.5e-5]]
    return wcs


def arrays(seed: int):
    rng = np.random.default_rng(seed)
    image = rng.normal(10.0, 1.0, SHAPE).astype(np.float32)
    variance = np.full(SHAPE, 1.0 + seed, np.float32)
    mask = np.zeros(SHAPE, np.int32)
    mask[1, 2] = bit("BAD") if seed == 0 else 0
    mask[0, :] |= bit("DETECTED")
    return image, mask, variance


def warps(n: int = 3):
    return [fc.Warp(*arrays(i), calibration={"BUNIT": "nJy"}, wcs=patch_wcs(), visit=10 + i, name=f"w{i}")
            for i in range(n)]


def ccds(n: int = 3):
    out = []
    for i in range(n):
        image, mask, variance = arrays(i)
        out.append(CCDData(image, unit="nJy", flags=mask, uncertainty=StdDevUncertainty(np.sqrt(variance)),
                           wcs=patch_wcs(), meta={"VISIT": 10 + i, "FILENAME": f"w{i}"}))
    return out


@pytest.fixture
def result():
    return fc.assemble(warps(), fc.CoaddConfig(interpolate=False))


# -- NDData / CCDData in ----------------------------------------------------------------------
def test_ccddata_becomes_an_equivalent_warp():
    warp = warp_from_nddata(ccds(1)[0])
    image, mask, variance = arrays(0)
    np.testing.assert_array_equal(warp.image, image)
    np.testing.assert_array_equal(warp.mask, mask)
    np.testing.assert_allclose(warp.variance, variance, rtol=1e-6)
    assert warp.calibration == {"BUNIT": "nJy"} and warp.visit == 10 and warp.name == "w0"
    assert warp.wcs is not None and warp.wcs.wcs.ctype[0] == "RA---TAN"


@pytest.mark.parametrize(("uncertainty", "expected"), [
    (VarianceUncertainty(np.full(SHAPE, 4.0)), 4.0),
    (StdDevUncertainty(np.full(SHAPE, 2.0)), 4.0),
    (InverseVariance(np.full(SHAPE, 0.25)), 4.0),
    (InverseVariance(np.zeros(SHAPE)), math.inf),
])
def test_uncertainty_kinds_become_a_variance(uncertainty, expected):
    warp = warp_from_nddata(NDData(np.ones(SHAPE, np.float32), uncertainty=uncertainty, unit="nJy"))
    np.testing.assert_allclose(warp.variance, expected)


def test_uncertainty_in_other_units_is_converted():
    data = NDData(np.ones(SHAPE), unit="nJy", uncertainty=StdDevUncertainty(np.full(SHAPE, 0.002), unit="uJy"))
    np.testing.assert_allclose(warp_from_nddata(data).variance, 4.0)


@pytest.mark.parametrize(("unit", "scale"), [("nJy", 1.0), ("uJy", 1e3), ("Jy", 1e9),
                                             (u.erg / u.s / u.cm**2 / u.Hz, 1e32)])
def test_flux_density_units_calibrate_the_warp(unit, scale):
    data = NDData(np.ones(SHAPE), unit=unit, uncertainty=VarianceUncertainty(np.ones(SHAPE)))
    result = fc.assemble([warp_from_nddata(data)])
    assert result.inputs[0].scale == pytest.approx(scale, rel=1e-12)
    np.testing.assert_allclose(result.image, scale, rtol=1e-6)


@pytest.mark.parametrize("unit", [None, "adu", "electron", "ct", ""])
def test_counts_take_the_zero_point_or_the_meta_calibration(unit):
    def make(**meta):
        return NDData(np.ones(SHAPE), unit=unit, uncertainty=VarianceUncertainty(np.ones(SHAPE)), meta=meta)

    def scale(data, **kwargs):
        return fc.assemble([warp_from_nddata(data)], **kwargs).inputs[0].scale

    with pytest.raises(fc.CalibrationError, match="zero point"):
        scale(make())
    expected = 3631e9 * 10 ** (-0.4 * 27.0)
    assert scale(make(), zero_points=27.0) == pytest.approx(expected)
    assert fc.assemble([warp_from_nddata(make(), zero_point=27.0)]).inputs[0].scale == pytest.approx(expected)
    assert scale(make(MAGZERO=27.0)) == pytest.approx(expected)
    assert scale(make(fluxmag0=1e4)) == pytest.approx(3631e9 / 1e4)


def test_boolean_mask_sets_a_bad_plane():
    mask = np.zeros(SHAPE, bool)
    mask[2, 3] = True
    data = NDData(np.ones(SHAPE), unit="nJy", uncertainty=VarianceUncertainty(np.ones(SHAPE)), mask=mask)
    assert warp_from_nddata(data).mask[2, 3] == bit("BAD")
    assert warp_from_nddata(data, mask_plane="NO_DATA").mask[2, 3] == bit("NO_DATA")
    good = NDData(np.full(SHAPE, 5.0), unit="nJy", uncertainty=VarianceUncertainty(np.ones(SHAPE)))
    result = fc.assemble([warp_from_nddata(data), warp_from_nddata(good)], fc.CoaddConfig(interpolate=False))
    assert result.nimage[2, 3] == 1 and result.image[2, 3] == 5.0


def test_ccddata_boolean_mask_and_bitmask_flags_combine():
    flags = np.zeros(SHAPE, np.int32)
    flags[0, 0] = bit("DETECTED")
    mask = np.zeros(SHAPE, bool)
    mask[0, :2] = True
    ccd = CCDData(np.ones(SHAPE), unit="nJy", mask=mask, flags=flags,
                  uncertainty=VarianceUncertainty(np.ones(SHAPE)))
    warp = warp_from_nddata(ccd)
    assert warp.mask[0, 0] == bit("DETECTED") | bit("BAD") and warp.mask[0, 1] == bit("BAD")
    assert np.count_nonzero(warp.mask) == 2


def test_integer_mask_planes_from_meta_cards():
    mask = np.full(SHAPE, 1 << 20, np.int32)
    data = NDData(np.ones(SHAPE), unit="nJy", mask=mask, uncertainty=VarianceUncertainty(np.ones(SHAPE)),
                  meta={"MP_GHOST": 20, "MP_NO_DATA": 8})
    warp = warp_from_nddata(data)
    assert warp.mask_planes == {"GHOST": 20, "NO_DATA": 8}
    assert "GHOST" in fc.assemble([warp]).planes


@pytest.mark.parametrize(("make", "match"), [
    (lambda: NDData(np.ones(SHAPE), unit="nJy"), "no uncertainty"),
    (lambda: NDData(np.ones(SHAPE), unit="nJy", uncertainty=UnknownUncertainty(np.ones(SHAPE))), "cannot be read"),
    (lambda: NDData(np.ones(3), unit="nJy", uncertainty=VarianceUncertainty(np.ones(3))), "2-D"),
    (lambda: NDData(np.ones(SHAPE), unit="mag", uncertainty=VarianceUncertainty(np.ones(SHAPE))), "flux density"),
    (lambda: NDData(np.ones(SHAPE), unit="nJy", uncertainty=VarianceUncertainty(np.ones(SHAPE)),
                    mask=np.ones((2, 2), bool)), "mask has shape"),
])
def test_unusable_nddata_is_a_warp_format_error(make, match):
    with pytest.raises(fc.WarpFormatError, match=match):
        warp_from_nddata(make())


def test_zero_point_for_calibrated_data_is_refused():
    data = NDData(np.ones(SHAPE), unit="Jy", uncertainty=VarianceUncertainty(np.ones(SHAPE)))
    with pytest.raises(fc.ConfigError, match="calibrated already"):
        warp_from_nddata(data, zero_point=27.0)


def test_integer_data_become_float():
    data = NDData(np.ones(SHAPE, np.int16), unit="adu", uncertainty=VarianceUncertainty(np.ones(SHAPE)))
    assert warp_from_nddata(data, zero_point=27.0).image.dtype == np.float32


# -- coadds out ------------------------------------------------------------------------------
def test_to_hdulist_is_what_write_coadd_writes(result, tmp_path):
    path = fc.write_coadd(result, tmp_path / "c.fits")
    built = result.to_hdulist()
    with fits.open(path) as written:
        assert [h.name for h in built] == [h.name for h in written]
        for a, b in zip(built, written, strict=True):
            ignored = ("CHECKSUM", "DATASUM", "DATE")  # DATE: when the file was written
            assert {k: v for k, v in a.header.items() if k not in ignored} == \
                   {k: v for k, v in b.header.items() if k not in ignored}
            if isinstance(a, fits.BinTableHDU):
                assert Table(a.data).pformat() == Table(b.data).pformat()
            elif a.data is not None:
                np.testing.assert_array_equal(a.data, b.data)


def test_to_ccddata(result, tmp_path):
    ccd = result.to_ccddata()
    assert ccd.unit == u.nJy and ccd.data is result.image
    np.testing.assert_array_equal(ccd.uncertainty.array, result.variance)
    assert ccd.uncertainty.uncertainty_type == "var"
    np.testing.assert_array_equal(ccd.mask, result.plane("NO_DATA"))
    assert ccd.meta["STATISTIC"] == "MEANCLIP" and ccd.meta["MP_NO_DATA"] == result.planes["NO_DATA"]
    assert ccd.wcs.wcs.ctype[0] == "RA---TAN"
    ccd.write(tmp_path / "ccd.fits")  # a plain CCDData file
    back = CCDData.read(tmp_path / "ccd.fits")
    np.testing.assert_array_equal(back.data, result.image)
    with pytest.raises(fc.ConfigError, match="not one of"):
        result.to_ccddata(mask_planes=("NOPE",))
    clipped_or_nodata = result.to_ccddata(mask_planes=("NO_DATA", "CLIPPED")).mask
    np.testing.assert_array_equal(clipped_or_nodata, result.plane("NO_DATA") | result.plane("CLIPPED"))


def test_coadd_of_ccddata_round_trips_through_assemble(result):
    # a coadd handed back as an input warp (e.g. to stack coadds) reads as one
    again = fc.assemble([warp_from_nddata(result.to_ccddata())], fc.CoaddConfig(interpolate=False))
    finite = np.isfinite(result.image) & ~result.plane("NO_DATA")
    np.testing.assert_allclose(again.image[finite], result.image[finite], rtol=1e-6)


# -- coadd files read back --------------------------------------------------------------------
def test_read_coadd_gives_back_the_result(result, tmp_path):
    path = fc.write_coadd(result, tmp_path / "c.fits")
    back = fc.read_coadd(path)
    for name in ("image", "mask", "variance", "nimage"):
        np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
        assert getattr(back, name).dtype.isnative
    assert back.planes == result.planes
    assert back.inputs == result.inputs
    assert back.config == fc.CoaddConfig(interpolate=False)
    assert back.wcs is not None and np.allclose(back.wcs.wcs.crval, result.wcs.wcs.crval)
    assert back.stats["source"] == str(path)


def test_inputs_as_an_astropy_table_match_the_file(result, tmp_path):
    path = fc.write_coadd(result, tmp_path / "c.fits")
    table = result.inputs_table()
    assert isinstance(table, Table) and table.colnames == ["file", "visit", "scale", "weight", "used", "reason"]
    from_file = Table.read(path, hdu="INPUTS")
    assert list(from_file["FILE"]) == list(table["file"])
    assert list(from_file["VISIT"]) == list(table["visit"])
    np.testing.assert_array_equal(from_file["WEIGHT"], table["weight"])
    assert list(read_coadd(path).inputs_table()["file"]) == list(table["file"])


def test_skipped_input_round_trips(tmp_path):
    nan = fc.Warp(np.full(SHAPE, np.nan, np.float32), np.zeros(SHAPE, np.int32), np.ones(SHAPE, np.float32),
                  calibration={"BUNIT": "nJy"}, wcs=patch_wcs(), name="empty")
    result = fc.assemble([*warps(2), nan])
    back = read_coadd(fc.write_coadd(result, tmp_path / "c.fits"))
    record = next(r for r in back.inputs if r.file == "empty")
    assert not record.used and "NaN" in record.reason and math.isnan(record.weight) and record.visit is None


def test_read_coadd_refuses_a_warp(tmp_path):
    from fastcoadd.demo import write_warp

    image, mask, variance = arrays(0)
    write_warp(tmp_path / "w.fits", image, mask, variance, visit=1, calibration={"BUNIT": "nJy"}, wcs=patch_wcs())
    with pytest.raises(fc.WarpFormatError, match="not a coadd: missing extension NIMAGE, INPUTS"):
        read_coadd(tmp_path / "w.fits")
    with pytest.raises(fc.WarpFormatError, match="no such file"):
        read_coadd(tmp_path / "nope.fits")


def test_config_from_header_tolerates_missing_and_odd_cards():
    assert config_from_header(fits.Header()) == fc.CoaddConfig()
    header = {"STATISTIC": "MEAN", "CLIPSIG": 2.5, "PROPTHR": "SAT:0.2,CR:0.5", "TARGETZP": 27.0,
              "VARSCAT": True}
    config = config_from_header(header)
    assert config.statistic == "mean" and config.sigma == 2.5 and config.variance_from_scatter
    assert config.propagation_thresholds == (("SAT", 0.2), ("CR", 0.5)) and config.target_zero_point == 27.0
    assert config_from_header({"STATISTIC": "BOGUS"}) == fc.CoaddConfig()


def test_hdulist_writer_is_shared(result):
    hdul = coadd_to_hdulist(result)
    assert hdul[0].header["NINPUTS"] == result.n_used and hdul[0].header["FCVERS"] == fc.__version__


def test_to_hdulist_date(result, monkeypatch):
    assert "DATE" not in result.to_hdulist(date=False)[0].header
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    assert result.to_hdulist()[0].header["DATE"] == "1970-01-02T00:00:00"


def test_assemble_accepts_ccddata_and_nddata_like_warps():
    expected = fc.assemble(warps(), fc.CoaddConfig(interpolate=False))
    from_ccd = fc.assemble(ccds(), fc.CoaddConfig(interpolate=False))
    np.testing.assert_allclose(from_ccd.image, expected.image, rtol=1e-6)
    np.testing.assert_array_equal(from_ccd.mask, expected.mask)
    assert [r.file for r in from_ccd.inputs] == ["w0", "w1", "w2"]
    nddata = [NDData(w.image, uncertainty=VarianceUncertainty(w.variance), mask=w.mask, unit="nJy",
                     wcs=w.wcs) for w in warps()]
    mixed = fc.assemble([nddata[0], warps()[1], ccds()[2]], fc.CoaddConfig(interpolate=False))
    np.testing.assert_allclose(mixed.image, expected.image, rtol=1e-6)
    counts = NDData(np.ones(SHAPE), unit="adu", uncertainty=VarianceUncertainty(np.ones(SHAPE)))
    with pytest.raises(fc.CalibrationError, match="zero point"):
        fc.assemble([counts])
    assert fc.assemble([counts], zero_points=27.0).inputs[0].scale == pytest.approx(3631e9 * 10 ** (-10.8))
    again = fc.assemble(expected.to_ccddata(), fc.CoaddConfig(interpolate=False))  # one coadd as the input
    np.testing.assert_allclose(again.image, expected.image, rtol=1e-6)


def test_write_coadd_writes_to_hdulist_byte_for_byte(result, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    for date in (True, False):
        path = fc.write_coadd(result, tmp_path / f"c{date}.fits", date=date)
        result.to_hdulist(date=date).writeto(tmp_path / "built.fits", overwrite=True)
        assert path.read_bytes() == (tmp_path / "built.fits").read_bytes()
