"""Reproducible output: the same inputs and configuration give a byte-identical coadd file.

Whatever the tile shape, the thread count and the order the warps are given in (they are
put in canonical order: VISIT, then path). The only wall-clock value is the ``DATE``
keyword, which ``date=False`` / ``--no-date`` leaves out and ``SOURCE_DATE_EPOCH`` fixes.
"""

from __future__ import annotations

import hashlib
import itertools
import random

import numpy as np
import pytest
from _warpfiles import write_valid
from astropy.io import fits

import fastcoadd as fc
from fastcoadd.cli import main
from fastcoadd.demo import make_demo_warps, write_warp

SHAPE = (23, 31)


@pytest.fixture(scope="module")
def warps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("repro")
    paths = make_demo_warps(folder / "demo", n_warps=5, shape=SHAPE, seed=11)
    # two warps without VISIT: ordered by path after the others
    for name in ("b_novisit.fits", "a_novisit.fits"):
        image, mask, variance = (np.asarray(fits.getdata(paths[0], extname=plane)) for plane in
                                 ("IMAGE", "MASK", "VARIANCE"))
        write_warp(folder / name, image + np.float32(len(name)), mask, variance, visit=None,
                   calibration={"MAGZERO": 27.5}, wcs=fc_wcs(paths[0]))
        paths.append(folder / name)
    return paths


def fc_wcs(path):
    from astropy.wcs import WCS

    return WCS(fits.getheader(path, extname="IMAGE"), naxis=2)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


ORDERS = {"given": lambda p: p, "reversed": lambda p: p[::-1],
          "shuffled": lambda p: random.Random(3).sample(p, len(p))}


@pytest.mark.parametrize("statistic", ["mean", "meanclip", "median"])
def test_byte_identical_for_any_tile_shape_thread_count_and_order(warps, tmp_path, statistic):
    digests = set()
    variants = list(itertools.product([None, (2, 3), (5, 7), (SHAPE[0], 1)], [1, 2], ORDERS))
    for index, (tile_shape, threads, order) in enumerate(variants):
        output = tmp_path / f"c{index}.fits"
        config = fc.CoaddConfig(statistic=statistic, tile_shape=tile_shape, threads=threads)
        fc.assemble(ORDERS[order](warps), config, output=output, date=False)
        digests.add(digest(output))
    assert len(digests) == 1


def test_online_and_tiled_mean_write_the_same_file(warps, tmp_path):
    """SPEC §5: online and tiled MEAN agree; here, to the byte (variance from scatter too)."""
    for index, (online, order) in enumerate(itertools.product([True, False], ORDERS)):
        config = fc.CoaddConfig(statistic="mean", online_mean=online, variance_from_scatter=True,
                                tile_shape=(4, 9) if index % 2 else None)
        fc.assemble(ORDERS[order](warps), config, output=tmp_path / f"c{index}.fits", date=False)
    assert len({digest(tmp_path / f"c{i}.fits") for i in range(6)}) == 1


def test_inputs_table_is_in_canonical_order(warps, tmp_path):
    fc.assemble(ORDERS["shuffled"](warps), output=tmp_path / "c.fits", date=False)
    table = fits.getdata(tmp_path / "c.fits", extname="INPUTS")
    visits = list(table["VISIT"])
    assert visits[:5] == sorted(visits[:5]) and visits[5:] == [-1, -1]
    assert [name.rsplit("/", 1)[-1] for name in table["FILE"][5:]] == ["a_novisit.fits", "b_novisit.fits"]


def test_date_is_the_only_wall_clock_value(warps, tmp_path, monkeypatch):
    fc.assemble(warps, output=tmp_path / "dated.fits")
    fc.assemble(warps, output=tmp_path / "plain.fits", date=False)
    with fits.open(tmp_path / "dated.fits") as dated, fits.open(tmp_path / "plain.fits") as plain:
        assert "DATE" in dated[0].header and "DATE" not in plain[0].header
        header = dated[0].header.copy()
        del header["DATE"]
        assert header.tostring() == plain[0].header.tostring()
        for a, b in zip(dated[1:], plain[1:], strict=True):
            assert a.header.tostring() == b.header.tostring()
            assert a.data.tobytes() == b.data.tobytes()
    # SOURCE_DATE_EPOCH (reproducible-builds convention) fixes the DATE
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    fc.assemble(warps, output=tmp_path / "e1.fits")
    fc.assemble(warps[::-1], output=tmp_path / "e2.fits")
    assert fits.getval(tmp_path / "e1.fits", "DATE") == "2023-11-14T22:13:20"
    assert digest(tmp_path / "e1.fits") == digest(tmp_path / "e2.fits")


def test_command_line_no_date(warps, tmp_path):
    argv = ["assemble", *map(str, warps), "--no-date", "-q"]
    assert main([*argv, "-o", str(tmp_path / "a.fits"), "--threads", "1", "--memory-budget", "1MiB"]) == 0
    assert main([*argv[:1], *map(str, warps[::-1]), *argv[-2:], "-o", str(tmp_path / "b.fits"),
                 "--threads", "2"]) == 0
    assert digest(tmp_path / "a.fits") == digest(tmp_path / "b.fits")
    assert "DATE" not in fits.getheader(tmp_path / "a.fits")


def test_reruns_in_fresh_files_are_identical(tmp_path, monkeypatch):
    """Two separate sets of identical files, run from their own folders, give identical coadds."""
    results = []
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        for i in range(3):
            write_valid(tmp_path / folder / f"w{i}.fits", seed=i)
        monkeypatch.chdir(tmp_path / folder)  # paths are recorded as given
        fc.assemble(["w2.fits", "w0.fits", "w1.fits"], output="c.fits", date=False)
        results.append(digest(tmp_path / folder / "c.fits"))
    assert results[0] == results[1]
