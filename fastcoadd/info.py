"""Text reports on warp and coadd files: what ``fastcoadd info FILE`` prints.

Every function returns text; nothing is printed here. Planes are read in row bands
(``section``, so tile-compressed files decompress band by band), so a report on a large
file needs little memory.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from .calibration import scale_from_header, zero_point_from_header
from .errors import CalibrationError, WarpFormatError
from .interop import CALIBRATION_KEYS, header_wcs
from .masks import planes_from_header

__all__ = ["describe", "describe_calibration", "describe_mask", "describe_wcs"]

#: Pixels read at once when counting mask bits.
_BAND_PIXELS = 4 * 1024**2
#: Primary-header cards that record how a coadd was made.
_CONFIG_CARDS = ("STATISTIC", "CLIPSIG", "CLIPITER", "BADPLANE", "PROPTHR", "VARSCAT", "INTERP",
                 "FLAGREJ", "TARGETZP", "FCVERS", "NINPUTS", "NSKIPPED")
_PLANES = ("IMAGE", "MASK", "VARIANCE")


def describe(path: str | os.PathLike) -> str:
    """A report on a warp or coadd file.

    It gives the kind of file, every HDU, the shape, a WCS summary, the calibration, the
    mask planes with their bits and pixel counts, and for a coadd the configuration, the
    NIMAGE range and the INPUTS table.

    Raises
    ------
    WarpFormatError
        If the file cannot be read or lacks IMAGE, MASK or VARIANCE.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            hdul = fits.open(path, memmap=True)
    except FileNotFoundError:
        raise WarpFormatError("no such file", path) from None
    except IsADirectoryError:
        raise WarpFormatError("is a directory, not a FITS file", path) from None
    except Exception as error:
        raise WarpFormatError(f"not a readable FITS file ({type(error).__name__})", path) from None
    with hdul:
        found = _find_extensions(hdul)
        missing = [name for name in _PLANES if name not in found]
        if missing:
            raise WarpFormatError(f"missing extension {', '.join(missing)} (looked for EXTNAME)", path)
        is_coadd = "NIMAGE" in found and "INPUTS" in found
        primary = hdul[0].header
        image_hdu = hdul[found["IMAGE"]]
        ny, nx = int(image_hdu.header["NAXIS2"]), int(image_hdu.header["NAXIS1"])
        lines = [f"{path}: {'coadd' if is_coadd else 'warp'}, {nx} x {ny} pixels (x by y)"]
        if not is_coadd:
            visit = primary.get("VISIT")
            lines.append(f"VISIT: {visit if visit is not None else '(none; the input is known by its path)'}")
        lines.append("")
        lines.append("HDUs:")
        lines.extend("  " + _describe_hdu(index, hdu) for index, hdu in enumerate(hdul))
        lines.append("")
        wcs = header_wcs(image_hdu.header) or header_wcs(primary)
        lines.append(describe_wcs(wcs, (ny, nx)))
        lines.append("")
        calibration = {key: image_hdu.header[key] for key in CALIBRATION_KEYS if key in image_hdu.header}
        calibration.update({key: primary[key] for key in CALIBRATION_KEYS if key in primary})
        lines.append(describe_calibration(calibration, is_coadd))
        lines.append("")
        if is_coadd:
            lines.append(_describe_config(primary))
            lines.append("")
            lines.append(_describe_nimage(hdul[found["NIMAGE"]]))
            lines.append("")
        lines.append(_describe_image(image_hdu))
        lines.append("")
        mask_hdu = hdul[found["MASK"]]
        lines.append(describe_mask(mask_hdu.section, (ny, nx), planes_from_header(mask_hdu.header, path),
                                   explicit=any(str(k).upper().startswith("MP_") for k in mask_hdu.header)))
        if is_coadd:
            lines.append("")
            lines.append(_describe_inputs(hdul[found["INPUTS"]]))
    return "\n".join(lines)


