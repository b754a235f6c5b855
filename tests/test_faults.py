"""Faults while running: exceptions, SIGINT/SIGTERM and failing writes leave no partial coadd.

The signal tests run the command line in a child process whose run is held at a chosen
point (a function of the library wrapped to print a marker and wait); the parent sends
the signal once it reads the marker, so nothing depends on timing.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _warpfiles import write_valid
from astropy.io import fits

import fastcoadd as fc
from fastcoadd.cli import main

PREVIOUS = b"the previous coadd, which must survive"

# Runs ``fastcoadd.cli.main(argv)`` with MODULE.ATTRIBUTE wrapped: the wrapper writes some bytes
# to any stream it is given (a partial write), prints HELD and waits; the parent then signals.
_CHILD = textwrap.dedent("""
    import importlib, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignores SIGINT
    parts = sys.argv[1].split(".")
    for split in range(len(parts) - 1, 0, -1):  # the longest importable prefix is the module
        try:
            owner = importlib.import_module(".".join(parts[:split]))
            break
        except ImportError:
            continue
    for name in parts[split:-1]:
        owner = getattr(owner, name)
    attribute = parts[-1]
    real = getattr(owner, attribute)

    def held(*args, **kwargs):
        for value in args[1:2]:
            if hasattr(value, "write"):
                value.write(b"partial coadd bytes" * 1000)
                value.flush()
        print("HELD", flush=True)
        time.sleep(120)
        return real(*args, **kwargs)

    setattr(owner, attribute, held)
    from fastcoadd.cli import main
    sys.exit(main(sys.argv[2:]))
""")

HOLD_POINTS = {
    "after-reading-headers": "fastcoadd.assemble.merge_planes",
    "after-stacking": "fastcoadd.assemble.replace_nonpositive_variance",
    "while-writing": "astropy.io.fits.HDUList.writeto",
}


@pytest.fixture(scope="module")
def warps(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("warps")
    return [write_valid(folder / f"w{i}.fits", seed=i, shape=(30, 40)) for i in range(4)]


def run_held(hold: str, argv: list[str], send: signal.Signals) -> subprocess.CompletedProcess:
    child = subprocess.Popen([sys.executable, "-c", _CHILD, hold, *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "HELD", (line, child.stderr.read())
        child.send_signal(send)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.mark.parametrize("hold", HOLD_POINTS)
@pytest.mark.parametrize(("send", "code", "message"), [
    (signal.SIGINT, 130, "fastcoadd: interrupted; no output written"),
    (signal.SIGTERM, 143, "fastcoadd: terminated; no output written"),
], ids=["SIGINT", "SIGTERM"])
def test_signal_leaves_no_partial_coadd(warps, tmp_path, hold, send, code, message):
    output = tmp_path / "coadd.fits"
    output.write_bytes(PREVIOUS)
    run = run_held(HOLD_POINTS[hold], ["assemble", *map(str, warps), "-o", str(output)], send)
    assert run.returncode == code, run.stderr
    assert run.stderr.strip() == message  # one line, no traceback
    assert output.read_bytes() == PREVIOUS
    assert os.listdir(tmp_path) == ["coadd.fits"]


def test_signal_before_any_output_exists(warps, tmp_path):
    run = run_held(HOLD_POINTS["while-writing"], ["assemble", *map(str, warps), "-o",
                                                  str(tmp_path / "c.fits")], signal.SIGTERM)
    assert run.returncode == 143 and os.listdir(tmp_path) == []


# -- exceptions in the middle of a run ---------------------------------------------------------
@pytest.mark.parametrize("error", [RuntimeError("kernel exploded"), KeyboardInterrupt(), MemoryError()])
def test_exception_mid_run_leaves_the_output_untouched(warps, tmp_path, monkeypatch, error):
    output = tmp_path / "coadd.fits"
    output.write_bytes(PREVIOUS)
    assemble_module = sys.modules["fastcoadd.assemble"]

    def broken(*args):
        raise error

    monkeypatch.setattr(assemble_module, "replace_nonpositive_variance", broken)
    with pytest.raises(type(error)):
        fc.assemble(warps, output=output)
    assert output.read_bytes() == PREVIOUS and os.listdir(tmp_path) == ["coadd.fits"]


def test_unexpected_exception_is_one_line_on_the_cli(warps, tmp_path, monkeypatch, capsys):
    def broken(*args):
        raise RuntimeError("kernel\nexploded")

    monkeypatch.setattr(sys.modules["fastcoadd.assemble"], "replace_nonpositive_variance", broken)
    assert main(["assemble", *map(str, warps), "-o", str(tmp_path / "c.fits")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("fastcoadd: internal error (RuntimeError: kernel exploded); "
                           "rerun with -v for details")
    assert os.listdir(tmp_path) == []


# -- failing writes ------------------------------------------------------------------------------
def test_disk_full_during_the_write(warps, tmp_path, monkeypatch, capsys):
    """A write that fails half-way (simulated ENOSPC) is reported, and nothing is left behind."""
    output = tmp_path / "coadd.fits"
    output.write_bytes(PREVIOUS)

    def full(self, fileobj, **kwargs):
        fileobj.write(b"x" * 50000)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fits.HDUList, "writeto", full)
    with pytest.raises(fc.OutputError, match="write failed: No space left on device"):
        fc.assemble(warps, output=output)
    assert main(["assemble", *map(str, warps), "-o", str(output)]) == 8
    assert capsys.readouterr().err.strip().endswith("coadd.fits: write failed: No space left on device")
    assert output.read_bytes() == PREVIOUS and os.listdir(tmp_path) == ["coadd.fits"]


def test_file_size_limit_during_the_write(warps, tmp_path):
    """A real failing write: the child may not write files larger than 8 KiB (RLIMIT_FSIZE)."""
    child = textwrap.dedent("""
        import resource, sys
        import fastcoadd as fc
        from fastcoadd.cli import main
        fc.assemble(sys.argv[2:-2])  # compile or load the kernels before the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        sys.exit(main(["assemble", *sys.argv[2:]]))
    """)
    output = tmp_path / "coadd.fits"
    output.write_bytes(PREVIOUS)
    run = subprocess.run([sys.executable, "-c", child, str(8 * 1024), *map(str, warps), "-o", str(output)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 8, run.stderr
    assert re.search(r"coadd\.fits: write failed: .*(\(disk full or file size limit\?\)|File too large)$",
                     run.stderr.strip().splitlines()[-1]), run.stderr
    assert output.read_bytes() == PREVIOUS and os.listdir(tmp_path) == ["coadd.fits"]


def test_input_replaced_during_the_run_is_detected(tmp_path):
    """A warp file changed on disk after its headers were read is an error, not silently mixed data."""
    paths = [write_valid(tmp_path / f"w{i}.fits", seed=i) for i in range(3)]
    from fastcoadd._io.fits_warp import FitsWarp
    from fastcoadd._io.handles import HandlePool

    pool = HandlePool(capacity=1)
    first = FitsWarp(paths[0], pool)
    FitsWarp(paths[1], pool)  # evicts the first file's handle
    write_valid(paths[0], seed=7)  # same layout, other pixels, new file
    with pytest.raises(fc.WarpFormatError, match="changed on disk"):
        first.read("IMAGE", slice(None), slice(None))
    pool.close_all()
