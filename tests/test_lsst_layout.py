"""Warps in the layout the LSST pipeline writes read as they are.

``write_lsst_warp`` builds, by hand, a file laid out like an afw ``ExposureF`` written by the
LSST pipeline: a primary HDU of metadata only, IMAGE / MASK / VARIANCE extensions that also
carry ``EXTTYPE`` and ``INHERIT``, the tract's TAN WCS plus the ``A`` (PARENT) pixel-offset WCS, the
image calibrated in nJy (``BUNIT = 'nJy'`` on the IMAGE header, not the primary), many mask
planes as ``HIERARCH MP_`` cards, and binary-table HDUs of the persisted objects (PSF, WCS,
photometric calibration, ...) after the three planes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.wcs import WCS

import fastcoadd as fc
from fastcoadd.info import describe

SHAPE = (24, 32)
#: A mask-plane dictionary as a recent LSST warp carries it (bits beyond the nine defaults).
LSST_PLANES = {
    "BAD": 0, "SAT": 1, "INTRP": 2, "CR": 3, "EDGE": 4, "DETECTED": 5, "DETECTED_NEGATIVE": 6,
    "SUSPECT": 7, "NO_DATA": 8, "CROSSTALK": 9, "NOT_DEBLENDED": 10, "UNMASKEDNAN": 11,
    "VIGNETTED": 12, "STREAK": 13, "SENSOR_EDGE": 14, "CLIPPED": 15, "INEXACT_PSF": 16, "REJECTED": 17,
}
ARCHIVE_TABLES = ("TransmissionCurve", "CoaddPsf", "SkyWcs", "PhotoCalib", "ApCorrMap", "ValidPolygon")


def lsst_wcs() -> WCS:
    """A patch of a tract grid: the tract's TAN projection, CRPIX far outside the patch."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crpix = [-1200.5, 3400.25]
    wcs.wcs.crval = [53.1, -27.9]
    wcs.wcs.cd = [[-5.5555555555556e-05, 0.0], [0.0, 5.5555555555556e-05]]
    wcs.wcs.radesys = "ICRS"
    return wcs


