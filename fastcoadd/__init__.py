"""fastcoadd: fast, memory-bounded assembly of astronomical coadds from warps.

Public API
----------
assemble
    Combine warps (FITS files or in-memory :class:`Warp` objects) into a coadd.
CoaddConfig
    How to combine (statistic, clipping, bad planes, thresholds, memory budget, ...).
CoaddResult
    The coadd planes, mask planes and the INPUTS table.
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
    "write_coadd",
]
