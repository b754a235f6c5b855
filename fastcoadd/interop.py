"""astropy interoperability: NDData/CCDData as warps, coadds as CCDData or HDUList, coadd files read back.

Public functions
----------------
warp_from_nddata
    Turn an :class:`astropy.nddata.NDData` (or :class:`~astropy.nddata.CCDData`) into a
    :class:`fastcoadd.Warp`; :func:`fastcoadd.assemble` calls it for NDData inputs.
read_coadd
    Read a coadd file (SPEC §2) back into a :class:`fastcoadd.CoaddResult`.
coadd_to_hdulist, coadd_to_ccddata
    What :meth:`CoaddResult.to_hdulist` and :meth:`CoaddResult.to_ccddata` return.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from . import __version__
from ._io.coadd_writer import build_hdulist, creation_date
from .calibration import AB_ZERO_NJY
from .config import CoaddConfig
from .errors import ConfigError, WarpFormatError
from .masks import planes_from_header, planes_to_header
from .result import CoaddResult, InputRecord
from .warp import Warp

if TYPE_CHECKING:  # astropy.nddata and astropy.units are imported when used: they slow every start-up
    from astropy import units as u
    from astropy.nddata import CCDData, NDData, NDUncertainty

__all__ = ["coadd_to_ccddata", "coadd_to_hdulist", "read_coadd", "warp_from_nddata"]

#: Header keywords that calibrate a warp (SPEC §1).
CALIBRATION_KEYS = ("BUNIT", "MAGZERO", "FLUXMAG0")
#: Units taken as "counts": the warp then needs a zero point (from ``meta`` or given).
_COUNT_UNITS = ("dimensionless_unscaled", "adu", "electron", "count", "photon")
#: Extensions a coadd file must have (SPEC §2).
_COADD_EXTENSIONS = ("IMAGE", "MASK", "VARIANCE", "NIMAGE", "INPUTS")


# -- NDData / CCDData as warps ----------------------------------------------------------------
def warp_from_nddata(
    data: NDData,
    *,
    visit: int | None = None,
    name: str | None = None,
    zero_point: float | None = None,
    mask_planes: Mapping[str, int] | None = None,
    mask_plane: str = "BAD",
) -> Warp:
    """Make a :class:`~fastcoadd.Warp` of an :class:`~astropy.nddata.NDData` or ``CCDData``.

    The arrays are shared, not copied, when their dtypes allow it.

    Parameters
    ----------
    data : astropy.nddata.NDData
        ``data.data`` is the image; ``data.uncertainty`` gives the variance (a
        :class:`~astropy.nddata.VarianceUncertainty`, a
        :class:`~astropy.nddata.StdDevUncertainty` (squared) or an
        :class:`~astropy.nddata.InverseVariance` (inverted)); ``data.mask`` is either a
        boolean array (True = do not use, which sets the ``mask_plane`` bit) or an integer
        bitmask whose planes ``mask_planes`` names (``CCDData`` makes every mask boolean: give
        its bitmask as integer ``flags``, which are ORed in); ``data.wcs`` is the patch grid.
    visit : int, optional
        Identifies the input; default ``data.meta['VISIT']`` if present.
    name : str, optional
        How the input is named in messages and in the INPUTS table; default
        ``data.meta['FILENAME']`` if present.
    zero_point : float, optional
        AB magnitude of one unit of ``data``, for data in counts (``adu``, ``electron``,
        ``ct``, dimensionless or no unit) whose ``meta`` carries no ``MAGZERO`` or ``FLUXMAG0``.
    mask_planes : mapping of str to int, optional
        Plane name -> bit of an integer mask; default the ``MP_<NAME>`` cards of
        ``data.meta``, else LSST's default planes.
    mask_plane : str
        Plane set where a boolean mask is True (default ``"BAD"``, one of the default bad planes).

    Returns
    -------
    Warp
        With ``calibration`` from the unit: a flux density (``nJy``, ``Jy``, ``erg / (s cm2 Hz)``,
        ...) calibrates the warp by itself; counts take ``zero_point`` or the calibration
        keywords of ``data.meta``.

    Raises
    ------
    WarpFormatError
        If the data are not 2-D, there is no usable uncertainty, the unit is neither a flux
        density nor counts, or the mask does not match the image.
    ConfigError
        If ``zero_point`` is given for data whose unit is already a flux density, or
        ``mask_plane`` is not one of the planes.
    """
    meta = _Meta(getattr(data, "meta", None) or {})
    label = name or meta.get("FILENAME") or None
    where = label or f"<{type(data).__name__}>"
    image = np.asarray(data.data)
    if image.ndim != 2:
        raise WarpFormatError(f"data must be 2-D, got shape {image.shape}", where)
    if image.dtype.kind != "f":
        image = image.astype(np.float32)
    unit = data.unit
    variance = _variance_of(data.uncertainty, unit, image.shape, where)
    planes = dict(mask_planes) if mask_planes else _planes_from_meta(meta, where)
    mask = _mask_of(data.mask, image.shape, planes, mask_plane, where)
    flags = getattr(data, "flags", None)
    if flags is not None:  # CCDData keeps only a boolean mask; a bitmask can travel as flags
        mask = mask | _mask_of(flags, image.shape, planes, mask_plane, where)
    calibration = _calibration_of(unit, meta, zero_point, where)
    if visit is None and meta.get("VISIT") is not None:
        visit = meta.get("VISIT")
    return Warp(image, mask, variance, calibration=calibration, wcs=_celestial(data.wcs),
                visit=None if visit is None else int(visit), mask_planes=planes, name=label)


class _Meta:
    """Case-insensitive read access to an NDData ``meta`` (a dict or a FITS header)."""

    def __init__(self, meta: Mapping[str, object]) -> None:
        self._items = {str(key).upper(): value for key, value in meta.items()}

    def get(self, key: str, default: object = None) -> object:
        return self._items.get(key.upper(), default)

    def items(self) -> Iterable[tuple[str, object]]:
        return self._items.items()


def _variance_of(uncertainty: NDUncertainty | None, unit: u.UnitBase | None, shape: tuple[int, ...],
                 where: str) -> np.ndarray:
    if uncertainty is None:
        raise WarpFormatError("has no uncertainty; a variance (or standard deviation) is needed", where)
    from astropy.nddata import NDUncertainty, VarianceUncertainty

    kind = getattr(uncertainty, "uncertainty_type", None)
    if not isinstance(uncertainty, NDUncertainty) or kind not in ("std", "var", "ivar"):
        raise WarpFormatError(
            f"uncertainty of type {type(uncertainty).__name__} cannot be read as a variance "
            "(use VarianceUncertainty, StdDevUncertainty or InverseVariance)", where)
    with np.errstate(divide="ignore"):  # an inverse variance of 0 is an infinite variance
        variance = uncertainty.represent_as(VarianceUncertainty)
    array = np.asarray(variance.array)
    if variance.unit is not None and unit is not None and variance.unit != unit**2:
        array = array * variance.unit.to(unit**2)
    if array.shape != shape:
        raise WarpFormatError(f"uncertainty has shape {array.shape} but the data {shape}", where)
    return array if array.dtype.kind == "f" else array.astype(np.float32)


def _planes_from_meta(meta: _Meta, where: str) -> dict[str, int]:
    cards = {key: value for key, value in meta.items() if key.startswith(("MP_", "HIERARCH MP_"))}
    return planes_from_header(cards, where)  # LSST defaults when there are none


def _mask_of(mask: object, shape: tuple[int, ...], planes: Mapping[str, int], mask_plane: str,
             where: str) -> np.ndarray:
    if mask is None:
        return np.zeros(shape, dtype=np.int32)
    array = np.asarray(mask)
    if array.dtype == bool:
        if mask_plane not in planes:
            raise ConfigError(f"mask_plane {mask_plane!r} is not one of the planes {sorted(planes)}")
        array = np.where(array, np.int32(1 << planes[mask_plane]), np.int32(0))
    elif array.dtype.kind not in "iu":
        raise WarpFormatError(f"mask must be boolean or integer, got {array.dtype}", where)
    if array.shape != shape:
        try:
            array = np.broadcast_to(array, shape)
        except ValueError:
            raise WarpFormatError(f"mask has shape {array.shape} but the data {shape}", where) from None
    return array


def _calibration_of(unit: u.UnitBase | None, meta: _Meta, zero_point: float | None,
                    where: str) -> dict[str, object]:
    from astropy import units as u

    if unit is not None and unit.is_equivalent(u.nJy):
        if zero_point is not None:
            raise ConfigError(f"{where}: data in {unit} are calibrated already; do not give a zero point")
        scale = unit.to(u.nJy)
        # FLUXMAG0 is the data value of a magnitude-0 (3631 Jy) source: exactly this scale (SPEC §1).
        return {"BUNIT": "nJy"} if scale == 1.0 else {"FLUXMAG0": AB_ZERO_NJY / scale}
    if unit is not None and not any(unit == getattr(u, count_unit) for count_unit in _COUNT_UNITS):
        raise WarpFormatError(
            f"unit {unit} is neither a flux density (convertible to nJy) nor counts", where)
    if zero_point is not None:
        return {"MAGZERO": float(zero_point)}
    return {key: meta.get(key) for key in ("MAGZERO", "FLUXMAG0") if meta.get(key) is not None}


def _celestial(wcs: object) -> WCS | None:
    wcs = getattr(wcs, "low_level_wcs", wcs)
    if isinstance(wcs, WCS):
        return wcs if wcs.naxis == 2 else wcs.celestial
    return None


# -- coadds as HDUList / CCDData --------------------------------------------------------------
def coadd_header_cards(result: CoaddResult, date: bool = False) -> dict[str, object]:
    """Primary-header cards of a coadd besides ``BUNIT`` and the WCS: version, counts, configuration.

    ``date`` adds ``DATE``: now in UTC, or ``SOURCE_DATE_EPOCH`` when that is set.
    """
    cards: dict[str, object] = {"FCVERS": __version__, "NINPUTS": result.n_used,
                                "NSKIPPED": len(result.inputs) - result.n_used}
    if date:
        cards["DATE"] = creation_date()
    cards.update(result.config.to_header())
    return cards


def coadd_to_hdulist(result: CoaddResult, *, date: bool = True) -> fits.HDUList:
    """The coadd file's HDUs (SPEC §2): primary header, IMAGE, MASK, VARIANCE, NIMAGE, INPUTS.

    What :func:`fastcoadd.write_coadd` writes; ``date`` adds the ``DATE`` card (see
    :func:`coadd_header_cards`).
    """
    rows = [record.__dict__ for record in result.inputs]
    return build_hdulist(result.image, result.mask, result.variance, result.nimage, result.planes,
                         rows, coadd_header_cards(result, date), result.wcs)


def coadd_to_ccddata(result: CoaddResult, mask_planes: Iterable[str] = ("NO_DATA",)) -> CCDData:
    """The coadd as a :class:`~astropy.nddata.CCDData` in nJy, sharing the result's arrays.

    Parameters
    ----------
    result : CoaddResult
        The coadd.
    mask_planes : iterable of str
        The boolean ``mask`` is True where any of these planes is set (default ``NO_DATA``:
        pixels without a good input, filled by interpolation). The full bitmask stays in
        ``result.mask``; ``meta`` names its planes with ``MP_<NAME>`` cards.

    Returns
    -------
    CCDData
        ``uncertainty`` is a :class:`~astropy.nddata.VarianceUncertainty`; ``meta`` holds the
        coadd's primary-header cards (configuration, version, number of inputs) and plane names.
    """
    mask = np.zeros(result.image.shape, dtype=bool)
    for name in mask_planes:
        if name not in result.planes:
            raise ConfigError(f"mask plane {name!r} is not one of the coadd's planes {sorted(result.planes)}")
        mask |= result.plane(name)
    meta = fits.Header()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)  # long plane names become HIERARCH cards
        for key, value in {**coadd_header_cards(result), **planes_to_header(result.planes)}.items():
            meta[key] = value
    from astropy import units as u
    from astropy.nddata import CCDData, VarianceUncertainty

    return CCDData(result.image, unit=u.nJy, uncertainty=VarianceUncertainty(result.variance),
                   mask=mask, wcs=result.wcs, meta=meta)


# -- coadd files read back --------------------------------------------------------------------
def read_coadd(path: str | os.PathLike) -> CoaddResult:
    """Read a coadd file written by fastcoadd (SPEC §2) into a :class:`~fastcoadd.CoaddResult`.

    The configuration is rebuilt from the primary header (defaults for any card that is
    missing); ``stats`` holds the pixel counts and the file's path.

    Raises
    ------
    WarpFormatError
        If the file cannot be read or lacks one of IMAGE, MASK, VARIANCE, NIMAGE, INPUTS.
    """
    path = Path(path)
    try:
        hdul = fits.open(path, memmap=False)
    except FileNotFoundError:
        raise WarpFormatError("no such file", path) from None
    except Exception as error:
        raise WarpFormatError(f"not a readable FITS file ({type(error).__name__})", path) from None
    with hdul:
        names = {str(hdu.header.get("EXTNAME", "")).strip().upper() for hdu in hdul}
        missing = [name for name in _COADD_EXTENSIONS if name not in names]
        if missing:
            raise WarpFormatError(f"not a coadd: missing extension {', '.join(missing)}", path)
        image = _plane(hdul["IMAGE"], np.float32)
        mask = _plane(hdul["MASK"], np.int32)
        variance = _plane(hdul["VARIANCE"], np.float32)
        nimage = _plane(hdul["NIMAGE"], np.int32)
        planes = planes_from_header(hdul["MASK"].header, path)
        config = config_from_header(hdul[0].header)
        wcs = header_wcs(hdul["IMAGE"].header) or header_wcs(hdul[0].header)
        inputs = [_input_record(row) for row in hdul["INPUTS"].data]
    stats: dict[str, object] = {
        "source": str(path), "n_inputs": len(inputs), "n_used": sum(r.used for r in inputs),
        "pixels_no_data": int(np.count_nonzero(nimage == 0)),
    }
    if "CLIPPED" in planes:
        stats["pixels_clipped"] = int(np.count_nonzero(mask & np.int32(1 << planes["CLIPPED"])))
    return CoaddResult(image, mask, variance, nimage, planes, inputs, config, wcs, stats)


def config_from_header(header: Mapping[str, object]) -> CoaddConfig:
    """Rebuild the :class:`~fastcoadd.CoaddConfig` a coadd's primary header records.

    Cards that are missing or cannot be read keep :class:`CoaddConfig`'s defaults; settings
    that are not recorded (memory budget, threads, tile shape) are the defaults.
    """
    values: dict[str, object] = {}
    if isinstance(header.get("STATISTIC"), str):
        values["statistic"] = header["STATISTIC"].lower()
    if isinstance(header.get("CLIPSIG"), (int, float)):
        values["sigma"] = float(header["CLIPSIG"])
    if isinstance(header.get("CLIPITER"), int):
        values["iterations"] = int(header["CLIPITER"])
    if isinstance(header.get("BADPLANE"), str):
        values["bad_planes"] = tuple(p for p in header["BADPLANE"].split(",") if p.strip())
    if isinstance(header.get("PROPTHR"), str) and header["PROPTHR"].upper() != "NONE":
        pairs = [item.split(":") for item in header["PROPTHR"].split(",") if ":" in item]
        values["propagation_thresholds"] = tuple((n, float(v)) for n, v in pairs)
    for key, field in (("VARSCAT", "variance_from_scatter"), ("INTERP", "interpolate"),
                       ("FLAGREJ", "flag_rejections")):
        if isinstance(header.get(key), bool):
            values[field] = header[key]
    if isinstance(header.get("TARGETZP"), (int, float)) and not isinstance(header["TARGETZP"], bool):
        values["target_zero_point"] = float(header["TARGETZP"])
    try:
        return CoaddConfig(**values)  # type: ignore[arg-type]
    except (ConfigError, ValueError):
        return CoaddConfig()


def header_wcs(header: fits.Header) -> WCS | None:
    """The celestial WCS of a FITS header, or None if it has none."""
    if not any(key in header for key in ("CTYPE1", "CRVAL1", "CD1_1", "PC1_1")):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            wcs = WCS(header, naxis=2)
    except Exception:
        return None
    return wcs if wcs.has_celestial else None


def _plane(hdu: fits.hdu.base.ExtensionHDU, dtype: type) -> np.ndarray:
    return np.ascontiguousarray(hdu.data, dtype=dtype)


def _input_record(row: fits.FITS_record) -> InputRecord:
    visit = int(row["VISIT"])
    return InputRecord(str(row["FILE"]).strip(), None if visit < 0 else visit, float(row["SCALE"]),
                       float(row["WEIGHT"]), bool(row["USED"]), str(row["REASON"]).strip())
