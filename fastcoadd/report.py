"""Human-readable run summaries and resource figures."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

from .result import CoaddResult


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def format_summary(result: CoaddResult, wall_seconds: float, peak_bytes: int, output: object = None) -> str:
    """A short summary of a run: inputs and weights, pixels clipped and without data, time, memory."""
    ny, nx = result.image.shape
    lines = [f"coadd {ny}x{nx} ({result.config.statistic}) from {result.n_used} of "
             f"{len(result.inputs)} warps" + (f" -> {output}" if output else "")]
    for record in result.inputs:
        name = Path(record.file).name
        status = "" if record.used else f"  SKIPPED: {record.reason}"
        visit = "-" if record.visit is None else record.visit
        lines.append(f"  {name:<28} visit {visit!s:>8}  scale {record.scale:10.4g}  "
                     f"weight {record.weight:10.4g}{status}")
    total = ny * nx
    clipped = int(result.stats.get("pixels_clipped", 0))
    no_data = int(result.stats.get("pixels_no_data", 0))
    lines.append(f"  pixels clipped: {clipped} ({100 * clipped / total:.2f}%), "
                 f"without data: {no_data} ({100 * no_data / total:.2f}%)")
    lines.append(f"  wall time {wall_seconds:.2f} s, peak memory {peak_bytes / 1024**2:.0f} MiB")
    return "\n".join(lines)
