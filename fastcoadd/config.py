"""Configuration of a coadd: one frozen dataclass whose defaults are SPEC's."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError

STATISTICS = ("mean", "meanclip", "median")
DEFAULT_BAD_PLANES = ("NO_DATA", "BAD", "SAT", "EDGE")
DEFAULT_THRESHOLDS = (("SAT", 0.1),)
GIB = 1024**3

_SIZE_UNITS = {"": 1, "B": 1, "K": 1000, "KB": 1000, "M": 1000**2, "MB": 1000**2, "G": 1000**3,
               "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def parse_memory_size(text: str | int | float) -> int:
    """Parse a memory size such as ``"1GiB"``, ``"512MiB"``, ``"2e9"`` or ``1073741824`` into bytes."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", str(text))
        if match is None or match.group(2).upper() not in _SIZE_UNITS:
            raise ConfigError(f"cannot read memory size {text!r} (use e.g. 1GiB, 512MiB, 2e9)")
        try:
            value = float(match.group(1))
        except ValueError:
            raise ConfigError(f"cannot read memory size {text!r}") from None
        unit = match.group(2).upper()
    size = value * _SIZE_UNITS[unit]
    if not math.isfinite(size) or size <= 0:
        raise ConfigError(f"memory size must be positive, got {text!r}")
    return int(size)


@dataclass(frozen=True)
class CoaddConfig:
    """How to combine warps into a coadd (SPEC §3-4).

    Every field has SPEC's default; the object is validated on creation and cannot
    be changed afterwards (use :func:`dataclasses.replace`).
    """

    statistic: str = "meanclip"
    """Per-pixel statistic: ``"mean"``, ``"meanclip"`` (N-sigma clipped weighted mean) or ``"median"``."""
    sigma: float = 3.0
    """Clipping threshold in standard deviations (MEANCLIP, and the per-warp weights)."""
    iterations: int = 2
    """Number of clipping passes (MEANCLIP, and the per-warp weights)."""
    bad_planes: tuple[str, ...] = DEFAULT_BAD_PLANES
    """Mask planes that exclude an input pixel from the combination."""
    propagation_thresholds: tuple[tuple[str, float], ...] = DEFAULT_THRESHOLDS
    """Plane -> fraction of rejected weight above which the plane is set on the coadd (a dict is accepted)."""
    variance_from_scatter: bool = False
    """Take the coadd variance from the scatter of the inputs instead of their variance planes."""
    interpolate: bool = True
    """Fill NO_DATA pixels by linear interpolation along rows and flag them INTRP."""
    flag_rejections: bool = True
    """Flag REJECTED / SENSOR_EDGE / CLIPPED for masked inputs and INEXACT_PSF (SPEC §3.5 steps 5-6)."""
    online_mean: bool = True
    """Compute MEAN by running sums warp by warp; False stacks tiles instead (same result)."""
    memory_budget: int = GIB
    """Bytes the tile buffers and output planes may use (a string such as ``"1GiB"`` is accepted)."""
    threads: int | None = None
    """Number of threads for the kernels; ``None`` uses every core."""
    tile_shape: tuple[int, int] | None = None
    """Force this tile shape (rows, columns) instead of deriving it from the memory budget."""
    target_zero_point: float | None = None
    """Scale to this AB zero point (``s = 10**(-0.4 (ZP_in - ZP_out))``) instead of nJy."""

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        statistic = str(self.statistic).lower()
        if statistic not in STATISTICS:
            raise ConfigError(f"statistic must be one of {', '.join(STATISTICS)}, got {self.statistic!r}")
        set_field(self, "statistic", statistic)
        if not (isinstance(self.sigma, (int, float)) and math.isfinite(self.sigma) and self.sigma > 0):
            raise ConfigError(f"sigma must be a positive number, got {self.sigma!r}")
        set_field(self, "sigma", float(self.sigma))
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 1:
            raise ConfigError(f"iterations must be an integer >= 1, got {self.iterations!r}")
        planes = (self.bad_planes,) if isinstance(self.bad_planes, str) else tuple(self.bad_planes)
        set_field(self, "bad_planes", tuple(_plane_name(p) for p in planes))
        thresholds = self.propagation_thresholds
        items = thresholds.items() if isinstance(thresholds, Mapping) else thresholds
        checked = []
        for name, value in items:
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ConfigError(f"propagation threshold for {name!r} must be in [0, 1], got {value!r}")
            checked.append((_plane_name(name), float(value)))
        set_field(self, "propagation_thresholds", tuple(checked))
        set_field(self, "memory_budget", parse_memory_size(self.memory_budget))
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ConfigError(f"threads must be a positive integer, got {self.threads!r}")
        if self.tile_shape is not None:
            shape = tuple(self.tile_shape)
            if len(shape) != 2 or any(not isinstance(s, int) or s < 1 for s in shape):
                raise ConfigError(f"tile_shape must be two positive integers, got {self.tile_shape!r}")
            set_field(self, "tile_shape", shape)
        if self.target_zero_point is not None and not math.isfinite(self.target_zero_point):
            raise ConfigError(f"target_zero_point must be finite, got {self.target_zero_point!r}")

    def to_header(self) -> dict[str, object]:
        """Return the configuration as FITS-header-friendly key/value pairs."""
        return {
            "STATISTIC": self.statistic.upper(),
            "CLIPSIG": self.sigma,
            "CLIPITER": self.iterations,
            "BADPLANE": ",".join(self.bad_planes),
            "PROPTHR": ",".join(f"{n}:{v:g}" for n, v in self.propagation_thresholds) or "NONE",
            "VARSCAT": self.variance_from_scatter,
            "INTERP": self.interpolate,
            "FLAGREJ": self.flag_rejections,
            "TARGETZP": "NJY" if self.target_zero_point is None else self.target_zero_point,
        }


def _plane_name(name: object) -> str:
    text = str(name).strip().upper()
    if not re.fullmatch(r"[A-Z0-9_]+", text):
        raise ConfigError(f"invalid mask plane name {name!r}")
    return text
