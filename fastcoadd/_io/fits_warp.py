"""Read warp FITS files (SPEC §1) tile by tile, without loading whole planes.

Uncompressed planes are read through a memory map of just the rows a tile needs,
unmapped as soon as the tile is copied, so mapped pages never pile up in resident
memory. Tile-compressed planes (``CompImageHDU``) are read by sections, which
decompresses only the compression tiles a tile overlaps. Either way the caller
gets native-endian, C-contiguous arrays.
"""

from __future__ import annotations

import functools
import math
import mmap
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS, FITSFixedWarning

from ..errors import FastcoaddError, WarpFormatError
from ..masks import planes_from_header
from ..warp import PlaneView, check_visit
from .handles import HandlePool

PLANES = ("IMAGE", "MASK", "VARIANCE")
CALIBRATION_KEYS = ("BUNIT", "MAGZERO", "FLUXMAG0")
_GRANULARITY = mmap.ALLOCATIONGRANULARITY


@dataclass(frozen=True)
class _PlaneLayout:
    """Where one plane lives in the file and how its stored values become data values."""

    hdu_index: int
    compressed: bool
    offset: int  # byte offset of the data (uncompressed planes)
    disk_dtype: np.dtype  # stored dtype, big-endian (uncompressed planes)
    bscale: float
    bzero: float
    blank: int | None

    @property
    def value_dtype(self) -> np.dtype:
        """Native dtype of the values the plane holds once scaled."""
        if self.bscale == 1.0 and self.bzero == 0.0:
            return self.disk_dtype.newbyteorder("=")
        if self.disk_dtype.kind in "iu" and self.bscale == 1.0 and float(self.bzero).is_integer():
            # the FITS convention for unsigned integers: BZERO = 2**(bits-1)
            bits = self.disk_dtype.itemsize * 8
            if self.bzero == 2 ** (bits - 1):
                return np.dtype(f"u{self.disk_dtype.itemsize}")
            return np.dtype(np.int64)
        return np.dtype(np.float64)


