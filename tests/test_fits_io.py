"""Reading warp files (SPEC §1): layouts, dtypes, compression, mask planes by name, and errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _warpfiles import patch_wcs
from astropy.io import fits
from conftest import bit

import fastcoadd as fc
from fastcoadd._io.fits_warp import FitsWarp
from fastcoadd._io.handles import HandlePool
from fastcoadd.demo import write_warp


@pytest.fixture
def pool():
    handles = HandlePool()
    yield handles
    handles.close_all()


def planes_for(seed: int, shape=(8, 10)):
    rng = np.random.default_rng(seed)
    image = rng.normal(100.0, 5.0, shape).astype(np.float32)
    variance = rng.uniform(20.0, 30.0, shape).astype(np.float32)
    mask = np.zeros(shape, np.int32)
    mask[0, :3] = bit("SAT")
    mask[2, 4] = bit("BAD")
    image[3, 3] = np.nan
    return image, mask, variance


def write(path, seed=0, shape=(8, 10), calibration=None, visit=None, **kwargs):
    image, mask, variance = planes_for(seed, shape)
    write_warp(path, image, mask, variance, visit=seed + 1 if visit is None else visit,
               calibration=calibration or {"MAGZERO": 27.0}, wcs=patch_wcs(shape), **kwargs)
    return path


def test_reads_planes_by_extname_and_calibration(tmp_path, pool):
    warp = FitsWarp(write(tmp_path / "w.fits"), pool)
    image, mask, variance = planes_for(0)
    assert warp.shape == (8, 10) and warp.visit == 1
    np.testing.assert_array_equal(warp.read("IMAGE", slice(2, 5), slice(1, 7)), image[2:5, 1:7])
    np.testing.assert_array_equal(warp.read("MASK", slice(None), slice(None)), mask)
    tile = warp.read("VARIANCE", slice(0, 8), slice(0, 10))
    assert tile.dtype.isnative and tile.flags.c_contiguous
    np.testing.assert_array_equal(tile, variance)
    assert warp.calibration == {"MAGZERO": 27.0}
    warp.close()


def test_extension_order_and_extra_hdus_do_not_matter(tmp_path, pool):
    image, mask, variance = planes_for(1)
    header = patch_wcs().to_header()
    hdus = [fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("A", "J", array=[1, 2])], name="JUNK"),
            fits.ImageHDU(variance, header=header, name="VARIANCE"), fits.ImageHDU(mask, name="MASK"),
            fits.ImageHDU(image, header=header, name="IMAGE"),
            fits.BinTableHDU.from_columns([fits.Column("B", "D", array=[1.0])], name="ARCHIVE_INDEX")]
    for hdu in hdus[2:5]:
        hdu.header["EXTTYPE"] = "MASK"
    hdus[4].header["BUNIT"] = "nJy"
    fits.HDUList(hdus).writeto(tmp_path / "lsst.fits")
    warp = FitsWarp(tmp_path / "lsst.fits", pool)
    np.testing.assert_array_equal(warp.read("IMAGE", slice(None), slice(None)), image)
    np.testing.assert_array_equal(warp.read("VARIANCE", slice(None), slice(None)), variance)
    assert warp.calibration["BUNIT"] == "nJy" and warp.visit is None
    assert warp.planes["NO_DATA"] == 8  # LSST defaults without MP_ cards


def test_compressed_warp_reads_by_sections_and_matches_uncompressed(tmp_path, pool):
    plain = write(tmp_path / "plain.fits", seed=3, shape=(40, 50))
    packed = write(tmp_path / "packed.fits", seed=3, shape=(40, 50), compressed=True)
    with fits.open(packed) as hdul:
        assert isinstance(hdul["IMAGE"], fits.CompImageHDU)
    a, b = FitsWarp(plain, pool), FitsWarp(packed, pool)
    for plane in ("IMAGE", "MASK", "VARIANCE"):
        np.testing.assert_array_equal(a.read(plane, slice(5, 17), slice(9, 41)), b.read(plane, slice(5, 17), slice(9, 41)))
    config = fc.CoaddConfig(statistic="mean")
    r1 = fc.assemble([plain], config)
    r2 = fc.assemble([packed], config)
    np.testing.assert_array_equal(r1.image, r2.image)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.int64])
def test_any_integer_mask_width(tmp_path, dtype, pool):
    image, mask, variance = planes_for(4)
    path = tmp_path / "m.fits"
    write_warp(path, image, mask.astype(dtype), variance, visit=1, calibration={"BUNIT": "nJy"}, wcs=patch_wcs())
    got = FitsWarp(path, pool).read("MASK", slice(None), slice(None))
    np.testing.assert_array_equal(got.astype(np.int64), mask)


def test_float64_planes_are_accepted(tmp_path):
    image, mask, variance = planes_for(5)
    path = tmp_path / "f64.fits"
    write_warp(path, image.astype(np.float64), mask, variance.astype(np.float64), visit=1,
               calibration={"BUNIT": "nJy"}, wcs=patch_wcs())
    result = fc.assemble([path], fc.CoaddConfig(statistic="mean", interpolate=False))
    np.testing.assert_array_equal(result.image[~np.isnan(result.image)], image[~np.isnan(image) & (mask == 0)])


def test_mask_planes_are_matched_by_name(tmp_path):
    """The same plane at different bits in two warps lands on one output bit."""
    image, _, variance = planes_for(6)
    shuffled = {"SAT": 3, "BAD": 0, "NO_DATA": 8, "CR": 1, "EDGE": 4, "MYPLANE": 12}
    mask_a = np.zeros(image.shape, np.int32)
    mask_b = np.zeros(image.shape, np.int32)
    mask_a[0, 0] = bit("SAT")
    mask_b[0, 1] = 1 << shuffled["SAT"]
    mask_b[0, 2] = 1 << shuffled["MYPLANE"]
    write_warp(tmp_path / "a.fits", image, mask_a, variance, visit=1, calibration={"BUNIT": "nJy"}, wcs=patch_wcs())
    write_warp(tmp_path / "b.fits", image, mask_b, variance, visit=2, calibration={"BUNIT": "nJy"}, wcs=patch_wcs(),
               mask_planes=shuffled)
    config = fc.CoaddConfig(statistic="mean", bad_planes=(), interpolate=False, flag_rejections=False)
    result = fc.assemble([tmp_path / "a.fits", tmp_path / "b.fits"], config)
    sat = 1 << result.planes["SAT"]
    assert result.planes["SAT"] == 1  # kept from the first warp in canonical order
    assert result.mask[0, 0] == sat and result.mask[0, 1] == sat
    assert result.mask[0, 2] == 1 << result.planes["MYPLANE"]
    assert len(set(result.planes.values())) == len(result.planes)


def test_hierarch_plane_cards_are_read(tmp_path, pool):
    path = write(tmp_path / "h.fits")
    with fits.open(path) as hdul:
        assert "MP_NO_DATA" in hdul["MASK"].header and "MP_DETECTED" in hdul["MASK"].header
    assert FitsWarp(path, pool).planes["NO_DATA"] == 8


@pytest.mark.parametrize(("calibration", "scale"), [
    ({"BUNIT": "nJy"}, 1.0),
    ({"MAGZERO": 27.0}, 3631e9 * 10 ** (-0.4 * 27.0)),
    ({"FLUXMAG0": 6.3e10}, 3631e9 / 6.3e10),
])
def test_calibration_to_njy(tmp_path, calibration, scale):
    path = write(tmp_path / "c.fits", calibration=calibration)
    result = fc.assemble([path], fc.CoaddConfig(statistic="mean", interpolate=False))
    assert result.inputs[0].scale == pytest.approx(scale, rel=1e-12)
    image, mask, _ = planes_for(0)
    good = np.isfinite(image) & (mask & (bit("BAD") | bit("SAT")) == 0)
    np.testing.assert_allclose(result.image[good], image[good] * scale, rtol=1e-6)


def test_missing_calibration_is_an_error_unless_a_zero_point_is_given(tmp_path):
    path = tmp_path / "nocal.fits"
    image, mask, variance = planes_for(0)
    write_warp(path, image, mask, variance, visit=1, calibration={}, wcs=patch_wcs())
    with pytest.raises(fc.CalibrationError, match=r"nocal\.fits"):
        fc.assemble([path])
    result = fc.assemble([path], zero_points=27.0)
    assert result.inputs[0].scale == pytest.approx(3631e9 * 10 ** (-0.4 * 27.0))


def test_non_finite_calibration_is_an_error(tmp_path):
    path = write(tmp_path / "nan.fits", calibration={"FLUXMAG0": -5.0})
    with pytest.raises(fc.CalibrationError, match="FLUXMAG0"):
        fc.assemble([path])


@pytest.mark.parametrize("missing", ["IMAGE", "MASK", "VARIANCE"])
def test_missing_extension(tmp_path, missing):
    image, mask, variance = planes_for(0)
    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU(data, name=name) for name, data in
                                  (("IMAGE", image), ("MASK", mask), ("VARIANCE", variance)) if name != missing]
    fits.HDUList(hdus).writeto(tmp_path / "x.fits")
    with pytest.raises(fc.WarpFormatError, match=f"missing extension {missing}"):
        fc.assemble([tmp_path / "x.fits"])


def test_truncated_file(tmp_path):
    path = write(tmp_path / "t.fits", shape=(100, 100))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 30000])
    with pytest.raises(fc.WarpFormatError, match=r"t\.fits.*truncated"):
        fc.assemble([path])


@pytest.mark.parametrize("content", [b"", b"hello, not a FITS file\n" * 200])
def test_not_fits(tmp_path, content):
    path = tmp_path / "junk.fits"
    path.write_bytes(content)
    with pytest.raises(fc.WarpFormatError, match=r"junk\.fits"):
        fc.assemble([path])


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(fc.WarpFormatError, match="directory"):
        fc.assemble([tmp_path])
    with pytest.raises(fc.WarpFormatError, match="No such file"):
        fc.assemble([tmp_path / "absent.fits"])


def test_shape_mismatch_names_the_file(tmp_path):
    a = write(tmp_path / "a.fits", seed=0)
    b = write(tmp_path / "b.fits", seed=1, shape=(8, 11))
    with pytest.raises(fc.IncompatibleWarpError, match=r"b.fits: shape \(8, 11\) differs"):
        fc.assemble([a, b])


def test_wcs_mismatch_names_the_file_and_the_quantity(tmp_path):
    a = write(tmp_path / "a.fits", seed=0)
    image, mask, variance = planes_for(1)
    write_warp(tmp_path / "b.fits", image, mask, variance, visit=2, calibration={"MAGZERO": 27.0},
               wcs=patch_wcs(crval=(150.1 + 1e-5, 2.2)))
    with pytest.raises(fc.IncompatibleWarpError, match=r"b\.fits: WCS differs.*CRVAL"):
        fc.assemble([a, tmp_path / "b.fits"])


def test_wcs_within_tolerance_is_accepted(tmp_path):
    a = write(tmp_path / "a.fits", seed=0)
    image, mask, variance = planes_for(1)
    write_warp(tmp_path / "b.fits", image, mask, variance, visit=2, calibration={"MAGZERO": 27.0},
               wcs=patch_wcs(crval=(150.1 * (1 + 1e-12), 2.2)))
    assert fc.assemble([a, tmp_path / "b.fits"]).n_used == 2


def test_integer_image_is_rejected(tmp_path):
    image, mask, variance = planes_for(0)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.nan_to_num(image).astype(np.int16), name="IMAGE"),
                  fits.ImageHDU(mask, name="MASK"), fits.ImageHDU(variance, name="VARIANCE")]).writeto(tmp_path / "i.fits")
    with pytest.raises(fc.WarpFormatError, match="IMAGE has integer BITPIX"):
        fc.assemble([tmp_path / "i.fits"])


def test_each_file_is_opened_once_per_run(tmp_path, monkeypatch):
    paths = [write(tmp_path / f"w{i}.fits", seed=i) for i in range(4)]
    opened: list[str] = []
    real_open = FitsWarp._open

    def counting_open(self):
        opened.append(self.name)
        return real_open(self)

    monkeypatch.setattr(FitsWarp, "_open", counting_open)
    fc.assemble(paths, fc.CoaddConfig(tile_shape=(2, 3)))
    assert sorted(opened) == sorted(str(p) for p in paths)


def test_few_descriptors_for_many_warps(tmp_path, monkeypatch):
    """With a pool of 3 handles, 8 warps still assemble (files are reopened as needed)."""
    assemble_module = sys.modules["fastcoadd.assemble"]

    paths = [write(tmp_path / f"w{i}.fits", seed=i) for i in range(8)]
    monkeypatch.setattr(assemble_module, "HandlePool", lambda: HandlePool(capacity=3))
    small = fc.assemble(paths, fc.CoaddConfig(tile_shape=(3, 10)))
    monkeypatch.undo()
    np.testing.assert_array_equal(small.image, fc.assemble(paths, fc.CoaddConfig(tile_shape=(3, 10))).image)


def test_open_view_maps_stored_values_and_declines_planes_that_need_decoding(tmp_path, pool):
    plain = FitsWarp(write(tmp_path / "plain.fits", seed=7, shape=(30, 20)), pool)
    for plane in ("IMAGE", "MASK", "VARIANCE"):
        view = plain.open_view(plane, slice(4, 19), slice(3, 17))
        assert not view.array.dtype.isnative and not view.array.flags.writeable  # the file's own bytes
        np.testing.assert_array_equal(view.array, plain.read(plane, slice(4, 19), slice(3, 17)))
        view.close()
        assert view.array is None
    packed = FitsWarp(write(tmp_path / "packed.fits", seed=7, shape=(30, 20), compressed=True), pool)
    assert packed.open_view("IMAGE", slice(0, 5), slice(None)) is None
    image, mask, variance = planes_for(8)
    write_warp(tmp_path / "u16.fits", image, mask.astype(np.uint16), variance, visit=1,
               calibration={"BUNIT": "nJy"}, wcs=patch_wcs())
    unsigned = FitsWarp(tmp_path / "u16.fits", pool)
    assert unsigned.open_view("MASK", slice(None), slice(None)) is None  # BZERO = 32768
    assert unsigned.open_view("IMAGE", slice(None), slice(None)) is not None


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_online_mean_over_every_kind_of_plane_equals_the_tiled_mean(tmp_path, threads):
    """Mapped, compressed, unsigned, 64-bit and renumbered planes: the online mean's row blocks
    give the tiled kernel's bits, whatever the tile shape and the number of threads."""
    shape = (37, 29)
    paths = [write(tmp_path / "plain.fits", seed=1, shape=shape),
             write(tmp_path / "packed.fits", seed=2, shape=shape, compressed=True)]
    for seed, (name, mask_dtype, float_dtype, planes) in enumerate(
            [("u16.fits", np.uint16, np.float32, None), ("i64.fits", np.int64, np.float64, None),
             ("moved.fits", np.int32, np.float32, {"SAT": 3, "BAD": 0, "NO_DATA": 8, "EDGE": 4, "MINE": 9})],
            start=3):
        image, mask, variance = planes_for(seed, shape)
        if planes is not None:
            mask = np.where(mask == bit("SAT"), 1 << 3, mask)
        write_warp(tmp_path / name, image.astype(float_dtype), mask.astype(mask_dtype), variance.astype(float_dtype),
                   visit=seed + 1, calibration={"MAGZERO": 27.0 + seed / 10}, wcs=patch_wcs(shape),
                   mask_planes=planes)
        paths.append(tmp_path / name)
    tiled = fc.assemble(paths, fc.CoaddConfig(statistic="mean", online_mean=False, threads=threads))
    for tile_shape in [(5, 29), (37, 29), (4, 11)]:
        online = fc.assemble(paths, fc.CoaddConfig(statistic="mean", threads=threads, tile_shape=tile_shape))
        for plane in ("image", "variance", "mask", "nimage"):
            np.testing.assert_array_equal(getattr(online, plane).view(np.uint8), getattr(tiled, plane).view(np.uint8),
                                          err_msg=f"{plane} {tile_shape}")