def describe_wcs(wcs: WCS | None, shape: tuple[int, int]) -> str:
    """WCS summary: projection, centre, pixel scale, field size and orientation."""
    if wcs is None:
        return "WCS: none"
    ny, nx = shape
    ctype = " / ".join(str(c) for c in wcs.wcs.ctype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        centre = wcs.pixel_to_world((nx - 1) / 2.0, (ny - 1) / 2.0)
        scales = proj_plane_pixel_scales(wcs.celestial) * 3600.0  # arcsec per pixel
    matrix = wcs.celestial.pixel_scale_matrix
    # angle of the +y pixel axis east of north (sign of the determinant tells a flip)
    rotation = round(math.degrees(math.atan2(matrix[0, 1], matrix[1, 1])), 2) + 0.0  # + 0.0: no "-0.0"
    flipped = np.linalg.det(matrix) > 0
    icrs = centre.icrs
    lines = [
        f"WCS: {ctype} ({wcs.wcs.radesys or 'ICRS'})",
        f"  centre  RA {icrs.ra.deg:.6f} Dec {icrs.dec.deg:+.6f} deg "
        f"({icrs.to_string('hmsdms', precision=2)})",
        f"  pixel   {scales[0]:.4f} x {scales[1]:.4f} arcsec",
        f"  field   {nx * scales[0] / 60.0:.3f} x {ny * scales[1] / 60.0:.3f} arcmin",
        f"  +y axis {rotation:.2f} deg east of north"
        + (" (x axis flipped: east is right)" if flipped else ""),
        f"  CRPIX   {wcs.wcs.crpix[0]:.3f} {wcs.wcs.crpix[1]:.3f}, CRVAL {wcs.wcs.crval[0]:.8f} "
        f"{wcs.wcs.crval[1]:.8f}",
    ]
    return "\n".join(lines)


def describe_calibration(calibration: dict[str, object], is_coadd: bool = False) -> str:
    """The calibration keywords of a file and the scale to nJy they give (SPEC §1)."""
    cards = ", ".join(f"{key}={calibration[key]!r}" for key in CALIBRATION_KEYS if key in calibration)
    if not cards:
        return ("Calibration: none (no BUNIT='nJy', MAGZERO or FLUXMAG0): give a zero point, "
                "fastcoadd assemble --zero-point MAG or assemble(..., zero_points=...)")
    try:
        scale = scale_from_header(calibration)
        zero_point = zero_point_from_header(calibration)
    except CalibrationError as error:
        return f"Calibration: {cards}: invalid ({error.reason})"
    zp = f" (AB zero point {zero_point:.4f})" if zero_point is not None else ""
    what = "the coadd is in nJy" if is_coadd else f"scale to nJy {scale:.6g}"
    return f"Calibration: {cards} -> {what}{zp}"


def describe_mask(section: object, shape: tuple[int, int], planes: dict[str, int],
                  explicit: bool = True) -> str:
    """Mask planes with their bits and pixel counts, read in row bands from ``section[rows, :]``."""
    ny, nx = shape
    counts = np.zeros(64, dtype=np.int64)
    any_set = 0
    band = max(1, _BAND_PIXELS // max(nx, 1))
    for y0 in range(0, ny, band):
        values = np.asarray(section[y0:min(y0 + band, ny), :]).astype(np.int64, copy=False)
        if values.size == 0:
            continue
        any_set += int(np.count_nonzero(values))
        for bit in range(64):
            counts[bit] += int(np.count_nonzero(values & (np.int64(1) << np.int64(bit))))
    total = max(ny * nx, 1)
    source = "MP_ cards" if explicit else "no MP_ cards: LSST default planes"
    lines = [f"Mask planes ({len(planes)}, from {source}); pixels with any bit: {any_set:,} "
             f"({100.0 * any_set / total:.2f}%)",
             f"  {'plane':<20} {'bit':>3} {'pixels':>12} {'percent':>8}"]
    for name, bit in sorted(planes.items(), key=lambda item: item[1]):
        lines.append(f"  {name:<20} {bit:>3} {int(counts[bit]):>12,} {100.0 * counts[bit] / total:>7.2f}%")
    named = {bit for bit in planes.values()}
    for bit in np.flatnonzero(counts):
        if int(bit) not in named:
            lines.append(f"  {'(unnamed: dropped)':<20} {int(bit):>3} {int(counts[bit]):>12,} "
                         f"{100.0 * counts[bit] / total:>7.2f}%")
    return "\n".join(lines)


def _find_extensions(hdul: fits.HDUList) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, hdu in enumerate(hdul):
        name = str(hdu.header.get("EXTNAME", "")).strip().upper()
        if name and name not in found:
            found[name] = index
    return found


def _describe_hdu(index: int, hdu: fits.hdu.base._BaseHDU) -> str:
    header = hdu.header
    name = str(header.get("EXTNAME", "PRIMARY" if index == 0 else "")).strip() or "(no EXTNAME)"
    exttype = header.get("EXTTYPE")
    extra = f" EXTTYPE={str(exttype).strip()}" if exttype is not None else ""
    kind = type(hdu).__name__
    if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
        content = f"{int(header.get('NAXIS2', 0))} rows x {int(header.get('TFIELDS', 0))} columns"
    elif isinstance(hdu, fits.CompImageHDU) or int(header.get("NAXIS", 0)) > 0:
        shape = getattr(hdu, "shape", None) or tuple(
            int(header[f"NAXIS{i}"]) for i in range(int(header["NAXIS"]), 0, -1))
        bitpix = int(header.get("ZBITPIX", header.get("BITPIX", 0))) if isinstance(
            hdu, fits.CompImageHDU) else int(header.get("BITPIX", 0))
        known = bitpix in fits.BITPIX2DTYPE
        dtype = np.dtype(fits.BITPIX2DTYPE[bitpix]).name if known else f"BITPIX {bitpix}"
        content = " x ".join(str(n) for n in shape[::-1]) + f" {dtype}"
        if isinstance(hdu, fits.CompImageHDU):
            content += f" ({getattr(hdu, 'compression_type', None) or 'compressed'})"
    else:
        content = "no data"
    return f"{index:>2} {name:<14} {kind:<13} {content}{extra}"


def _describe_config(primary: fits.Header) -> str:
    cards = [f"{key}={primary[key]!r}" for key in _CONFIG_CARDS if key in primary]
    if not cards:
        return "Configuration: not recorded"
    lines = ["Configuration:"]
    line = " "
    for card in cards:
        if len(line) + len(card) + 1 > 100:
            lines.append(line)
            line = " "
        line += " " + card
    lines.append(line)
    return "\n".join(lines)


def _describe_nimage(hdu: fits.hdu.base.ExtensionHDU) -> str:
    nimage = np.asarray(hdu.data)
    if nimage.size == 0:
        return "NIMAGE: empty"
    zero = int(np.count_nonzero(nimage == 0))
    return (f"NIMAGE (good inputs per pixel): min {int(nimage.min())}, median {float(np.median(nimage)):g}, "
            f"max {int(nimage.max())}; pixels without a good input: {zero:,} "
            f"({100.0 * zero / nimage.size:.2f}%)")


def _describe_image(hdu: fits.hdu.base.ExtensionHDU) -> str:
    ny, nx = int(hdu.header["NAXIS2"]), int(hdu.header["NAXIS1"])
    n_finite = 0
    low, high, total = math.inf, -math.inf, 0.0
    band = max(1, _BAND_PIXELS // max(nx, 1))
    for y0 in range(0, ny, band):
        values = np.asarray(hdu.section[y0:min(y0 + band, ny), :], dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size:
            n_finite += finite.size
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
            total += float(finite.sum())
    unit = hdu.header.get("BUNIT", "")
    unit = f" {unit}" if unit else ""
    not_finite = ny * nx - n_finite
    if n_finite == 0:
        return f"IMAGE: no finite pixel ({not_finite:,} NaN or infinite)"
    return (f"IMAGE: {n_finite:,} finite pixels, {not_finite:,} NaN/inf; min {low:.6g}, "
            f"mean {total / n_finite:.6g}, max {high:.6g}{unit}")


def _describe_inputs(hdu: fits.BinTableHDU) -> str:
    table = Table(hdu.data)
    for name in ("SCALE", "WEIGHT"):
        if name in table.colnames:
            table[name].format = ".6g"
    used = int(np.count_nonzero(table["USED"])) if "USED" in table.colnames else len(table)
    lines = [f"INPUTS ({len(table)} warps, {used} used):"]
    lines.extend("  " + line for line in table.pformat(max_lines=-1, max_width=-1))
    return "\n".join(lines)

