"""The exceptions fastcoadd raises: one class per kind of problem a user can cause.

Every exception carries the input (``path``, a file name or ``None``) and a plain
``reason``; ``str(error)`` is a one-line message naming both. Each class has the
exit code the command-line interface returns for it.
"""

from __future__ import annotations


class FastcoaddError(Exception):
    """Base class of every fastcoadd error.

    Parameters
    ----------
    reason : str
        What is wrong, in one line.
    path : str, optional
        The file (or in-memory input) the problem belongs to.
    """

    exit_code = 1

    def __init__(self, reason: str, path: object | None = None) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class ConfigError(FastcoaddError, ValueError):
    """A configuration value or an argument is invalid."""

    exit_code = 2


class WarpFormatError(FastcoaddError):
    """A file is not a readable warp: not FITS, truncated, missing an extension, wrong dtype."""

    exit_code = 3


class IncompatibleWarpError(FastcoaddError):
    """A warp does not fit the others: different shape or WCS."""

    exit_code = 4


class CalibrationError(FastcoaddError):
    """A warp has no usable photometric calibration."""

    exit_code = 5


class MaskPlaneError(FastcoaddError):
    """Mask planes cannot be reconciled (too many planes, conflicting definitions)."""

    exit_code = 6


class NoUsableInputError(FastcoaddError):
    """No warp is left to combine (none given, or every one skipped)."""

    exit_code = 7


class OutputError(FastcoaddError):
    """The coadd cannot be written where it was asked for."""

    exit_code = 8
