"""Command-line interface: argument parsing -> configuration -> library calls. No logic of its own."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .assemble import assemble
from .config import STATISTICS, CoaddConfig, parse_memory_size
from .errors import FastcoaddError
from .report import format_summary, peak_rss_bytes

log = logging.getLogger("fastcoadd")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``fastcoadd`` command."""
    parser = argparse.ArgumentParser(
        prog="fastcoadd",
        description="Assemble coadds from warps (LSST semantics), fast and in bounded memory.")
    parser.add_argument("--version", action="version", version=f"fastcoadd {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "assemble", help="combine warp FITS files into a coadd", fromfile_prefix_chars="@",
        description="Combine warp FITS files into a coadd. '@list.txt' reads warp paths from a file, "
                    "one per line.")
    run.add_argument("warps", nargs="+", metavar="WARP", help="warp FITS files (or @file listing them)")
    run.add_argument("-o", "--output", required=True, metavar="COADD.fits", help="coadd file to write")
    _add_config_options(run)
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    run.add_argument("-v", "--verbose", action="store_true", help="log details (and tracebacks on errors)")

    demo = commands.add_parser(
        "demo", help="make a synthetic set of warps and assemble them",
        description="Write synthetic warps into DIR/warps/, assemble them into DIR/coadd.fits and "
                    "print a summary.")
    demo.add_argument("directory", nargs="?", default="fastcoadd-demo", metavar="DIR",
                      help="output folder (default: fastcoadd-demo)")
    demo.add_argument("--warps", type=int, default=12, metavar="N", help="number of warps (default 12)")
    demo.add_argument("--size", type=int, default=512, metavar="PIX",
                      help="patch side in pixels (default 512)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    _add_config_options(demo)
    demo.add_argument("-v", "--verbose", action="store_true", help="log details")
    return parser


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    defaults = CoaddConfig()
    parser.add_argument("--statistic", choices=STATISTICS, default=defaults.statistic,
                        help=f"per-pixel statistic (default {defaults.statistic})")
    parser.add_argument("--sigma", type=float, default=defaults.sigma,
                        help=f"clipping threshold in sigma (default {defaults.sigma:g})")
    parser.add_argument("--iterations", type=int, default=defaults.iterations,
                        help=f"clipping passes (default {defaults.iterations})")
    parser.add_argument("--bad-planes", default=",".join(defaults.bad_planes), metavar="P,...",
                        help=f"mask planes that exclude a pixel (default {','.join(defaults.bad_planes)}; "
                             "'' for none)")
    parser.add_argument("--memory-budget", default="1GiB", metavar="SIZE",
                        help="memory for tile buffers and outputs, e.g. 512MiB (default 1GiB)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="kernel threads (default: all cores)")
    parser.add_argument("--no-interp", action="store_true", help="do not interpolate over NO_DATA pixels")
    parser.add_argument("--variance-from-scatter", action="store_true",
                        help="coadd variance from the scatter of the inputs")
    parser.add_argument("--zero-point", type=float, default=None, metavar="MAG",
                        help="AB zero point for warps whose headers carry no calibration")


def _config(args: argparse.Namespace) -> CoaddConfig:
    return CoaddConfig(
        statistic=args.statistic,
        sigma=args.sigma,
        iterations=args.iterations,
        bad_planes=tuple(p for p in args.bad_planes.split(",") if p.strip()),
        memory_budget=parse_memory_size(args.memory_budget),
        threads=args.threads,
        interpolate=not args.no_interp,
        variance_from_scatter=args.variance_from_scatter,
    )


def _run_assemble(args: argparse.Namespace) -> int:
    config = _config(args)
    started = time.perf_counter()
    result = assemble(args.warps, config, args.output, zero_points=args.zero_point)
    if not args.quiet:
        print(format_summary(result, time.perf_counter() - started, peak_rss_bytes(), args.output))
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import make_demo_warps

    config = _config(args)
    directory = Path(args.directory)
    started = time.perf_counter()
    paths = make_demo_warps(directory / "warps", n_warps=args.warps, shape=(args.size, args.size),
                            seed=args.seed)
    print(f"wrote {len(paths)} warps of {args.size}x{args.size} to {directory / 'warps'} "
          f"in {time.perf_counter() - started:.1f} s")
    output = directory / "coadd.fits"
    started = time.perf_counter()
    result = assemble(paths, config, output, zero_points=args.zero_point)
    print(format_summary(result, time.perf_counter() - started, peak_rss_bytes(), output))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastcoadd`` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="fastcoadd: %(levelname)s: %(message)s")
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return _run_assemble(args) if args.command == "assemble" else _run_demo(args)
    except FastcoaddError as error:
        if verbose:
            traceback.print_exc()
        print(f"fastcoadd: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("fastcoadd: interrupted; no output written", file=sys.stderr)
        return 130
    except _Terminated:
        print("fastcoadd: terminated; no output written", file=sys.stderr)
        return 143
    except Exception as error:  # a bug: say so in one line, traceback with -v
        if verbose:
            traceback.print_exc()
        print(f"fastcoadd: internal error ({type(error).__name__}: {error}); rerun with -v for details",
              file=sys.stderr)
        return 1


class _Terminated(Exception):
    """Raised in the main thread when SIGTERM arrives."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


__all__ = ["build_parser", "main"]


if __name__ == "__main__":
    sys.exit(main())
