"""The exceptions fastcoadd raises: one class per kind of problem a user can cause.

Every exception carries the input (``path``, a file name or ``None``) and a plain
``reason``; ``str(error)`` is a one-line message naming both. Each class has the
exit code the command-line interface returns for it:

- 0: success;
- 1: an unexpected exception (a bug); ``-v`` shows the traceback;
- 2: :class:`ConfigError`, an option or argument value is invalid (argparse errors too);
- 3: :class:`WarpFormatError`, a file is not a readable warp;
- 4: :class:`IncompatibleWarpError`, warps differ in shape or WCS, or one input is given twice;
- 5: :class:`CalibrationError`, photometric calibration missing or invalid;
- 6: :class:`MaskPlaneError`, mask planes cannot be reconciled, or a plane name is unknown;
- 7: :class:`NoUsableInputError`, no warp given, or every warp skipped;
- 8: :class:`OutputError`, the coadd cannot be written;
- 130: interrupted (SIGINT, Ctrl-C); 143: terminated (SIGTERM). No output is written.

``docs/RELIABILITY.md`` lists every hostile input and the error it gives.
"""

from __future__ import annotations

#: Exit code of the command line for an unexpected exception (a bug).
EXIT_INTERNAL = 1
#: Exit code of the command line when interrupted by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130
#: Exit code of the command line when terminated by SIGTERM (128 + 15).
EXIT_TERMINATED = 143
#: Exit code of the command line when its standard output is closed early, as in ``| head`` (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


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
        self.reason = " ".join(str(reason).split())  # one line, whatever the cause's text
        self.path = None if path is None else str(path)
        where = None if self.path is None else self.path.replace("\n", "\\n").replace("\r", "\\r")
        super().__init__(f"{where}: {self.reason}" if where else self.reason)

    def __reduce__(self) -> tuple[object, tuple[str, str | None]]:
        # keep (reason, path) when the error crosses a process boundary
        return (type(self), (self.reason, self.path))


class ConfigError(FastcoaddError, ValueError):
    """A configuration value or an argument is invalid."""

    exit_code = 2


class WarpFormatError(FastcoaddError):
    """A file is not a readable warp: not FITS, truncated, missing an extension, wrong dtype."""

    exit_code = 3


class IncompatibleWarpError(FastcoaddError):
    """A warp does not fit the others: different shape or WCS, or the same input given twice."""

    exit_code = 4


class CalibrationError(FastcoaddError):
    """A warp has no usable photometric calibration."""

    exit_code = 5


class MaskPlaneError(FastcoaddError):
    """Mask planes cannot be reconciled (too many planes, conflicting definitions, unknown names)."""

    exit_code = 6


class NoUsableInputError(FastcoaddError):
    """No warp is left to combine (none given, or every one skipped)."""

    exit_code = 7


class OutputError(FastcoaddError):
    """The coadd cannot be written where it was asked for."""

    exit_code = 8


#: Every error class with its exit code, in exit-code order.
EXIT_CODES: dict[type[FastcoaddError], int] = {
    cls: cls.exit_code
    for cls in (ConfigError, WarpFormatError, IncompatibleWarpError, CalibrationError, MaskPlaneError,
                NoUsableInputError, OutputError)
}
