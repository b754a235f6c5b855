"""Does the memory budget hold? Assemble a big stack under a budget and report the peak RSS.

    .venv/bin/python benchmarks/memory_ceiling.py                       # 4096x4096 x 32 warps, 256 MiB
    .venv/bin/python benchmarks/memory_ceiling.py --size 1024 --warps 8 --budget 32MiB --threads 2

What one run does:

1. writes ``--warps`` warp files of ``--size``² pixels (float32 image and variance, int32 mask:
   192 MiB per warp at 4096²) into ``--workdir`` (a temporary folder unless given; reused when
   the files are already there);
2. measures the *baseline*: the peak RSS of a fresh interpreter that imports fastcoadd and
   assembles two 64x64 warps with the same statistic, so numpy, astropy, numba and the compiled
   kernels are loaded;
3. measures the *run*: the peak RSS of a fresh interpreter that assembles the whole stack with
   ``--memory-budget`` and writes the coadd;
4. prints both, whether ``peak <= budget + baseline`` holds with the measured baseline, and
   whether it holds with the nominal 300 MiB the requirement allows for the interpreter; the
   exit status is 1 when it does not hold with the measured baseline.

Peak RSS is ``getrusage(RUSAGE_SELF).ru_maxrss`` of the child: it counts every page the process
touched at its worst moment, file-backed memory maps included; the page cache is not counted.
This is a benchmark, not a timed test: the test suite runs a small version (tests/test_memory.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from fastcoadd.config import parse_memory_size
from fastcoadd.demo import write_warp

MIB = 1024**2
#: The interpreter's baseline the requirement allows for ("about 300 MiB with numba loaded").
NOMINAL_BASELINE_MIB = 300

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import fastcoadd as fc
    statistic, budget, threads, output = sys.argv[1:5]
    paths = sys.argv[5:]
    config = fc.CoaddConfig(statistic=statistic, memory_budget=budget, threads=int(threads) or None)
    started = time.perf_counter()
    fc.assemble(paths, config, output=output, date=False)
    print(json.dumps({"peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "seconds": time.perf_counter() - started}))
""")


def make_stack(folder: Path, n_warps: int, size: int, seed: int = 0) -> list[Path]:
    """``n_warps`` warps of ``size``² pixels: shifted copies of one noise field, a few masked pixels."""
    from astropy.wcs import WCS

    folder.mkdir(parents=True, exist_ok=True)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.1, 2.2]
    wcs.wcs.crpix = [size / 2 + 0.5, size / 2 + 0.5]
    wcs.wcs.cd = np.array([[-0.2 / 3600, 0.0], [0.0, 0.2 / 3600]])
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((size, size), dtype=np.float32)
    paths = []
    for index in range(n_warps):
        path = folder / f"warp_{index:03d}.fits"
        paths.append(path)
        if path.exists():
            continue
        shift = tuple(rng.integers(0, size, 2))
        image = np.roll(noise, shift, axis=(0, 1))
        image *= np.float32(5.0)
        image += np.float32(100.0 + index)
        mask = np.zeros((size, size), np.int32)
        mask[rng.integers(0, size, 200), rng.integers(0, size, 200)] = 1 << 3  # CR
        variance = np.full((size, size), 25.0 + index, np.float32)
        write_warp(path, image, mask, variance, visit=index + 1, calibration={"BUNIT": "nJy"}, wcs=wcs)
        del image, mask, variance
    return paths


def peak(statistic: str, budget: str, threads: int, output: Path, paths: list[Path]) -> dict:
    """Peak RSS and wall time of one assembly in a fresh interpreter."""
    run = subprocess.run([sys.executable, "-c", _CHILD, statistic, budget, str(threads), str(output),
                          *map(str, paths)], capture_output=True, text=True, check=False)
    if run.returncode:
        raise SystemExit(f"the assembly failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="patch side in pixels (default 4096)")
    parser.add_argument("--warps", type=int, default=32, help="number of warps (default 32)")
    parser.add_argument("--budget", default="256MiB", help="memory budget (default 256MiB)")
    parser.add_argument("--statistic", default="meanclip", choices=("mean", "meanclip", "median"))
    parser.add_argument("--threads", type=int, default=0,
                        help="kernel and reading threads (default: all cores)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the warps go (default: a temporary folder, removed afterwards)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    budget = parse_memory_size(args.budget)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fastcoadd-memory-"))
    try:
        started = time.perf_counter()
        paths = make_stack(workdir / f"stack-{args.size}", args.warps, args.size)
        made = time.perf_counter() - started
        small = make_stack(workdir / "baseline", 2, 64)
        figures = (args.statistic, args.budget, args.threads)
        peak(*figures, workdir / "baseline.fits", small)  # compile (or load) the kernels first
        baseline = peak(*figures, workdir / "baseline.fits", small)
        run = peak(*figures, workdir / "coadd.fits", paths)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    ceiling = budget + baseline["peak_bytes"]
    holds = run["peak_bytes"] <= ceiling
    figures = {
        "size": args.size, "warps": args.warps, "statistic": args.statistic, "threads": args.threads or "all",
        "input_mib": round(args.warps * args.size**2 * 12 / MIB),
        "budget_mib": budget / MIB, "baseline_mib": round(baseline["peak_bytes"] / MIB, 1),
        "peak_mib": round(run["peak_bytes"] / MIB, 1),
        "above_baseline_mib": round((run["peak_bytes"] - baseline["peak_bytes"]) / MIB, 1),
        "ceiling_mib": round(ceiling / MIB, 1), "holds": holds, "assemble_seconds": round(run["seconds"], 1),
        "make_seconds": round(made, 1),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{args.warps} warps of {args.size}x{args.size} ({figures['input_mib']} MiB of planes), "
              f"{args.statistic}, budget {figures['budget_mib']:g} MiB")
        print(f"  baseline (interpreter, numpy, astropy, numba, kernels): {figures['baseline_mib']:.1f} MiB")
        above, seconds = figures["above_baseline_mib"], figures["assemble_seconds"]
        print(f"  peak RSS of the run: {figures['peak_mib']:.1f} MiB ({above:.1f} MiB above the baseline) "
              f"in {seconds} s")
        verdict = "holds" if holds else f"EXCEEDED by {figures['peak_mib'] - figures['ceiling_mib']:.1f} MiB"
        print(f"  ceiling budget + baseline: {figures['ceiling_mib']:.1f} MiB -> {verdict}")
        nominal = figures["budget_mib"] + NOMINAL_BASELINE_MIB
        print(f"  nominal ceiling budget + {NOMINAL_BASELINE_MIB} MiB (interpreter with numba): "
              f"{nominal:.1f} MiB -> {'holds' if figures['peak_mib'] <= nominal else 'EXCEEDED'}")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
