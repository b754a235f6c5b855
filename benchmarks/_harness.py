"""Shared machinery of the benchmark scripts: cached synthetic stacks, measured child processes,
the read limit, machine facts and table formatting.

Every timed method runs in a fresh child process. Its wall time is taken around fork/exec and
``os.wait4``; its peak resident memory is the ``ru_maxrss`` that ``os.wait4`` returns for exactly that
child (the kernel's high-water mark of the child's RSS, maximised over any children it reaped in turn).
Why ``wait4``: ``getrusage(RUSAGE_CHILDREN)`` is a maximum over *all* children reaped so far, so it
cannot be attributed to one run once a bigger one has finished; polling RSS with psutil misses short
peaks between polls; ``/usr/bin/time -v`` is not on every machine and adds a process to the chain.
``wait4`` is exact, free, and needs no wrapper. Note that RSS counts file-backed pages mapped by the
child (memory-mapped warp pages) as well as its own allocations.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
OUT_DIR = BENCH_DIR / "out"
BASELINE_DIR = BENCH_DIR / "baselines"
STAMP_NAME = "stamp.json"
DEFAULT_SEED = 42
#: Environment variables that slow numpy down on this kind of machine; removed for baseline children.
SLOW_NUMPY_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_MAP_CHUNK_BYTES = 64 * 1024**2  # one memory map per 64 MiB when touching files


# -- synthetic stacks ----------------------------------------------------------------------------
def _generator_digest() -> str:
    """Hash of the demo generator's source: recorded in stamps to notice a changed generator."""
    import fastcoadd.demo as demo

    return hashlib.sha256(Path(demo.__file__).read_bytes()).hexdigest()[:16]


def _read_stamp(directory: Path) -> dict | None:
    try:
        return json.loads((directory / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None


def _stamp_paths(directory: Path, stamp: dict) -> list[Path] | None:
    paths = [directory / name for name in stamp.get("files", [])]
    sizes = stamp.get("sizes", [])
    if len(paths) != len(sizes) or not paths:
        return None
    for path, size in zip(paths, sizes, strict=True):
        if not path.is_file() or path.stat().st_size != size:
            return None
    return paths


def ensure_stack(label: str, n_warps: int, size: int, seed: int = DEFAULT_SEED,
                 regenerate: bool = False, log=print) -> list[Path]:
    """Warp files of an ``n_warps`` x ``size``² demo stack in ``data/<label>/``, generated once.

    The folder holds a ``stamp.json`` with (n, size, seed), the file names and sizes; a folder whose
    stamp matches and whose files are intact is reused as is.
    """
    from fastcoadd.demo import make_demo_warps

    directory = DATA_DIR / label
    stamp = _read_stamp(directory)
    key = {"n_warps": n_warps, "size": size, "seed": seed}
    if stamp and not regenerate and all(stamp.get(k) == v for k, v in key.items()):
        paths = _stamp_paths(directory, stamp)
        if paths is not None:
            if stamp.get("generator") != _generator_digest():
                log(f"note: {directory} was made by another version of fastcoadd/demo.py "
                    "(reused; pass --regenerate to rebuild)")
            return paths
    if directory.exists():
        shutil.rmtree(directory)
    check_disk(DATA_DIR, n_warps * size * size * 12 * 1.05, log=log)
    log(f"generating {n_warps} warps of {size}x{size} (seed {seed}) in {directory} ...")
    started = time.perf_counter()
    paths = make_demo_warps(directory, n_warps=n_warps, shape=(size, size), seed=seed)
    elapsed = time.perf_counter() - started
    stamp = {**key, "generator": _generator_digest(), "files": [p.name for p in paths],
             "sizes": [p.stat().st_size for p in paths], "seconds": round(elapsed, 2),
             "created": _now_iso()}
    (directory / STAMP_NAME).write_text(json.dumps(stamp, indent=1))
    log(f"  done in {elapsed:.1f} s ({sum(stamp['sizes']) / 1e9:.2f} GB)")
    return paths


def find_stack(n_warps: int, size: int, seed: int = DEFAULT_SEED) -> list[Path] | None:
    """The first ``n_warps`` files of any cached stack of this size and seed with at least that many warps.

    Warp ``i`` of the generator depends only on (size, seed, i) except for the last warp's calibration
    keyword, so a prefix of a bigger stack is as good as a fresh stack for timing.
    """
    if not DATA_DIR.is_dir():
        return None
    best: list[Path] | None = None
    for stamp_file in sorted(DATA_DIR.glob(f"*/{STAMP_NAME}")):
        stamp = _read_stamp(stamp_file.parent)
        if not stamp or stamp.get("size") != size or stamp.get("seed") != seed:
            continue
        if stamp.get("n_warps", 0) < n_warps:
            continue
        paths = _stamp_paths(stamp_file.parent, stamp)
        if paths is not None and (best is None or len(paths) < len(best)):
            best = paths
    return None if best is None else best[:n_warps]


def check_disk(path: Path, needed_bytes: float, log=print) -> None:
    """Stop with a message if the file system of ``path`` lacks ``needed_bytes`` (plus 2 GB spare)."""
    path.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path).free
    if free < needed_bytes + 2e9:
        raise SystemExit(f"not enough disk space in {path}: {free / 1e9:.1f} GB free, "
                         f"{needed_bytes / 1e9:.1f} GB needed")


def total_bytes(paths: Iterable[Path]) -> int:
    return sum(os.path.getsize(p) for p in paths)


# -- child processes ----------------------------------------------------------------------------
@dataclass
class ChildRun:
    """Outcome of one measured child process."""

    argv: list[str]
    wall_s: float
    peak_rss_bytes: int
    returncode: int
    cpu_s: float = float("nan")  # user + system CPU time of the child (and the children it reaped)
    timed_out: bool = False
    stderr_tail: str = ""
    stdout_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        if self.timed_out:
            return f"timed out after {self.wall_s:.3g} s"
        lines = [line for line in self.stderr_tail.splitlines() if line.strip()]
        return f"exit {self.returncode}: " + (lines[-1] if lines else "(no message)")


def baseline_env() -> dict[str, str]:
    """The current environment without the variables that slow numpy down."""
    return {k: v for k, v in os.environ.items() if k not in SLOW_NUMPY_ENV}


def run_child(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
              timeout: float | None = None, address_limit: int | None = None) -> ChildRun:
    """Run ``argv`` in a fresh process (its own session) and measure wall time and peak RSS.

    ``timeout`` (s) sends SIGTERM to the child's process group, then SIGKILL 5 s later. ``address_limit``
    (bytes) sets RLIMIT_AS in the child, so an over-large baseline fails with MemoryError instead of
    waking the OOM killer on a shared machine.
    """
    argv = [str(a) for a in argv]

    def limit() -> None:  # runs in the child between fork and exec
        if address_limit:
            resource.setrlimit(resource.RLIMIT_AS, (address_limit, address_limit))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True, preexec_fn=limit if address_limit else None)
        timed_out = threading.Event()
        timers: list[threading.Timer] = []
        if timeout:
            def kill(sig: int) -> None:
                timed_out.set()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)

            timers = [threading.Timer(timeout, kill, (signal.SIGTERM,)),
                      threading.Timer(timeout + 5.0, kill, (signal.SIGKILL,))]
            for timer in timers:
                timer.daemon = True
                timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        for timer in timers:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting
        out.seek(0)
        err.seek(0)
        stdout = out.read()[-4000:].decode(errors="replace")
        stderr = err.read()[-4000:].decode(errors="replace")
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return ChildRun(argv, wall, int(rss), process.returncode, usage.ru_utime + usage.ru_stime,
                    timed_out.is_set(), stderr, stdout)