class FitsWarp:
    """One warp file, opened for reading tiles.

    Parameters
    ----------
    path : str or Path
        The FITS file.
    pool : HandlePool
        Shared pool of open files; the file is opened through it.

    Raises
    ------
    WarpFormatError
        If the file is not a readable warp (see :meth:`_scan`).
    """

    def __init__(self, path: str | Path, pool: HandlePool) -> None:
        self.path = Path(path)
        self.name = str(path)
        self._pool = pool
        self._scan()

    # -- opening ---------------------------------------------------------------------------
    def _open(self) -> tuple[tuple[object, fits.HDUList], object]:
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode) and not self.path.is_dir():
                # opening a FIFO would wait for a writer forever
                raise WarpFormatError("is not a regular file (a FIFO, device or socket)", self.path)
            fileobj = open(self.path, "rb")  # noqa: SIM115 - closed by the pool
        except IsADirectoryError:
            raise WarpFormatError("is a directory, not a FITS file", self.path) from None
        except OSError as error:
            raise WarpFormatError(f"cannot open: {error.strerror or error}", self.path) from None
        identity = getattr(self, "_identity", None)
        if identity is not None:  # reopened after the scan (the pool closed it meanwhile)
            if _file_identity(fileobj) != identity:
                fileobj.close()
                raise WarpFormatError("changed on disk while the coadd was being made", self.path)
            if not self._needs_hdulist:
                # uncompressed planes are read through memory maps of the descriptor: no need to
                # parse the headers again, which keeps reopening cheap with thousands of warps
                return (fileobj, None), fileobj.close
        file_size = os.fstat(fileobj.fileno()).st_size
        if file_size == 0:
            fileobj.close()
            raise WarpFormatError("not a readable FITS file (empty, 0 bytes)", self.path)
        try:
            problem = _header_count_problem(fileobj, file_size)
        except OSError:
            problem = None  # astropy will meet the same read error and say so
        if problem:
            fileobj.close()
            raise WarpFormatError(problem, self.path)
        fileobj.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AstropyWarning)
                hdul = fits.open(fileobj, mode="readonly", memmap=False, lazy_load_hdus=False)
        except Exception as error:  # astropy raises OSError, ValueError, IndexError, ... on junk
            fileobj.close()
            raise WarpFormatError(f"not a readable FITS file ({_describe(error)})", self.path) from None

        def close() -> None:
            hdul.close()
            fileobj.close()

        return (fileobj, hdul), close

    def _handle(self) -> tuple[object, fits.HDUList]:
        return self._pool.get(self.name, self._open)  # type: ignore[return-value]

    def _scan(self) -> None:
        """Read headers, find the planes by EXTNAME, check shapes, dtypes and file length."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AstropyWarning)
                self._scan_headers()
        except FastcoaddError:
            raise
        except Exception as error:  # astropy may raise almost anything on a corrupt header card
            raise WarpFormatError(f"unreadable header ({_describe(error)})", self.path) from None

    def _scan_headers(self) -> None:
        fileobj, hdul = self._handle()
        if len(hdul) == 0:
            raise WarpFormatError("empty FITS file", self.path)
        primary = hdul[0].header
        found: dict[str, int] = {}
        for index, hdu in enumerate(hdul):
            extname = str(hdu.header.get("EXTNAME", "")).strip().upper()
            if extname in PLANES and extname not in found:
                found[extname] = index
        file_size = os.fstat(fileobj.fileno()).st_size
        missing = [plane for plane in PLANES if plane not in found]
        if missing:
            raise WarpFormatError(_explain_missing(missing, hdul, file_size), self.path)
        layouts: dict[str, _PlaneLayout] = {}
        shape: tuple[int, int] | None = None
        for plane in PLANES:
            index = found[plane]
            hdu = hdul[index]
            layout, plane_shape = self._layout(plane, index, hdu, hdul, file_size)
            if shape is None:
                shape = plane_shape
            elif plane_shape != shape:
                raise WarpFormatError(
                    f"{plane} has shape {plane_shape} but IMAGE has {shape}", self.path)
            layouts[plane] = layout
        assert shape is not None
        self.shape = shape
        self._layouts = layouts
        self.image_dtype = layouts["IMAGE"].value_dtype
        image_header = hdul[found["IMAGE"]].header
        self.calibration = {key: image_header[key] for key in CALIBRATION_KEYS if key in image_header}
        self.calibration.update({key: primary[key] for key in CALIBRATION_KEYS if key in primary})
        self.visit = check_visit(primary.get("VISIT"), self.path)
        self.planes = planes_from_header(hdul[found["MASK"]].header, self.path)
        self.wcs = _celestial_wcs(image_header) or _celestial_wcs(primary)
        self._needs_hdulist = any(layout.compressed for layout in layouts.values())
        self._identity = _file_identity(fileobj)

    def _layout(
        self, plane: str, index: int, hdu: fits.hdu.base.ExtensionHDU, hdul: fits.HDUList, file_size: int
    ) -> tuple[_PlaneLayout, tuple[int, int]]:
        header = hdu.header
        compressed = isinstance(hdu, fits.CompImageHDU)
        if not compressed and not isinstance(hdu, (fits.ImageHDU, fits.PrimaryHDU)):
            if type(hdu).__name__.startswith("_"):  # astropy's stand-ins for HDUs it cannot recognise
                raise WarpFormatError(f"{plane} has a corrupt header (not a recognisable HDU)", self.path)
            raise WarpFormatError(f"{plane} is a {type(hdu).__name__}, not an image", self.path)
        if header.get("NAXIS") != 2:
            raise WarpFormatError(f"{plane} has NAXIS={header.get('NAXIS')}; expected a 2-D image", self.path)
        plane_shape = (self._integer(header, plane, "NAXIS2"), self._integer(header, plane, "NAXIS1"))
        bitpix = header.get("BITPIX")
        if isinstance(bitpix, bool) or bitpix not in (8, 16, 32, 64, -32, -64):
            raise WarpFormatError(f"{plane} has unsupported BITPIX {bitpix!r}", self.path)
        is_float = bitpix < 0
        if plane == "MASK" and is_float:
            raise WarpFormatError(f"MASK has floating-point BITPIX {bitpix}; expected integers", self.path)
        bscale = self._number(header, plane, "BSCALE", 1.0)
        bzero = self._number(header, plane, "BZERO", 0.0)
        if bscale == 0.0:
            raise WarpFormatError(f"{plane} has BSCALE 0", self.path)
        if plane != "MASK" and not is_float and bscale == 1.0 and float(bzero).is_integer():
            raise WarpFormatError(f"{plane} has integer BITPIX {bitpix}; expected floating point", self.path)
        if plane == "MASK" and (bscale != 1.0 or not float(bzero).is_integer()):
            raise WarpFormatError(f"MASK has BSCALE {bscale:g} BZERO {bzero:g}; expected integers", self.path)
        disk_dtype = np.dtype(fits.BITPIX2DTYPE[bitpix]).newbyteorder(">")
        if bitpix == 8:
            disk_dtype = np.dtype(np.uint8)
        blank = header.get("BLANK") if not is_float else None
        if blank is not None and (isinstance(blank, bool) or not isinstance(blank, (int, np.integer))):
            raise WarpFormatError(f"{plane} has a BLANK that is not an integer: {blank!r}", self.path)
        info = hdu.fileinfo()  # the HDU's own: HDUList.fileinfo re-serialises every header
        offset = int(info["datLoc"])
        if compressed:
            needed = offset + max(int(info["datSpan"]) - 2879, 0)
        else:
            needed = offset + plane_shape[0] * plane_shape[1] * disk_dtype.itemsize
        if file_size < needed:
            raise WarpFormatError(
                f"truncated: {plane} needs {needed} bytes but the file has {file_size}", self.path)
        layout = _PlaneLayout(index, compressed, offset, disk_dtype, bscale, bzero,
                              None if blank is None else int(blank))
        return layout, plane_shape

    def _integer(self, header: fits.Header, plane: str, key: str) -> int:
        value = header.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise WarpFormatError(f"{plane} has {key}={value!r}; expected a positive integer", self.path)
        return int(value)

    def _number(self, header: fits.Header, plane: str, key: str, default: float) -> float:
        value = header.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise WarpFormatError(f"{plane} has {key}={value!r}; expected a finite number", self.path)
        return float(value)

    # -- reading ---------------------------------------------------------------------------
    def plane_dtype(self, plane: str) -> np.dtype:
        """Native dtype of a plane's values."""
        return self._layouts[plane].value_dtype

    def read(self, plane: str, rows: slice, cols: slice, out: np.ndarray | None = None) -> np.ndarray:
        """Read ``plane[rows, cols]`` as a native-endian, C-contiguous array.

        Parameters
        ----------
        plane : str
            ``"IMAGE"``, ``"MASK"`` or ``"VARIANCE"``.
        rows, cols : slice
            Tile bounds (step 1).
        out : ndarray, optional
            Preallocated destination of the tile's shape; the values are cast into it.

        Raises
        ------
        WarpFormatError
            If the data cannot be read (for instance a corrupt compressed tile).
        """
        layout = self._layouts[plane]
        r0, r1, _ = rows.indices(self.shape[0])
        c0, c1, _ = cols.indices(self.shape[1])
        if out is None:
            out = np.empty((r1 - r0, c1 - c0), dtype=layout.value_dtype)
        if r1 <= r0 or c1 <= c0:
            return out
        try:
            with self._pool.use(self.name, self._open) as (fileobj, hdul):
                if layout.compressed:
                    out[...] = hdul[layout.hdu_index].section[r0:r1, c0:c1]
                else:
                    self._read_mapped(fileobj.fileno(), layout, r0, r1, c0, c1, out)
        except WarpFormatError:
            raise
        except Exception as error:  # a corrupt compressed tile, an I/O error
            reason = f"cannot read {plane} rows {r0}:{r1} ({_describe(error)})"
            raise WarpFormatError(reason, self.path) from None
        return out

    def open_view(self, plane: str, rows: slice, cols: slice) -> PlaneView | None:
        """A read-only view of the stored ``plane[rows, cols]`` through a memory map, without copying.

        Only for planes stored as their values (uncompressed, no BSCALE/BZERO/BLANK); the view
        keeps the file's byte order. Returns None for other planes: read those with :meth:`read`.
        Close the view when done; only its rows' pages are mapped, and only while it is open.

        Raises
        ------
        WarpFormatError
            If the file cannot be mapped.
        """
        layout = self._layouts[plane]
        if layout.compressed or layout.bscale != 1.0 or layout.bzero != 0.0 or layout.blank is not None:
            return None
        r0, r1, _ = rows.indices(self.shape[0])
        c0, c1, _ = cols.indices(self.shape[1])
        if r1 <= r0 or c1 <= c0:
            return None
        nx = self.shape[1]
        itemsize = layout.disk_dtype.itemsize
        start = layout.offset + r0 * nx * itemsize
        aligned = start - start % _GRANULARITY
        try:
            with self._pool.use(self.name, self._open) as (fileobj, _):
                mapped = mmap.mmap(fileobj.fileno(), (r1 - r0) * nx * itemsize + (start - aligned),
                                   offset=aligned, access=mmap.ACCESS_READ)
        except WarpFormatError:
            raise
        except Exception as error:
            reason = f"cannot map {plane} rows {r0}:{r1} ({_describe(error)})"
            raise WarpFormatError(reason, self.path) from None
        stored = np.frombuffer(mapped, dtype=layout.disk_dtype, count=(r1 - r0) * nx,
                               offset=start - aligned).reshape(r1 - r0, nx)[:, c0:c1]
        return PlaneView(stored, mapped)

    def _read_mapped(self, fd: int, layout: _PlaneLayout, r0: int, r1: int, c0: int, c1: int,
                     out: np.ndarray) -> None:
        nx = self.shape[1]
        itemsize = layout.disk_dtype.itemsize
        start = layout.offset + r0 * nx * itemsize
        length = (r1 - r0) * nx * itemsize
        aligned = start - start % _GRANULARITY
        mapped = mmap.mmap(fd, length + (start - aligned), offset=aligned, access=mmap.ACCESS_READ)
        try:
            stored = np.frombuffer(mapped, dtype=layout.disk_dtype, count=(r1 - r0) * nx,
                                   offset=start - aligned).reshape(r1 - r0, nx)[:, c0:c1]
            if layout.bscale == 1.0 and layout.bzero == 0.0:
                out[...] = stored
            elif layout.value_dtype.kind == "u" and layout.disk_dtype.kind == "i":
                out[...] = stored.view(layout.disk_dtype.newbyteorder(">").str.replace("i", "u"))
                out ^= np.array(1, dtype=out.dtype) << np.array(itemsize * 8 - 1, dtype=out.dtype)
            else:
                values = stored.astype(np.float64) * layout.bscale + layout.bzero
                if layout.blank is not None:
                    values[stored == layout.blank] = np.nan
                out[...] = values
            del stored
        finally:
            mapped.close()

    def close(self) -> None:
        """Close the file (it is reopened through the pool if read again)."""
        self._pool.release(self.name)


