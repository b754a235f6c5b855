"""Benchmark fastcoadd end to end against the read limit and against its peers.

    .venv/bin/python benchmarks/run.py --preset small
    .venv/bin/python benchmarks/run.py --preset tiny --skip-baselines      # CI smoke, < 60 s
    .venv/bin/python benchmarks/run.py --warps 8 --size 1024 --only fastcoadd,numpy-running

What one run does (see benchmarks/README.md for the meaning of every column):

1. makes (or reuses) a cached stack of demo warps under ``benchmarks/data/<preset>/``;
2. measures the read limit on those files with a warm page cache: ``cat`` to /dev/null, and numpy sums
   over memory maps with ``--threads`` threads;
3. measures the start-up time of the ``fastcoadd`` command on one 64×64 warp;
4. runs ``fastcoadd assemble`` (mean and meanclip with ``--threads``, meanclip with 1 thread) and the
   baselines in ``benchmarks/baselines/`` (numpy running sums, numpy 3-D stack, astropy sigma_clip,
   ccdproc combine, SWarp WEIGHTED when installed), each in a fresh process, each after a warm-up
   ``cat`` so all start from the same page cache;
5. prints the timing table and an agreement table (fastcoadd's coadd against each peer's), and writes
   a JSON record to ``benchmarks/out/<preset>-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from _harness import (
    BASELINE_DIR,
    DEFAULT_SEED,
    OUT_DIR,
    ChildRun,
    Measurement,
    baseline_env,
    cat_files,
    describe_machine,
    ensure_stack,
    fastcoadd_argv,
    fmt,
    fmt_sci,
    machine_info,
    markdown_table,
    measure_startup,
    num,
    read_limit,
    run_child,
    swarp_binary,
    timestamp,
    total_bytes,
    wait_until_quiet,
    write_json,
)
from astropy.io import fits

PRESETS = {"tiny": (4, 256), "small": (16, 2048), "patch": (32, 4096)}
BASELINE_SCRIPTS = {
    "numpy-running": ("numpy_running.py", "numpy running sums, weighted mean"),
    "numpy-stack": ("numpy_stack.py", "numpy 3-D stack + nansum, weighted mean"),
    "astropy-sigclip": ("astropy_sigclip.py", "astropy sigma_clip(axis=0, σ 3, maxiters 2) + weighted mean"),
    "ccdproc": ("ccdproc_combine.py", "ccdproc combine(average, sigma_clip, mem_limit 2e9, 1-D weights)"),
}
METHOD_KEYS = ("fastcoadd", *BASELINE_SCRIPTS, "swarp")
#: Which fastcoadd run each peer is compared with, and whether the semantics coincide.
AGREEMENT = {
    "numpy-running": ("fastcoadd mean", True),
    "numpy-stack": ("fastcoadd mean", True),
    "swarp": ("fastcoadd mean", False),
    "astropy-sigclip": ("fastcoadd meanclip", False),
    "ccdproc": ("fastcoadd meanclip", False),
}
EQUAL_RTOL = 1e-5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="small",
                        help="tiny = 4 × 256², small = 16 × 2048², patch = 32 × 4096² (default small)")
    parser.add_argument("--warps", type=int, help="number of warps (overrides the preset)")
    parser.add_argument("--size", type=int, help="patch side in pixels (overrides the preset)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"generator seed (default {DEFAULT_SEED})")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for fastcoadd, SWarp and the mmap read limit (default 2); meanclip is "
                             "also run with 1 thread")
    parser.add_argument("--budget", default=None, metavar="SIZE",
                        help="passed to fastcoadd as --memory-budget (default: fastcoadd's own, 1GiB)")
    parser.add_argument("--only", default=None, metavar="M,...",
                        help=f"run only these methods: {', '.join(METHOD_KEYS)}")
    parser.add_argument("--skip-baselines", action="store_true", help="same as --only fastcoadd")
    parser.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                        help="per-method time limit in seconds (default 1800; 0 for none)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per method; the table shows the fastest wall time and the largest "
                             "peak RSS")
    parser.add_argument("--baseline-memory", type=float, default=0.8, metavar="FRACTION",
                        help="address-space limit of the Python baselines as a fraction of RAM (default 0.8; "
                             "0 for none), so a runaway baseline fails instead of starving the machine")
    parser.add_argument("--settle", type=float, default=0.0, metavar="S",
                        help="before each run, wait up to S seconds for the machine's CPU use to drop below "
                             "25%% (default 0: do not wait; the CPU use seen is recorded either way)")
    parser.add_argument("--meanclip-samples", type=int, default=4000, metavar="N",
                        help="check fastcoadd meanclip against a plain-numpy SPEC §3.3 implementation on N "
                             "random pixels (default 4000; 0 to skip)")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached warps")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="keep the coadds and SWarp inputs under benchmarks/out/<label>-<timestamp>/")
    args = parser.parse_args(argv)
    if args.skip_baselines:
        args.only = "fastcoadd"
    selected = (METHOD_KEYS if args.only is None
                else tuple(m.strip() for m in args.only.split(",") if m.strip()))
    unknown = [m for m in selected if m not in METHOD_KEYS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHOD_KEYS)}")
    args.selected = selected
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n_warps, size = PRESETS[args.preset]
    n_warps = args.warps or n_warps
    size = args.size or size
    custom = (n_warps, size) != PRESETS[args.preset] or args.seed != DEFAULT_SEED
    label = f"{n_warps}x{size}-seed{args.seed}" if custom else args.preset
    stamp = timestamp()
    work = OUT_DIR / f"{label}-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    timeout = args.timeout or None

    paths = ensure_stack(label, n_warps, size, args.seed, regenerate=args.regenerate)
    in_bytes = total_bytes(paths)
    info = machine_info()
    print(f"machine: {describe_machine(info)}")
    print(f"inputs: {n_warps} warps of {size}x{size} in {paths[0].parent} ({in_bytes / 1e9:.3f} GB)\n")

    limits = read_limit(paths, args.threads)
    print(f"read limit: cat {limits['cat_s']:.3f} s ({in_bytes / limits['cat_s'] / 1e9:.2f} GB/s), "
          f"mmap sum with {args.threads} threads {limits['mmap_s']:.3f} s "
          f"({in_bytes / limits['mmap_s'] / 1e9:.2f} GB/s)")
    startup = measure_startup(work)
    print(f"fastcoadd start-up (1 warp of 64x64, fresh process): {startup['best_s']:.3f} s "
          f"(first run {startup['first_s']:.2f} s, may include JIT compilation)\n")

    measurements = run_methods(args, paths, work, timeout)
    table = timing_table(measurements, limits, startup, in_bytes, args.threads)
    print(table)
    agreement, agreement_text = check_agreement(measurements, n_warps)
    if args.meanclip_samples:
        sample = check_meanclip_sample(measurements, paths, args.meanclip_samples)
        if sample:
            agreement["meanclip reference sample"] = sample
            agreement_text += (
                f"\nfastcoadd meanclip vs plain-numpy MEANCLIP (SPEC §3.3, baselines/_common.py) on "
                f"{sample['pixels']} random pixels: max rel {sample['max_rel']:.2e}, "
                f"{100 * sample['frac_rel_gt_1e-5']:.3f}% > 1e-5 "
                f"({'agree' if sample['verdict'] == 'agree' else 'DIFFER'}); the reference clips at least "
                f"one input on {100 * sample['frac_pixels_clipped']:.1f}% of them, fastcoadd flags CLIPPED "
                f"on {100 * sample['frac_fastcoadd_clipped']:.1f}%")
    print()
    print(agreement_text)
    oddities = find_oddities(measurements, agreement)
    if oddities:
        print("\nworth a look:\n" + "\n".join(f"- {line}" for line in oddities))

    record = {
        "preset": args.preset, "label": label, "n_warps": n_warps, "size": size, "seed": args.seed,
        "threads": args.threads, "budget": args.budget, "timeout_s": timeout, "repeat": args.repeat,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "input_bytes": in_bytes, "inputs": [str(p) for p in paths],
        "machine": info, "read_limit": limits, "startup": startup,
        "methods": [measurement_record(m, limits, in_bytes) for m in measurements],
        "agreement": agreement, "oddities": oddities, "table_markdown": table,
        "agreement_markdown": agreement_text,
    }
    json_path = OUT_DIR / f"{label}-{stamp}.json"
    write_json(json_path, record)
    print(f"\nrecord: {json_path}")
    if args.keep_outputs:
        print(f"outputs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


# -- measurements -----------------------------------------------------------------------------------
def run_methods(args: argparse.Namespace, paths: list[Path], work: Path, timeout: float | None
                ) -> list[Measurement]:
    threads = args.threads
    measurements: list[Measurement] = []
    env = baseline_env()
    limit = None
    if args.baseline_memory:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        limit = int(args.baseline_memory * ram)

    def measure(m: Measurement, argv: list[str], child_env: dict | None = None, cwd: Path | None = None,
                address_limit: int | None = None) -> Measurement:
        runs: list[ChildRun] = []
        for _ in range(max(1, args.repeat)):
            cat_files(paths)  # same warm page cache for everyone
            m.extra.setdefault("busy_before_pct", []).append(wait_until_quiet(args.settle))
            run = run_child(argv, env=child_env, cwd=cwd, timeout=timeout, address_limit=address_limit)
            runs.append(run)
            if not run.ok:
                break
        ok = [r for r in runs if r.ok]
        best = min(ok, key=lambda r: r.wall_s) if ok else runs[-1]
        if ok:
            best.peak_rss_bytes = max(r.peak_rss_bytes for r in ok)
        m.run = best
        m.extra["walls_s"] = [r.wall_s for r in runs]
        m.extra["cpus_s"] = [r.cpu_s for r in runs]
        busy = max(m.extra["busy_before_pct"])
        status = (f"{best.wall_s:8.2f} s  {best.cpu_s:8.2f} s CPU  {best.peak_rss_bytes / 1024**2:8.0f} MiB"
                  if best.ok else best.failure())
        status += f"   (machine {busy:.0f}% busy before)" if busy >= 25 else ""
        print(f"  {m.method:<34} {status}", flush=True)
        if not best.ok:
            m.note = (m.note + "; " if m.note else "") + best.failure()
        elif busy >= 25:
            m.note = (m.note + "; " if m.note else "") + f"machine {busy:.0f}% busy before run"
        measurements.append(m)
        return m

    print("runs (fresh process each):")
    if "fastcoadd" in args.selected:
        runs = [("mean", threads), ("meanclip", threads)]
        if threads != 1:
            runs.append(("meanclip", 1))
        for statistic, n in runs:
            name = f"fastcoadd {statistic}" + ("" if n == threads else f" ({n} thread)")
            output = work / f"fastcoadd-{statistic}-t{n}.fits"
            measure(Measurement(name, "fastcoadd", n, output=output),
                    fastcoadd_argv(paths, output, statistic, n, args.budget))
    for key, (script, note) in BASELINE_SCRIPTS.items():
        if key not in args.selected:
            continue
        output = work / f"{key}.fits"
        measure(Measurement(key, key, 1, note=note, output=output),
                [sys.executable, BASELINE_DIR / script, *paths, "-o", output], env, address_limit=limit)
    if "swarp" in args.selected:
        run_swarp(args, paths, work, env, limit, measure, measurements)
    return measurements


def run_swarp(args, paths, work, env, limit, measure, measurements) -> None:
    binary = swarp_binary()
    if binary is None:
        measurements.append(Measurement("swarp", "swarp", args.threads,
                                        note="skipped: no swarp/SWarp binary (apt-get install swarp)"))
        print("  swarp                              skipped: not installed")
        return
    prep_dir = work / "swarp"
    prep = measure(Measurement("swarp prep", "swarp-prep", 1,
                               note="write calibrated images + 1/variance weight maps (0 where masked)"),
                   [sys.executable, BASELINE_DIR / "swarp_prep.py", *paths, "-o", prep_dir], env,
                   address_limit=limit)
    if not prep.run.ok:
        return
    images = sorted(prep_dir.glob("w[0-9][0-9][0-9].fits"))
    output = prep_dir / "coadd.fits"
    budget_mb = 1024
    if args.budget:
        from fastcoadd.config import parse_memory_size

        budget_mb = max(16, parse_memory_size(args.budget) // 1024**2)
    argv = [binary, *[p.name for p in images], "-COMBINE_TYPE", "WEIGHTED", "-WEIGHT_TYPE", "MAP_WEIGHT",
            "-WEIGHT_SUFFIX", ".weight.fits", "-RESCALE_WEIGHTS", "N", "-RESAMPLE", "N",
            "-SUBTRACT_BACK", "N",
            "-FSCALASTRO_TYPE", "NONE", "-FSCALE_KEYWORD", "FLXSCALE", "-COMBINE_BUFSIZE", str(budget_mb),
            "-NTHREADS", str(args.threads), "-IMAGEOUT_NAME", output.name,
            "-WEIGHTOUT_NAME", "coadd.weight.fits", "-WRITE_XML", "N", "-VERBOSE_TYPE", "QUIET",
            "-DELETE_TMPFILES", "Y"]
    combine = measure(Measurement("swarp combine", "swarp", args.threads, output=output,
                                  note="COMBINE_TYPE=WEIGHTED, RESAMPLE=N (per-pixel 1/variance weights)"),
                      argv, env, cwd=prep_dir)
    if combine.run.ok:
        total = ChildRun(["swarp prep + combine"], prep.run.wall_s + combine.run.wall_s,
                         max(prep.run.peak_rss_bytes, combine.run.peak_rss_bytes), 0,
                         prep.run.cpu_s + combine.run.cpu_s)
        measurements.append(Measurement("swarp total (prep + combine)", "swarp-total", args.threads, total,
                                        output=output))
    for image in images:  # SWarp inputs are large; the coadd stays for the agreement check
        image.unlink(missing_ok=True)
        image.with_suffix(".weight.fits").unlink(missing_ok=True)


# -- tables ---------------------------------------------------------------------------------------------
def _lookup(measurements: list[Measurement], name: str) -> Measurement | None:
    return next((m for m in measurements if m.method == name), None)


def timing_table(measurements: list[Measurement], limits: dict, startup: dict, in_bytes: int,
                 threads: int) -> str:
    fc_mean = _lookup(measurements, "fastcoadd mean")
    fc_clip = _lookup(measurements, "fastcoadd meanclip")
    rows = [
        ["read limit: cat → /dev/null", 1, num(limits["cat_s"]), "—", "—",
         num(in_bytes / limits["cat_s"] / 1e9), "1", "—", "—", "page cache warm"],
        ["read limit: mmap + numpy sum", limits["mmap_threads"], num(limits["mmap_s"]), "—", "—",
         num(in_bytes / limits["mmap_s"] / 1e9), num(limits["mmap_s"] / limits["cat_s"]), "—", "—",
         "64 MiB maps"],
        ["fastcoadd start-up (1 × 64²)", "—", num(startup["best_s"]), num(startup["cpu_s"]),
         fmt(startup["peak_rss_bytes"] / 1024**2, 0), "—", "—", "—", "—", "best of 3, fresh process"],
    ]
    for m in measurements:
        wall = m.wall
        is_peer = m.key not in ("fastcoadd", "swarp-prep")
        rows.append([
            m.method, m.threads if m.threads is not None else "—", num(wall),
            num(m.run.cpu_s) if wall else "—", fmt(m.rss_mib, 0),
            num(in_bytes / wall / 1e9) if wall else "—",
            num(wall / limits["cat_s"]) if wall else "—",
            num(wall / fc_mean.wall) + "x" if is_peer and wall and fc_mean and fc_mean.wall else "—",
            num(wall / fc_clip.wall) + "x" if is_peer and wall and fc_clip and fc_clip.wall else "—",
            m.note,
        ])
    header = ["method", "threads", "wall s", "CPU s", "peak RSS MiB", "input GB/s", "× cat time",
              "fc mean speed-up", "fc meanclip speed-up", "note"]
    return markdown_table(header, rows)


def measurement_record(m: Measurement, limits: dict, in_bytes: int) -> dict:
    wall = m.wall
    return {
        "method": m.method, "key": m.key, "threads": m.threads, "ok": bool(m.run and m.run.ok),
        "wall_s": wall, "cpu_s": m.run.cpu_s if m.run else None,
        "peak_rss_bytes": m.run.peak_rss_bytes if m.run else None,
        "input_gb_per_s": in_bytes / wall / 1e9 if wall else None,
        "times_cat": wall / limits["cat_s"] if wall else None, "note": m.note,
        "argv": m.run.argv if m.run else None, "returncode": m.run.returncode if m.run else None,
        "timed_out": m.run.timed_out if m.run else None,
        "stderr_tail": m.run.stderr_tail[-1500:] if m.run and not m.run.ok else "", **m.extra,
    }


# -- agreement ------------------------------------------------------------------------------------------
def _read_coadd(path: Path) -> dict[str, np.ndarray]:
    with fits.open(path) as hdul:
        return {name: np.array(hdul[name].data) for name in ("IMAGE", "VARIANCE", "MASK", "NIMAGE")}


def _read_peer(m: Measurement) -> np.ndarray:
    if m.key in ("swarp", "swarp-total"):
        image = fits.getdata(m.output).astype(np.float64)
        weight = fits.getdata(m.output.with_name("coadd.weight.fits"))
        image[~(weight > 0)] = np.nan  # SWarp writes 0 where no input has weight
        return image
    return fits.getdata(m.output, "IMAGE").astype(np.float64)


def compare(reference: dict[str, np.ndarray], other: np.ndarray, n_warps: int) -> dict[str, float]:
    """Figures of ``other`` against a fastcoadd coadd on the pixels where both have a value.

    ``rel`` is |Δ| / max(|coadd|, σ) with σ = sqrt(coadd variance): a relative difference that does not
    blow up on sky pixels near 0. Noise units are |Δ| / σ. ``full depth`` = pixels where every input was
    good (NIMAGE = number of warps). ``bright`` = pixels where the coadd exceeds 10σ: the median signed
    relative difference there shows a bias that scales with the flux (e.g. a wrong normalisation).
    """
    image = reference["IMAGE"].astype(np.float64)
    variance = reference["VARIANCE"].astype(np.float64)
    nimage = reference["NIMAGE"]
    covered = (nimage > 0) & np.isfinite(image) & np.isfinite(variance) & (variance > 0)
    both = covered & np.isfinite(other)
    sigma = np.sqrt(variance[both])
    diff = np.abs(other[both] - image[both])
    rel = diff / np.maximum(np.abs(image[both]), sigma)
    noise = diff / sigma
    full = nimage[both] == n_warps
    bright = image[both] > 10 * sigma
    nan = float("nan")
    signed = (other[both] - image[both]) / sigma
    figures = {
        "pixels": int(both.sum()),
        "only_fastcoadd": int((covered & ~np.isfinite(other)).sum()),
        "only_peer": int((~covered & (nimage == 0) & np.isfinite(other)).sum()),
        "max_rel": float(rel.max()) if rel.size else float("nan"),
        "frac_rel_gt_1e-5": float((rel > EQUAL_RTOL).mean()) if rel.size else float("nan"),
        "median_noise": float(np.median(noise)) if noise.size else float("nan"),
        "p99_noise": float(np.percentile(noise, 99)) if noise.size else float("nan"),
        "max_noise": float(noise.max()) if noise.size else float("nan"),
        "full_depth_pixels": int(full.sum()),
        "full_depth_median_noise": float(np.median(noise[full])) if full.any() else float("nan"),
        "partial_median_noise": float(np.median(noise[~full])) if (~full).any() else float("nan"),
        "bright_pixels": int(bright.sum()),
        "bright_median_signed_rel": (float(np.median(signed[bright] * sigma[bright] / image[both][bright]))
                                     if bright.any() else nan),
        "median_signed_noise": float(np.median(signed)) if noise.size else nan,
    }
    return figures


def check_agreement(measurements: list[Measurement], n_warps: int) -> tuple[dict, str]:
    results: dict[str, dict] = {}
    rows = []
    references: dict[str, dict[str, np.ndarray]] = {}
    for name in ("fastcoadd mean", "fastcoadd meanclip"):
        m = _lookup(measurements, name)
        if m is not None and m.run is not None and m.run.ok and m.output and m.output.exists():
            references[name] = _read_coadd(m.output)
    clip_one = next((m for m in measurements if m.method.startswith("fastcoadd meanclip (")), None)
    if "fastcoadd meanclip" in references and clip_one and clip_one.run.ok and clip_one.output.exists():
        one = _read_coadd(clip_one.output)
        identical = all(np.array_equal(one[k], references["fastcoadd meanclip"][k], equal_nan=True)
                        for k in one)
        results["meanclip threads 1 vs N"] = {"identical": identical}
    for m in measurements:
        spec = AGREEMENT.get("swarp" if m.key == "swarp" else m.key)
        if spec is None or m.run is None or not m.run.ok or m.key == "swarp-total":
            continue
        ref_name, same_semantics = spec
        if ref_name not in references or m.output is None or not m.output.exists():
            continue
        figures = compare(references[ref_name], _read_peer(m), n_warps)
        figures["reference"] = ref_name
        figures["same_semantics"] = same_semantics
        if same_semantics:
            figures["verdict"] = "agree" if figures["max_rel"] <= EQUAL_RTOL else "DIFFER"
        results[m.method] = figures
        rows.append([
            m.method, ref_name, "same" if same_semantics else "different", figures["pixels"],
            figures["only_fastcoadd"], fmt_sci(figures["max_rel"]),
            f"{100 * figures['frac_rel_gt_1e-5']:.3f}%",
            fmt(figures["median_noise"], 4), fmt(figures["p99_noise"], 3), fmt(figures["max_noise"], 2),
            fmt(figures["median_signed_noise"], 4), fmt_sci(figures["bright_median_signed_rel"]),
        ])
    header = ["peer", "compared with", "semantics", "pixels", "no peer value", "max rel",
              "rel > 1e-5", "median |Δ|/σ", "p99 |Δ|/σ", "max |Δ|/σ", "median Δ/σ",
              "median Δ/coadd (> 10σ)"]
    text = "agreement with fastcoadd (pixels where both have a value; σ = sqrt(fastcoadd coadd variance)):\n"
    text += markdown_table(header, rows) if rows else "(no peer ran)"
    if "meanclip threads 1 vs N" in results:
        same = results["meanclip threads 1 vs N"]["identical"]
        threads = _lookup(measurements, "fastcoadd meanclip").threads
        text += (f"\nfastcoadd meanclip, 1 thread vs {threads} threads (IMAGE, VARIANCE, MASK, NIMAGE): "
                 f"{'bit-identical' if same else 'DIFFERENT'}")
    return results, text


def check_meanclip_sample(measurements: list[Measurement], paths: list[Path], n_samples: int,
                          seed: int = 0) -> dict | None:
    """fastcoadd meanclip against ``weighted_clipped_mean`` of baselines/_common.py on random pixels."""
    m = _lookup(measurements, "fastcoadd meanclip")
    if m is None or m.run is None or not m.run.ok or not m.output.exists():
        return None
    sys.path.insert(0, str(BASELINE_DIR))
    import _common

    warps = _common.open_warps(list(paths))
    coadd = _read_coadd(m.output)
    ny, nx = coadd["IMAGE"].shape
    rng = np.random.default_rng(seed)
    ys, xs = rng.integers(0, ny, n_samples), rng.integers(0, nx, n_samples)
    values = np.full((len(warps), n_samples), np.nan)
    weights = np.empty(len(warps))
    for i, warp in enumerate(warps):
        image, mask, variance = _common.read_planes(warp)
        weights[i] = _common.weight_of(warp, image, mask, variance)
        good = _common.good_of(image, mask, warp.bad)[ys, xs]
        values[i] = np.where(good, image[ys, xs].astype(np.float64) * warp.scale, np.nan)
        del image, mask, variance
    usable = np.isfinite(weights)
    values, weights = values[usable], weights[usable]
    reference = np.empty(n_samples)
    clipped = np.empty(n_samples, dtype=np.int64)
    for j in range(n_samples):
        good = np.isfinite(values[:, j])
        reference[j], clipped[j] = _common.weighted_clipped_mean(values[good, j], weights[good])
    image = coadd["IMAGE"][ys, xs].astype(np.float64)
    sigma = np.sqrt(coadd["VARIANCE"][ys, xs].astype(np.float64))
    both = np.isfinite(reference) & (coadd["NIMAGE"][ys, xs] > 0) & np.isfinite(sigma)
    rel = np.abs(reference[both] - image[both]) / np.maximum(np.abs(image[both]), sigma[both])
    clip_bit = 1 << _clipped_bit(m.output)
    return {
        "pixels": int(both.sum()),
        "max_rel": float(rel.max()) if rel.size else float("nan"),
        "frac_rel_gt_1e-5": float((rel > EQUAL_RTOL).mean()) if rel.size else float("nan"),
        "verdict": "agree" if rel.size and rel.max() <= EQUAL_RTOL else "DIFFER",
        "frac_pixels_clipped": float((clipped[both] > 0).mean()) if rel.size else float("nan"),
        "frac_fastcoadd_clipped": float(((coadd["MASK"][ys, xs][both] & clip_bit) != 0).mean()),
    }


def _clipped_bit(path: Path) -> int:
    header = fits.getheader(path, "MASK")
    for key, value in header.items():
        name = key.split()[-1] if key.upper().startswith("HIERARCH") else key
        if name.upper() == "MP_CLIPPED":
            return int(value)
    raise KeyError(f"{path}: no MP_CLIPPED card")


def find_oddities(measurements: list[Measurement], agreement: dict) -> list[str]:
    notes = []
    for name in ("fastcoadd mean", "fastcoadd meanclip"):
        fc = _lookup(measurements, name)
        if fc is None or fc.wall is None:
            continue
        faster = [f"{m.method} ({m.wall:.3g} s)" for m in measurements
                  if m.key not in ("fastcoadd", "swarp-prep") and m.wall is not None and m.wall < fc.wall]
        if faster:
            notes.append(f"{name} ({fc.wall:.3g} s) is slower than " + ", ".join(faster))
    for peer, figures in agreement.items():
        if figures.get("verdict") == "DIFFER":
            reference = figures.get("reference", "the plain-numpy reference")
            notes.append(f"{peer} differs from {reference} beyond {EQUAL_RTOL:g}: max rel "
                         f"{figures['max_rel']:.3e}, {100 * figures['frac_rel_gt_1e-5']:.4f}% of pixels")
        if figures.get("only_fastcoadd"):
            notes.append(f"{peer}: {figures['only_fastcoadd']} pixels have a fastcoadd value but none "
                         "from the peer")
        if figures.get("identical") is False:
            notes.append("fastcoadd meanclip differs between 1 thread and N threads")
    for m in measurements:
        if m.run is not None and not m.run.ok:
            notes.append(f"{m.method}: {m.run.failure()}")
    return notes


if __name__ == "__main__":
    sys.exit(main())