def fastcoadd_command() -> list[str]:
    """The installed ``fastcoadd`` console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).parent / "fastcoadd"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "fastcoadd.cli"]


def fastcoadd_argv(paths: Sequence[Path], output: Path, statistic: str, threads: int | None,
                   budget: str | None) -> list[str]:
    argv = [*fastcoadd_command(), "assemble", *map(str, paths), "-o", str(output), "--statistic", statistic,
            "-q"]
    if threads:
        argv += ["--threads", str(threads)]
    if budget:
        argv += ["--memory-budget", budget]
    return argv


def machine_busy_percent(interval: float = 0.5) -> float:
    """System-wide CPU use over ``interval`` seconds, in percent of all CPUs (this process is idle then)."""
    try:
        import psutil
    except ImportError:
        return float("nan")
    return float(psutil.cpu_percent(interval=interval))


def wait_until_quiet(max_wait: float, threshold: float = 25.0) -> float:
    """Wait up to ``max_wait`` seconds for system CPU use to fall below ``threshold`` percent; return the
    last reading. Other work on the machine (tests, builds) inflates wall times, not CPU times."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy_percent()
    while busy >= threshold and time.monotonic() < deadline:
        busy = machine_busy_percent(1.0)
    return busy


def measure_startup(work: Path, log=print) -> dict[str, float]:
    """Wall time of ``fastcoadd assemble`` on one 64×64 warp; warm-up runs (both statistics) first so the
    numba cache is populated, then the best of three."""
    paths = ensure_stack("startup-1x64", 1, 64, log=log)
    output = work / "startup.fits"
    first = run_child(fastcoadd_argv(paths, output, "mean", None, None))
    if not first.ok:
        raise SystemExit(f"fastcoadd failed on the start-up warp: {first.failure()}\n{first.stderr_tail}")
    run_child(fastcoadd_argv(paths, output, "meanclip", None, None))
    runs = [run_child(fastcoadd_argv(paths, output, "mean", None, None)) for _ in range(3)]
    best = min(runs, key=lambda r: r.wall_s)
    output.unlink(missing_ok=True)
    return {"first_s": first.wall_s, "best_s": best.wall_s, "cpu_s": best.cpu_s,
            "peak_rss_bytes": best.peak_rss_bytes}


