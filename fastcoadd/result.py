"""The result of an assembly: coadd planes, the output mask planes and the table of inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from astropy.wcs import WCS

from .config import CoaddConfig


@dataclass(frozen=True)
class InputRecord:
    """One input warp as the coadd used it (a row of the INPUTS table)."""

    file: str
    """Path of the warp, or the name of an in-memory warp."""
    visit: int | None
    """VISIT number, if the warp has one."""
    scale: float
    """Calibration applied: nJy (or target units) per unit of the warp."""
    weight: float
    """Weight of the warp in the combination (NaN if it could not be computed)."""
    used: bool
    """Whether the warp entered the coadd."""
    reason: str = ""
    """Why the warp was skipped (empty when used)."""


@dataclass
class CoaddResult:
    """A coadd in memory.

    Attributes
    ----------
    image : ndarray of float32, shape (ny, nx)
        Coadd flux in nJy (or the target zero point's units).
    mask : ndarray of int32, shape (ny, nx)
        Coadd mask; ``planes`` names its bits.
    variance : ndarray of float32, shape (ny, nx)
        Coadd variance; +inf where it is not positive.
    nimage : ndarray of int32, shape (ny, nx)
        Number of good inputs per pixel before clipping.
    planes : dict of str to int
        Mask plane name -> bit.
    inputs : list of InputRecord
        Every input warp in canonical order, used or skipped.
    config : CoaddConfig
        The configuration used.
    wcs : astropy.wcs.WCS or None
        The patch grid.
    stats : dict
        Run figures: ``wall_seconds`` (the whole call, writing included), ``tile_shape``,
        ``n_inputs``, ``n_used``, ``pixels_clipped``, ``pixels_no_data`` and ``seconds``: the
        time spent per step (opening and checking the inputs, weights, reading tiles,
        combining, interpolation, writing); steps run on several threads at once say
        "thread-seconds" and add up the threads.
    """

    image: np.ndarray
    mask: np.ndarray
    variance: np.ndarray
    nimage: np.ndarray
    planes: dict[str, int]
    inputs: list[InputRecord]
    config: CoaddConfig
    wcs: WCS | None = None
    stats: dict[str, object] = field(default_factory=dict)

    @property
    def n_used(self) -> int:
        """Number of inputs that entered the coadd."""
        return sum(record.used for record in self.inputs)

    def plane(self, name: str) -> np.ndarray:
        """Boolean map of pixels carrying mask plane ``name``."""
        return (self.mask & np.int32(np.int64(1) << self.planes[name]).astype(np.int32)) != 0

    def inputs_table(self):  # -> astropy.table.Table
        """The INPUTS table as an :class:`astropy.table.Table`."""
        from astropy.table import Table

        return Table(
            rows=[(r.file, -1 if r.visit is None else r.visit, r.scale, r.weight, r.used, r.reason)
                  for r in self.inputs],
            names=("file", "visit", "scale", "weight", "used", "reason"),
            dtype=(str, np.int64, np.float64, np.float64, bool, str),
        )

    def to_hdulist(self, *, date: bool = True):  # -> astropy.io.fits.HDUList
        """The coadd file's HDUs (SPEC §2), as :func:`fastcoadd.write_coadd` writes them.

        ``date`` adds the ``DATE`` card (UTC now, or ``SOURCE_DATE_EPOCH`` when set).
        """
        from .interop import coadd_to_hdulist

        return coadd_to_hdulist(self, date=date)

    def to_ccddata(self, mask_planes: tuple[str, ...] = ("NO_DATA",)):  # -> astropy.nddata.CCDData
        """The coadd as an astropy ``CCDData`` in nJy (see :func:`fastcoadd.interop.coadd_to_ccddata`)."""
        from .interop import coadd_to_ccddata

        return coadd_to_ccddata(self, mask_planes)

    def plot(self, plane: str | None = None, stretch: str = "asinh", **kwargs):  # -> matplotlib Figure
        """Quick-look figure: IMAGE, NIMAGE and one mask plane (see :func:`fastcoadd.plotting.plot_coadd`).

        Needs matplotlib (``pip install 'fastcoadd[plot]'``).
        """
        from .plotting import plot_coadd

        return plot_coadd(self, plane=plane, stretch=stretch, **kwargs)
