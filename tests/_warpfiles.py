"""Small valid warp files, and the tools to spoil them, for the reliability tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from fastcoadd.demo import write_warp
from fastcoadd.masks import DEFAULT_PLANES

SHAPE = (8, 10)


def patch_wcs(shape=SHAPE, crval=(150.1, 2.2)) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = list(crval)
    wcs.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    wcs.wcs.cd = np.array([[-0.2 / 3600, 0.0], [0.0, 0.2 / 3600]])
    return wcs


def planes(seed: int = 0, shape=SHAPE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image (a few NaN), mask (some SAT and BAD) and variance of a plausible warp in nJy."""
    rng = np.random.default_rng(seed)
    image = rng.normal(100.0, 5.0, shape).astype(np.float32)
    variance = rng.uniform(20.0, 30.0, shape).astype(np.float32)
    mask = np.zeros(shape, np.int32)
    mask[0, :3] = 1 << DEFAULT_PLANES["SAT"]
    mask[2 % shape[0], 4 % shape[1]] = 1 << DEFAULT_PLANES["BAD"]
    image[3 % shape[0], 3 % shape[1]] = np.nan
    return image, mask, variance


def write_valid(path, seed: int = 0, shape=SHAPE, visit: int | None = None, calibration=None,
                image=None, mask=None, variance=None, **kwargs) -> Path:
    """A valid warp file (VISIT = seed + 1 unless given, MAGZERO 27)."""
    default_image, default_mask, default_variance = planes(seed, shape)
    write_warp(path, default_image if image is None else image, default_mask if mask is None else mask,
               default_variance if variance is None else variance,
               visit=seed + 1 if visit is None else visit,
               calibration={"MAGZERO": 27.0} if calibration is None else calibration,
               wcs=kwargs.pop("wcs", None) or patch_wcs(shape), **kwargs)
    return Path(path)


def write_hdus(path, *hdus, visit: int = 99) -> Path:
    """A file of the given extensions after a primary HDU with VISIT and MAGZERO."""
    primary = fits.PrimaryHDU()
    primary.header["VISIT"] = visit
    primary.header["MAGZERO"] = 27.0
    fits.HDUList([primary, *hdus]).writeto(path, overwrite=True)
    return Path(path)


def plane_hdus(seed: int = 0, skip: str | None = None, **replace) -> list[fits.ImageHDU]:
    """IMAGE, MASK and VARIANCE HDUs of a valid warp, one of them left out or replaced."""
    image, mask, variance = planes(seed)
    header = patch_wcs().to_header()
    hdus = []
    for name, data in (("IMAGE", image), ("MASK", mask), ("VARIANCE", variance)):
        if name == skip:
            continue
        hdus.append(replace.get(name) or fits.ImageHDU(data, header=header, name=name))
    return hdus


def header_span(path, hdu: int) -> tuple[int, int]:
    """Byte offsets (start, end) of one HDU's header."""
    with fits.open(path) as hdul:
        info = hdul.fileinfo(hdu)
    return int(info["hdrLoc"]), int(info["datLoc"])


def data_span(path, hdu: int) -> tuple[int, int]:
    """Byte offsets (start, end) of one HDU's data (without padding)."""
    with fits.open(path) as hdul:
        info = hdul.fileinfo(hdu)
        size = hdul[hdu].data.nbytes
    return int(info["datLoc"]), int(info["datLoc"]) + size


def set_card(path, hdu: int, keyword: str, raw_value: str) -> Path:
    """Overwrite the value field of one header card in place with ``raw_value`` (no validation)."""
    data = bytearray(Path(path).read_bytes())
    start, end = header_span(path, hdu)
    for offset in range(start, end, 80):
        if data[offset:offset + 8].decode("ascii").rstrip() == keyword:
            data[offset + 10:offset + 80] = raw_value.ljust(70).encode("ascii")[:70]
            Path(path).write_bytes(bytes(data))
            return Path(path)
    raise KeyError(keyword)


def leftovers(folder) -> list[str]:
    """Temporary files a failed write would leave behind."""
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))