# -- read limit -----------------------------------------------------------------------------------
def cat_files(paths: Sequence[Path]) -> float:
    """Seconds for ``cat`` of every file to /dev/null (one process)."""
    started = time.perf_counter()
    subprocess.run(["cat", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def touch_mapped(paths: Sequence[Path], threads: int) -> float:
    """Seconds to read every byte through memory maps: a numpy sum over 64 MiB maps, ``threads`` at once.

    Each map is opened, summed as uint64 words (FITS files are multiples of 2880 = 8 × 360 bytes) and
    closed; numpy releases the GIL while summing, so the threads overlap.
    """
    chunks: list[tuple[Path, int, int]] = []
    step = _MAP_CHUNK_BYTES // 8
    for path in paths:
        words = os.path.getsize(path) // 8
        chunks += [(path, start, min(step, words - start)) for start in range(0, words, step)]

    def touch(chunk: tuple[Path, int, int]) -> int:
        path, start, count = chunk
        mapped = np.memmap(path, dtype=np.uint64, mode="r", offset=start * 8, shape=(count,))
        total = int(mapped.sum())  # wraps around; only the reading matters
        del mapped
        return total

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(touch, chunks):
            pass
    return time.perf_counter() - started


def read_limit(paths: Sequence[Path], threads: int, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` times for ``cat`` and for memory-mapped reading, after a warm-up ``cat``."""
    cat_files(paths)  # warm the page cache
    cat = min(cat_files(paths) for _ in range(repeats))
    mapped = min(touch_mapped(paths, threads) for _ in range(repeats))
    return {"cat_s": cat, "mmap_s": mapped, "mmap_threads": threads}


# -- machine and software -------------------------------------------------------------------------
def machine_info() -> dict[str, object]:
    info: dict[str, object] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["ram_bytes"] = psutil.virtual_memory().total
    except ImportError:
        info["ram_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with contextlib.suppress(OSError):
        info["cpu_affinity"] = len(os.sched_getaffinity(0))
    versions = {}
    for module in ("fastcoadd", "numpy", "numba", "astropy", "scipy", "ccdproc", "psutil"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    versions["swarp"] = swarp_version()
    info["versions"] = versions
    info["fastcoadd_git"] = _git_state()
    info["openblas_env"] = {k: os.environ[k] for k in SLOW_NUMPY_ENV if k in os.environ}
    info["numba_num_threads_env"] = os.environ.get("NUMBA_NUM_THREADS")
    return info


def describe_machine(info: dict) -> str:
    ram = info.get("ram_bytes")
    versions = info.get("versions", {})
    text = (f"{info.get('cpu_model')}, {info.get('logical_cpus')} logical CPUs"
            f" ({info.get('physical_cores', '?')} physical), "
            f"{ram / 1024**3:.1f} GiB RAM" if ram else "")
    soft = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    git = info.get("fastcoadd_git") or {}
    dirty = " (+ uncommitted changes)" if git.get("dirty") else ""
    commit = f"; fastcoadd at {git.get('commit', '?')[:10]}{dirty}"
    return f"{text}; {info.get('platform')}; Python {info.get('python')}; {soft}{commit}"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git_state() -> dict[str, object] | None:
    try:
        commit = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_DIR), "status", "--porcelain", "--", "fastcoadd"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def swarp_binary() -> str | None:
    """Path of the SWarp executable (Debian installs it as ``SWarp``), or None."""
    for name in ("swarp", "SWarp"):
        found = shutil.which(name)
        if found:
            return found
    return None


def swarp_version() -> str | None:
    binary = swarp_binary()
    if binary is None:
        return None
    try:
        text = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    words = text.split()
    return words[2] if len(words) > 2 and words[1] == "version" else text.strip() or None


# -- output ---------------------------------------------------------------------------------------
def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    numeric = [all(_looks_numeric(r[i]) for r in rows) and rows for i in range(len(header))]
    rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                          for w, num in zip(widths, numeric, strict=True)) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _looks_numeric(text: str) -> bool:
    text = text.strip().rstrip("x×%")
    if text in ("", "-", "—"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def num(value: float | None) -> str:
    """Three significant digits, no exponent below 1e5 (times, rates, ratios)."""
    if value is None or not np.isfinite(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if value != 0 and abs(value) < 0.001:
        return f"{value:.1e}"
    return f"{value:.3g}"


def fmt_sci(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:.2e}"


def write_json(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, ChildRun):
        return asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _now_iso() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def timestamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%dT%H%M%S")


@dataclass
class Measurement:
    """One row of a results table."""

    method: str
    key: str
    threads: int | None
    run: ChildRun | None = None
    note: str = ""
    output: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def wall(self) -> float | None:
        return self.run.wall_s if self.run is not None and self.run.ok else None

    @property
    def rss_mib(self) -> float | None:
        return self.run.peak_rss_bytes / 1024**2 if self.run is not None and self.run.ok else None
