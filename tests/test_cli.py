"""The command line on FITS files in a temporary folder: success, summaries, exit codes, messages."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

import fastcoadd as fc
from fastcoadd.cli import main
from fastcoadd.demo import make_demo_warps


@pytest.fixture(scope="module")
def warp_paths(tmp_path_factory):
    return make_demo_warps(tmp_path_factory.mktemp("warps"), n_warps=4, shape=(40, 48), seed=3)


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastcoadd {fc.__version__}"


def test_assemble_writes_a_coadd_and_a_summary(warp_paths, tmp_path, capsys):
    output = tmp_path / "coadd.fits"
    code = main(["assemble", *map(str, warp_paths), "-o", str(output), "--statistic", "mean",
                 "--threads", "1", "--memory-budget", "64MiB"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "4 warps used, 0 skipped" in out and "peak memory" in out
    with fits.open(output) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE", "NIMAGE", "INPUTS"]
        assert hdul[0].header["STATISTIC"] == "MEAN"
        api = fc.assemble(warp_paths, fc.CoaddConfig(statistic="mean"))
        np.testing.assert_array_equal(hdul["IMAGE"].data, api.image)


def test_options_reach_the_configuration(warp_paths, tmp_path):
    output = tmp_path / "c.fits"
    assert main(["assemble", *map(str, warp_paths), "-o", str(output), "--sigma", "2.5", "--iterations", "3",
                 "--bad-planes", "NO_DATA,BAD", "--no-interp", "--variance-from-scatter", "-q"]) == 0
    header = fits.getheader(output)
    assert header["CLIPSIG"] == 2.5 and header["CLIPITER"] == 3
    assert header["BADPLANE"] == "NO_DATA,BAD"
    assert header["INTERP"] is False and header["VARSCAT"] is True


def test_warp_list_from_file(warp_paths, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(map(str, warp_paths)) + "\n")
    assert main(["assemble", f"@{listing}", "-o", str(tmp_path / "c.fits"), "-q"]) == 0
    assert fits.getval(tmp_path / "c.fits", "NINPUTS") == 4


@pytest.mark.parametrize(("make_bad", "code", "message"), [
    (lambda p: p.write_bytes(b"not fits at all" * 300), 3, "not a readable FITS file"),
    (lambda p: p.write_bytes(b""), 3, "not a readable FITS file"),
    (lambda p: None, 3, "No such file"),
])
def test_bad_input_gives_one_line_and_exit_code(warp_paths, tmp_path, capsys, make_bad, code, message):
    bad = tmp_path / "bad.fits"
    make_bad(bad)
    output = tmp_path / "c.fits"
    assert main(["assemble", str(warp_paths[0]), str(bad), "-o", str(output)]) == code
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err and message in err
    assert not output.exists()


def test_incompatible_shape_exit_code(warp_paths, tmp_path, capsys):
    other = make_demo_warps(tmp_path / "other", n_warps=1, shape=(20, 20), seed=1)[0]
    assert main(["assemble", str(warp_paths[0]), str(other), "-o", str(tmp_path / "c.fits")]) == 4
    assert "differs" in capsys.readouterr().err


def test_missing_output_folder(warp_paths, tmp_path, capsys):
    assert main(["assemble", str(warp_paths[0]), "-o", str(tmp_path / "nowhere" / "c.fits")]) == 8
    assert "does not exist" in capsys.readouterr().err


def test_invalid_option_value(warp_paths, tmp_path, capsys):
    assert main(["assemble", str(warp_paths[0]), "-o", str(tmp_path / "c.fits"), "--sigma", "-1"]) == 2
    assert "sigma" in capsys.readouterr().err
    assert main(["assemble", str(warp_paths[0]), "-o", str(tmp_path / "c.fits"), "--memory-budget", "lots"]) == 2


def test_existing_output_is_untouched_on_error(warp_paths, tmp_path):
    output = tmp_path / "c.fits"
    output.write_bytes(b"previous coadd")
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"junk")
    assert main(["assemble", str(warp_paths[0]), str(bad), "-o", str(output)]) == 3
    assert output.read_bytes() == b"previous coadd"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fits", "c.fits"]


def test_console_script_runs_in_a_fresh_process(warp_paths, tmp_path):
    output = tmp_path / "c.fits"
    run = subprocess.run([sys.executable, "-m", "fastcoadd.cli", "assemble", *map(str, warp_paths),
                          "-o", str(output)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert output.exists()
    bad = subprocess.run([sys.executable, "-m", "fastcoadd.cli", "assemble", str(tmp_path / "nope.fits"),
                          "-o", str(output)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 3 and "Traceback" not in bad.stderr


def test_closed_standard_output_stops_quietly_and_keeps_the_coadd(warp_paths, tmp_path):
    """``fastcoadd ... | head``: the reader is gone before anything is printed; exit 141, no message."""
    output = tmp_path / "c.fits"
    for command in (["info", str(warp_paths[0])], ["assemble", *map(str, warp_paths), "-o", str(output)]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the first write of the child fails with EPIPE
        try:
            run = subprocess.run([sys.executable, "-m", "fastcoadd.cli", *command], stdout=write_end,
                                 stderr=subprocess.PIPE, text=True, timeout=300)
        finally:
            os.close(write_end)
        assert run.returncode == 141, run.stderr
        assert run.stderr == ""
    with fits.open(output) as hdul:  # written in full before the summary line
        assert hdul["IMAGE"].data.shape == hdul["NIMAGE"].data.shape


def test_demo_command(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "demo"), "--warps", "3", "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "demo" / "coadd.fits").exists()
    assert len(list((tmp_path / "demo" / "warps").glob("*.fits"))) == 3
    assert "pixels clipped" in out and "peak memory" in out and "weight" in out
