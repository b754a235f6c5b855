"""Checks on the inputs before any pixel is combined: hostile inputs stop here, with a fastcoadd error.

Each check names the input and what is wrong; ``docs/RELIABILITY.md`` lists them with
the tests that prove them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ._tiling import OUTPUT_BYTES_PER_PIXEL
from .config import CoaddConfig
from .errors import ConfigError, IncompatibleWarpError, MaskPlaneError, WarpFormatError
from .masks import unknown_plane_names
from .warp import WarpSource


def check_distinct(sources: Sequence[WarpSource]) -> None:
    """Refuse an input given twice: two warps with one VISIT, or one file under two names.

    LSST takes each visit once per coadd; a repeated warp would count twice.

    Raises
    ------
    IncompatibleWarpError
        Naming both inputs.
    """
    visits: dict[int, str] = {}
    files: dict[tuple[int, int], str] = {}
    for source in sources:
        path = getattr(source, "path", None)
        if path is not None:
            try:
                stat = os.stat(path)
            except OSError:  # vanished since it was opened; the read will say so
                stat = None
            key = None if stat is None else (stat.st_dev, stat.st_ino)
            if key in files:
                raise IncompatibleWarpError(f"is the same file as {files[key]}", source.name)
            if key is not None:
                files[key] = source.name
        if source.visit is not None:
            if source.visit in visits:
                raise IncompatibleWarpError(
                    f"VISIT {source.visit} is also the VISIT of {visits[source.visit]}", source.name)
            visits[source.visit] = source.name


def check_wcs(source: WarpSource) -> None:
    """Refuse a WCS whose reference pixel, reference value or CD matrix is not finite.

    Raises
    ------
    WarpFormatError
        Naming the input and the quantity.
    """
    wcs = source.wcs
    if wcs is None:
        return
    try:
        quantities = {"CRPIX": wcs.wcs.crpix, "CRVAL": wcs.wcs.crval, "CD": wcs.pixel_scale_matrix}
        for name, values in quantities.items():
            values = np.asarray(values, dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise WarpFormatError(f"WCS has a non-finite {name}: {values.tolist()}", source.name)
        if not np.linalg.det(np.asarray(quantities["CD"], dtype=np.float64)):
            raise WarpFormatError("WCS has a singular CD matrix", source.name)
    except WarpFormatError:
        raise
    except Exception as error:  # an astropy WCS that cannot even describe itself
        raise WarpFormatError(f"unusable WCS ({type(error).__name__}: {error})", source.name) from None


def check_plane_names(config: CoaddConfig, planes: dict[str, int]) -> None:
    """Refuse bad planes and threshold planes that no input declares and LSST does not know (typos).

    A plane LSST knows (``SAT``, ``EDGE``, ...) that no input declares is fine: no pixel carries it.

    Raises
    ------
    MaskPlaneError
        Naming the unknown planes and the known ones.
    """
    names = list(config.bad_planes) + [name for name, _ in config.propagation_thresholds]
    unknown = unknown_plane_names(names, planes)
    if unknown:
        raise MaskPlaneError(f"unknown mask plane {', '.join(dict.fromkeys(unknown))}; known planes are "
                             f"{', '.join(sorted(planes, key=planes.__getitem__))}")


def check_outputs_fit(shape: tuple[int, int], config: CoaddConfig) -> None:
    """Refuse a patch whose whole-patch output planes alone exceed the memory budget.

    Catches headers that claim a huge shape (a tile-compressed file can) before anything is
    allocated, and keeps the budget a ceiling: tiles are sized within what the outputs leave.

    Raises
    ------
    ConfigError
        With the size needed.
    """
    needed = OUTPUT_BYTES_PER_PIXEL * shape[0] * shape[1]
    if needed > config.memory_budget:
        raise ConfigError(f"the output planes of a {shape[0]}x{shape[1]} patch need {_size(needed)}, more "
                          f"than the memory budget of {_size(config.memory_budget)}; raise the budget")


class VarianceAudit:
    """A warp seen through the weight pass, counting good pixels whose variance is negative.

    The weight pass (SPEC §4) reads IMAGE, MASK and VARIANCE band by band; once all three
    planes of one band have been read, the band's negative variances on good pixels (finite
    image, no bad plane) are counted. Bands without any cost one NaN-blind minimum and no
    temporary array. Every other attribute is the warp's own.

    Parameters
    ----------
    source : WarpSource
        The warp.
    bad : int
        Bits of the bad planes in the warp's own numbering.
    """

    def __init__(self, source: WarpSource, bad: int) -> None:
        self._source = source
        self._bad = bad
        self._bands: dict[tuple[object, ...], dict[str, np.ndarray]] = {}
        self.negative = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._source, name)

    def read(self, plane: str, rows: slice, cols: slice, out: np.ndarray | None = None) -> np.ndarray:
        """Read as the warp does, and audit the band once its three planes are in."""
        data = self._source.read(plane, rows, cols, out=out)
        key = (rows.start, rows.stop, cols.start, cols.stop)
        band = self._bands.setdefault(key, {})
        band[plane] = data
        if len(band) == 3:
            del self._bands[key]
            self.negative += self._count(band["IMAGE"], band["MASK"], band["VARIANCE"])
        return data

    def _count(self, image: np.ndarray, mask: np.ndarray, variance: np.ndarray) -> int:
        if variance.size == 0 or not np.fmin.reduce(variance, axis=None) < 0:  # NaN-blind, no temporary
            return 0
        negative = variance < 0
        bad = np.array(self._bad, dtype=np.int64).astype(mask.dtype)
        negative &= np.isfinite(image)
        negative &= (mask & bad) == 0
        return int(np.count_nonzero(negative))

    @property
    def reason(self) -> str:
        """Why the warp must be skipped ("" if its variance is fine)."""
        if not self.negative:
            return ""
        return f"variance is negative on {self.negative} good pixel{'s' if self.negative > 1 else ''}"


def _size(size: int) -> str:
    return f"{size / 1024**2:.1f} MiB" if size >= 1024**2 else f"{size} bytes"