def _celestial_wcs(header: fits.Header) -> WCS | None:
    """The celestial WCS of a header, or None if it has none.

    The warps of one patch usually carry identical plane headers, so the WCS is built once
    per distinct header text and shared (building one costs milliseconds; thousands of warps).
    """
    if not any(key in header for key in ("CTYPE1", "CRVAL1", "CD1_1", "PC1_1")):
        return None
    return _wcs_from_text(header.tostring())


@functools.lru_cache(maxsize=8)
def _wcs_from_text(text: str) -> WCS | None:
    header = fits.Header.fromstring(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2)
    except Exception:
        return None
    return wcs if wcs.has_celestial else None


#: Most axes (NAXIS, ZNAXIS) and table columns (TFIELDS) the FITS standard allows.
_MAX_COUNT = 999
#: Header size past which the raw walk stops and leaves the file to astropy (LSST headers are far smaller).
_MAX_HEADER_BLOCKS = 1000
_COUNT_KEYS = (b"NAXIS", b"ZNAXIS", b"TFIELDS")
_SIZE_KEYS = (b"BITPIX", b"PCOUNT", b"GCOUNT")


def _header_count_problem(fileobj: BinaryIO, file_size: int) -> str:
    """Walk the raw header cards of every HDU and refuse counts astropy would loop over.

    astropy builds a list of NAXIS (or ZNAXIS, TFIELDS) entries when it opens an HDU: a
    corrupt card such as ``NAXIS = 99999999`` takes minutes and gigabytes before any error.
    This walk reads only the integer cards it needs, block by block; it returns the problem,
    or "" when there is none or when it cannot follow the file (astropy then judges it).
    """
    offset = 0
    index = 0
    while offset < file_size:
        fileobj.seek(offset)
        values: dict[bytes, int] = {}
        header_end = None
        for block_index in range(_MAX_HEADER_BLOCKS):
            block = fileobj.read(2880)
            if len(block) < 2880:
                return ""
            for start in range(0, 2880, 80):
                keyword = block[start:start + 8].rstrip()
                if keyword == b"END":
                    header_end = offset + (block_index + 1) * 2880
                    break
                if block[start + 8:start + 10] != b"= " or not (
                        keyword in _COUNT_KEYS or keyword in _SIZE_KEYS or keyword[:5] == b"NAXIS"):
                    continue
                try:
                    values[keyword] = int(block[start + 10:start + 80].split(b"/")[0].strip())
                except ValueError:
                    return ""
            if header_end is not None:
                break
        if header_end is None:
            return ""
        for keyword in _COUNT_KEYS:
            count = values.get(keyword)
            if count is not None and not 0 <= count <= _MAX_COUNT:
                return f"HDU {index} has {keyword.decode()}={count}; FITS allows 0..{_MAX_COUNT}"
        naxis, bitpix = values.get(b"NAXIS"), values.get(b"BITPIX")
        if naxis is None or bitpix is None:
            return ""
        axes = [values.get(b"NAXIS%d" % axis) for axis in range(1, naxis + 1)]
        if any(axis is None or axis < 0 for axis in axes):
            return ""
        size = 0
        if axes:
            size = abs(bitpix) // 8 * values.get(b"GCOUNT", 1) * (values.get(b"PCOUNT", 0) + math.prod(axes))
        if size < 0:  # a negative PCOUNT or GCOUNT: nothing to follow
            return ""
        offset = header_end + -(-size // 2880) * 2880
        index += 1
    return ""


def _file_identity(fileobj: object) -> tuple[int, int, int, int]:
    """What identifies one version of an open file: device, inode, size, modification time."""
    stat = os.fstat(fileobj.fileno())  # type: ignore[attr-defined]
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _explain_missing(missing: list[str], hdul: fits.HDUList, file_size: int) -> str:
    """Why planes were not found: the file ends early, an HDU header is corrupt, or they are absent."""
    last = len(hdul) - 1
    info = hdul[last].fileinfo()
    end = int(info["datLoc"]) + int(info["datSpan"])
    if end > file_size:
        return f"truncated: HDU {last} needs {end} bytes but the file has {file_size}"
    if file_size - end >= 2880:  # more blocks follow, but astropy could not parse them as an HDU
        return (f"corrupt header: HDU {last + 1} at byte {end} cannot be read "
                f"(missing extension {', '.join(missing)})")
    return f"missing extension {', '.join(missing)} (looked for EXTNAME)"


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
