"""Synthetic warps of a small sky patch, for demonstrations, tests and benchmarks.

The generator draws one fixed "true sky" of stars and galaxies (fluxes in nJy) and observes it
``n_warps`` times. Every observation (warp) has its own Gaussian PSF, photometric zero point, sky
noise level and its own set of artefacts, and is written as a warp file as described in SPEC §1
(primary HDU with ``VISIT`` and the calibration; ``IMAGE``, ``MASK`` and ``VARIANCE`` extensions that
share one TAN WCS).

What the warps contain
----------------------
* Stars: Gaussian PSF of the warp's FWHM (2.5-4.5 px), power-law magnitude distribution plus a few
  bright stars whose cores saturate (``SAT``, values clipped at the saturation level, with short
  vertical bleed trails).
* Galaxies: exponential and de Vaucouleurs profiles with random ellipticity and position angle,
  represented as mixtures of Gaussians (Hogg & Lang 2013, PASP 125, 719), so that the convolution
  with the Gaussian PSF is exact.
* Noise: background-subtracted sky with a per-warp noise level; the variance plane is sky variance
  plus source Poisson variance (in the warp's units squared) and the image is one Gaussian
  realisation of it.
* Calibration: ``MAGZERO`` in [26.5, 28.5]; the second warp is already in nJy (``BUNIT='nJy'``) and
  the last one carries ``FLUXMAG0`` instead (when there are enough warps).
* Artefacts: partial coverage (a straight boundary and/or a chip-gap stripe; ``NO_DATA`` with NaN
  outside, ``EDGE`` in a 2-4 px band inside), bad columns (``BAD``) in two warps, cosmic rays in
  every warp (flagged ``CR`` in the even-numbered warps only), one unmasked satellite trail.
* ``DETECTED`` where the noise-free source model exceeds five times the warp's sky noise.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from .calibration import AB_ZERO_NJY, scale_from_header
from .masks import DEFAULT_PLANES

__all__ = ["DEFAULT_DEMO_PLANES", "make_demo_warp_arrays", "make_demo_warps", "write_warp"]

#: LSST default mask planes (name -> bit index) used by the demo warps.
DEFAULT_DEMO_PLANES: dict[str, int] = dict(DEFAULT_PLANES)

_PIXEL_SCALE_ARCSEC = 0.2
_CRVAL_DEG = (150.1, 2.2)
_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
_FULL_WELL_E = 1.0e5  # electrons at which a pixel saturates
_DETECTION_SIGMA = 5.0
_PSF_FWHM_RANGE = (2.5, 4.5)  # pixels
_MAGZERO_RANGE = (26.5, 28.5)
_SKY_SIGMA_NJY_RANGE = (15.0, 45.0)  # per-pixel sky noise, nJy
_SKY_ELECTRONS_RANGE = (800.0, 4000.0)  # sky level per pixel, electrons (sets the Poisson ratio)
_PIXELS_PER_STAR = 2500.0
_PIXELS_PER_GALAXY = 2500.0
_PIXELS_PER_COSMIC_RAY = 6000.0
# Stamps are cut where the profile falls below this (nJy): ~1% of the quietest sky noise.
_STAMP_THRESHOLD_NJY = 0.15
_STAMP_HALF_SIZES = np.array([3, 4, 6, 8, 11, 16, 22, 32, 45, 64, 90, 128, 181, 256])
_MAX_STAMP_ELEMENTS = 1 << 22  # pixels rendered per batch of stamps (bounds temporary memory)
_GZIP_TILE = 128  # tile side of the compressed planes

# Mixture-of-Gaussians approximations (amplitudes, variances in units of r_e**2) of the exponential
# and de Vaucouleurs profiles, Hogg & Lang (2013), PASP 125, 719, Table 1 ("lux" variants).
_EXP_AMP = np.array([2.34853813e-03, 3.07995260e-02, 2.23364214e-01,
                     1.17949102e00, 4.33873750e00, 5.99820770e00])
_EXP_VAR = np.array([1.20078965e-03, 8.84526493e-03, 3.91463084e-02,
                     1.39976817e-01, 4.60962500e-01, 1.50159566e00])
_DEV_AMP = np.array([4.26347652e-02, 2.40127183e-01, 6.85907632e-01, 1.51937350e00,
                     2.83627243e00, 4.46467501e00, 5.72440830e00, 5.60989349e00])
_DEV_VAR = np.array([2.23759216e-04, 1.00220099e-03, 4.18731126e-03, 1.69432589e-02,
                     6.84850479e-02, 2.87207080e-01, 1.33320254e00, 8.40215071e00])


@dataclass(frozen=True)
class _SourceGroup:
    """Sources sharing one profile family, each a mixture of K elliptical Gaussians."""

    x: np.ndarray  # (n,) float64, pixel column of the centre (0-based)
    y: np.ndarray  # (n,) float64, pixel row of the centre
    flux: np.ndarray  # (n,) float64, nJy
    amp: np.ndarray  # (n, K) float64, component fractions (rows sum to 1)
    cxx: np.ndarray  # (n, K) intrinsic covariance, px**2 (before the PSF)
    cxy: np.ndarray  # (n, K)
    cyy: np.ndarray  # (n, K)
    half: np.ndarray  # (n,) int64, stamp half-size in pixels


@dataclass(frozen=True)
class _WarpPlan:
    """What one warp gets, decided once for the whole set."""

    index: int
    calibration: str  # "MAGZERO", "BUNIT" or "FLUXMAG0"
    coverage: str  # "full", "edge", "gap" or "edge+gap"
    trail: bool
    bad_columns: bool
    cr_flagged: bool


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def make_demo_warps(
    directory: str | pathlib.Path,
    n_warps: int = 12,
    shape: tuple[int, int] = (512, 512),
    seed: int = 42,
    compressed: bool = False,
) -> list[pathlib.Path]:
    """Write a synthetic set of warp files ``warp_000.fits``, ``warp_001.fits``, ... .

    Parameters
    ----------
    directory : str or pathlib.Path
        Output folder; created if missing. Existing files of the same names are overwritten.
    n_warps : int, optional
        Number of warps (default 12).
    shape : tuple of int, optional
        ``(ny, nx)`` of every plane (default ``(512, 512)``).
    seed : int, optional
        Seed of the random generator (default 42); the output is a deterministic function of
        ``(n_warps, shape, seed)``.
    compressed : bool, optional
        Write the planes as tile-compressed ``CompImageHDU`` (lossless; default False).

    Returns
    -------
    list of pathlib.Path
        The files written, in warp order.

    Notes
    -----
    Warps are generated and written one at a time, so memory use does not grow with ``n_warps``.
    See :func:`make_demo_warp_arrays` for the content.
    """
    warps = _iter_warps(n_warps, shape, seed)
    out_dir = pathlib.Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[pathlib.Path] = []
    for index, warp in enumerate(warps):
        path = out_dir / f"warp_{index:03d}.fits"
        write_warp(
            path,
            warp["image"],
            warp["mask"],
            warp["variance"],
            visit=warp["visit"],
            calibration=warp["header_calibration"],
            wcs=warp["wcs"],
            mask_planes=DEFAULT_DEMO_PLANES,
            compressed=compressed,
        )
        paths.append(path)
    return paths


def make_demo_warp_arrays(n_warps: int, shape: tuple[int, int], seed: int) -> list[dict[str, Any]]:
    """Generate the synthetic warps in memory.

    Parameters
    ----------
    n_warps : int
        Number of warps.
    shape : tuple of int
        ``(ny, nx)`` of every plane.
    seed : int
        Seed of the random generator; the output is a deterministic function of the arguments.
        The true sky depends only on ``(shape, seed)`` and warp ``i``'s PSF, zero point, noise and
        cosmic rays only on ``(shape, seed, i)``.

    Returns
    -------
    list of dict
        One dict per warp with keys

        ``image`` : ndarray, float32, ``(ny, nx)``
            Counts (nJy for the ``BUNIT='nJy'`` warp), sky subtracted; NaN outside coverage.
        ``mask`` : ndarray, int32, ``(ny, nx)``
            Bitmask with the planes of :data:`DEFAULT_DEMO_PLANES`.
        ``variance`` : ndarray, float32, ``(ny, nx)``
            Units of ``image`` squared; NaN outside coverage.
        ``visit`` : int
            ``1000 + 7 * i``.
        ``header_calibration`` : dict
            Primary-header calibration: ``{'MAGZERO': m}``, ``{'BUNIT': 'nJy'}`` or
            ``{'FLUXMAG0': F}``.
        ``wcs`` : astropy.wcs.WCS
            The patch WCS (identical for all warps).
        ``scale`` : float
            nJy per image unit implied by ``header_calibration`` (SPEC §1).
        ``psf_fwhm`` : float
            FWHM of the warp's Gaussian PSF, pixels.
    """
    return list(_iter_warps(n_warps, shape, seed))


def write_warp(
    path: str | pathlib.Path,
    image: np.ndarray,
    mask: np.ndarray,
    variance: np.ndarray,
    *,
    visit: int | None,
    calibration: Mapping[str, Any],
    wcs: WCS,
    mask_planes: Mapping[str, int] | None = None,
    compressed: bool = False,
) -> None:
    """Write one warp file in the layout of SPEC §1.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file; overwritten if it exists.
    image, variance : ndarray
        2-D float planes (written with their own float dtype).
    mask : ndarray
        2-D integer bitmask of the same shape (written with its own integer dtype).
    visit : int or None
        ``VISIT`` keyword of the primary header; None leaves it out.
    calibration : mapping
        Primary-header calibration keywords, e.g. ``{'MAGZERO': 27.0}``, ``{'BUNIT': 'nJy'}`` or
        ``{'FLUXMAG0': 6.3e10}``; may be empty.
    wcs : astropy.wcs.WCS
        Celestial WCS, written to the primary header and to every extension.
    mask_planes : mapping of str to int, optional
        Plane name -> bit index, written as ``MP_<NAME>`` cards on the ``MASK`` extension
        (``HIERARCH`` cards for names longer than eight characters). Default
        :data:`DEFAULT_DEMO_PLANES`.
    compressed : bool, optional
        Write ``CompImageHDU`` planes: ``RICE_1`` for the mask, lossless ``GZIP_2`` (no
        quantization) for image and variance, in square tiles so sections decompress cheaply.

    Raises
    ------
    ValueError
        If the planes are not 2-D arrays of one shape, or the mask is not of an integer type.
    """
    image = np.asarray(image)
    mask = np.asarray(mask)
    variance = np.asarray(variance)
    if image.ndim != 2 or image.shape != mask.shape or image.shape != variance.shape:
        raise ValueError(
            f"image, mask and variance must be 2-D of one shape; got {image.shape}, "
            f"{mask.shape}, {variance.shape}"
        )
    if not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask must have an integer dtype, got {mask.dtype}")
    if not (np.issubdtype(image.dtype, np.floating) and np.issubdtype(variance.dtype, np.floating)):
        raise ValueError(f"image and variance must be floating point, got {image.dtype}, {variance.dtype}")
    planes = DEFAULT_DEMO_PLANES if mask_planes is None else mask_planes

    wcs_header = wcs.to_header()
    primary = fits.Header()
    if visit is not None:
        primary["VISIT"] = (int(visit), "visit identifier")
    for key, value in calibration.items():
        primary[key] = value
    primary.extend(wcs_header)

    mask_header = _extension_header("MASK", wcs_header)
    for name, bit in planes.items():
        # Spelled HIERARCH explicitly: astropy would otherwise warn for keys over eight characters.
        key = f"MP_{name}"
        keyword = key if len(key) <= 8 else f"HIERARCH {key}"
        mask_header.append(fits.Card(keyword, int(bit), f"mask plane {name}"))

    hdus: list[fits.hdu.base.ExtensionHDU] = []
    for name, data, header in (
        ("IMAGE", image, _extension_header("IMAGE", wcs_header)),
        ("MASK", mask, mask_header),
        ("VARIANCE", variance, _extension_header("VARIANCE", wcs_header)),
    ):
        hdus.append(_plane_hdu(name, data, header, compressed))
    fits.HDUList([fits.PrimaryHDU(header=primary), *hdus]).writeto(path, overwrite=True)


# --------------------------------------------------------------------------------------------
# FITS helpers
# --------------------------------------------------------------------------------------------


def _extension_header(extname: str, wcs_header: fits.Header) -> fits.Header:
    header = fits.Header()
    header["EXTNAME"] = extname
    header["EXTTYPE"] = (extname, "LSST-style plane type")
    header.extend(wcs_header)
    return header


def _plane_hdu(
    name: str, data: np.ndarray, header: fits.Header, compressed: bool
) -> fits.hdu.base.ExtensionHDU:
    if not compressed:
        return fits.ImageHDU(data=data, header=header, name=name)
    tile = (min(_GZIP_TILE, data.shape[0]), min(_GZIP_TILE, data.shape[1]))
    if np.issubdtype(data.dtype, np.integer):
        return fits.CompImageHDU(
            data=data, header=header, name=name, compression_type="RICE_1", tile_shape=tile
        )
    # GZIP with quantize_level=0 stores the float bits unchanged (lossless, NaN included); the
    # default quantization of float planes is lossy.
    return fits.CompImageHDU(
        data=data, header=header, name=name, compression_type="GZIP_2", quantize_level=0.0, tile_shape=tile
    )


def _patch_wcs(shape: tuple[int, int]) -> WCS:
    """TAN WCS of the patch grid: 0.2 arcsec pixels, north up, east left, CRPIX at the centre."""
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = list(_CRVAL_DEG)
    wcs.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    step = _PIXEL_SCALE_ARCSEC / 3600.0
    wcs.wcs.cd = [[-step, 0.0], [0.0, step]]
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.set()
    return wcs


# --------------------------------------------------------------------------------------------
# the true sky
# --------------------------------------------------------------------------------------------


def _power_law_magnitudes(
    rng: np.random.Generator, n: int, bright: float, faint: float, slope: float
) -> np.ndarray:
    """Magnitudes with dN/dm ∝ 10**(slope·m) on [bright, faint] (inverse-CDF sampling)."""
    lo, hi = 10.0 ** (slope * bright), 10.0 ** (slope * faint)
    return np.log10(lo + rng.random(n) * (hi - lo)) / slope


def _magnitude_to_njy(mag: np.ndarray) -> np.ndarray:
    return AB_ZERO_NJY * 10.0 ** (-0.4 * mag)


def _stamp_half_sizes(group_amp: np.ndarray, flux: np.ndarray, v_major: np.ndarray,
                      v_minor: np.ndarray, cap: int) -> np.ndarray:
    """Half-size where every component has fallen below the stamp threshold, snapped to a ladder.

    Computed for the widest PSF of the generator, so one size serves every warp.
    """
    psf_var = (_PSF_FWHM_RANGE[1] * _FWHM_TO_SIGMA) ** 2 + 1.0 / 12.0
    vmaj = v_major + psf_var
    vmin = v_minor + psf_var
    peak = flux[:, None] * group_amp / (2.0 * np.pi * np.sqrt(vmaj * vmin))
    ratio = np.maximum(peak / _STAMP_THRESHOLD_NJY, 1.0)
    radius = np.sqrt(2.0 * vmaj * np.log(ratio)).max(axis=1)
    ladder = _STAMP_HALF_SIZES[: max(1, int(np.searchsorted(_STAMP_HALF_SIZES, cap, side="right")))]
    slot = np.minimum(np.searchsorted(ladder, np.ceil(radius)), ladder.size - 1)
    return ladder[slot].astype(np.int64)


def _make_stars(rng: np.random.Generator, shape: tuple[int, int], cap: int) -> _SourceGroup:
    ny, nx = shape
    area = float(ny * nx)
    n_field = int(rng.poisson(area / _PIXELS_PER_STAR))
    n_bright = max(2, round(area / 2.6e5))
    mag = np.concatenate([
        _power_law_magnitudes(rng, n_field, 16.0, 26.0, 0.2),
        rng.uniform(13.5, 16.0, n_bright),
    ])
    n = mag.size
    x, y = _positions(rng, n, shape)
    flux = _magnitude_to_njy(mag)
    amp = np.ones((n, 1))
    zero = np.zeros((n, 1))
    half = _stamp_half_sizes(amp, flux, zero, zero, cap)
    return _SourceGroup(x, y, flux, amp, zero, zero.copy(), zero.copy(), half)


def _make_galaxies(rng: np.random.Generator, shape: tuple[int, int], cap: int) -> list[_SourceGroup]:
    ny, nx = shape
    area = float(ny * nx)
    n_field = int(rng.poisson(area / _PIXELS_PER_GALAXY))
    n_big = max(1, round(area / 4.0e5))
    mag_field = _power_law_magnitudes(rng, n_field, 18.0, 26.5, 0.33)
    # Size-magnitude relation: r_e ≈ 0.45" at m = 22, growing by 10**0.16 per magnitude brighter.
    scatter = rng.lognormal(0.0, 0.3, n_field)
    r_field = (0.45 / _PIXEL_SCALE_ARCSEC) * 10.0 ** (-0.16 * (mag_field - 22.0)) * scatter
    mag = np.concatenate([mag_field, rng.uniform(15.5, 17.5, n_big)])
    r_e = np.clip(np.concatenate([r_field, rng.uniform(12.0, 30.0, n_big)]), 0.3, 40.0)
    n = mag.size
    x, y = _positions(rng, n, shape)
    flux = _magnitude_to_njy(mag)
    # Bright galaxies are more often bulge-dominated.
    p_dev = np.where(mag < 20.0, 0.45, 0.25)
    is_dev = rng.random(n) < p_dev
    q = np.where(is_dev, rng.uniform(0.5, 1.0, n), rng.uniform(0.2, 1.0, n))
    theta = rng.uniform(0.0, np.pi, n)

    groups = []
    for select, amp_unit, var_unit in ((~is_dev, _EXP_AMP, _EXP_VAR), (is_dev, _DEV_AMP, _DEV_VAR)):
        if not select.any():
            continue
        amp = np.broadcast_to(amp_unit / amp_unit.sum(), (int(select.sum()), amp_unit.size)).copy()
        v_major = var_unit[None, :] * r_e[select, None] ** 2
        v_minor = v_major * q[select, None] ** 2
        cos, sin = np.cos(theta[select])[:, None], np.sin(theta[select])[:, None]
        cxx = v_major * cos**2 + v_minor * sin**2
        cyy = v_major * sin**2 + v_minor * cos**2
        cxy = (v_major - v_minor) * sin * cos
        half = _stamp_half_sizes(amp, flux[select], v_major, v_minor, cap)
        groups.append(_SourceGroup(x[select], y[select], flux[select], amp, cxx, cxy, cyy, half))
    return groups


def _positions(rng: np.random.Generator, n: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    # A margin lets sources just outside the patch spill light into it.
    margin = 8.0
    ny, nx = shape
    return rng.uniform(-margin, nx + margin, n), rng.uniform(-margin, ny + margin, n)


def _render(shape: tuple[int, int], groups: list[_SourceGroup], psf_sigma: float) -> np.ndarray:
    """Noise-free image (nJy per pixel, float32) of the sources seen through a Gaussian PSF.

    Each component's covariance gets the PSF variance plus 1/12 px² (a Gaussian stand-in for the
    pixel box), and the mixture is evaluated at pixel centres on a postage stamp per source.
    """
    ny, nx = shape
    model = np.zeros(ny * nx, dtype=np.float32)
    extra_var = psf_sigma**2 + 1.0 / 12.0
    for group in groups:
        for half in np.unique(group.half):
            members = np.flatnonzero(group.half == half)
            size = 2 * int(half) + 1
            per_batch = max(1, _MAX_STAMP_ELEMENTS // (size * size * group.amp.shape[1]))
            for start in range(0, members.size, per_batch):
                _add_stamps(model, shape, group, members[start:start + per_batch], int(half), extra_var)
    return model.reshape(shape)


def _add_stamps(model: np.ndarray, shape: tuple[int, int], group: _SourceGroup, members: np.ndarray,
                half: int, extra_var: float) -> None:
    """Render ``members`` of ``group`` on (2·half+1)² stamps and add them to the flat ``model``."""
    ny, nx = shape
    offsets = np.arange(-half, half + 1)
    x, y = group.x[members], group.y[members]
    ix, iy = np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)
    dx = (ix[:, None] + offsets[None, :] - x[:, None]).astype(np.float32)[:, None, :]  # (m, 1, S)
    dy = (iy[:, None] + offsets[None, :] - y[:, None]).astype(np.float32)[:, :, None]  # (m, S, 1)
    dx2, dy2, dxy = dx * dx, dy * dy, dx * dy
    stamps = np.zeros((members.size, offsets.size, offsets.size), dtype=np.float32)
    for k in range(group.amp.shape[1]):
        vxx = group.cxx[members, k] + extra_var
        vyy = group.cyy[members, k] + extra_var
        vxy = group.cxy[members, k]
        det = vxx * vyy - vxy * vxy
        norm = (group.flux[members] * group.amp[members, k] / (2.0 * np.pi * np.sqrt(det))).astype(np.float32)
        ixx = (-0.5 * vyy / det).astype(np.float32)[:, None, None]
        iyy = (-0.5 * vxx / det).astype(np.float32)[:, None, None]
        ixy = (vxy / det).astype(np.float32)[:, None, None]
        exponent = ixx * dx2 + iyy * dy2 + ixy * dxy
        stamps += norm[:, None, None] * np.exp(exponent)
    rows = iy[:, None] + offsets[None, :]
    cols = ix[:, None] + offsets[None, :]
    inside = ((rows >= 0) & (rows < ny))[:, :, None] & ((cols >= 0) & (cols < nx))[:, None, :]
    flat_index = rows[:, :, None] * nx + cols[:, None, :]
    np.add.at(model, flat_index[inside], stamps[inside])


# --------------------------------------------------------------------------------------------
# per-warp observation
# --------------------------------------------------------------------------------------------


def _plan_warps(rng: np.random.Generator, n_warps: int) -> list[_WarpPlan]:
    """Decide calibration style, coverage and artefacts of every warp."""
    coverage = list(rng.choice(["full", "edge", "gap", "edge+gap"], size=n_warps, p=[0.45, 0.3, 0.15, 0.1]))
    if n_warps:
        coverage[0] = "full"  # one complete warp, so the coadd covers the whole patch
    if n_warps >= 3:
        if not any("edge" in c for c in coverage):
            coverage[1 + int(rng.integers(n_warps - 1))] = "edge"
        if not any("gap" in c for c in coverage):
            i = 1 + int(rng.integers(n_warps - 1))
            coverage[i] = "gap" if coverage[i] == "full" else "edge+gap"
    trail = int(rng.integers(n_warps)) if n_warps else -1
    bad = set(rng.choice(n_warps, size=min(2, n_warps), replace=False).tolist()) if n_warps else set()
    plans = []
    for i in range(n_warps):
        if i == 1:
            calibration = "BUNIT"
        elif i == n_warps - 1 and n_warps >= 3:
            calibration = "FLUXMAG0"
        else:
            calibration = "MAGZERO"
        plans.append(_WarpPlan(i, calibration, str(coverage[i]), i == trail, i in bad, i % 2 == 0))
    return plans


def _iter_warps(n_warps: int, shape: tuple[int, int], seed: int) -> Iterator[dict[str, Any]]:
    """Check the arguments now, then yield the warps one by one (see :func:`make_demo_warp_arrays`)."""
    if n_warps < 0:
        raise ValueError(f"n_warps must be >= 0, got {n_warps}")
    ny, nx = (int(shape[0]), int(shape[1]))
    if ny < 1 or nx < 1:
        raise ValueError(f"shape must be two positive integers, got {shape}")
    return _generate_warps(n_warps, (ny, nx), seed)


def _generate_warps(n_warps: int, shape: tuple[int, int], seed: int) -> Iterator[dict[str, Any]]:
    ny, nx = shape
    sky_rng = np.random.default_rng(seed)
    cap = max(ny, nx) + 8
    groups = [_make_stars(sky_rng, shape, cap), *_make_galaxies(sky_rng, shape, cap)]
    plans = _plan_warps(sky_rng, n_warps)
    wcs = _patch_wcs(shape)
    for plan in plans:
        warp = _observe(np.random.default_rng([seed, 1 + plan.index]), shape, groups, plan)
        warp["visit"] = 1000 + 7 * plan.index
        warp["wcs"] = wcs.deepcopy()
        yield warp


def _observe(rng: np.random.Generator, shape: tuple[int, int], groups: list[_SourceGroup],
             plan: _WarpPlan) -> dict[str, Any]:
    """Observe the true sky once: PSF, noise, saturation, artefacts, coverage and mask."""
    bits = {name: np.int32(1 << bit) for name, bit in DEFAULT_DEMO_PLANES.items()}
    fwhm = float(rng.uniform(*_PSF_FWHM_RANGE))
    psf_sigma = fwhm * _FWHM_TO_SIGMA
    magzero = float(rng.uniform(*_MAGZERO_RANGE))
    njy_per_count = AB_ZERO_NJY * 10.0 ** (-0.4 * magzero)
    sky_sigma = float(rng.uniform(*_SKY_SIGMA_NJY_RANGE)) / njy_per_count  # counts
    sky_electrons = float(rng.uniform(*_SKY_ELECTRONS_RANGE))
    gain = math.sqrt(sky_electrons) / sky_sigma  # electrons per count
    saturation = (_FULL_WELL_E - sky_electrons) / gain  # counts above the subtracted sky

    model = _render(shape, groups, psf_sigma)
    model *= np.float32(1.0 / njy_per_count)
    signal = model.copy()
    if plan.trail:
        signal += _satellite_trail(rng, shape, psf_sigma, sky_sigma)
    cr_index, cr_value = _cosmic_rays(rng, shape, sky_sigma)
    signal.reshape(-1)[cr_index] += cr_value

    variance = np.maximum(signal, 0.0) * np.float32(1.0 / gain)
    variance += np.float32(sky_sigma**2)
    image = rng.standard_normal(shape, dtype=np.float32)
    image *= np.sqrt(variance)
    image += signal
    del signal

    mask = np.zeros(shape, dtype=np.int32)
    mask[model >= np.float32(_DETECTION_SIGMA * sky_sigma)] |= bits["DETECTED"]
    saturated = _saturated_pixels(model, saturation)
    image[saturated] = saturation
    variance[saturated] = sky_sigma**2 + saturation / gain
    mask[saturated] |= bits["SAT"]
    if plan.cr_flagged:
        mask.reshape(-1)[cr_index] |= bits["CR"]
    if plan.bad_columns:
        _add_bad_columns(rng, image, mask, sky_sigma, bits["BAD"])

    distance = _coverage_distance(rng, shape, plan.coverage)
    if distance is not None:
        band = float(rng.integers(2, 5))
        mask[(distance > 0) & (distance <= band)] |= bits["EDGE"]
        outside = distance <= 0
        image[outside] = np.nan
        variance[outside] = np.nan
        mask[outside] = bits["NO_DATA"]

    calibration, scale = _calibration_keywords(plan.calibration, magzero)
    if plan.calibration == "BUNIT":
        image *= np.float32(njy_per_count)
        variance *= np.float32(njy_per_count**2)
    return {
        "image": image,
        "mask": mask,
        "variance": variance,
        "header_calibration": calibration,
        "scale": scale,
        "psf_fwhm": fwhm,
    }


def _calibration_keywords(style: str, magzero: float) -> tuple[dict[str, Any], float]:
    """Primary-header calibration of one warp and the nJy-per-unit scale it implies (SPEC §1)."""
    if style == "BUNIT":
        keywords: dict[str, Any] = {"BUNIT": "nJy"}
    elif style == "FLUXMAG0":
        keywords = {"FLUXMAG0": 10.0 ** (0.4 * magzero)}
    else:
        keywords = {"MAGZERO": magzero}
    return keywords, scale_from_header(keywords)


def _saturated_pixels(model: np.ndarray, saturation: float) -> np.ndarray:
    """Pixels whose true flux exceeds the saturation level, plus vertical bleed trails.

    The excess charge of each saturated run of a column spills equally up and down the column.
    """
    saturated = model >= saturation
    rows, cols = np.nonzero(saturated)
    if rows.size == 0:
        return saturated
    ny = model.shape[0]
    order = np.lexsort((rows, cols))
    rows, cols = rows[order], cols[order]
    excess = model[rows, cols].astype(np.float64) - saturation
    # A new run starts at a new column or a gap in rows.
    starts = np.flatnonzero(np.r_[True, (np.diff(cols) != 0) | (np.diff(rows) != 1)])
    ends = np.r_[starts[1:], rows.size]
    run_excess = np.add.reduceat(excess, starts)
    for start, end, charge in zip(starts, ends, run_excess, strict=True):
        spill = math.ceil(0.5 * charge / saturation)
        top = max(0, int(rows[start]) - spill)
        bottom = min(ny, int(rows[end - 1]) + spill + 1)
        saturated[top:bottom, cols[start]] = True
    return saturated


def _satellite_trail(rng: np.random.Generator, shape: tuple[int, int], psf_sigma: float,
                     sky_sigma: float) -> np.ndarray:
    """Draw a straight, slowly flaring trail across the whole patch (counts, float32)."""
    ny, nx = shape
    x0, y0 = rng.uniform(0.3, 0.7) * nx, rng.uniform(0.3, 0.7) * ny
    angle = rng.uniform(0.0, np.pi)
    cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    cols = np.arange(nx, dtype=np.float32)[None, :] - np.float32(x0)
    rows = np.arange(ny, dtype=np.float32)[:, None] - np.float32(y0)
    across = cols * sin - rows * cos
    along = cols * cos + rows * sin
    width = math.sqrt(psf_sigma**2 + 0.5**2)  # FWHM ≈ 3 px
    peak = rng.uniform(30.0, 80.0) * sky_sigma
    period = rng.uniform(0.5, 1.5) * max(ny, nx)
    flare = 1.0 + 0.3 * np.sin(np.float32(2.0 * np.pi / period) * along)
    profile = np.exp(np.float32(-0.5 / width**2) * across * across)
    return (np.float32(peak) * flare * profile).astype(np.float32)


def _cosmic_rays(
    rng: np.random.Generator, shape: tuple[int, int], sky_sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Flat pixel indices and values (counts) of sharp 1-4 px cosmic-ray hits."""
    ny, nx = shape
    n = int(rng.poisson(ny * nx / _PIXELS_PER_COSMIC_RAY))
    length = rng.integers(1, 5, n)
    steps = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])
    direction = steps[rng.integers(0, 8, n)]  # a short straight track
    k = np.arange(4)
    row = rng.integers(0, ny, n)[:, None] + k[None, :] * direction[:, 0:1]
    col = rng.integers(0, nx, n)[:, None] + k[None, :] * direction[:, 1:2]
    value = sky_sigma * 10.0 ** rng.uniform(1.3, 2.5, (n, 4))  # 20-300 sigma per pixel
    keep = (k[None, :] < length[:, None]) & (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
    return (row * nx + col)[keep], value[keep].astype(np.float32)


def _add_bad_columns(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, sky_sigma: float,
                     bad_bit: np.int32) -> None:
    """One to three 1-2 px wide hot columns, some from a defect to the edge, with garbage values."""
    ny, nx = image.shape
    for _ in range(int(rng.integers(1, 4))):
        col = int(rng.integers(0, nx))
        width = int(rng.integers(1, 3))
        if rng.random() < 0.5:
            lo, hi = 0, ny
        else:
            start = int(rng.integers(0, ny))
            lo, hi = (0, start + 1) if rng.random() < 0.5 else (start, ny)
        level = rng.uniform(50.0, 400.0) * sky_sigma
        block = image[lo:hi, col:col + width]
        block[...] = level + rng.normal(0.0, 20.0 * sky_sigma, block.shape)
        mask[lo:hi, col:col + width] |= bad_bit


def _coverage_distance(rng: np.random.Generator, shape: tuple[int, int], coverage: str) -> np.ndarray | None:
    """Signed distance (px) to the coverage boundary, positive inside; None when fully covered."""
    if coverage == "full":
        return None
    ny, nx = shape
    cols = np.arange(nx, dtype=np.float32)[None, :]
    rows = np.arange(ny, dtype=np.float32)[:, None]
    distance: np.ndarray | None = None
    if "edge" in coverage:
        # A straight boundary at a random angle keeping 35-80% of the patch.
        angle = rng.uniform(0.0, 2.0 * np.pi)
        ux, uy = math.cos(angle), math.sin(angle)
        grid_x, grid_y = np.meshgrid(np.linspace(0, nx - 1, 33), np.linspace(0, ny - 1, 33))
        offset = np.quantile(grid_x * ux + grid_y * uy, 1.0 - rng.uniform(0.35, 0.8))
        distance = cols * np.float32(ux) + rows * np.float32(uy) - np.float32(offset)
    if "gap" in coverage:
        # A chip-gap stripe 15-35 px wide through the central region.
        angle = rng.uniform(0.0, np.pi)
        ux, uy = math.cos(angle), math.sin(angle)
        x0, y0 = rng.uniform(0.25, 0.75) * nx, rng.uniform(0.25, 0.75) * ny
        half_width = 0.5 * rng.uniform(15.0, 35.0)
        gap = np.abs(cols * np.float32(ux) + rows * np.float32(uy) - np.float32(x0 * ux + y0 * uy))
        gap -= np.float32(half_width)
        distance = gap if distance is None else np.minimum(distance, gap)
    return distance
