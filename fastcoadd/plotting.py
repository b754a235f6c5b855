"""Quick-look figures of coadds and warps: IMAGE, NIMAGE and one mask plane, on WCS axes.

matplotlib is an optional dependency (``pip install 'fastcoadd[plot]'``); it is imported
only when a figure is made, and its absence raises :class:`MissingDependencyError`. The
figures are plain :class:`matplotlib.figure.Figure` objects, made without pyplot, so they
need no display and leave pyplot's state alone (in a notebook they show as the cell's value).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.visualization import (
    AsinhStretch,
    AsymmetricPercentileInterval,
    ImageNormalize,
    LinearStretch,
    ZScaleInterval,
)
from astropy.wcs import WCS

from .errors import ConfigError, FastcoaddError, OutputError, WarpFormatError
from .interop import header_wcs, read_coadd
from .masks import planes_from_header
from .result import CoaddResult

__all__ = [
    "STRETCHES",
    "MissingDependencyError",
    "image_normalization",
    "plot_coadd",
    "plot_planes",
    "save_preview",
]

#: Stretches :func:`image_normalization` knows.
STRETCHES = ("asinh", "zscale")
#: Mask planes shown by default, the first one present with pixels set.
_DEFAULT_PLANES = ("CLIPPED", "NO_DATA", "REJECTED", "INTRP", "SAT", "BAD", "DETECTED")
#: At most this many pixels are sampled to set the display interval.
_SAMPLE_PIXELS = 1_000_000
_PANEL_SIZE = (4.6, 4.2)  # inches per panel
_BAR_SHRINK = 0.75


class MissingDependencyError(FastcoaddError, ImportError):
    """An optional dependency (matplotlib) is not installed."""


def image_normalization(image: np.ndarray, stretch: str = "asinh") -> ImageNormalize:
    """Display normalization of an image.

    Parameters
    ----------
    image : ndarray
        2-D image; NaN and infinite pixels are ignored.
    stretch : {"asinh", "zscale"}
        ``"asinh"``: from the 1st to the 99.9th percentile, asinh stretch (faint sky and bright
        cores both visible); ``"zscale"``: IRAF's zscale limits, linear stretch.

    Returns
    -------
    astropy.visualization.ImageNormalize
    """
    if stretch not in STRETCHES:
        raise ConfigError(f"stretch must be one of {', '.join(STRETCHES)}, got {stretch!r}")
    values = np.asarray(image).ravel()
    step = max(1, values.size // _SAMPLE_PIXELS)
    sample = values[::step]
    sample = sample[np.isfinite(sample)].astype(np.float64)
    if sample.size == 0:
        return ImageNormalize(vmin=0.0, vmax=1.0, stretch=LinearStretch())
    if stretch == "asinh":
        vmin, vmax = AsymmetricPercentileInterval(1.0, 99.9).get_limits(sample)
        norm_stretch = AsinhStretch(a=0.05)
    else:
        vmin, vmax = ZScaleInterval().get_limits(sample)
        norm_stretch = LinearStretch()
    if not vmax > vmin:
        vmin, vmax = float(sample.min()), float(sample.max())
        if not vmax > vmin:
            vmin, vmax = vmin - 0.5, vmax + 0.5
    return ImageNormalize(vmin=vmin, vmax=vmax, stretch=norm_stretch, clip=True)


def plot_planes(
    image: np.ndarray,
    mask: np.ndarray,
    planes: Mapping[str, int],
    *,
    nimage: np.ndarray | None = None,
    wcs: WCS | None = None,
    plane: str | None = None,
    stretch: str = "asinh",
    unit: str = "nJy",
    title: str | None = None,
    figure: Any = None,
) -> Any:
    """Draw IMAGE, NIMAGE (when given) and one mask plane side by side.

    Parameters
    ----------
    image : ndarray, shape (ny, nx)
        Flux.
    mask : ndarray of int, shape (ny, nx)
        Bitmask; ``planes`` names its bits.
    planes : mapping of str to int
        Mask plane name -> bit.
    nimage : ndarray of int, shape (ny, nx), optional
        Inputs per pixel; its panel is left out when None.
    wcs : astropy.wcs.WCS, optional
        Celestial WCS: the panels get RA/Dec axes. Pixel axes when None.
    plane : str, optional
        Mask plane to show; default the first of CLIPPED, NO_DATA, REJECTED, INTRP, SAT,
        BAD, DETECTED that has pixels set.
    stretch : {"asinh", "zscale"}
        Image stretch (see :func:`image_normalization`).
    unit : str
        Label of the image colour bar.
    title : str, optional
        Figure title.
    figure : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ConfigError
        If ``plane`` is not one of ``planes`` or ``stretch`` is unknown.
    MissingDependencyError
        If matplotlib is not installed.
    """
    Figure, ListedColormap = _matplotlib()
    norm = image_normalization(image, stretch)
    name = _choose_plane(plane, planes, mask)
    n_panels = 3 if nimage is not None else 2
    if figure is None:
        figure = Figure(figsize=(_PANEL_SIZE[0] * n_panels, _PANEL_SIZE[1]), layout="constrained")
    ny, nx = image.shape

    def panel(index: int, label: str) -> Any:
        if wcs is not None:
            ax = figure.add_subplot(1, n_panels, index, projection=wcs)
            ax.coords[0].set_axislabel("RA")
            ax.coords[1].set_axislabel("Dec")
            ax.coords.grid(color="0.6", alpha=0.35, linestyle="solid", linewidth=0.5)
        else:
            ax = figure.add_subplot(1, n_panels, index)
            ax.set_xlabel("x (pixel)")
            ax.set_ylabel("y (pixel)")
        ax.set_title(label, fontsize=10)
        return ax

    ax = panel(1, f"IMAGE ({stretch} stretch)")
    shown = ax.imshow(image, origin="lower", cmap="gray", norm=norm, interpolation="nearest")
    bar = figure.colorbar(shown, ax=ax, shrink=_BAR_SHRINK, label=unit)
    bar.set_ticks(_stretched_ticks(norm))

    index = 2
    if nimage is not None:
        ax = panel(index, f"NIMAGE (inputs per pixel: {int(nimage.min())}-{int(nimage.max())})")
        top = max(int(nimage.max()), 1)
        shown = ax.imshow(nimage, origin="lower", cmap="viridis", vmin=0, vmax=top, interpolation="nearest")
        bar = figure.colorbar(shown, ax=ax, shrink=_BAR_SHRINK, label="good inputs")
        if top <= 20:
            bar.set_ticks(range(0, top + 1, 1 if top <= 10 else 2))
        index += 1

    selected = (np.asarray(mask).astype(np.int64) >> planes[name]) & 1
    count = int(np.count_nonzero(selected))
    ax = panel(index, f"MASK {name}: {count:,} px ({100.0 * count / (ny * nx):.2f}%)")
    cmap = ListedColormap(["#f4f4f4", "#c0392b"])
    shown = ax.imshow(selected, origin="lower", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    bar = figure.colorbar(shown, ax=ax, shrink=_BAR_SHRINK, ticks=[0.25, 0.75])
    bar.set_ticklabels(["not set", name])
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


def plot_coadd(
    result: CoaddResult,
    plane: str | None = None,
    stretch: str = "asinh",
    title: str | None = None,
    figure: Any = None,
) -> Any:
    """Quick-look figure of a coadd: IMAGE, NIMAGE and one mask plane on WCS axes.

    See :func:`plot_planes` for the parameters; ``title`` defaults to a one-line summary
    (statistic, inputs used, shape).
    """
    if title is None:
        ny, nx = result.image.shape
        source = result.stats.get("source")
        prefix = f"{Path(str(source)).name}: " if source else ""
        title = (f"{prefix}{result.config.statistic} coadd of {result.n_used} of {len(result.inputs)} "
                 f"warps, {ny}x{nx} px")
    return plot_planes(result.image, result.mask, result.planes, nimage=result.nimage, wcs=result.wcs,
                       plane=plane, stretch=stretch, title=title, figure=figure)


def save_preview(
    path: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    plane: str | None = None,
    stretch: str = "asinh",
    dpi: int = 100,
) -> Path:
    """Write a quick-look image of a coadd or warp file (what ``fastcoadd preview`` does).

    Parameters
    ----------
    path : path
        A coadd (SPEC §2) or a warp (SPEC §1); a warp has no NIMAGE panel.
    output : path, optional
        Image to write; the format follows the suffix (``.png``, ``.pdf``, ``.svg``, ...).
        Default: ``path`` with the suffix ``.png``.
    plane, stretch
        As for :func:`plot_planes`.
    dpi : int
        Resolution of raster formats.

    Returns
    -------
    pathlib.Path
        The image written.

    Raises
    ------
    WarpFormatError
        If the file is not a readable coadd or warp.
    OutputError
        If the image cannot be written.
    ConfigError
        For an unknown plane, stretch or image format.
    MissingDependencyError
        If matplotlib is not installed.
    """
    path = Path(path)
    output = path.with_suffix(".png") if output is None else Path(output)
    _matplotlib()
    if _is_coadd(path):
        figure = plot_coadd(read_coadd(path), plane=plane, stretch=stretch)
    else:
        figure = _plot_warp_file(path, plane, stretch)
    if not output.parent.is_dir():
        raise OutputError(f"folder {output.parent} does not exist", output)
    try:
        figure.savefig(output, dpi=dpi)
    except ValueError as error:  # unknown format
        raise ConfigError(f"cannot write {output.name}: {error}") from None
    except OSError as error:
        raise OutputError(f"write failed: {error.strerror or error}", output) from None
    return output


def _stretched_ticks(norm: ImageNormalize, n: int = 6) -> list[float]:
    """Colour-bar ticks evenly spaced in the stretched scale, rounded to two significant digits."""
    values = norm.inverse(np.linspace(0.0, 1.0, n))
    ticks = []
    for value in np.asarray(values, dtype=np.float64).ravel():
        if value == 0 or not np.isfinite(value):
            ticks.append(float(value))
            continue
        digits = 1 - int(np.floor(np.log10(abs(value))))
        ticks.append(float(round(value, digits)))
    return sorted(set(ticks))


def _matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError(
            "plots need matplotlib, which is not installed: pip install 'fastcoadd[plot]'") from None
    return Figure, ListedColormap


def _choose_plane(plane: str | None, planes: Mapping[str, int], mask: np.ndarray) -> str:
    if plane is not None:
        name = plane.strip().upper()
        if name not in planes:
            raise ConfigError(f"mask plane {plane!r} is not one of {', '.join(sorted(planes))}")
        return name
    present = int(np.bitwise_or.reduce(np.asarray(mask).ravel().astype(np.int64), initial=0))
    for name in _DEFAULT_PLANES:
        if name in planes and (present >> planes[name]) & 1:
            return name
    for name in _DEFAULT_PLANES:
        if name in planes:
            return name
    if not planes:
        raise ConfigError("the mask names no planes")
    return min(planes, key=planes.__getitem__)


def _open(path: Path) -> fits.HDUList:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            return fits.open(path, memmap=False)
    except FileNotFoundError:
        raise WarpFormatError("no such file", path) from None
    except Exception as error:
        raise WarpFormatError(f"not a readable FITS file ({type(error).__name__})", path) from None


def _extnames(hdul: fits.HDUList) -> dict[str, int]:
    names: dict[str, int] = {}
    for index, hdu in enumerate(hdul):
        names.setdefault(str(hdu.header.get("EXTNAME", "")).strip().upper(), index)
    return names


def _is_coadd(path: Path) -> bool:
    with _open(path) as hdul:
        return "NIMAGE" in _extnames(hdul)


def _plot_warp_file(path: Path, plane: str | None, stretch: str) -> Any:
    with _open(path) as hdul:
        names = _extnames(hdul)
        missing = [name for name in ("IMAGE", "MASK") if name not in names]
        if missing:
            raise WarpFormatError(f"missing extension {', '.join(missing)} (looked for EXTNAME)", path)
        image_hdu, mask_hdu = hdul[names["IMAGE"]], hdul[names["MASK"]]
        image = np.asarray(image_hdu.data, dtype=np.float32)
        mask = np.asarray(mask_hdu.data)
        planes = planes_from_header(mask_hdu.header, path)
        wcs = header_wcs(image_hdu.header) or header_wcs(hdul[0].header)
        bunit = image_hdu.header.get("BUNIT") or hdul[0].header.get("BUNIT") or "counts"
        visit = hdul[0].header.get("VISIT")
    title = f"{path.name}: warp" + (f", visit {visit}" if visit is not None else "")
    return plot_planes(image, mask, planes, wcs=wcs, plane=plane, stretch=stretch, unit=str(bunit),
                       title=title)
