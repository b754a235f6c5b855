"""SPEC §6 reference cases, each through the public API."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import bit, memory_warp, plane_names

import fastcoadd as fc


def combine(values, config, weights=None, variances=None):
    variances = variances or [1.0] * len(values)
    warps = [memory_warp(v, variance=var) for v, var in zip(values, variances, strict=True)]
    return fc.assemble(warps, config, weights=weights or [1.0] * len(values))


def test_case_1_mean_of_0_to_9(no_interp):
    assert combine(range(10), no_interp(statistic="mean")).image[0, 0] == pytest.approx(4.5)


@pytest.mark.parametrize(("statistic", "expected"), [("mean", 3.2), ("median", 2.0), ("meanclip", 2.0)])
def test_case_2_statistics(no_interp, statistic, expected):
    result = combine([1, 2, 2, 3, 8], no_interp(statistic=statistic, iterations=3))
    assert result.image[0, 0] == pytest.approx(expected, rel=1e-7)


def test_case_2_meanclip_clips_the_outlier_only(no_interp):
    result = combine([1, 2, 2, 3, 8], no_interp(statistic="meanclip", iterations=3))
    assert "CLIPPED" in plane_names(result, result.mask[0, 0])
    assert result.nimage[0, 0] == 5  # NIMAGE counts good inputs before clipping


def test_case_3_inverse_variance_weights(no_interp):
    values = [1, 2, 2, 3, 8]
    result = combine(values, no_interp(statistic="mean"), weights=[1 / v for v in values], variances=values)
    assert result.image[0, 0] == pytest.approx(5 / (1 + 1 / 2 + 1 / 2 + 1 / 3 + 1 / 8), rel=1e-7)


def test_case_4_weights_equal_values(no_interp):
    values = [1, 2, 2, 3, 8]
    result = combine(values, no_interp(statistic="mean"), weights=values)
    assert result.image[0, 0] == pytest.approx(5.125, rel=1e-7)


@pytest.mark.parametrize(("fifth_weight", "image", "p_set"),
                         [(1.0, [3.2, 1, 3.2, 1], [0, 0, 1, 0]),
                          (2.0, [14 / 3, 1, 14 / 3, 1], [0, 0, 1, 1])])
def test_case_5_rejection_and_threshold(no_interp, fifth_weight, image, p_set):
    r_plane, p_plane = bit("BAD"), bit("SUSPECT")
    warps = [memory_warp(np.ones((1, 4))) for _ in range(4)]
    warps.append(memory_warp(np.full((1, 4), 12.0), mask=[[0, r_plane, p_plane, r_plane | p_plane]]))
    config = no_interp(statistic="mean", bad_planes=("BAD",), propagation_thresholds={"SUSPECT": 0.3},
                       flag_rejections=False)
    result = fc.assemble(warps, config, weights=[1, 1, 1, 1, fifth_weight])
    np.testing.assert_allclose(result.image[0], image, rtol=1e-6)
    expected_mask = [p_plane if p else 0 for p in p_set]
    np.testing.assert_array_equal(result.mask[0], expected_mask)  # R itself never propagates


def test_case_5_with_rejection_flags_adds_rejected(no_interp):
    warps = [memory_warp(np.ones((1, 2))) for _ in range(4)]
    warps.append(memory_warp(np.full((1, 2), 12.0), mask=[[0, bit("BAD")]]))
    result = fc.assemble(warps, no_interp(statistic="mean"), weights=[1] * 5)
    assert plane_names(result, result.mask[0, 1]) == {"REJECTED", "INEXACT_PSF"}
    assert result.mask[0, 0] == 0


@pytest.mark.parametrize("flag_rejections", [False, True])
def test_case_6_iqr_zero_clips_single_outlier(no_interp, flag_rejections):
    stack = [np.zeros((3, 3)) for _ in range(10)]
    stack[0][1, 1] = 1.0
    result = fc.assemble([memory_warp(s) for s in stack],
                         no_interp(statistic="meanclip", flag_rejections=flag_rejections), weights=[1] * 10)
    np.testing.assert_array_equal(result.image, 0.0)
    expected = {"CLIPPED", "INEXACT_PSF"} if flag_rejections else {"CLIPPED"}
    assert plane_names(result, result.mask[1, 1]) == expected
    result.mask[1, 1] = 0
    np.testing.assert_array_equal(result.mask, 0)


@pytest.mark.parametrize(("bad_planes", "value", "mask"), [((), 1.5, 0b111), (("BAD",), 1.0, 0b100)])
def test_case_7_bad_planes(no_interp, bad_planes, value, mask):
    warps = [memory_warp(1.0, mask=0b100), memory_warp(2.0, mask=0b011)]
    config = no_interp(statistic="mean", bad_planes=bad_planes, propagation_thresholds={},
                       flag_rejections=False)
    result = fc.assemble(warps, config, weights=[1, 1])
    assert result.image[0, 0] == pytest.approx(value)
    assert result.mask[0, 0] == mask


def test_case_8_all_rejected_corner_is_exactly_no_data(no_interp):
    mask = np.full((512, 512), bit("DETECTED"), np.int32)
    mask[:20, :20] |= bit("SAT")
    warps = [memory_warp(np.full((512, 512), 10.0), mask=mask) for _ in range(4)]
    result = fc.assemble(warps, no_interp(statistic="meanclip", bad_planes=("SAT",)), weights=[1] * 4)
    outside = np.ones((512, 512), bool)
    outside[:20, :20] = False
    np.testing.assert_array_equal(result.image[outside], 10.0)
    np.testing.assert_array_equal(result.mask[outside], bit("DETECTED"))
    np.testing.assert_array_equal(result.mask[:20, :20], 1 << result.planes["NO_DATA"])
    assert np.isnan(result.image[:20, :20]).all()
    np.testing.assert_array_equal(result.nimage[:20, :20], 0)


def test_case_9_variance_from_inputs_and_from_scatter(no_interp):
    warps = [memory_warp(1.0, variance=10.0) for _ in range(100)]
    result = fc.assemble(warps, no_interp(statistic="mean"), weights=[0.1] * 100)
    assert result.image[0, 0] == pytest.approx(1.0)
    assert result.variance[0, 0] == pytest.approx(0.1, rel=1e-6)
    scatter = fc.assemble(warps, no_interp(statistic="mean", variance_from_scatter=True), weights=[0.1] * 100)
    assert "NO_DATA" in plane_names(scatter, scatter.mask[0, 0])  # Var 0 -> NO_DATA (§3.5.7)
    assert scatter.variance[0, 0] == np.inf  # then not > 0 -> +inf (§3.6)


def test_case_10_meanclip_keeps_all(no_interp):
    result = combine([1, 10, 10, 20], no_interp(statistic="meanclip", sigma=3.0, iterations=2))
    assert result.image[0, 0] == pytest.approx(10.25)
    assert result.mask[0, 0] == 0


def test_case_10_meanclip_tight_sigma(no_interp):
    result = combine([1, 10, 10, 20], no_interp(statistic="meanclip", sigma=1.5, iterations=3))
    assert result.image[0, 0] == pytest.approx(10.0)
    assert "CLIPPED" in plane_names(result, result.mask[0, 0])


def _case_11_warps():
    masks = [[0, 0, bit("BAD"), bit("NO_DATA")], [0, bit("SAT"), 0, bit("NO_DATA")],
             [0, 0, bit("EDGE"), bit("NO_DATA")]]
    values = [[1, 1, 1, 1], [2, 3, 5, 7], [4, 4, 4, 4]]
    return [memory_warp([v], mask=[m], variance=var) for v, m, var in zip(values, masks, [1, 2, 4], strict=True)]


@pytest.mark.parametrize("statistic", ["mean", "meanclip"])
@pytest.mark.parametrize("online", [True, False])
def test_case_11_masks_variance_nimage(no_interp, statistic, online):
    config = no_interp(statistic=statistic, online_mean=online)
    result = fc.assemble(_case_11_warps(), config, weights=[1, 2, 0.5])
    np.testing.assert_allclose(result.image[0, :3], [2.0, 2.0, 5.0], rtol=1e-6)
    assert math.isnan(result.image[0, 3])
    np.testing.assert_allclose(result.variance[0, :3], [0.816327, 0.888889, 2.0], rtol=1e-5)
    assert result.variance[0, 3] == np.inf
    names = [plane_names(result, m) for m in result.mask[0]]
    assert names == [set(), {"SAT", "REJECTED", "INEXACT_PSF"},
                     {"REJECTED", "SENSOR_EDGE", "INEXACT_PSF"}, {"NO_DATA"}]
    np.testing.assert_array_equal(result.nimage[0], [3, 2, 1, 0])


def test_case_11_variance_from_scatter(no_interp):
    config = no_interp(statistic="mean", variance_from_scatter=True)
    result = fc.assemble(_case_11_warps(), config, weights=[1, 2, 0.5])
    np.testing.assert_allclose(result.variance[0, :2], [0.642857, 2.5], rtol=1e-5)
    assert result.variance[0, 2] == np.inf and result.variance[0, 3] == np.inf  # NaN, then fixed up


@pytest.mark.parametrize(("zp_in", "zp_out", "scale"),
                         [(24.0, 23.0, 0.398107), (25.5, 23.0, 0.1), (25.5, 24.0, 0.251189)])
def test_case_12_scaling_to_target_zero_point(no_interp, zp_in, zp_out, scale):
    warp = memory_warp(1.0, variance=1.0, calibration={"MAGZERO": zp_in})
    result = fc.assemble([warp], no_interp(statistic="mean", target_zero_point=zp_out))
    assert result.inputs[0].scale == pytest.approx(scale, rel=1e-5)
    assert result.image[0, 0] == pytest.approx(scale, rel=1e-5)
    assert result.variance[0, 0] == pytest.approx(scale**2, rel=1e-5)
