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


def summary_line(result: CoaddResult, wall_seconds: float, peak_bytes: int, output: object = None) -> str:
    """One line: inputs used and skipped, pixels clipped and rejected, wall time, peak memory."""
    ny, nx = result.image.shape
    total = ny * nx
    skipped = len(result.inputs) - result.n_used
    clipped = int(result.plane("CLIPPED").sum())
    rejected = int(result.plane("REJECTED").sum())
    target = f" -> {output}" if output else ""
    return (f"coadd {ny}x{nx} {result.config.statistic}{target}: {result.n_used} warps used, "
            f"{skipped} skipped; pixels clipped {clipped} ({100 * clipped / total:.2f}%), "
            f"rejected {rejected} ({100 * rejected / total:.2f}%); {wall_seconds:.2f} s, "
            f"peak memory {peak_bytes / 1024**2:.0f} MiB")


def inputs_text(result: CoaddResult, skipped_only: bool = False) -> str:
    """The inputs (or only the skipped ones), one line each: name, visit, scale, weight and why skipped."""
    lines = []
    for record in result.inputs:
        if skipped_only and record.used:
            continue
        status = "" if record.used else f"  SKIPPED: {record.reason}"
        visit = "-" if record.visit is None else record.visit
        lines.append(f"  {Path(record.file).name:<28} visit {visit!s:>8}  scale {record.scale:10.4g}  "
                     f"weight {record.weight:10.4g}{status}")
    return "\n".join(lines)


def format_summary(result: CoaddResult, wall_seconds: float, peak_bytes: int, output: object = None) -> str:
    """The inputs table followed by the summary line."""
    return inputs_text(result) + "\n" + summary_line(result, wall_seconds, peak_bytes, output)
