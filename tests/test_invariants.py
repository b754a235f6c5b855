"""Invariants of SPEC §6: tile shape, thread count, online vs tiled, huge sigma, identical inputs, order."""

from __future__ import annotations

import numpy as np
import pytest

import fastcoadd as fc
from fastcoadd.demo import make_demo_warp_arrays


@pytest.fixture(scope="module")
def demo_warps() -> list[fc.Warp]:
    warps = []
    for index, warp in enumerate(make_demo_warp_arrays(6, (37, 53), seed=7)):
        warps.append(fc.Warp(warp["image"], warp["mask"], warp["variance"],
                             calibration=warp["header_calibration"], wcs=warp["wcs"], visit=warp["visit"],
                             name=f"demo{index}"))
    return warps


def assert_identical(a: fc.CoaddResult, b: fc.CoaddResult) -> None:
    for plane in ("image", "variance", "mask", "nimage"):
        x, y = getattr(a, plane), getattr(b, plane)
        assert x.tobytes() == y.tobytes(), f"{plane} differs"


@pytest.mark.parametrize("statistic", ["mean", "meanclip", "median"])
@pytest.mark.parametrize("tile_shape", [(1, 1), (5, 7), (37, 53), (36, 1), (2, 53)])
def test_tile_shape_does_not_change_any_bit(demo_warps, statistic, tile_shape):
    base = fc.assemble(demo_warps, fc.CoaddConfig(statistic=statistic, tile_shape=(37, 53)))
    tiled = fc.assemble(demo_warps, fc.CoaddConfig(statistic=statistic, tile_shape=tile_shape))
    assert_identical(base, tiled)


def test_memory_budget_only_changes_speed(demo_warps):
    tiny = fc.assemble(demo_warps, fc.CoaddConfig(memory_budget="1MiB"))
    large = fc.assemble(demo_warps, fc.CoaddConfig(memory_budget="2GiB"))
    assert_identical(tiny, large)


@pytest.mark.parametrize("statistic", ["mean", "meanclip"])
def test_thread_count_does_not_change_any_bit(demo_warps, statistic):
    one = fc.assemble(demo_warps, fc.CoaddConfig(statistic=statistic, threads=1))
    two = fc.assemble(demo_warps, fc.CoaddConfig(statistic=statistic, threads=2))
    assert_identical(one, two)


@pytest.mark.parametrize("scatter", [False, True])
def test_online_mean_equals_tiled_mean(demo_warps, scatter):
    online = fc.assemble(demo_warps, fc.CoaddConfig(statistic="mean", online_mean=True,
                                                    variance_from_scatter=scatter))
    tiled = fc.assemble(demo_warps, fc.CoaddConfig(statistic="mean", online_mean=False,
                                                   variance_from_scatter=scatter, tile_shape=(4, 9)))
    assert_identical(online, tiled)


def test_meanclip_with_huge_sigma_equals_mean(demo_warps):
    # sigma also sets the clipping of the per-warp weights (SPEC §4), so both runs use it
    mean = fc.assemble(demo_warps, fc.CoaddConfig(statistic="mean", sigma=1e30))
    clip = fc.assemble(demo_warps, fc.CoaddConfig(statistic="meanclip", sigma=1e30))
    assert_identical(mean, clip)


@pytest.mark.parametrize("statistic", ["mean", "meanclip", "median"])
def test_identical_inputs_give_the_input_back(statistic):
    rng = np.random.default_rng(3)
    image = rng.normal(10, 3, (9, 11)).astype(np.float32)
    variance = rng.uniform(1, 2, (9, 11)).astype(np.float32)
    warps = [fc.Warp(image, np.zeros((9, 11), np.int32), variance, calibration={"BUNIT": "nJy"}, visit=i)
             for i in range(5)]
    result = fc.assemble(warps, fc.CoaddConfig(statistic=statistic))
    np.testing.assert_allclose(result.image, image, rtol=1e-6)
    expected_variance = variance / 5 * (np.pi / 2 if statistic == "median" else 1)
    np.testing.assert_allclose(result.variance, expected_variance, rtol=1e-6)
    np.testing.assert_array_equal(result.nimage, 5)
    np.testing.assert_array_equal(result.mask, 0)


def test_input_order_does_not_matter_once_canonical(demo_warps):
    forward = fc.assemble(demo_warps)
    backward = fc.assemble(demo_warps[::-1])
    assert_identical(forward, backward)
    assert [r.visit for r in backward.inputs] == sorted(r.visit for r in backward.inputs)


def test_input_order_without_visits_changes_result_only_by_rounding(demo_warps):
    anonymous = [fc.Warp(w.image, w.mask, w.variance, calibration=w.calibration, name=None) for w in demo_warps]
    forward = fc.assemble(anonymous, fc.CoaddConfig(statistic="mean"))
    permuted = [anonymous[i] for i in (3, 0, 5, 1, 4, 2)]
    result = fc.assemble(permuted, fc.CoaddConfig(statistic="mean"), scales=None)
    finite = np.isfinite(forward.image)
    np.testing.assert_allclose(result.image[finite], forward.image[finite], rtol=1e-5, atol=1e-3)


def test_nimage_counts_good_inputs_before_clipping(demo_warps):
    result = fc.assemble(demo_warps, fc.CoaddConfig(interpolate=False))
    bad = sum(1 << result.planes[p] for p in ("NO_DATA", "BAD", "SAT", "EDGE"))
    expected = np.zeros(result.image.shape, np.int32)
    for warp in demo_warps:
        expected += (np.isfinite(warp.image) & ((warp.mask & bad) == 0)).astype(np.int32)
    np.testing.assert_array_equal(result.nimage, expected)
