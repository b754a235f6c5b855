"""Fuzzing: mutated warp files either assemble or raise a fastcoadd error, and never leave partial output.

Hypothesis spoils a valid warp file (plain or tile-compressed) by flipping, overwriting,
inserting or cutting bytes, or by giving header cards hostile values, then assembles it
with a valid warp. Whatever happens must be a success (a complete coadd file) or a
:class:`fastcoadd.FastcoaddError` (no file, no temporary file): never another exception,
never a warning (warnings are errors in this suite), never a hang (an alarm bounds every
example).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
from _warpfiles import leftovers, write_valid
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastcoadd as fc

#: Seconds one example may take before it counts as a hang.
TIME_LIMIT = 30
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CONFIG = fc.CoaddConfig(memory_budget="64MiB", tile_shape=(3, 4))

HOSTILE_VALUES = ["", "'abc'", "'nan'", "'inf'", "'-inf'", "T", "F", "0", "-1", "1", "2", "3", "-32", "-64",
                  "64", "7", "99999999", "-99999999", "1E999", "-1E999", "1.5", "0.0", "2147483648",
                  "9223372036854775808", "'IMAGE'", "'MASK'", "'VARIANCE'", "'nJy'", "'BINTABLE'", "(1, 2)",
                  "'unterminated", "= = =", "/ comment only"]


class _Hang(BaseException):
    """A BaseException, so that no ``except Exception`` in the library can turn a hang into an error."""


@contextlib.contextmanager
def time_limit(seconds: int):
    def alarm(signum, frame):
        raise _Hang(f"example ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("originals")
    plain = write_valid(folder / "plain.fits", seed=3, shape=(6, 7))
    packed = write_valid(folder / "packed.fits", seed=3, shape=(6, 7), compressed=True)
    valid = write_valid(folder / "valid.fits", seed=4, shape=(6, 7))
    return {"plain": plain.read_bytes(), "compressed": packed.read_bytes(), "valid": valid.read_bytes()}


def card_offsets(data: bytes) -> list[int]:
    """Byte offsets of every header card of a FITS file."""
    path = Path(tempfile.mkdtemp()) / "cards.fits"
    try:
        path.write_bytes(data)
        offsets = []
        with fits.open(path) as hdul:
            for index in range(len(hdul)):
                info = hdul.fileinfo(index)
                offsets.extend(range(int(info["hdrLoc"]), int(info["datLoc"]), 80))
        return [o for o in offsets if data[o:o + 8].strip() not in (b"", b"END")]
    finally:
        shutil.rmtree(path.parent)


def check_outcome(original: bytes, mutated: bytes, valid: bytes) -> None:
    """Assemble the mutated file with a valid one; assert the outcome is clean."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        (folder / "mutated.fits").write_bytes(mutated)
        (folder / "valid.fits").write_bytes(valid)
        output = folder / "out" / "coadd.fits"
        output.parent.mkdir()
        try:
            with time_limit(TIME_LIMIT):
                result = fc.assemble([folder / "valid.fits", folder / "mutated.fits"], CONFIG, output=output)
        except fc.FastcoaddError as error:
            assert "\n" not in str(error)
            assert os.listdir(output.parent) == [], "an error left output behind"
        else:
            assert output.exists() and leftovers(output.parent) == []
            with fits.open(output) as hdul:
                assert hdul["IMAGE"].data.shape == result.image.shape
        assert (folder / "valid.fits").read_bytes() == valid
    finally:
        shutil.rmtree(folder)


MUTATION = st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]),
                     st.integers(0, 2**31), st.integers(0, 7), st.binary(min_size=1, max_size=64),
                     st.integers(1, 2880))


@FUZZ
@given(kind=st.sampled_from(["plain", "compressed"]), mutations=st.lists(MUTATION, min_size=1, max_size=6))
def test_byte_mutations(originals, kind, mutations):
    original = originals[kind]
    mutated = bytearray(original)
    for how, where, bit, chunk, length in mutations:
        position = where % max(len(mutated), 1)
        if how == "flip" and mutated:
            mutated[position] ^= 1 << bit
        elif how == "set":
            mutated[position:position + len(chunk)] = chunk
        elif how == "insert":
            mutated[position:position] = (chunk * (length // len(chunk) + 1))[:length]
        elif how == "delete":
            del mutated[position:position + length]
        elif how == "truncate":
            del mutated[position:]
    check_outcome(original, bytes(mutated), originals["valid"])


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["plain", "compressed"]))
def test_header_card_mutations(originals, data, kind):
    original = originals[kind]
    offsets = card_offsets(original)
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 3), label="cards")):
        offset = data.draw(st.sampled_from(offsets), label="card")
        how = data.draw(st.sampled_from(["value", "text", "number", "keyword", "blank"]), label="how")
        if how == "value":
            value = data.draw(st.sampled_from(HOSTILE_VALUES))
        elif how == "text":
            value = data.draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=70))
        elif how == "number":
            value = repr(data.draw(st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=False))))
        if how == "keyword":
            keyword = data.draw(st.sampled_from(["EXTNAME", "NAXIS", "NAXIS1", "BITPIX", "XTENSION", "SIMPLE",
                                                 "MAGZERO", "VISIT", "MP_BAD", "BSCALE", "BZERO", "BLANK",
                                                 "ZNAXIS1", "ZBITPIX", "ZCMPTYPE", "END", "CRVAL1"]))
            mutated[offset:offset + 8] = keyword.ljust(8).encode("ascii")
        elif how == "blank":
            mutated[offset:offset + 80] = b" " * 80
        else:
            mutated[offset + 10:offset + 80] = value.ljust(70)[:70].encode("ascii")
    check_outcome(original, bytes(mutated), originals["valid"])


def test_the_harness_sees_both_outcomes(originals, tmp_path):
    """A valid file assembles and a spoiled one raises a fastcoadd error (so the fuzzer tests something)."""
    check_outcome(originals["plain"], originals["plain"], originals["valid"])
    spoiled = tmp_path / "spoiled.fits"
    spoiled.write_bytes(b"NOTFIT" + originals["plain"][6:])
    with pytest.raises(fc.WarpFormatError):
        fc.assemble([spoiled])


def test_random_data_values_assemble(originals, tmp_path):
    """Every bit pattern of the data is a legal value (NaN, inf, huge, denormal): random data must assemble."""
    rng = np.random.default_rng(0)
    (tmp_path / "plain.fits").write_bytes(originals["plain"])
    with fits.open(tmp_path / "plain.fits") as hdul:
        spans = [(int(hdul.fileinfo(i)["datLoc"]), int(hdul.fileinfo(i)["datLoc"]) + hdul[i].data.nbytes)
                 for i in (1, 2, 3)]
    for _ in range(5):
        mutated = bytearray(originals["plain"])
        for start, end in spans:
            mutated[start:end] = rng.integers(0, 256, end - start, dtype=np.uint8).tobytes()
        check_outcome(originals["plain"], bytes(mutated), originals["valid"])
