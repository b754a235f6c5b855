"""Peak memory of a real streamed assembly does not grow with the number of warps."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fastcoadd.demo import make_demo_warps

_CHILD = textwrap.dedent("""
    import resource, sys
    import fastcoadd as fc
    paths = sys.argv[3:]
    config = fc.CoaddConfig(statistic=sys.argv[1], memory_budget=sys.argv[2])
    fc.assemble(paths, config, output=paths[0] + ".coadd.fits")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
""")


def peak_rss(statistic: str, budget: str, paths) -> int:
    run = subprocess.run([sys.executable, "-c", _CHILD, statistic, budget, *map(str, paths)],
                         capture_output=True, text=True, timeout=600, check=True)
    return int(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("statistic", ["mean", "meanclip"])
def test_peak_memory_is_bounded_by_the_budget_not_the_warp_count(tmp_path, statistic):
    paths = make_demo_warps(tmp_path, n_warps=24, shape=(512, 512), seed=1)  # 24 x 3 MiB of input
    peak_rss(statistic, "24MiB", paths[:2])  # warm the compiled-kernel cache
    few = peak_rss(statistic, "24MiB", paths[:2])
    many = peak_rss(statistic, "24MiB", paths)
    # all 24 warps' planes would be 72 MiB; a stream within budget grows by far less
    assert many - few < 24 * 1024**2, (few, many)


def _memory_ceiling_benchmark():
    """benchmarks/memory_ceiling.py, loaded as a module (benchmarks/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "memory_ceiling.py"
    spec = importlib.util.spec_from_file_location("memory_ceiling", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("statistic", ["mean", "meanclip"])
def test_memory_ceiling_holds_at_small_scale(tmp_path, capsys, statistic):
    """The benchmark of the memory ceiling, small: peak RSS <= budget + the interpreter's baseline.

    16 warps of 512x512 (48 MiB of planes) with a 24 MiB budget and two threads (the weight
    pass holds buffers per thread).
    """
    benchmark = _memory_ceiling_benchmark()
    status = benchmark.main(["--size", "512", "--warps", "16", "--budget", "24MiB", "--threads", "2",
                             "--statistic", statistic, "--workdir", str(tmp_path), "--json"])
    figures = json.loads(capsys.readouterr().out)
    assert status == 0 and figures["holds"], figures
    assert figures["peak_mib"] <= figures["baseline_mib"] + figures["budget_mib"], figures
