"""Command-line interface: argument parsing -> configuration -> library calls. No logic of its own."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

from astropy.utils.exceptions import AstropyWarning

from . import __version__
from .assemble import assemble
from .config import STATISTICS, CoaddConfig, parse_memory_size
from .errors import EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED, FastcoaddError
from .progress import TerminalProgress, wants_progress
from .report import format_summary, inputs_text, peak_rss_bytes, summary_line

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
                    "one per line (blank lines and lines starting with '#' are skipped).")
    run.convert_arg_line_to_args = _warp_list_line  # type: ignore[method-assign]
    run.add_argument("warps", nargs="*", metavar="WARP", help="warp FITS files (or @file listing them)")
    run.add_argument("-o", "--output", required=True, metavar="COADD.fits", help="coadd file to write")
    _add_config_options(run)
    run.add_argument("--no-date", action="store_true",
                     help="leave out the DATE keyword, so reruns give byte-identical files")
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

    preview = commands.add_parser(
        "preview", help="draw a quick-look image of a coadd or warp",
        description="Draw IMAGE (stretched), NIMAGE and one mask plane on WCS axes into an image file "
                    "(needs matplotlib: pip install 'fastcoadd[plot]').")
    preview.add_argument("file", metavar="FILE", help="coadd or warp FITS file")
    preview.add_argument("-o", "--output", default=None, metavar="IMAGE.png",
                         help="image to write; format from the suffix (default: FILE with .png)")
    preview.add_argument("--plane", default=None, metavar="NAME",
                         help="mask plane to show (default: CLIPPED, else the first of NO_DATA, REJECTED, "
                              "INTRP, SAT, BAD, DETECTED with pixels set)")
    preview.add_argument("--stretch", choices=("asinh", "zscale"), default="asinh",
                         help="image stretch (default asinh)")
    preview.add_argument("--dpi", type=int, default=100, metavar="N", help="resolution (default 100)")
    preview.add_argument("-v", "--verbose", action="store_true", help="tracebacks on errors")

    info = commands.add_parser(
        "info", help="describe warp or coadd files",
        description="Print shape, HDUs, WCS, calibration, mask planes with pixel counts and, for a coadd, "
                    "the configuration and the INPUTS table.")
    info.add_argument("files", nargs="+", metavar="FILE", help="warp or coadd FITS files")
    info.add_argument("-v", "--verbose", action="store_true", help="tracebacks on errors")
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
    progress = TerminalProgress() if wants_progress(sys.stderr, args.quiet) else None
    result = assemble(args.warps, config, args.output, zero_points=args.zero_point, date=not args.no_date,
                      progress=progress)
    if args.verbose or (not args.quiet and result.n_used < len(result.inputs)):
        print(inputs_text(result, skipped_only=not args.verbose))
    if not args.quiet:
        print(summary_line(result, time.perf_counter() - started, peak_rss_bytes(), args.output))
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
    progress = TerminalProgress() if wants_progress(sys.stderr, False) else None
    result = assemble(paths, config, output, zero_points=args.zero_point, progress=progress)
    print(format_summary(result, time.perf_counter() - started, peak_rss_bytes(), output))
    return 0


def _run_preview(args: argparse.Namespace) -> int:
    from .plotting import save_preview

    written = save_preview(args.file, args.output, plane=args.plane, stretch=args.stretch, dpi=args.dpi)
    print(f"wrote {written}")
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from .info import describe

    for index, path in enumerate(args.files):
        print(("\n" if index else "") + describe(path))
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
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        handlers = {"assemble": _run_assemble, "demo": _run_demo, "preview": _run_preview, "info": _run_info}
        with warnings.catch_warnings():
            if args.command in ("assemble", "demo") and not verbose:
                # astropy's notes on damaged warps: what matters there becomes a fastcoadd error
                warnings.simplefilter("ignore", AstropyWarning)
            return handlers[args.command](args)
    except FastcoaddError as error:
        if verbose:
            traceback.print_exc()
        print(f"fastcoadd: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("fastcoadd: interrupted; no output written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        print("fastcoadd: terminated; no output written", file=sys.stderr)
        return EXIT_TERMINATED
    except BrokenPipeError:
        # the reader of our output went away (``| head``): stop quietly, as other tools do; any
        # coadd was written before the summary that could not be printed
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as error:  # a bug: say so in one line, traceback with -v
        if verbose:
            traceback.print_exc()
        text = " ".join(f"{type(error).__name__}: {error}".split())
        print(f"fastcoadd: internal error ({text}); rerun with -v for details", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if previous_sigterm is not None:  # None: set outside Python, cannot be restored from here
            signal.signal(signal.SIGTERM, previous_sigterm)


def _warp_list_line(line: str) -> list[str]:
    """One line of an ``@list.txt`` file: a warp path; blank lines and ``#`` comments give nothing."""
    path = line.strip()
    return [] if not path or path.startswith("#") else [path]


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that flushing it at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor behind sys.stdout
        pass


class _Terminated(BaseException):
    """Raised in the main thread when SIGTERM arrives.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way
    turns it into another error.
    """


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


__all__ = ["build_parser", "main"]


if __name__ == "__main__":
    sys.exit(main())
