"""Where fastcoadd's time goes: per-step times of one run, and the cost of each kernel per input pixel.

    .venv/bin/python benchmarks/profile.py --preset patch            # the figures in RESULTS.md
    .venv/bin/python benchmarks/profile.py --preset tiny --repeat 1  # smoke test, seconds

Run it as a fresh process (it is one): the import time it prints is the real start-up cost.

1. **Steps.** Imports fastcoadd, runs one 64×64 warp (numba's one-time initialisation and the loading
   of the cached kernels), then assembles the stack with ``--threads`` threads for each statistic and
   prints ``CoaddResult.stats["seconds"]``: opening and checking the inputs, the weights (reading,
   selecting the good pixels, the clipped mean of the variance; summed over the threads that measure
   warps concurrently), reading the tiles, combining, interpolation and writing. Each step is also given
   per input pixel (``seconds / (warps × pixels)``) and against the ``cat`` read limit of the same
   files measured in the same run.
2. **Kernels.** The same work taken apart on data already in memory, one thread, best of
   ``--repeat``: the byte-swapping copy of a big-endian plane into a native buffer (what every tile
   read costs beyond the page cache), the weight kernels on one whole warp, the online-mean and the
   clipped-mean kernels on a batch of tiles, and a *floor kernel*: the plainest weighted mean that
   still tests the mask and finiteness (Σw·x and Σw²·v only; no scatter, no mask planes, no
   rejection flags). Multiplying out gives the CPU time a run needs at least, which is what bounds
   the end-to-end figures against the read limit.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import (
    DEFAULT_SEED,
    OUT_DIR,
    ensure_stack,
    markdown_table,
    read_limit,
    timestamp,
    total_bytes,
    write_json,
)

PRESETS = {"tiny": (4, 256), "small": (16, 2048), "patch": (32, 4096)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=PRESETS, default="small")
    parser.add_argument("--warps", type=int, help="number of warps (overrides the preset)")
    parser.add_argument("--size", type=int, help="patch side in pixels (overrides the preset)")
    parser.add_argument("--threads", type=int, default=2, help="threads for the end-to-end runs (default 2)")
    parser.add_argument(
        "--statistics", default="mean,meanclip", help="comma-separated (default mean,meanclip)"
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="repeats of each kernel measurement (best is kept)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    import fastcoadd as fc

    import_s = time.perf_counter() - started
    n_warps, size = PRESETS[args.preset]
    n_warps, size = args.warps or n_warps, args.size or size
    custom = (n_warps, size) != PRESETS[args.preset]
    label = f"{n_warps}x{size}-seed{DEFAULT_SEED}" if custom else args.preset
    paths = ensure_stack(label, n_warps, size)
    in_bytes = total_bytes(paths)
    pixels = n_warps * size * size

    first_started = time.perf_counter()
    tiny = ensure_stack("startup-1x64", 1, 64)
    fc.assemble(tiny, fc.CoaddConfig(statistic="meanclip"))
    fc.assemble(tiny, fc.CoaddConfig(statistic="mean"))
    first_s = time.perf_counter() - first_started
    limits = read_limit(paths, args.threads)
    print(
        f"{n_warps} warps of {size}x{size} ({in_bytes / 1e9:.3f} GB, {pixels / 1e6:.0f} M input pixels); "
        f"read limit: cat {limits['cat_s']:.3f} s, "
        f"mmap sum ({args.threads} threads) {limits['mmap_s']:.3f} s"
    )
    print(
        f"start-up in this process: import fastcoadd {import_s:.2f} s; first runs on one 64x64 warp "
        f"(numba initialisation, cached kernels loaded) {first_s:.2f} s\n"
    )

    record: dict[str, object] = {
        "label": label,
        "n_warps": n_warps,
        "size": size,
        "input_bytes": in_bytes,
        "threads": args.threads,
        "read_limit": limits,
        "import_s": import_s,
        "first_runs_s": first_s,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    with tempfile.TemporaryDirectory() as work:
        for statistic in args.statistics.split(","):
            record[statistic] = profile_run(
                fc, paths, statistic, args.threads, Path(work), limits["cat_s"], pixels
            )
    record["kernels"] = profile_kernels(paths, args.repeat, args.threads, limits["cat_s"])
    record["thread_scaling"] = profile_thread_scaling(args.threads, args.repeat)
    json_path = OUT_DIR / f"profile-{label}-{timestamp()}.json"
    write_json(json_path, record)
    print(f"\nrecord: {json_path}")
    return 0


def profile_run(
    fc, paths: list[Path], statistic: str, threads: int, work: Path, cat_s: float, pixels: int
) -> dict[str, object]:
    """One end-to-end run through the API; prints and returns its step table."""
    cpu_started = time.process_time()
    result = fc.assemble(
        paths, fc.CoaddConfig(statistic=statistic, threads=threads), output=work / "coadd.fits"
    )
    cpu_s = time.process_time() - cpu_started
    wall_s = float(result.stats["wall_seconds"])
    seconds: dict[str, float] = dict(result.stats["seconds"])
    rows = []
    for step, value in seconds.items():
        threaded = "thread-seconds" in step
        rows.append(
            [
                step,
                f"{value:.3f}",
                "—" if threaded else f"{100 * value / wall_s:.0f}%",
                f"{value / pixels * 1e9:.2f}",
                f"{value / cat_s:.1f}",
            ]
        )
    rows.append(
        ["whole run (wall)", f"{wall_s:.3f}", "100%", f"{wall_s / pixels * 1e9:.2f}", f"{wall_s / cat_s:.1f}"]
    )
    rows.append(["whole run (CPU, all threads)", f"{cpu_s:.3f}", "—", f"{cpu_s / pixels * 1e9:.2f}", "—"])
    print(f"fastcoadd {statistic}, {threads} threads, tile {result.stats['tile_shape']}:")
    print(markdown_table(["step", "seconds", "share of wall", "ns per input pixel", "× cat time"], rows))
    print()
    return {"wall_s": wall_s, "cpu_s": cpu_s, "seconds": seconds, "tile_shape": result.stats["tile_shape"]}


def profile_kernels(paths: list[Path], repeat: int, threads: int, cat_s: float) -> dict[str, float]:
    """ns per input pixel of each kernel, one thread, on real warp data already in memory.

    The online-mean and floor kernels run on blocks of the size the online mean uses (in the
    cache), MEANCLIP on a tile of every warp, 8 rows high.
    """
    import numba
    from astropy.io import fits

    from fastcoadd import CoaddConfig
    from fastcoadd._kernels.online import N_SUMS, accumulate_warps_serial
    from fastcoadd._kernels.selection import gather_good_values, select_float32
    from fastcoadd._kernels.stack import stack_tile
    from fastcoadd._kernels.statistics import STATISTIC_MEANCLIP, unweighted_clip_passes
    from fastcoadd.masks import merge_planes, planes_from_header

    assemble_module = sys.modules["fastcoadd.assemble"]
    numba.set_num_threads(1)

    def best(function) -> float:
        function()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
        return min(times)

    n_all = len(paths)
    n_batch = min(8, n_all)
    with fits.open(paths[0], memmap=True) as hdul:
        ny, nx = hdul["IMAGE"].shape
        planes = merge_planes([planes_from_header(hdul["MASK"].header, str(paths[0]))])
    clip_rows = min(ny, 8)
    rows = min(clip_rows, max(1, assemble_module._ONLINE_BLOCK_BYTES // (n_batch * nx * 12)))
    # rows from the middle of the patch, where every warp has data
    middle = slice(ny // 2 - clip_rows // 2, ny // 2 - clip_rows // 2 + clip_rows)
    stack_image = np.empty((n_all, clip_rows, nx), np.float32)
    stack_variance = np.empty_like(stack_image)
    stack_mask = np.empty((n_all, clip_rows, nx), np.int32)
    big_endian = []
    for i, path in enumerate(paths):
        with fits.open(path, memmap=True) as hdul:
            raw = [np.array(hdul[name].data[middle]) for name in ("IMAGE", "VARIANCE", "MASK")]
        big_endian.append(raw)
        stack_image[i], stack_variance[i], stack_mask[i] = raw
    image, variance, mask = (
        np.ascontiguousarray(a[:n_batch, :rows]) for a in (stack_image, stack_variance, stack_mask)
    )
    tile_pixels = n_batch * rows * nx
    results: dict[str, float] = {}

    plane = big_endian[0][0]
    out = np.empty(plane.shape, np.float32)
    results["byte-swapping copy of one plane, ns per pixel"] = (
        best(lambda: np.copyto(out, plane)) / plane.size * 1e9
    )

    with fits.open(paths[0], memmap=False) as hdul:
        whole = [
            hdul[name].data.astype(hdul[name].data.dtype.newbyteorder("="))
            for name in ("IMAGE", "VARIANCE", "MASK")
        ]
    bad = sum(1 << planes[p] for p in ("NO_DATA", "BAD", "SAT", "EDGE") if p in planes)
    good = np.empty(whole[0].size, np.float32)
    n_good = gather_good_values(whole[0], whole[2], whole[1], bad, good, 0)[0]
    warp_pixels = whole[0].size
    results["weights: select good pixels, ns per pixel"] = (
        best(lambda: gather_good_values(whole[0], whole[2], whole[1], bad, good, 0)) / warp_pixels * 1e9
    )
    values = good[:n_good]
    ranks = np.array(
        [n_good // 4, n_good // 4 + 1, n_good // 2, n_good // 2 + 1, 3 * n_good // 4, 3 * n_good // 4 + 1],
        dtype=np.int64,
    ).clip(0, n_good - 1)
    results["weights: exact quartiles (radix selection), ns per pixel"] = (
        best(lambda: select_float32(values, ranks)) / warp_pixels * 1e9
    )
    statistics = np.empty(5)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    results["weights: two clipping passes, ns per pixel"] = (
        best(lambda: unweighted_clip_passes(values, 1.0, median, q3 - q1, 3.0, 2, statistics))
        / warp_pixels
        * 1e9
    )

    config = CoaddConfig()
    rules = assemble_module._mask_rules(planes, config)
    thresholds = np.array([1 << planes["SAT"]], np.int64)
    scales = np.ones(n_batch)
    weights = np.linspace(1.0, 2.0, n_batch)
    sums = np.zeros((N_SUMS + 1, rows, nx))
    or_mask = np.zeros((rows, nx), np.int64)
    flags = np.zeros((rows, nx), np.int64)
    count = np.zeros((rows, nx), np.int32)
    results["stack: online mean (accumulate_warps), ns per input pixel"] = (
        best(
            lambda: accumulate_warps_serial(
                image, variance, mask, scales, weights, rules, thresholds, sums, or_mask, flags, count
            )
        )
        / tile_pixels
        * 1e9
    )
    floor = np.zeros((2, rows, nx))
    results["stack: floor kernel (Σw·x, Σw²·v, mask and finiteness test), ns per input pixel"] = (
        best(lambda: floor_kernel(image, variance, mask, weights, bad, floor)) / tile_pixels * 1e9
    )
    outs = [
        np.empty((clip_rows, nx), np.float32),
        np.empty((clip_rows, nx), np.float32),
        np.empty((clip_rows, nx), np.int32),
        np.empty((clip_rows, nx), np.int32),
    ]
    all_scales = np.ones(n_all)
    all_weights = np.linspace(1.0, 2.0, n_all)
    results["stack: meanclip (stack_tile), ns per input pixel"] = (
        best(
            lambda: stack_tile(
                stack_image,
                stack_variance,
                stack_mask,
                all_scales,
                all_weights,
                STATISTIC_MEANCLIP,
                3.0,
                2,
                False,
                rules,
                thresholds,
                np.array([0.1]),
                *outs,
            )
        )
        / stack_image.size
        * 1e9
    )
    print(
        f"kernels, one thread, data in memory (online mean and floor kernel: blocks of {n_batch} warps x "
        f"{rows}x{nx}; MEANCLIP: {n_all} warps x {clip_rows}x{nx}; weights: one {whole[0].shape[0]}x"
        f"{whole[0].shape[1]} warp), best of {repeat}:"
    )
    print(markdown_table(["kernel", "ns"], [[k, f"{v:.2f}"] for k, v in results.items()]))
    print_bounds(results, n_all * warp_pixels, threads, cat_s)
    return results


def print_bounds(kernels: dict[str, float], pixels: int, threads: int, cat_s: float) -> None:
    """CPU time the kernels above need for the whole stack, and that time spread over the threads."""
    copy = kernels["byte-swapping copy of one plane, ns per pixel"]
    weights = sum(value for key, value in kernels.items() if key.startswith("weights:"))
    reading = 2 * 3 * copy  # two passes (weights, then stacking) over three planes
    rows = [
        ("mean, floor kernel", reading + weights + kernels[next(k for k in kernels if "floor" in k)]),
        ("mean, fastcoadd's kernels", reading + weights + kernels[next(k for k in kernels if "online" in k)]),
        (
            "meanclip, fastcoadd's kernels",
            reading + weights + kernels[next(k for k in kernels if "meanclip" in k)],
        ),
    ]
    table = []
    for name, ns in rows:
        cpu = ns * pixels / 1e9
        table.append(
            [name, f"{ns:.2f}", f"{cpu:.2f}", f"{cpu / threads:.2f}", f"{cpu / threads / cat_s:.1f}"]
        )
    print(
        f"\nwhat these kernels cost for all {pixels / 1e6:.1f} M input pixels (reading = byte-swapping "
        "copies of the three planes in both passes; no start-up, no writing, perfect use of the threads):"
    )
    print(
        markdown_table(
            ["sum of", "ns per input pixel", "CPU s", f"s on {threads} threads", "× cat time"], table
        )
    )


def profile_thread_scaling(threads: int, repeat: int) -> dict[str, float]:
    """Speed-up of ``threads`` threads over one for a loop that only computes and one that streams memory.

    Both are plain numba ``prange`` loops, nothing of fastcoadd's: the first keeps its data in
    registers, the second sums a 512 MiB array (as the kernels stream tiles). Where the second
    scales much worse than the first, the machine's memory system, not the code, sets the limit of
    the streaming kernels' thread scaling.
    """
    import numba

    compute, stream = _compiled_scaling_loops()
    seeds = np.random.default_rng(0).random(4 * threads)
    data = np.ones(64 * 1024**2, dtype=np.int64)  # 512 MiB; integer sums vectorise, so memory is the limit
    results = {}
    for name, function, argument in (
        ("compute-bound loop", compute, seeds),
        ("memory-streaming loop", stream, data),
    ):
        seconds = {}
        for count in (1, threads):
            numba.set_num_threads(count)
            function(argument)
            best = min(_timed(function, argument) for _ in range(max(repeat, 3)))
            seconds[count] = best
        results[name] = seconds[1] / seconds[threads]
    numba.set_num_threads(threads)
    print(f"\nspeed-up of {threads} threads over 1 (plain numba loops, not fastcoadd's):")
    print(markdown_table(["loop", "speed-up"], [[k, f"{v:.2f}x"] for k, v in results.items()]))
    return results


def _timed(function, argument) -> float:
    started = time.perf_counter()
    function(argument)
    return time.perf_counter() - started


@functools.cache
def _compiled_scaling_loops():
    import numba

    @numba.njit(parallel=True, cache=True)
    def compute(seeds):
        out = np.empty(seeds.size)
        for i in numba.prange(seeds.size):
            value = seeds[i]
            for _ in range(20_000_000 // seeds.size):
                value = value * 0.999999 + 1e-7
            out[i] = value
        return out

    @numba.njit(parallel=True, cache=True)
    def stream(data):
        chunks = 64
        step = data.size // chunks
        partial = np.zeros(chunks, dtype=np.int64)
        for c in numba.prange(chunks):
            total = 0
            for i in range(c * step, (c + 1) * step):
                total += data[i]
            partial[c] = total
        return partial.sum()

    return compute, stream


@functools.cache
def _compiled_floor_kernel():
    import numba  # imported here so that the start-up time printed above is fastcoadd's own

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def floor_kernel(image, variance, mask, weights, bad, sums):
        n, ny, nx = image.shape
        for y in range(ny):
            for x in range(nx):
                a = sums[0, y, x]
                b = sums[1, y, x]
                for i in range(n):
                    value = np.float64(image[i, y, x])
                    if np.isfinite(value) and (mask[i, y, x] & bad) == 0:
                        a += weights[i] * value
                        b += weights[i] * weights[i] * np.float64(variance[i, y, x])
                sums[0, y, x] = a
                sums[1, y, x] = b

    return floor_kernel


def floor_kernel(image, variance, mask, weights, bad, sums) -> None:
    """The plainest masked weighted sum: the cost below which no combining kernel can go."""
    _compiled_floor_kernel()(image, variance, mask, weights, bad, sums)


if __name__ == "__main__":
    sys.exit(main())
