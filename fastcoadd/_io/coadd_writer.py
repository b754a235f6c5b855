"""Write a coadd file (SPEC §2) atomically: a temporary file in the same folder, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from ..errors import OutputError
from ..masks import planes_to_header


def build_hdulist(
    image: np.ndarray,
    mask: np.ndarray,
    variance: np.ndarray,
    nimage: np.ndarray,
    planes: Mapping[str, int],
    inputs: Sequence[Mapping[str, object]],
    header_cards: Mapping[str, object],
    wcs: WCS | None,
) -> fits.HDUList:
    """Assemble the coadd HDUs: primary header, IMAGE, MASK, VARIANCE, NIMAGE, INPUTS.

    Parameters
    ----------
    image, variance : ndarray of float32
        Coadd planes.
    mask, nimage : ndarray of int32
        Mask and input counts.
    planes : mapping of str to int
        Mask plane name -> bit, written as ``MP_<NAME>`` cards on MASK.
    inputs : sequence of mapping
        Rows of the INPUTS table (file, visit, scale, weight, used, reason).
    header_cards : mapping
        Extra primary-header cards (configuration, version, counts).
    wcs : astropy.wcs.WCS or None
        Written to every header.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)  # e.g. notes about fixed-up WCS keywords
        # relax=True keeps SIP distortion terms (and the -SIP CTYPE suffix) when there are any
        wcs_header = wcs.to_header(relax=wcs.sip is not None) if wcs is not None else fits.Header()
    primary = fits.PrimaryHDU()
    primary.header["BUNIT"] = "nJy"
    primary.header.update(wcs_header)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)  # long keywords become HIERARCH cards
        for key, value in header_cards.items():
            primary.header[key] = value

    def plane_hdu(data: np.ndarray, name: str, dtype: type) -> fits.ImageHDU:
        hdu = fits.ImageHDU(np.ascontiguousarray(data, dtype=dtype), name=name)
        hdu.header.update(wcs_header)
        return hdu

    image_hdu = plane_hdu(image, "IMAGE", np.float32)
    image_hdu.header["BUNIT"] = "nJy"
    mask_hdu = plane_hdu(mask, "MASK", np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        for key, bit in planes_to_header(planes).items():
            mask_hdu.header[key] = bit
    variance_hdu = plane_hdu(variance, "VARIANCE", np.float32)
    variance_hdu.header["BUNIT"] = "nJy2"
    nimage_hdu = plane_hdu(nimage, "NIMAGE", np.int32)
    columns = [
        fits.Column("FILE", _string_format(inputs, "file"),
                    array=np.array([_ascii(r["file"]) for r in inputs], dtype="U")),
        fits.Column("VISIT", "K", null=-1, array=np.array(
            [-1 if r["visit"] is None else r["visit"] for r in inputs], dtype=np.int64)),
        fits.Column("SCALE", "D", array=np.array([r["scale"] for r in inputs], dtype=np.float64)),
        fits.Column("WEIGHT", "D", array=np.array([r["weight"] for r in inputs], dtype=np.float64)),
        fits.Column("USED", "L", array=np.array([bool(r["used"]) for r in inputs], dtype=bool)),
        fits.Column("REASON", _string_format(inputs, "reason"),
                    array=np.array([_ascii(r["reason"]) for r in inputs], dtype="U")),
    ]
    inputs_hdu = fits.BinTableHDU.from_columns(columns, name="INPUTS")
    return fits.HDUList([primary, image_hdu, mask_hdu, variance_hdu, nimage_hdu, inputs_hdu])


def write_atomic(hdulist: fits.HDUList, path: str | Path, overwrite: bool = True) -> Path:
    """Write ``hdulist`` to ``path`` through a temporary file in the same folder, then rename.

    A failure at any point removes the temporary file and leaves an existing file at
    ``path`` untouched.

    Raises
    ------
    OutputError
        If the folder is missing or unwritable, ``path`` is a directory, it exists and
        ``overwrite`` is false, or the write fails (disk full, ...).
    """
    target, folder = _check_target(path, overwrite)
    descriptor, temporary = _temporary(target, folder)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            hdulist.writeto(stream, output_verify="exception", checksum=False)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit, ...
            raise
        raise OutputError(f"write failed: {_write_failure(error)}", target) from error
    _sync_folder(folder)
    return target


def check_writable(path: str | Path, overwrite: bool = True) -> Path:
    """Check, before any work, that :func:`write_atomic` could write ``path``.

    Creates and removes a temporary file in the target folder, so permissions,
    read-only file systems and missing folders show up at once, whoever runs it.

    Raises
    ------
    OutputError
        As :func:`write_atomic` would.
    """
    target, folder = _check_target(path, overwrite)
    descriptor, temporary = _temporary(target, folder)
    os.close(descriptor)
    os.unlink(temporary)
    return target


def creation_date() -> str:
    """The ``DATE`` card value: now in UTC, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    try:
        moment = datetime.fromtimestamp(int(epoch), tz=timezone.utc) if epoch else None
    except (ValueError, OverflowError, OSError):
        moment = None
    return (moment or datetime.now(tz=timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")


def _check_target(path: str | Path, overwrite: bool) -> tuple[Path, Path]:
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise OutputError("is a directory", target)
    if not folder.is_dir():
        raise OutputError(f"folder {folder} does not exist", target)
    if target.exists() and not overwrite:
        raise OutputError("exists (pass overwrite to replace it)", target)
    return target, folder


def _temporary(target: Path, folder: Path) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise OutputError(f"cannot write in {folder}: {error.strerror or error}", target) from None


def _write_failure(error: BaseException) -> str:
    """The cause of a failed write in a few words.

    An OSError anywhere in the chain is the cause: astropy may raise another exception
    while handling it (on a short write it looks for free space and trips over itself).
    numpy reports a short write (disk full, file size limit) without an errno.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError):
            if seen.strerror:
                return seen.strerror
            return f"{seen} (disk full or file size limit?)"
        seen = seen.__cause__ or seen.__context__
    return f"{type(error).__name__}: {error}"


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every file system lets a folder be synced)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _ascii(value: object) -> str:
    """FITS strings are ASCII: non-ASCII and non-printable characters are written as Python escapes."""
    text = str(value)
    return text if text.isascii() and text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _string_format(rows: Sequence[Mapping[str, object]], key: str) -> str:
    width = max([len(_ascii(r[key])) for r in rows] + [1])
    return f"{width}A"