def write_lsst_warp(path, image, mask, variance, *, visit=None, calibrated=True, compressed=False,
                    stray_fluxmag0=False, planes=LSST_PLANES):
    """Write one warp in the LSST pipeline's ExposureF layout (see the module docstring)."""
    primary = fits.Header()
    primary["EXPTIME"] = 30.0
    primary["FILTER"] = "r"
    if visit is not None:
        primary["VISIT"] = visit
    primary["AR_HDU"] = (5, "HDU (1-indexed) containing the archive used to store ancillary objects")
    for key, value in {"PSF_ID": 1, "SKYWCS_ID": 3, "PHOTOCALIB_ID": 4, "APCORRMAP_ID": 5,
                       "VALIDPOLYGON_ID": 6, "TRANSMISSIONCURVE_ID": 0}.items():
        primary[f"HIERARCH {key}" if len(key) > 8 else key] = value
    primary["HIERARCH LSST BUTLER ID"] = "0c1f4d3a-7b1e-4bc9-a2b0-5d3c6f1e9a77"
    primary["HIERARCH LSST BUTLER DATASETTYPE"] = "deepCoadd_directWarp"
    if stray_fluxmag0:  # older pipeline versions also left the raw calibration in the metadata
        primary["FLUXMAG0"] = 6.3e10
    wcs_cards = lsst_wcs().to_header()

    def plane_header(exttype: str) -> fits.Header:
        header = fits.Header()
        header["INHERIT"] = True
        header["EXTTYPE"] = exttype
        header.update(wcs_cards)
        header.update({"LTV1": 1200, "LTV2": -3400, "CRPIX1A": 1.0, "CRPIX2A": 1.0, "CRVAL1A": 1200.0,
                       "CRVAL2A": -3400.0, "CTYPE1A": "LINEAR", "CTYPE2A": "LINEAR", "CUNIT1A": "PIXEL",
                       "CUNIT2A": "PIXEL", "WCSNAMEA": "PARENT"})
        return header

    image_header = plane_header("IMAGE")
    if calibrated:
        image_header["BUNIT"] = "nJy"
    mask_header = plane_header("MASK")
    for name, bit in planes.items():
        mask_header.append(fits.Card(f"HIERARCH MP_{name}", bit))
    variance_header = plane_header("VARIANCE")
    hdus = [fits.PrimaryHDU(header=primary)]
    for name, data, header in (("IMAGE", image, image_header), ("MASK", mask, mask_header),
                               ("VARIANCE", variance, variance_header)):
        if not compressed:
            hdus.append(fits.ImageHDU(data=data, header=header, name=name))
        elif name == "MASK":
            hdus.append(fits.CompImageHDU(data=data, header=header, name=name, compression_type="RICE_1"))
        else:  # lossless: GZIP without quantization keeps the float bits
            hdus.append(fits.CompImageHDU(data=data, header=header, name=name, compression_type="GZIP_2",
                                          quantize_level=0.0, tile_shape=(8, SHAPE[1])))
    index = fits.BinTableHDU.from_columns(
        [fits.Column("id", "J", array=np.arange(1, len(ARCHIVE_TABLES) + 1, dtype=np.int32)),
         fits.Column("cat.archive", "J", array=np.arange(len(ARCHIVE_TABLES), dtype=np.int32)),
         fits.Column("name", "32A", array=np.array(ARCHIVE_TABLES))])
    index.header["EXTTYPE"] = "ARCHIVE_INDEX"
    index.header["EXTNAME"] = "ARCHIVE_INDEX"
    index.header["AR_NCAT"] = len(ARCHIVE_TABLES)
    hdus.append(index)
    for number, name in enumerate(ARCHIVE_TABLES):
        table = fits.BinTableHDU.from_columns(
            [fits.Column("values", "D", array=np.linspace(0.0, 1.0, 7)),
             fits.Column("flag", "L", array=np.arange(7) % 2 == 0)])
        table.header["EXTTYPE"] = "ARCHIVE_DATA"
        table.header["EXTNAME"] = "ARCHIVE_DATA"
        table.header["AR_CATN"] = number
        table.header["AR_NAME"] = name
        hdus.append(table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        fits.HDUList(hdus).writeto(path, overwrite=True)
    return path


def lsst_arrays(seed: int):
    rng = np.random.default_rng(seed)
    image = rng.normal(100.0, 5.0, SHAPE).astype(np.float32)
    variance = np.full(SHAPE, 25.0, np.float32)
    mask = np.zeros(SHAPE, np.int32)
    mask[3, :] |= 1 << LSST_PLANES["STREAK"]
    if seed == 0:
        mask[5, 4:9] |= 1 << LSST_PLANES["SAT"]
    mask[:, -2:] = 1 << LSST_PLANES["NO_DATA"]
    image[:, -2:] = np.nan
    variance[:, -2:] = np.nan
    mask[10, 10] |= 1 << LSST_PLANES["SENSOR_EDGE"]
    return image, mask, variance


@pytest.fixture
def lsst_files(tmp_path):
    paths = []
    for i in range(4):
        image, mask, variance = lsst_arrays(i)
        paths.append(write_lsst_warp(tmp_path / f"warp_{i}.fits", image, mask, variance, visit=100 + i))
    return paths


def memory_twins(n: int = 4):
    wcs = lsst_wcs()
    return [fc.Warp(*lsst_arrays(i), calibration={"BUNIT": "nJy"}, wcs=wcs, visit=100 + i,
                    mask_planes=LSST_PLANES, name=f"warp_{i}.fits") for i in range(n)]


@pytest.mark.parametrize("statistic", ["mean", "meanclip"])
def test_lsst_warps_assemble_like_the_same_arrays_in_memory(lsst_files, statistic):
    config = fc.CoaddConfig(statistic=statistic)
    from_files = fc.assemble(lsst_files, config)
    in_memory = fc.assemble(memory_twins(), config)
    assert [r.scale for r in from_files.inputs] == [1.0] * 4  # BUNIT='nJy' on IMAGE: no conversion
    assert [r.visit for r in from_files.inputs] == [100, 101, 102, 103]
    np.testing.assert_array_equal(from_files.image, in_memory.image)
    np.testing.assert_array_equal(from_files.variance, in_memory.variance)
    np.testing.assert_array_equal(from_files.mask, in_memory.mask)
    np.testing.assert_array_equal(from_files.nimage, in_memory.nimage)


def test_lsst_planes_keep_their_names_and_bits(lsst_files):
    result = fc.assemble(lsst_files, fc.CoaddConfig(interpolate=False))
    for name, bit in LSST_PLANES.items():
        assert result.planes[name] == bit
    assert result.plane("STREAK")[3, :-2].all()  # a plane fastcoadd has no rule for passes through
    assert result.plane("NO_DATA")[:, -2:].all() and (result.nimage[:, -2:] == 0).all()
    # one input of four saturated: rejected, and SAT propagates (weight share above 0.1)
    assert result.plane("SAT")[5, 4:9].all() and result.plane("REJECTED")[5, 4:9].all()
    assert result.wcs is not None and result.wcs.wcs.ctype[0].startswith("RA---TAN")


def test_tile_compressed_lsst_warps_read_too(tmp_path, lsst_files):
    compressed = [write_lsst_warp(tmp_path / f"z_{i}.fits", *lsst_arrays(i), visit=100 + i, compressed=True)
                  for i in range(4)]
    a = fc.assemble(lsst_files)
    b = fc.assemble(compressed)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)


