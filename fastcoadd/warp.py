"""In-memory warps, and the common reading interface the orchestrator uses for every warp."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from astropy.wcs import WCS

from .errors import WarpFormatError
from .masks import DEFAULT_PLANES


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


class MemoryWarpSource:
    """Adapts a :class:`Warp` to the :class:`WarpSource` interface.

    Raises
    ------
    WarpFormatError
        If the planes are not 2-D, differ in shape, or have the wrong kind of dtype.
    """

    def __init__(self, warp: Warp, index: int) -> None:
        self.name = warp.name or f"<warp {index}>"
        arrays = {"IMAGE": np.asarray(warp.image), "MASK": np.asarray(warp.mask),
                  "VARIANCE": np.asarray(warp.variance)}
        for plane, array in arrays.items():
            if array.ndim != 2:
                raise WarpFormatError(f"{plane} must be 2-D, got shape {array.shape}", self.name)
            expected = "iu" if plane == "MASK" else "f"
            if array.dtype.kind not in expected:
                kind = "an integer" if plane == "MASK" else "a floating-point"
                raise WarpFormatError(f"{plane} must have {kind} dtype, got {array.dtype}", self.name)
        shapes = {plane: array.shape for plane, array in arrays.items()}
        if len(set(shapes.values())) != 1:
            raise WarpFormatError(f"planes differ in shape: {shapes}", self.name)
        self._arrays = arrays
        self.shape = arrays["IMAGE"].shape
        self.image_dtype = np.dtype(arrays["IMAGE"].dtype.newbyteorder("="))
        self.visit = None if warp.visit is None else int(warp.visit)
        self.wcs = warp.wcs
        self.planes = dict(warp.mask_planes) if warp.mask_planes else dict(DEFAULT_PLANES)
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

    def close(self) -> None:
        """Nothing to release."""
