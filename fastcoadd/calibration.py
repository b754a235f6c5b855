"""Photometric calibration: the scale from a warp's units to nJy (SPEC §1) or to a target zero point."""

from __future__ import annotations

import math
from collections.abc import Mapping

from .errors import CalibrationError

#: AB flux of magnitude 0 in nJy.
AB_ZERO_NJY = 3631e9
#: AB magnitude of 1 nJy.
NJY_ZERO_POINT = 2.5 * math.log10(AB_ZERO_NJY)


def zero_point_from_header(header: Mapping[str, object], path: object | None = None) -> float | None:
    """AB zero point (magnitude of 1 unit) from ``BUNIT='nJy'``, ``MAGZERO`` or ``FLUXMAG0``; None if absent.

    Raises
    ------
    CalibrationError
        If a calibration keyword is present but not a finite positive number.
    """
    bunit = header.get("BUNIT")
    if isinstance(bunit, str) and bunit.strip().lower() == "njy":
        return NJY_ZERO_POINT
    if "MAGZERO" in header:
        return _finite(header["MAGZERO"], "MAGZERO", path, positive=False)
    if "FLUXMAG0" in header:
        return 2.5 * math.log10(_finite(header["FLUXMAG0"], "FLUXMAG0", path, positive=True))
    return None


def scale_from_header(
    header: Mapping[str, object],
    *,
    zero_point: float | None = None,
    target_zero_point: float | None = None,
    path: object | None = None,
) -> float:
    """Scale ``s`` that converts a warp's image to nJy (image × s, variance × s²).

    ``BUNIT='nJy'`` gives 1; ``MAGZERO = m`` gives ``3631e9 · 10**(-0.4 m)``;
    ``FLUXMAG0 = F`` gives ``3631e9 / F``. ``zero_point`` (an AB magnitude given by
    the user) is used when the header has none of these. With ``target_zero_point``
    the legacy rule ``s = 10**(-0.4 (ZP_in - ZP_out))`` applies instead.

    Raises
    ------
    CalibrationError
        If there is no calibration at all, or it is not finite.
    """
    bunit = header.get("BUNIT")
    is_njy = isinstance(bunit, str) and bunit.strip().lower() == "njy"
    if target_zero_point is None:
        if is_njy:
            return 1.0
        if "MAGZERO" in header:
            magzero = _finite(header["MAGZERO"], "MAGZERO", path)
            return _checked_scale(AB_ZERO_NJY, -0.4 * magzero, f"MAGZERO {magzero!r}", path)
        if "FLUXMAG0" in header:
            fluxmag0 = _finite(header["FLUXMAG0"], "FLUXMAG0", path, positive=True)
            return _checked_scale(AB_ZERO_NJY / fluxmag0, 0.0, f"FLUXMAG0 {fluxmag0!r}", path)
        if zero_point is not None:
            magzero = _finite(zero_point, "zero point", path)
            return _checked_scale(AB_ZERO_NJY, -0.4 * magzero, f"zero point {magzero!r}", path)
        raise CalibrationError(
            "no photometric calibration (BUNIT='nJy', MAGZERO or FLUXMAG0); give a zero point", path)
    zp_in = zero_point_from_header(header, path)
    if zp_in is None:
        if zero_point is None:
            raise CalibrationError(
                "no photometric calibration (BUNIT='nJy', MAGZERO or FLUXMAG0); give a zero point", path)
        zp_in = _finite(zero_point, "zero point", path)
    return _checked_scale(1.0, -0.4 * (zp_in - target_zero_point), f"zero point {zp_in!r}", path)


def _checked_scale(factor: float, exponent: float, what: str, path: object | None) -> float:
    """``factor · 10**exponent``, which must be a finite positive float (no overflow, no underflow)."""
    try:
        scale = factor * 10.0**exponent
    except OverflowError:
        scale = math.inf
    if not (math.isfinite(scale) and scale > 0):
        raise CalibrationError(f"{what} gives the scale {scale!r}; expected a finite positive number", path)
    return scale


def _finite(value: object, what: str, path: object | None, positive: bool = False) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise CalibrationError(f"{what} is not a number: {value!r}", path) from None
    if not math.isfinite(number) or (positive and number <= 0):
        kind = "finite positive" if positive else "finite"
        raise CalibrationError(f"{what} must be a {kind} number, got {value!r}", path)
    return number
