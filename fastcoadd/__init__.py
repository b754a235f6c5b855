"""fastcoadd: fast, memory-bounded assembly of astronomical coadds from warps.

Public API
----------
assemble
    Combine warps (FITS files or in-memory :class:`Warp` objects) into a coadd.
CoaddConfig
    How to combine (statistic, clipping, bad planes, thresholds, memory budget, ...).
CoaddResult
    The coadd planes, mask planes and the INPUTS table; ``plot()``, ``to_ccddata()``, ``to_hdulist()``.
read_coadd
    Read a coadd file back into a :class:`CoaddResult`.
warp_from_nddata
    An astropy ``NDData`` / ``CCDData`` as a :class:`Warp` (``assemble`` takes them directly too).

Modules: :mod:`fastcoadd.plotting` (quick-look figures, needs matplotlib), :mod:`fastcoadd.info`
(text reports on files), :mod:`fastcoadd.demo` (synthetic warps).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .assemble import assemble, write_coadd
from .config import CoaddConfig
from .errors import (
    CalibrationError,
    ConfigError,
    FastcoaddError,
    IncompatibleWarpError,
    MaskPlaneError,
    NoUsableInputError,
    OutputError,
    WarpFormatError,
)
from .interop import read_coadd, warp_from_nddata
from .result import CoaddResult, InputRecord
from .warp import Warp

__all__ = [
    "CalibrationError",
    "CoaddConfig",
    "CoaddResult",
    "ConfigError",
    "FastcoaddError",
    "IncompatibleWarpError",
    "InputRecord",
    "MaskPlaneError",
    "NoUsableInputError",
    "OutputError",
    "Warp",
    "WarpFormatError",
    "__version__",
    "assemble",
    "read_coadd",
    "warp_from_nddata",
    "write_coadd",
]
