"""Hostile inputs, one case each, through the API and through the command line.

Every error names the input and the problem, has its documented exit code, and stops
before anything is written; every skip follows SPEC §4 and is reported (INPUTS table,
warning, summary). docs/RELIABILITY.md lists these cases.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from _warpfiles import (
    SHAPE,
    data_span,
    header_span,
    leftovers,
    patch_wcs,
    plane_hdus,
    planes,
    set_card,
    write_hdus,
    write_valid,
)
from astropy.io import fits
from astropy.table import Table

import fastcoadd as fc
from fastcoadd.cli import main


@dataclass
class Case:
    """A hostile input: ``make(folder)`` returns the warp paths (and extra API/CLI arguments)."""

    id: str
    make: Callable[[Path], list]
    error: type[fc.FastcoaddError]
    message: str
    api: dict | None = None
    cli: tuple[str, ...] = ()


def good(folder: Path, seed: int = 0, **kwargs) -> Path:
    return write_valid(folder / f"good{seed}.fits", seed=seed, **kwargs)


def one_bad(name: str, make_bad: Callable[[Path], object]) -> Callable[[Path], list]:
    """A valid warp plus ``name`` made by ``make_bad(path)``."""

    def make(folder: Path) -> list:
        path = folder / name
        make_bad(path)
        return [good(folder), path]

    return make


def truncated_in_image_data(path: Path) -> None:
    write_valid(path, seed=5, shape=(60, 70))
    start, end = data_span(path, 1)
    path.write_bytes(path.read_bytes()[: (start + end) // 2])


def garbage_in_header(path: Path) -> None:
    write_valid(path, seed=5)
    start, _ = header_span(path, 2)  # MASK
    data = bytearray(path.read_bytes())
    data[start:start + 400] = bytes(range(256)) + bytes(range(144))
    path.write_bytes(bytes(data))


def card(keyword: str, raw: str, hdu: int = 1) -> Callable[[Path], object]:
    return lambda path: set_card(write_valid(path, seed=5), hdu, keyword, raw)


def table_named_image(fmt: str, array) -> Callable[[Path], object]:
    table = fits.BinTableHDU.from_columns([fits.Column("X", fmt, array=array)], name="IMAGE")
    return lambda path: write_hdus(path, *plane_hdus(skip="IMAGE"), table)


def hostile_mask_planes(*cards: tuple[str, int]) -> Callable[[Path], object]:
    def make(path: Path) -> None:
        mask_hdu = plane_hdus()[1]
        for card in cards:
            mask_hdu.header.append(card)  # append: a keyword may come twice
        write_hdus(path, *plane_hdus(MASK=mask_hdu))

    return make


def unwritable_folder() -> Path:
    """A folder nobody may write in (for root, whom permissions do not stop, /sys)."""
    if os.geteuid() != 0:
        return Path("/")
    return Path("/sys")


ERRORS = [
    Case("empty-file", one_bad("empty.fits", lambda p: p.write_bytes(b"")),
         fc.WarpFormatError, r"empty\.fits: not a readable FITS file \(empty, 0 bytes\)"),
    Case("not-fits", one_bad("text.fits", lambda p: p.write_bytes(b"SIMPLE? no, just text\n" * 300)),
         fc.WarpFormatError, r"text\.fits: not a readable FITS file"),
    Case("directory", one_bad("folder.fits", lambda p: p.mkdir()),
         fc.WarpFormatError, r"folder\.fits: is a directory"),
    Case("fifo", one_bad("pipe.fits", os.mkfifo),
         fc.WarpFormatError, r"pipe\.fits: is not a regular file \(a FIFO, device or socket\)"),
    Case("missing-file", one_bad("absent.fits", lambda p: None),
         fc.WarpFormatError, r"absent\.fits: cannot open: No such file"),
    Case("truncated-half-way-through-data", one_bad("cut.fits", truncated_in_image_data),
         fc.WarpFormatError, r"cut\.fits: truncated: .*needs \d+ bytes but the file has \d+"),
    Case("garbage-in-a-header", one_bad("garbage.fits", garbage_in_header),
         fc.WarpFormatError, r"garbage\.fits: MASK has a corrupt header"),
    Case("header-card-not-a-number", one_bad("naxis.fits", card("NAXIS1", "'ten'")),
         fc.WarpFormatError, r"naxis\.fits: "),
    Case("header-card-bitpix-invalid", one_bad("bitpix.fits", card("BITPIX", "7", hdu=3)),
         fc.WarpFormatError, r"bitpix\.fits: "),
    Case("header-card-naxis-huge", one_bad("axes.fits", card("NAXIS", "99999999")),
         fc.WarpFormatError, r"axes\.fits: HDU 1 has NAXIS=99999999; FITS allows 0..999"),
    Case("header-card-tfields-huge", one_bad("fields.fits", lambda p: set_card(
        write_valid(p, seed=5, compressed=True), 2, "TFIELDS", "99999999")),
         fc.WarpFormatError, r"fields\.fits: HDU 2 has TFIELDS=99999999; FITS allows 0..999"),
    Case("missing-IMAGE", one_bad("noimage.fits", lambda p: write_hdus(p, *plane_hdus(skip="IMAGE"))),
         fc.WarpFormatError, r"noimage\.fits: missing extension IMAGE"),
    Case("missing-MASK", one_bad("nomask.fits", lambda p: write_hdus(p, *plane_hdus(skip="MASK"))),
         fc.WarpFormatError, r"nomask\.fits: missing extension MASK"),
    Case("missing-VARIANCE", one_bad("novar.fits", lambda p: write_hdus(p, *plane_hdus(skip="VARIANCE"))),
         fc.WarpFormatError, r"novar\.fits: missing extension VARIANCE"),
    Case("complex-column-as-IMAGE", one_bad("complex.fits", table_named_image("C", np.ones(3, complex))),
         fc.WarpFormatError, r"complex\.fits: IMAGE is a BinTableHDU, not an image"),
    Case("string-column-as-IMAGE", one_bad("string.fits", table_named_image("8A", np.array(["x"] * 3))),
         fc.WarpFormatError, r"string\.fits: IMAGE is a BinTableHDU, not an image"),
    Case("float-MASK", one_bad("fmask.fits", lambda p: write_hdus(p, *plane_hdus(
        MASK=fits.ImageHDU(np.zeros(SHAPE, np.float32), name="MASK")))),
         fc.WarpFormatError, r"fmask\.fits: MASK has floating-point BITPIX -32"),
    Case("integer-IMAGE", one_bad("iimage.fits", lambda p: write_hdus(p, *plane_hdus(
        IMAGE=fits.ImageHDU(np.zeros(SHAPE, np.int16), name="IMAGE")))),
         fc.WarpFormatError, r"iimage\.fits: IMAGE has integer BITPIX 16"),
    Case("planes-of-one-file-differ-in-shape", one_bad("inner.fits", lambda p: write_hdus(p, *plane_hdus(
        VARIANCE=fits.ImageHDU(np.ones((8, 9), np.float32), name="VARIANCE")))),
         fc.WarpFormatError, r"inner\.fits: VARIANCE has shape \(8, 9\) but IMAGE has \(8, 10\)"),
    Case("shape-mismatch", one_bad("wide.fits", lambda p: write_valid(p, seed=5, shape=(8, 11))),
         fc.IncompatibleWarpError, r"wide\.fits: shape \(8, 11\) differs from \(8, 10\)"),
    Case("wcs-mismatch", one_bad("moved.fits", lambda p: write_valid(p, seed=5, wcs=patch_wcs(crval=(150.2, 2.2)))),
         fc.IncompatibleWarpError, r"moved\.fits: WCS differs from .*good0\.fits: CRVAL"),
    Case("wcs-missing-in-one", one_bad("nowcs.fits", lambda p: write_hdus(p, *[
        fits.ImageHDU(data, name=name) for name, data in zip(("IMAGE", "MASK", "VARIANCE"), planes(5), strict=True)])),
         fc.IncompatibleWarpError, r"nowcs\.fits: has no celestial WCS but .*good0\.fits has one"),
    Case("calibration-missing", one_bad("nocal.fits", lambda p: write_valid(p, seed=5, calibration={})),
         fc.CalibrationError, r"nocal\.fits: no photometric calibration"),
    Case("calibration-nan", one_bad("nancal.fits", lambda p: write_valid(p, seed=5, calibration={"MAGZERO": "nan"})),
         fc.CalibrationError, r"nancal\.fits: MAGZERO must be a finite number"),
    Case("calibration-negative-fluxmag0", one_bad("negcal.fits", lambda p: write_valid(
        p, seed=5, calibration={"FLUXMAG0": -5.0})),
         fc.CalibrationError, r"negcal\.fits: FLUXMAG0 must be a finite positive number"),
    Case("calibration-overflows", one_bad("hugecal.fits", lambda p: write_valid(
        p, seed=5, calibration={"MAGZERO": -900.0})),
         fc.CalibrationError, r"hugecal\.fits: MAGZERO -900.0 gives the scale inf"),
    Case("unknown-bad-plane", lambda folder: [good(folder)], fc.MaskPlaneError,
         r"unknown mask plane SATURATED; known planes are BAD, SAT",
         api={"config": fc.CoaddConfig(bad_planes=("NO_DATA", "SATURATED"))},
         cli=("--bad-planes", "NO_DATA,SATURATED")),
    Case("two-planes-share-a-bit", one_bad("shared.fits", hostile_mask_planes(("MP_BAD", 0), ("MP_SAT", 0))),
         fc.MaskPlaneError, r"shared\.fits: mask planes BAD and SAT share bit 0"),
    Case("plane-declared-twice", one_bad("twice.fits", hostile_mask_planes(("MP_BAD", 0), ("MP_BAD", 3))),
         fc.MaskPlaneError, r"twice\.fits: mask plane BAD is declared twice, at bits 0 and 3"),
    Case("plane-bit-out-of-range", one_bad("bit99.fits", hostile_mask_planes(("MP_BAD", 99))),
         fc.MaskPlaneError, r"bit99\.fits: mask plane BAD has bit 99"),
    Case("duplicate-visit", one_bad("again.fits", lambda p: write_valid(p, seed=5, visit=1)),
         fc.IncompatibleWarpError, r"VISIT 1 is also the VISIT of"),
    Case("same-file-twice", lambda folder: [good(folder), good(folder, 1),
                                            os.path.join(folder, ".", "good1.fits")],
         fc.IncompatibleWarpError, r"good1\.fits: is the same file as"),
    Case("no-warps", lambda folder: [], fc.NoUsableInputError, r"no warps given"),
    Case("every-warp-skipped", lambda folder: [write_valid(folder / "nan.fits", image=np.full(SHAPE, np.nan, np.float32))],
         fc.NoUsableInputError, r"no usable warp: .*nan\.fits: image is all NaN"),
]


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c.id)
def test_error_through_the_api(case, tmp_path):
    warps = case.make(tmp_path)
    output = tmp_path / "out" / "coadd.fits"
    output.parent.mkdir()
    with pytest.raises(case.error, match=case.message) as caught:
        fc.assemble(warps, output=output, **(case.api or {}))
    assert caught.value.exit_code == case.error.exit_code
    assert "\n" not in str(caught.value)
    assert os.listdir(output.parent) == []  # nothing written, not even a temporary file


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c.id)
def test_error_through_the_cli(case, tmp_path, capsys):
    warps = case.make(tmp_path)
    output = tmp_path / "out" / "coadd.fits"
    output.parent.mkdir()
    output.write_bytes(b"the previous coadd")
    code = main(["assemble", *map(str, warps), "-o", str(output), *case.cli])
    assert code == case.error.exit_code
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("fastcoadd: error: ")
    assert re.search(case.message, last), last
    assert "Traceback" not in captured.err and captured.out == ""
    assert output.read_bytes() == b"the previous coadd" and leftovers(output.parent) == []


def test_verbose_shows_the_traceback(tmp_path, capsys):
    bad = tmp_path / "junk.fits"
    bad.write_bytes(b"junk" * 1000)
    assert main(["assemble", str(bad), "-o", str(tmp_path / "c.fits"), "-v"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("fastcoadd: error: ")


# -- output problems ---------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["an-input", "missing-folder", "unwritable-folder", "a-directory"])
def test_output_problems(where, tmp_path, capsys):
    warps = [good(tmp_path), good(tmp_path, 1)]
    before = warps[0].read_bytes()
    output, message = {
        "an-input": (warps[0], r"good0\.fits: is also an input warp"),
        "missing-folder": (tmp_path / "nowhere" / "c.fits", r"folder .*nowhere does not exist"),
        "unwritable-folder": (unwritable_folder() / "c.fits", r"cannot write in .*(Permission denied|Read-only)"),
        "a-directory": (tmp_path, r"is a directory"),
    }[where]
    with pytest.raises(fc.OutputError, match=message):
        fc.assemble(warps, output=output)
    assert main(["assemble", *map(str, warps), "-o", str(output)]) == 8
    assert "error: " in capsys.readouterr().err
    assert warps[0].read_bytes() == before
    assert leftovers(tmp_path) == []


def test_output_is_a_hard_link_to_an_input(tmp_path):
    warps = [good(tmp_path), good(tmp_path, 1)]
    os.link(warps[1], tmp_path / "alias.fits")
    with pytest.raises(fc.OutputError, match="is also an input warp"):
        fc.assemble(warps, output=tmp_path / "alias.fits")


def test_unwritable_folder_is_found_before_the_run(tmp_path, monkeypatch):
    """The output folder is tried first: a read-only folder costs no computation."""
    stacked = []
    monkeypatch.setattr(sys.modules["fastcoadd.assemble"], "_assemble", lambda *a, **k: stacked.append(1))
    with pytest.raises(fc.OutputError):
        fc.assemble([good(tmp_path)], output=unwritable_folder() / "c.fits")
    assert stacked == []


def test_no_warps_on_the_command_line(tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text("# nothing to do\n\n")
    assert main(["assemble", "-o", str(tmp_path / "c.fits")]) == 7
    assert main(["assemble", f"@{listing}", "-o", str(tmp_path / "c.fits")]) == 7
    assert capsys.readouterr().err.count("no warps given") == 2


# -- skipped warps (SPEC §4) -----------------------------------------------------------------------
def with_variance(value: float) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        return write_valid(path, seed=5, variance=np.full(SHAPE, value, np.float32))

    return make


def negative_on_one_good_pixel(path: Path) -> Path:
    variance = planes(5)[2].copy()
    variance[5, 5] = -1.0
    return write_valid(path, seed=5, variance=variance)


SKIPS = [
    ("all-nan-image", lambda p: write_valid(p, seed=5, image=np.full(SHAPE, np.nan, np.float32)),
     "image is all NaN"),
    ("all-masked", lambda p: write_valid(p, seed=5, mask=np.full(SHAPE, 1, np.int32)),
     r"no good pixel \(all masked or without variance\)"),
    ("all-nan-variance", with_variance(np.nan), r"no good pixel \(all masked or without variance\)"),
    ("inf-variance", with_variance(np.inf), "weight nan is not finite and positive"),
    ("zero-variance", with_variance(0.0), "weight inf is not finite and positive"),
    ("negative-variance", with_variance(-2.0), "variance is negative on 75 good pixels"),
    ("negative-variance-on-one-pixel", negative_on_one_good_pixel, "variance is negative on 1 good pixel$"),
]


@pytest.mark.parametrize(("make", "reason"), [s[1:] for s in SKIPS], ids=[s[0] for s in SKIPS])
def test_skipped_warp_is_reported(make, reason, tmp_path, caplog, capsys):
    hostile = make(tmp_path / "hostile.fits")
    warps = [good(tmp_path), hostile, good(tmp_path, 1)]
    with caplog.at_level(logging.WARNING, logger="fastcoadd"):
        result = fc.assemble(warps, output=tmp_path / "api.fits")
    assert result.n_used == 2
    record = next(r for r in result.inputs if r.file == str(hostile))
    assert not record.used
    assert re.search(reason, record.reason), record.reason
    assert any("skipping" in m and str(hostile) in m for m in caplog.messages)
    table = Table.read(tmp_path / "api.fits", hdu="INPUTS")
    row = table[table["FILE"] == str(hostile)][0]
    assert not row["USED"] and row["REASON"] == record.reason
    # the command line: SKIPPED in the summary (and the warning, see the test below), exit 0
    assert main(["assemble", *map(str, warps), "-o", str(tmp_path / "cli.fits")]) == 0
    assert "SKIPPED: " + record.reason in capsys.readouterr().out
    # alone, nothing is left to combine
    with pytest.raises(fc.NoUsableInputError, match="no usable warp"):
        fc.assemble([hostile])


def test_skip_warning_is_one_line_on_stderr(tmp_path):
    hostile = write_valid(tmp_path / "empty.fits", seed=5, image=np.full(SHAPE, np.nan, np.float32))
    run = subprocess.run([sys.executable, "-m", "fastcoadd.cli", "assemble", str(good(tmp_path)), str(hostile),
                          "-o", str(tmp_path / "c.fits"), "-q"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [f"fastcoadd: WARNING: skipping {hostile}: image is all NaN"]


def test_nan_variance_on_some_pixels_is_left_out_of_the_weight(tmp_path):
    """NaN variances are skipped in the weight (SPEC §4); at the pixel the variance becomes +inf (§3.6)."""
    variance = planes(5)[2]
    variance[1, 1] = np.nan
    partial = write_valid(tmp_path / "partial.fits", seed=5, variance=variance)
    reference = write_valid(tmp_path / "reference.fits", seed=5, visit=7)
    config = fc.CoaddConfig(statistic="mean", interpolate=False)
    a, b = fc.assemble([partial], config), fc.assemble([reference], config)
    assert a.inputs[0].weight == pytest.approx(b.inputs[0].weight, rel=0.02)
    assert a.variance[1, 1] == np.inf and np.isfinite(a.image[1, 1])


def test_unknown_input_planes_are_kept_and_unnamed_bits_dropped(tmp_path):
    """A plane only one warp declares keeps its name; bits no plane names are dropped (README)."""
    mask = planes(5)[1]
    mask[4, 4] = 1 << 12  # MYPLANE
    mask[4, 5] = 1 << 20  # not named by any plane
    named = write_valid(tmp_path / "named.fits", seed=5, mask=mask,
                        mask_planes={"BAD": 0, "SAT": 1, "NO_DATA": 8, "MYPLANE": 12})
    result = fc.assemble([good(tmp_path), named], fc.CoaddConfig(interpolate=False))
    assert "MYPLANE" in result.planes and result.plane("MYPLANE")[4, 4]
    assert result.mask[4, 5] & ~np.int32(sum(1 << b for b in result.planes.values())) == 0


# -- in-memory warps (API only) --------------------------------------------------------------------
def warp(**kwargs) -> fc.Warp:
    image, mask, variance = planes(0)
    arrays = {"image": image, "mask": mask, "variance": variance, "calibration": {"BUNIT": "nJy"}}
    arrays.update(kwargs)
    return fc.Warp(**arrays)


def nan_wcs():
    wcs = patch_wcs()
    wcs.wcs.crval = [np.nan, 2.2]
    return wcs


MEMORY = [
    ("complex-image", [warp(image=np.ones(SHAPE, complex))], fc.WarpFormatError, "IMAGE must have a floating-point dtype"),
    ("string-image", [warp(image=np.full(SHAPE, "x"))], fc.WarpFormatError, "IMAGE must have a floating-point dtype"),
    ("object-variance", [warp(variance=np.full(SHAPE, None))], fc.WarpFormatError, "VARIANCE must have"),
    ("long-double-image", [warp(image=np.ones(SHAPE, np.clongdouble).real)], fc.WarpFormatError, "IMAGE must have"),
    ("boolean-mask", [warp(mask=np.zeros(SHAPE, bool))], fc.WarpFormatError, "MASK must have an integer dtype"),
    ("ragged-image", [warp(image=[[1.0, 2.0], [3.0]])], fc.WarpFormatError, "IMAGE is not an array"),
    ("1-D-image", [warp(image=np.ones(4, np.float32))], fc.WarpFormatError, "IMAGE must be 2-D"),
    ("empty-image", [warp(image=np.ones((0, 3)), mask=np.ones((0, 3), np.int32), variance=np.ones((0, 3)))],
     fc.WarpFormatError, "not empty"),
    ("planes-differ-in-shape", [warp(variance=np.ones((3, 3), np.float32))], fc.WarpFormatError, "differ in shape"),
    ("visit-not-an-integer", [warp(visit="12")], fc.WarpFormatError, "VISIT must be an integer"),
    ("visit-negative", [warp(visit=-1)], fc.WarpFormatError, "VISIT must be an integer"),
    ("wcs-not-a-wcs", [warp(wcs="RA---TAN")], fc.WarpFormatError, "wcs must be an astropy.wcs.WCS"),
    ("wcs-not-finite", [warp(wcs=nan_wcs())], fc.WarpFormatError, r"WCS has a non-finite CRVAL"),
    ("plane-bit-out-of-range", [warp(mask_planes={"BAD": 64})], fc.MaskPlaneError, "has bit 64"),
    ("plane-name-invalid", [warp(mask_planes={"BAD PLANE": 0})], fc.MaskPlaneError, "invalid mask plane name"),
    ("plane-names-collide", [warp(mask_planes={"bad": 0, "BAD": 1})], fc.MaskPlaneError, "declared twice"),
    ("calibration-not-a-mapping", [warp(calibration=27.0)], fc.CalibrationError, "must be a mapping"),
    ("calibration-inf", [warp(calibration={"MAGZERO": np.inf})], fc.CalibrationError, "must be a finite number"),
    ("calibration-bool", [warp(calibration={"MAGZERO": True})], fc.CalibrationError, "is not a number"),
    ("not-a-warp", [b"warp.fits"], fc.ConfigError, "warp 0 is a bytes"),
]


@pytest.mark.parametrize(("warps", "error", "message"), [m[1:] for m in MEMORY], ids=[m[0] for m in MEMORY])
def test_hostile_in_memory_warp(warps, error, message):
    with pytest.raises(error, match=message):
        fc.assemble(warps)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"config": {"statistic": "mean"}}, "config must be a fastcoadd.CoaddConfig"),
    ({"weights": [1.0, np.nan]}, "weights must be finite"),
    ({"weights": [1.0]}, "weights has 1 entries for 2 warps"),
    ({"scales": [1.0, 0.0]}, "scales must be finite"),
    ({"zero_points": [27.0, np.inf]}, "zero_points must be finite"),
    ({"output": 3.5}, "output must be a path"),
])
def test_hostile_arguments(kwargs, message):
    with pytest.raises(fc.ConfigError, match=message):
        fc.assemble([warp(visit=1), warp(visit=2)], **kwargs)


def test_warps_not_a_sequence():
    with pytest.raises(fc.ConfigError, match="warps must be a sequence"):
        fc.assemble(None)


def test_zero_explicit_weight_is_skipped_like_a_measured_one():
    result = fc.assemble([warp(visit=1), warp(visit=2)], weights=[1.0, 0.0])
    assert [r.used for r in result.inputs] == [True, False]
    assert result.inputs[1].reason == "given weight 0.0 is not positive"
    with pytest.raises(fc.NoUsableInputError):
        fc.assemble([warp(visit=1)], weights=[0.0])


def test_extreme_values_give_no_numpy_warning():
    """Values near the float32 limit overflow to inf inside the run; the rules handle it, silently."""
    huge = np.full(SHAPE, 3e38, np.float32)
    result = fc.assemble([warp(image=huge, visit=1), warp(image=huge, visit=2)],
                         fc.CoaddConfig(variance_from_scatter=True))
    assert result.n_used == 2


def test_non_ascii_and_control_characters_in_names_are_written(tmp_path):
    """FITS strings are ASCII: such names are written escaped, and the write does not fail."""
    result = fc.assemble([warp(visit=1, name="café\n.fits")], output=tmp_path / "c.fits")
    table = Table.read(tmp_path / "c.fits", hdu="INPUTS")
    assert table["FILE"][0] == "caf\\xe9\\n.fits" and result.inputs[0].file == "café\n.fits"


def test_output_budget_refuses_a_patch_too_large_for_it():
    """A patch whose output planes alone exceed the memory budget is refused before any allocation."""
    with pytest.raises(fc.ConfigError, match=r"output planes of a 8x10 patch need 1280 bytes, more than the "
                                             r"memory budget of 1000 bytes; raise the budget"):
        fc.assemble([warp()], fc.CoaddConfig(memory_budget=1000))


def test_missing_warp_list_file_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["assemble", f"@{tmp_path / 'missing.txt'}", "-o", str(tmp_path / "c.fits")])
    assert stop.value.code == 2
    assert "No such file or directory" in capsys.readouterr().err.strip().splitlines()[-1]
    assert os.listdir(tmp_path) == []