def test_stray_fluxmag0_in_the_primary_does_not_override_bunit(tmp_path):
    path = write_lsst_warp(tmp_path / "w.fits", *lsst_arrays(0), visit=1, stray_fluxmag0=True)
    assert fc.assemble([path]).inputs[0].scale == 1.0


def test_uncalibrated_lsst_warp_needs_a_zero_point(tmp_path):
    paths = [write_lsst_warp(tmp_path / f"c_{i}.fits", *lsst_arrays(i), visit=i, calibrated=False)
             for i in range(2)]
    with pytest.raises(fc.CalibrationError, match="give a zero point"):
        fc.assemble(paths)
    one = fc.assemble(paths, zero_points=27.0)
    per_warp = fc.assemble(paths, zero_points=[27.0, 27.0])
    expected = 3631e9 * 10 ** (-0.4 * 27.0)
    assert [r.scale for r in one.inputs] == pytest.approx([expected] * 2)
    np.testing.assert_array_equal(one.image, per_warp.image)


def test_uncalibrated_lsst_warp_zero_point_on_the_command_line(tmp_path, capsys):
    from fastcoadd.cli import main

    paths = [str(write_lsst_warp(tmp_path / f"c_{i}.fits", *lsst_arrays(i), visit=i, calibrated=False))
             for i in range(2)]
    out = tmp_path / "coadd.fits"
    assert main(["assemble", *paths, "-o", str(out)]) == fc.CalibrationError.exit_code
    assert "zero point" in capsys.readouterr().err
    assert main(["assemble", *paths, "-o", str(out), "--zero-point", "27", "-q"]) == 0
    assert out.exists()


def test_info_lists_the_archive_hdus_and_the_calibration(lsst_files):
    text = describe(lsst_files[0])
    assert "warp, 32 x 24 pixels" in text
    assert "EXTTYPE=ARCHIVE_INDEX" in text and text.count("EXTTYPE=ARCHIVE_DATA") == len(ARCHIVE_TABLES)
    assert "BUNIT='nJy'" in text and "scale to nJy 1" in text
    assert "STREAK" in text and "RA---TAN" in text


def test_preview_of_an_lsst_warp(lsst_files, tmp_path):
    pytest.importorskip("matplotlib")
    from fastcoadd.plotting import save_preview

    out = save_preview(lsst_files[0], tmp_path / "w.png", plane="STREAK")
    assert out.stat().st_size > 0
