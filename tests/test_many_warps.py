"""Thousands of warps: 2,000 small warps assemble with the open-file soft limit at 256.

Files are opened through a bounded pool (a quarter of the soft limit) and reopened when
needed, so the number of descriptors never grows with the number of warps. The warp
list comes from a file (``fastcoadd assemble @list.txt``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _warpfiles import data_span, header_span, write_valid
from astropy.io import fits

N_WARPS = 2000
SHAPE = (4, 4)
FIRST_VISIT = 1_000_000

# Lowers the soft limit on open files, counts the descriptors in use at every file opening,
# runs the command line, and prints the most descriptors seen.
_CHILD = textwrap.dedent("""
    import os, resource, sys
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard))
    from fastcoadd._io.fits_warp import FitsWarp
    most = [0]
    real_open = FitsWarp._open

    def counting_open(self):
        handle = real_open(self)
        most[0] = max(most[0], len(os.listdir("/proc/self/fd")))
        return handle

    FitsWarp._open = counting_open
    from fastcoadd.cli import main
    code = main(sys.argv[2:])
    print("most descriptors", most[0])
    sys.exit(code)
""")


@pytest.fixture(scope="module")
def many_warps(tmp_path_factory):
    """2,000 warp files of 4x4 pixels: one template, with its VISIT card and image values rewritten."""
    folder = tmp_path_factory.mktemp("many")
    template_path = write_valid(folder / "template.fits", shape=SHAPE, visit=FIRST_VISIT,
                                calibration={"BUNIT": "nJy"}, image=np.zeros(SHAPE, np.float32),
                                mask=np.zeros(SHAPE, np.int32), variance=np.ones(SHAPE, np.float32))
    template = template_path.read_bytes()
    template_path.unlink()
    visit_card = fits.Card("VISIT", FIRST_VISIT, "visit identifier").image.encode()
    start, end = header_span_of(template, 0)
    visit_at = template.index(visit_card, start, end)
    image_at, image_end = data_span_of(template, 1)
    values = np.arange(N_WARPS, dtype=np.float64) % 97  # a spread the clipping keeps whole
    paths = []
    for i in range(N_WARPS):
        data = bytearray(template)
        data[visit_at:visit_at + 80] = fits.Card("VISIT", FIRST_VISIT + i, "visit identifier").image.encode()
        data[image_at:image_end] = np.full(SHAPE, values[i], ">f4").tobytes()
        path = folder / f"warp_{i:04d}.fits"
        path.write_bytes(bytes(data))
        paths.append(path)
    return paths, values


def header_span_of(data: bytes, hdu: int) -> tuple[int, int]:
    return _span(data, hdu, header_span)


def data_span_of(data: bytes, hdu: int) -> tuple[int, int]:
    return _span(data, hdu, data_span)


def _span(data: bytes, hdu: int, function) -> tuple[int, int]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.fits"
        path.write_bytes(data)
        return function(path, hdu)


def test_two_thousand_warps_with_256_descriptors(many_warps, tmp_path):
    paths, values = many_warps
    listing = tmp_path / "list.txt"
    listing.write_text("# warps of the patch\n\n" + "\n".join(f"  {p}  " for p in reversed(paths)) + "\n")
    output = tmp_path / "coadd.fits"
    run = subprocess.run([sys.executable, "-c", _CHILD, "256", "assemble", f"@{listing}", "-o", str(output),
                          "--no-interp", "-q"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    most = int(run.stdout.split("most descriptors")[-1])
    assert most <= 256 // 4 + 16, most  # the pool holds a quarter of the limit; the rest is Python's own
    with fits.open(output) as hdul:
        assert hdul[0].header["NINPUTS"] == N_WARPS
        np.testing.assert_allclose(hdul["IMAGE"].data, values.mean(), rtol=1e-6)
        np.testing.assert_array_equal(hdul["NIMAGE"].data, N_WARPS)
        visits = hdul["INPUTS"].data["VISIT"]
        np.testing.assert_array_equal(visits, FIRST_VISIT + np.arange(N_WARPS))  # canonical order
