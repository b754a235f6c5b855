"""``CoaddResult.stats``: the figures of a run, including the time spent per step."""

from __future__ import annotations

import pytest

import fastcoadd as fc
from fastcoadd.demo import make_demo_warp_arrays, write_warp

WALL_STEPS = {"open and check inputs", "weights", "stack: read tiles", "stack: combine", "interpolate and finish"}
THREAD_STEPS = {"weights: read (thread-seconds)", "weights: select good pixels (thread-seconds)",
                "weights: clipped mean (thread-seconds)"}
#: the online mean copies rows out of the memory maps and accumulates them on every thread
MEAN_STEPS = {"stack: copy rows (thread-seconds)", "stack: accumulate (thread-seconds)"}


@pytest.fixture(scope="module")
def warp_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warps")
    paths = []
    for index, warp in enumerate(make_demo_warp_arrays(3, (40, 48), seed=3)):
        path = folder / f"warp_{index}.fits"
        write_warp(path, warp["image"], warp["mask"], warp["variance"], visit=warp["visit"],
                   calibration=warp["header_calibration"], wcs=warp["wcs"])
        paths.append(path)
    return paths


@pytest.mark.parametrize("statistic", ["mean", "meanclip"])
def test_every_step_is_timed_and_the_steps_fit_in_the_wall_time(warp_files, tmp_path, statistic):
    result = fc.assemble(warp_files, fc.CoaddConfig(statistic=statistic, threads=2), output=tmp_path / "c.fits")
    seconds = result.stats["seconds"]
    extra = MEAN_STEPS if statistic == "mean" else set()
    assert set(seconds) == WALL_STEPS | THREAD_STEPS | extra | {"write"}
    assert all(value >= 0.0 for value in seconds.values())
    # the steps measured on the calling thread run one after the other inside the call
    assert sum(seconds[step] for step in WALL_STEPS | {"write"}) <= result.stats["wall_seconds"]
    assert result.stats["tile_shape"] and result.stats["n_used"] == 3


def test_given_weights_skip_the_weight_steps_and_no_output_skips_write(warp_files):
    result = fc.assemble(warp_files, fc.CoaddConfig(), weights=[1.0, 2.0, 3.0])
    assert set(result.stats["seconds"]) == WALL_STEPS - {"weights"}
    result = fc.assemble(warp_files, fc.CoaddConfig(statistic="mean"), weights=[1.0, 2.0, 3.0])
    assert set(result.stats["seconds"]) == (WALL_STEPS | MEAN_STEPS) - {"weights"}
