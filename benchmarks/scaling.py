"""How fastcoadd's wall time and peak memory grow with the number of warps and with the patch size.

    .venv/bin/python benchmarks/scaling.py          # 8/16/32/64 warps of 2048²; 16 warps of 1024²/2048²/4096²
    .venv/bin/python benchmarks/scaling.py --quick  # 2/4/8 warps of 512²; 4 warps of 256²/512²/1024²

Each point runs ``fastcoadd assemble`` (mean and meanclip) in a fresh process after a warm-up ``cat`` of
its inputs, and records wall time, CPU time and peak RSS (``os.wait4``, see _harness.py). The table goes
to stdout as markdown, the figure to ``benchmarks/scaling.png``, the record to
``benchmarks/out/scaling-<timestamp>.json``.

Data: warp ``i`` of the demo generator depends only on (size, seed, i) (apart from the calibration keyword
of the last warp), so the warp-count series uses prefixes of one cached stack of the largest count, and a
size series point reuses any cached stack of that size with enough warps (e.g. the ``patch`` preset's).
64 warps of 2048² take 3.2 GB of disk, 16 of 4096² another 3.2 GB; ``--clean`` removes what this script
generated when it is done.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from _harness import (
    BENCH_DIR,
    DATA_DIR,
    DEFAULT_SEED,
    OUT_DIR,
    cat_files,
    describe_machine,
    ensure_stack,
    fastcoadd_argv,
    find_stack,
    fmt,
    machine_info,
    markdown_table,
    measure_startup,
    num,
    run_child,
    timestamp,
    total_bytes,
    wait_until_quiet,
    write_json,
)

FULL = {"counts": [8, 16, 32, 64], "count_size": 2048, "sizes": [1024, 2048, 4096], "size_count": 16}
QUICK = {"counts": [2, 4, 8], "count_size": 512, "sizes": [256, 512, 1024], "size_count": 4}
STATISTICS = ("mean", "meanclip")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small values (a minute or so)")
    parser.add_argument("--counts", help="comma-separated warp counts (default 8,16,32,64; quick 2,4,8)")
    parser.add_argument("--count-size", type=int, help="patch side for the warp-count series (default 2048)")
    parser.add_argument("--sizes", help="comma-separated patch sides (default 1024,2048,4096)")
    parser.add_argument("--size-count", type=int, help="warps for the size series (default 16)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--threads", type=int, default=2, help="fastcoadd --threads (default 2)")
    parser.add_argument("--budget", default=None,
                        help="fastcoadd --memory-budget (default fastcoadd's, 1GiB)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per point; fastest wall time is kept")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per-run limit in seconds")
    parser.add_argument("--settle", type=float, default=0.0, metavar="S",
                        help="wait up to S seconds before each run for the machine to go quiet")
    parser.add_argument("--plot", type=Path, default=BENCH_DIR / "scaling.png", help="figure to write")
    parser.add_argument("--clean", action="store_true",
                        help="delete the stacks this script generated at the end")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    args.counts = [int(v) for v in args.counts.split(",")] if args.counts else base["counts"]
    args.sizes = [int(v) for v in args.sizes.split(",")] if args.sizes else base["sizes"]
    args.count_size = args.count_size or base["count_size"]
    args.size_count = args.size_count or base["size_count"]
    return args


def stack_for(n_warps: int, size: int, seed: int, made: list[Path]) -> list[Path]:
    paths = find_stack(n_warps, size, seed)
    if paths is None:
        label = f"scaling-{size}"
        paths = ensure_stack(label, n_warps, size, seed)
        made.append(DATA_DIR / label)
    return paths


def measure_point(paths: list[Path], args: argparse.Namespace, work: Path) -> dict:
    cat_files(paths)
    cat = min(cat_files(paths) for _ in range(2))
    point = {"n_warps": len(paths), "size": None, "input_bytes": total_bytes(paths), "cat_s": cat}
    for statistic in STATISTICS:
        output = work / f"{statistic}.fits"
        best = None
        busy = []
        for _ in range(max(1, args.repeat)):
            cat_files(paths)
            busy.append(wait_until_quiet(args.settle))
            run = run_child(fastcoadd_argv(paths, output, statistic, args.threads, args.budget),
                            timeout=args.timeout or None)
            if not run.ok:
                best = run
                break
            if best is None or run.wall_s < best.wall_s:
                peak = max(run.peak_rss_bytes, best.peak_rss_bytes if best else 0)
                best = run
                best.peak_rss_bytes = peak
        output.unlink(missing_ok=True)
        point[statistic] = {"ok": best.ok, "wall_s": best.wall_s if best.ok else None, "cpu_s": best.cpu_s,
                            "peak_rss_bytes": best.peak_rss_bytes, "busy_before_pct": busy,
                            "error": "" if best.ok else best.failure()}
        status = (f"{best.wall_s:7.2f} s {best.cpu_s:7.2f} s CPU {best.peak_rss_bytes / 1024**2:7.0f} MiB"
                  if best.ok else best.failure())
        print(f"  {len(paths):3d} warps  {statistic:<9} {status}"
              + (f"  (machine {max(busy):.0f}% busy before)" if max(busy) >= 25 else ""), flush=True)
    return point


def table(points: list[dict]) -> str:
    rows = []
    for p in points:
        row = [p["series"], p["n_warps"], f"{p['size']}²", num(p["input_bytes"] / 1e9), num(p["cat_s"])]
        for statistic in STATISTICS:
            r = p[statistic]
            wall = r["wall_s"]
            row += [num(wall), num(r["cpu_s"]) if wall else "—",
                    fmt(r["peak_rss_bytes"] / 1024**2, 0) if wall else "—",
                    num(p["input_bytes"] / wall / 1e9) if wall else "—",
                    num(wall / p["cat_s"]) if wall else "—"]
        rows.append(row)
    header = ["series", "warps", "size", "input GB", "cat s"]
    for statistic in STATISTICS:
        header += [f"{statistic} {column}" for column in ("wall s", "CPU s", "RSS MiB", "GB/s", "× cat")]
    return markdown_table(header, rows)


def plot(points: list[dict], path: Path, budget_bytes: int, startup_s: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex="col")
    series_labels = (("warps", "number of warps"), ("size", "warp size (pixels)"))
    for col, (series, xlabel) in enumerate(series_labels):
        chosen = [p for p in points if p["series"] == series]
        if not chosen:
            continue
        x = [p["n_warps"] if series == "warps" else p["size"] ** 2 for p in chosen]
        for statistic, marker, colour in zip(STATISTICS, ("o", "s"), ("C0", "C1"), strict=True):
            walls = [p[statistic]["wall_s"] for p in chosen]
            cpus = [p[statistic]["cpu_s"] if p[statistic]["ok"] else None for p in chosen]
            rss = [p[statistic]["peak_rss_bytes"] / 1024**2 if p[statistic]["ok"] else None for p in chosen]
            axes[0, col].plot(x, walls, marker=marker, color=colour, label=f"fastcoadd {statistic}")
            axes[0, col].plot(x, cpus, marker=marker, color=colour, ls="--", alpha=0.5, mfc="none",
                              label=f"{statistic}: CPU time")
            axes[1, col].plot(x, rss, marker=marker, color=colour, label=f"fastcoadd {statistic}")
        axes[0, col].plot(x, [p["cat_s"] for p in chosen], "k:", marker=".", label="cat (read limit)")
        axes[0, col].axhline(startup_s, color="grey", ls="--", lw=1, label="start-up (1 × 64²)")
        axes[1, col].axhline(budget_bytes / 1024**2, color="grey", ls="--", lw=1, label="memory budget")
        first = chosen[0]
        title = (f"{first['size']}² warps" if series == "warps" else f"{first['n_warps']} warps")
        axes[0, col].set_title(f"against {xlabel.split(' (')[0]} ({title})")
        axes[0, col].set_ylabel("time (s)")
        axes[1, col].set_ylabel("peak RSS (MiB)")
        axes[1, col].set_xlabel(xlabel)
        for ax in axes[:, col]:
            ax.set_xscale("log", base=2)
            ax.set_xticks(x)
            ax.set_xticklabels([str(p["n_warps"]) if series == "warps" else f"{p['size']}²" for p in chosen])
            ax.grid(alpha=0.3)
            ax.set_ylim(bottom=0)
        axes[0, col].legend(fontsize=8)
        axes[1, col].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from fastcoadd.config import parse_memory_size

    budget_bytes = parse_memory_size(args.budget or "1GiB")
    stamp = timestamp()
    work = OUT_DIR / f"scaling-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    print(f"machine: {describe_machine(info)}")
    print(f"disk free under {DATA_DIR}: {shutil.disk_usage(OUT_DIR).free / 1e9:.1f} GB")
    startup = measure_startup(work)
    print(f"fastcoadd start-up (1 warp of 64x64): {startup['best_s']:.2f} s")
    made: list[Path] = []
    points = []
    print(f"series 1: warps {args.counts} of {args.count_size}x{args.count_size}")
    largest = stack_for(max(args.counts), args.count_size, args.seed, made)
    for n in args.counts:
        point = measure_point(largest[:n], args, work)
        points.append({**point, "series": "warps", "size": args.count_size})
    print(f"series 2: {args.size_count} warps of {args.sizes} pixels square")
    for size in args.sizes:
        paths = stack_for(args.size_count, size, args.seed, made)
        point = measure_point(paths, args, work)
        points.append({**point, "series": "size", "size": size})
    text = table(points)
    print()
    print(text)
    plot(points, args.plot, budget_bytes, startup["best_s"])
    print(f"\nfigure: {args.plot}")
    record = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": info,
              "startup": startup, "threads": args.threads, "budget": args.budget, "repeat": args.repeat,
              "points": points, "table_markdown": text}
    json_path = OUT_DIR / f"scaling-{stamp}.json"
    write_json(json_path, record)
    print(f"record: {json_path}")
    shutil.rmtree(work, ignore_errors=True)
    if args.clean:
        for directory in dict.fromkeys(made):
            shutil.rmtree(directory, ignore_errors=True)
            print(f"removed {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
