"""Peak memory of a real streamed assembly does not grow with the number of warps."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
