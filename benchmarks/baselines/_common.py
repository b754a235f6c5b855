"""Plain numpy/astropy pieces shared by the baselines: reading warps, calibration (SPEC §1), the bad-pixel
rule (SPEC §3.1), per-warp weights (SPEC §4) and writing a result.

Nothing here imports fastcoadd: the baselines are independent implementations written the obvious way.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

AB_ZERO_NJY = 3631e9
#: SPEC default bad planes.
BAD_PLANES = ("NO_DATA", "BAD", "SAT", "EDGE")
#: LSST default plane numbers, used when a MASK header has no MP_ cards.
DEFAULT_PLANES = {"BAD": 0, "SAT": 1, "INTRP": 2, "CR": 3, "EDGE": 4, "DETECTED": 5, "DETECTED_NEGATIVE": 6,
                  "SUSPECT": 7, "NO_DATA": 8}
SIGMA = 3.0
ITERATIONS = 2
IQR_TO_SIGMA = 0.741301109252802


@dataclass
class WarpInfo:
    path: Path
    visit: int | None
    scale: float  # nJy per image unit
    bad: int  # OR of the bad planes' bits in this warp's mask


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("warps", nargs="+", type=Path)
    parser.add_argument("-o", "--output", required=True, type=Path)
    return parser.parse_args()


def scale_of(header: fits.Header, path: Path) -> float:
    """nJy per unit (SPEC §1)."""
    bunit = header.get("BUNIT")
    if isinstance(bunit, str) and bunit.strip().lower() == "njy":
        return 1.0
    if "MAGZERO" in header:
        return AB_ZERO_NJY * 10.0 ** (-0.4 * float(header["MAGZERO"]))
    if "FLUXMAG0" in header:
        return AB_ZERO_NJY / float(header["FLUXMAG0"])
    raise SystemExit(f"{path}: no calibration")


def planes_of(header: fits.Header) -> dict[str, int]:
    planes = {}
    for key, value in header.items():
        name = key[len("HIERARCH "):] if key.upper().startswith("HIERARCH ") else key
        if name.upper().startswith("MP_"):
            planes[name[3:].upper()] = int(value)
    return planes or dict(DEFAULT_PLANES)


def open_warps(paths: list[Path]) -> list[WarpInfo]:
    """Headers of every warp, in canonical order (VISIT, missing last, then path)."""
    warps = []
    for path in paths:
        with fits.open(path) as hdul:
            visit = hdul[0].header.get("VISIT")
            planes = planes_of(hdul["MASK"].header)
            scale = scale_of(hdul[0].header, path)
        bad = 0
        for name in BAD_PLANES:
            if name in planes:
                bad |= 1 << planes[name]
        warps.append(WarpInfo(path, None if visit is None else int(visit), scale, bad))
    warps.sort(key=lambda w: (w.visit is None, w.visit or 0, str(w.path)))
    return warps


def read_planes(warp: WarpInfo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IMAGE, MASK, VARIANCE as native-endian arrays (each plane read whole)."""
    with fits.open(warp.path, memmap=False) as hdul:
        image = hdul["IMAGE"].data.astype(np.float32)
        mask = hdul["MASK"].data.astype(np.int64)
        variance = hdul["VARIANCE"].data.astype(np.float32)
    return image, mask, variance


def good_of(image: np.ndarray, mask: np.ndarray, bad: int) -> np.ndarray:
    """SPEC §3.1: finite value and no bad plane set."""
    return np.isfinite(image) & ((mask & bad) == 0)


def clipped_mean(values: np.ndarray, sigma: float = SIGMA, iterations: int = ITERATIONS) -> float:
    """Unweighted MEANCLIP of a 1-D float64 array (SPEC §3.3), written plainly."""
    n = values.size
    if n == 0:
        return math.nan
    q1, median, q3 = np.percentile(values, [25.0, 50.0, 75.0])
    iqr = q3 - q1
    mean = scatter = math.nan
    for k in range(iterations):
        center = median if k == 0 else mean
        half = sigma * IQR_TO_SIGMA * iqr if k == 0 or n <= 1 else sigma * math.sqrt(max(scatter, 0.0))
        if math.isnan(center) or math.isnan(half):
            return math.nan
        kept = values[np.abs(values - center) <= half]
        if kept.size == 0:
            mean = scatter = math.nan
            continue
        mean = float(kept.mean())
        scatter = float(np.sum((kept - mean) ** 2) / (kept.size - 1)) if kept.size > 1 else math.nan
    return mean


def weighted_clipped_mean(values: np.ndarray, weights: np.ndarray, sigma: float = SIGMA,
                          iterations: int = ITERATIONS) -> tuple[float, int]:
    """MEANCLIP of one pixel's good inputs (SPEC §3.3), written plainly: (mean, number clipped)."""
    n = values.size
    if n == 0:
        return math.nan, 0
    q1, median, q3 = np.percentile(values, [25.0, 50.0, 75.0])
    iqr = q3 - q1
    mean = scatter = math.nan
    kept = np.zeros(n, dtype=bool)
    for k in range(iterations):
        center = median if k == 0 else mean
        half = sigma * IQR_TO_SIGMA * iqr if k == 0 or n <= 1 else sigma * math.sqrt(max(scatter, 0.0))
        if math.isnan(center) or math.isnan(half):
            return math.nan, n
        kept = np.abs(values - center) <= half
        x, w = values[kept], weights[kept]
        sum_w = w.sum()
        if sum_w == 0:
            mean = scatter = math.nan
            continue
        mean = float((w * x).sum() / sum_w)
        sum_w2 = float((w * w).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            scatter = float((w * (x - mean) ** 2).sum() / sum_w * sum_w**2 / (sum_w**2 - sum_w2))
    return mean, int(n - kept.sum())


def weight_of(warp: WarpInfo, image: np.ndarray, mask: np.ndarray, variance: np.ndarray) -> float:
    """SPEC §4: 1 / MEANCLIP of the scaled variance over the good pixels with a variance."""
    good = good_of(image, mask, warp.bad) & ~np.isnan(variance)
    values = variance[good].astype(np.float64) * warp.scale**2
    mean = clipped_mean(values)
    return 1.0 / mean if mean > 0 else math.nan


def write_result(path: Path, image: np.ndarray, variance: np.ndarray | None, started: float, **cards) -> None:
    """Write IMAGE (and VARIANCE) as float32 extensions; record the elapsed time in the header."""
    primary = fits.PrimaryHDU()
    for key, value in cards.items():
        primary.header[key.upper()[:8]] = value
    hdus = [primary, fits.ImageHDU(image.astype(np.float32), name="IMAGE")]
    if variance is not None:
        hdus.append(fits.ImageHDU(variance.astype(np.float32), name="VARIANCE"))
    primary.header["ELAPSED"] = (round(time.perf_counter() - started, 3), "seconds before writing")
    fits.HDUList(hdus).writeto(path, overwrite=True)
