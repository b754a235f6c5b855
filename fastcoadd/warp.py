"""In-memory warps, and the common reading interface the orchestrator uses for every warp."""

from __future__ import annotations

import mmap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from astropy.wcs import WCS

from .errors import CalibrationError, MaskPlaneError, WarpFormatError
from .masks import DEFAULT_PLANES, check_planes


class PlaneView:
    """Stored values of a plane's tile, seen through a memory map; :meth:`close` unmaps them.

    Attributes
    ----------
    array : ndarray
        The values in the file's dtype and byte order (read-only); None once closed.
    """

    def __init__(self, array: np.ndarray, mapped: mmap.mmap | None = None) -> None:
        self.array: np.ndarray | None = array
        self._mapped = mapped

    def close(self) -> None:
        """Drop the view and unmap its pages."""
        self.array = None
        if self._mapped is not None:
            self._mapped.close()
            self._mapped = None


class WarpSource(Protocol):
    """What the orchestrator needs of a warp, whether a FITS file or arrays in memory."""

    name: str
    visit: int | None
    shape: tuple[int, int]
    wcs: WCS | None
    planes: dict[str, int]
    calibration: dict[str, object]
    image_dtype: np.dtype

    def read(self, plane: str, rows: slice, cols: slice, out: np.ndarray | None = None) -> np.ndarray:
        """Read ``plane[rows, cols]`` as a native-endian, C-contiguous array."""

    def open_view(self, plane: str, rows: slice, cols: slice) -> PlaneView | None:
        """A read-only view of ``plane[rows, cols]`` as stored (any byte order), or None.

        None when the stored values must be decoded (scaled, compressed): use :meth:`read`.
        """

    def close(self) -> None:
        """Release any open file."""


@dataclass
class Warp:
    """A warp held in memory.

    Parameters
    ----------
    image : ndarray of float, shape (ny, nx)
        Flux in counts (or nJy); NaN where there is no data.
    mask : ndarray of int, shape (ny, nx)
        Bitmask; planes named by ``mask_planes``.
    variance : ndarray of float, shape (ny, nx)
        Variance of ``image`` in the same units squared.
    calibration : mapping, optional
        Calibration keywords as a warp header would carry them: ``{"BUNIT": "nJy"}``,
        ``{"MAGZERO": 27.0}`` or ``{"FLUXMAG0": 6.3e10}``.
    zero_point : float, optional
        AB magnitude of one unit; shorthand for ``calibration={"MAGZERO": zero_point}``.
    wcs : astropy.wcs.WCS, optional
        The patch grid's celestial WCS.
    visit : int, optional
        Identifies the input; inputs are combined in order of visit.
    mask_planes : mapping of str to int, optional
        Plane name -> bit; LSST's defaults when omitted.
    name : str, optional
        How the input is named in messages and in the INPUTS table.
    """

    image: np.ndarray
    mask: np.ndarray
    variance: np.ndarray
    calibration: Mapping[str, object] | None = None
    zero_point: float | None = None
    wcs: WCS | None = None
    visit: int | None = None
    mask_planes: Mapping[str, int] | None = None
    name: str | None = None


def check_visit(visit: object, path: object | None) -> int | None:
    """A warp's VISIT as an int (None when absent).

    Raises
    ------
    WarpFormatError
        If it is not an integer in [0, 2**63) (the INPUTS table stores it as int64, -1 for none).
    """
    if visit is None:
        return None
    if isinstance(visit, bool) or not isinstance(visit, (int, np.integer)) or not 0 <= visit < 2**63:
        raise WarpFormatError(f"VISIT must be an integer in [0, 2**63), got {visit!r}", path)
    return int(visit)


class MemoryWarpSource:
    """Adapts a :class:`Warp` to the :class:`WarpSource` interface.

    Raises
    ------
    WarpFormatError
        If the planes are not 2-D, differ in shape, or have the wrong kind of dtype.
    """

    def __init__(self, warp: Warp, index: int) -> None:
        self.name = warp.name or f"<warp {index}>"
        arrays = {}
        for plane, data in (("IMAGE", warp.image), ("MASK", warp.mask), ("VARIANCE", warp.variance)):
            try:
                arrays[plane] = array = np.asarray(data)
            except (TypeError, ValueError) as error:  # ragged nested lists, ...
                raise WarpFormatError(f"{plane} is not an array ({error})", self.name) from None
            if array.ndim != 2 or array.size == 0:
                raise WarpFormatError(f"{plane} must be 2-D, not empty; got shape {array.shape}", self.name)
            expected = "iu" if plane == "MASK" else "f"
            # numba handles integers and floats of up to 8 bytes (no float128)
            if array.dtype.kind not in expected or array.dtype.itemsize > 8:
                kind = "an integer" if plane == "MASK" else "a floating-point"
                raise WarpFormatError(f"{plane} must have {kind} dtype, got {array.dtype}", self.name)
        shapes = {plane: array.shape for plane, array in arrays.items()}
        if len(set(shapes.values())) != 1:
            raise WarpFormatError(f"planes differ in shape: {shapes}", self.name)
        self._arrays = arrays
        self.shape = arrays["IMAGE"].shape
        self.image_dtype = np.dtype(arrays["IMAGE"].dtype.newbyteorder("="))
        self.visit = check_visit(warp.visit, self.name)
        if warp.wcs is not None and not isinstance(warp.wcs, WCS):
            raise WarpFormatError(f"wcs must be an astropy.wcs.WCS, got {type(warp.wcs).__name__}", self.name)
        self.wcs = warp.wcs
        if warp.mask_planes is not None and not isinstance(warp.mask_planes, Mapping):
            raise MaskPlaneError(f"mask_planes must map names to bits, got {warp.mask_planes!r}", self.name)
        self.planes = check_planes(warp.mask_planes, self.name) if warp.mask_planes else dict(DEFAULT_PLANES)
        if warp.calibration is not None and not isinstance(warp.calibration, Mapping):
            raise CalibrationError(
                f"calibration must be a mapping of header keywords, got {warp.calibration!r}", self.name)
        self.calibration = dict(warp.calibration or {})
        if warp.zero_point is not None and "MAGZERO" not in self.calibration:
            self.calibration["MAGZERO"] = warp.zero_point

    def plane_dtype(self, plane: str) -> np.dtype:
        """Native dtype of a plane's values."""
        return np.dtype(self._arrays[plane].dtype.newbyteorder("="))

    def read(self, plane: str, rows: slice, cols: slice, out: np.ndarray | None = None) -> np.ndarray:
        """Copy ``plane[rows, cols]`` into a native-endian, C-contiguous array."""
        tile = self._arrays[plane][rows, cols]
        if out is None:
            return np.ascontiguousarray(tile, dtype=self.plane_dtype(plane))
        out[...] = tile
        return out

    def open_view(self, plane: str, rows: slice, cols: slice) -> PlaneView:
        """The array's own ``plane[rows, cols]``, without copying."""
        return PlaneView(self._arrays[plane][rows, cols])

    def close(self) -> None:
        """Nothing to release."""
