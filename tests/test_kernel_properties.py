"""Property tests: every numba kernel against its plain-numpy twin in tests/reference.py.

Random small stacks (1-12 inputs, tiles up to 5x6) with NaN and infinite values, all-bad
pixels, ties, zero weights, float32/float64 and big-endian planes. Draws where float
rounding may legitimately decide the outcome are excluded with ``assume`` (the twin
reports them), never by loosening a tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import reduce

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from reference import (
    reference_clipped_mean_1d,
    reference_interpolate,
    reference_online_mean,
    reference_remap,
    reference_replace_nonpositive_variance,
    reference_stack,
)

from fastcoadd._kernels.interpolate import interpolate_rows, replace_nonpositive_variance
from fastcoadd._kernels.maskbits import (
    N_RULES,
    RULE_BAD,
    RULE_CLIPPED,
    RULE_EDGE,
    RULE_FLAG_REJECTIONS,
    RULE_INEXACT_PSF,
    RULE_NO_DATA,
    RULE_REJECTED,
    RULE_SENSOR_EDGE,
    remap_mask_tile,
)
from fastcoadd._kernels.online import N_SUMS, accumulate_warps, finish_online_mean
from fastcoadd._kernels.selection import select_float32
from fastcoadd._kernels.stack import stack_tile
from fastcoadd._kernels.statistics import STATISTIC_MEAN, STATISTIC_MEANCLIP, STATISTIC_MEDIAN
from fastcoadd.weights import quantiles_by_selection, unweighted_clipped_mean

# LSST default planes plus the planes fastcoadd adds
BAD, SAT, INTRP, EDGE, DETECTED = 1 << 0, 1 << 1, 1 << 2, 1 << 4, 1 << 5
NO_DATA, CLIPPED, REJECTED, SENSOR_EDGE, INEXACT_PSF = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
DEFAULT_BAD = NO_DATA | BAD | SAT | EDGE
STATISTICS = (STATISTIC_MEAN, STATISTIC_MEANCLIP, STATISTIC_MEDIAN)
NO_THRESHOLDS = (np.zeros(0, np.int64), np.zeros(0, np.float64))

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def native(a: np.ndarray) -> np.ndarray:
    """The conversion the package applies before a kernel: native byte order, C-contiguous."""
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))


def make_rules(bad: int = DEFAULT_BAD, flag_rejections: bool = True) -> np.ndarray:
    rules = np.zeros(N_RULES, dtype=np.int64)
    rules[RULE_BAD] = bad
    rules[RULE_NO_DATA] = NO_DATA
    rules[RULE_EDGE] = EDGE
    rules[RULE_CLIPPED] = CLIPPED
    rules[RULE_REJECTED] = REJECTED
    rules[RULE_SENSOR_EDGE] = SENSOR_EDGE
    rules[RULE_INEXACT_PSF] = INEXACT_PSF
    rules[RULE_FLAG_REJECTIONS] = int(flag_rejections)
    return rules


# -- strategies -----------------------------------------------------------------------------------
VALUES = {
    "ties": st.sampled_from([0.0, 1.0, 2.0]),
    "grid": st.integers(-40, 40).map(lambda k: k / 4),
    "float": st.floats(-1000.0, 1000.0, width=32),
}
VARIANCES = st.one_of(st.sampled_from([0.0, 0.5, 1.0, math.nan, math.inf]),
                      st.floats(2.0**-10, 1e3, width=32))
MASK_BITS = [NO_DATA, EDGE, BAD, SAT, CLIPPED, DETECTED]
MASKS = st.one_of(st.just(0), st.sampled_from(MASK_BITS),
                  st.lists(st.sampled_from(MASK_BITS), max_size=3).map(lambda b: reduce(int.__or__, b, 0)))
SCALES = st.sampled_from([1.0, 1.0, 0.5, 2.0, 0.1, 3.0, 57.543993733715695])
WEIGHTS = {
    "unit": st.just(1.0),
    "grid": st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0]),
    "float": st.one_of(st.floats(0.01, 100.0), st.just(0.0)),
    "positive": st.one_of(st.sampled_from([0.5, 1.0, 2.0]), st.floats(0.01, 100.0)),
}
SIGMAS = st.one_of(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 5.0]), st.floats(0.1, 10.0))
BAD_SETS = st.sampled_from([DEFAULT_BAD, DEFAULT_BAD, DEFAULT_BAD | CLIPPED, DEFAULT_BAD & ~EDGE,
                            BAD, 0, DEFAULT_BAD | DETECTED])
THRESHOLD_VALUES = st.one_of(st.sampled_from([0.0, 0.1, 0.2, 0.25, 1 / 3, 0.5, 1.0]), st.floats(0.0, 1.0))


@dataclass(frozen=True)
class StackCase:
    image: np.ndarray
    variance: np.ndarray
    mask: np.ndarray
    scales: np.ndarray
    weights: np.ndarray
    statistic: int
    sigma: float
    iterations: int
    variance_from_scatter: bool
    rules: np.ndarray
    threshold_bits: np.ndarray
    threshold_values: np.ndarray

    def arguments(self) -> tuple:
        return (self.image, self.variance, self.mask, self.scales, self.weights, self.statistic, self.sigma,
                self.iterations, self.variance_from_scatter, self.rules, self.threshold_bits,
                self.threshold_values)


@st.composite
def stack_cases(draw, statistics=STATISTICS, weights=("unit", "grid", "float"), min_inputs=1,
                values=("ties", "grid", "float"), scales=SCALES) -> StackCase:
    n = draw(st.integers(min_inputs, 12))
    shape = (n, draw(st.integers(1, 5)), draw(st.integers(1, 6)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    image = draw(arrays(np.float64, shape, elements=VALUES[draw(st.sampled_from(values))]))
    holes = draw(arrays(np.int8, shape, elements=st.integers(0, 15)))
    image = np.where(holes == 0, np.nan, np.where(holes == 1, -np.inf, image))
    mask = draw(arrays(np.int32, shape, elements=MASKS))
    variance = draw(arrays(np.float64, shape, elements=VARIANCES))
    if draw(st.booleans()):  # one all-bad pixel: every input NaN, or every input NO_DATA
        y, x = draw(st.integers(0, shape[1] - 1)), draw(st.integers(0, shape[2] - 1))
        if draw(st.booleans()):
            image[:, y, x] = np.nan
        else:
            mask[:, y, x] |= NO_DATA
    threshold_planes = draw(st.sampled_from([(), (SAT,), (SAT, DETECTED), (DETECTED, BAD)]))
    return StackCase(
        image=image.astype(dtype),
        variance=variance.astype(dtype),
        mask=mask,
        scales=np.array(draw(st.lists(scales, min_size=n, max_size=n)), dtype=np.float64),
        weights=np.array(draw(st.lists(WEIGHTS[draw(st.sampled_from(weights))], min_size=n, max_size=n)),
                         dtype=np.float64),
        statistic=draw(st.sampled_from(statistics)),
        sigma=draw(SIGMAS),
        iterations=draw(st.integers(1, 4)),
        variance_from_scatter=draw(st.booleans()),
        rules=make_rules(draw(BAD_SETS), draw(st.booleans())),
        threshold_bits=np.array(threshold_planes, dtype=np.int64),
        threshold_values=np.array([draw(THRESHOLD_VALUES) for _ in threshold_planes], dtype=np.float64),
    )


# -- running the kernels ---------------------------------------------------------------------------
def run_stack_tile(case: StackCase, out_dtype: type = np.float32) -> tuple[np.ndarray, ...]:
    _, ny, nx = case.image.shape
    outputs = (np.full((ny, nx), -1, out_dtype), np.full((ny, nx), -1, out_dtype),
               np.full((ny, nx), -1, np.int32), np.full((ny, nx), -1, np.int32))
    stack_tile(native(case.image), native(case.variance), native(case.mask), case.scales, case.weights,
               case.statistic, case.sigma, case.iterations, case.variance_from_scatter, case.rules,
               case.threshold_bits, case.threshold_values, *outputs)
    return outputs


def run_online_mean(case: StackCase) -> tuple[np.ndarray, ...]:
    n, ny, nx = case.image.shape
    sums = np.zeros((N_SUMS + case.threshold_bits.size, ny, nx), np.float64)
    or_mask = np.zeros((ny, nx), np.int64)
    flags = np.zeros((ny, nx), np.int64)
    count = np.zeros((ny, nx), np.int32)
    for start in range(0, n, 2):  # batches of two warps: the batch size must not matter
        batch = slice(start, start + 2)
        accumulate_warps(native(case.image[batch]), native(case.variance[batch]), native(case.mask[batch]),
                         np.ascontiguousarray(case.scales[batch], np.float64),
                         np.ascontiguousarray(case.weights[batch], np.float64), case.rules,
                         case.threshold_bits, sums, or_mask, flags, count)
    outputs = (np.full((ny, nx), -1, np.float32), np.full((ny, nx), -1, np.float32),
               np.full((ny, nx), -1, np.int32), np.full((ny, nx), -1, np.int32))
    finish_online_mean(sums, or_mask, flags, count, case.variance_from_scatter, case.rules,
                       case.threshold_bits, case.threshold_values, *outputs)
    return outputs


def assert_matches(got: tuple[np.ndarray, ...], expected: tuple[np.ndarray, ...]) -> None:
    """Masks and NIMAGE exactly; image and variance to rtol 1e-6 with identical NaN positions."""
    for name, a, b in zip(("image", "variance"), got[:2], expected[:2], strict=True):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"NaN positions of {name}")
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=name)
    np.testing.assert_array_equal(got[2], expected[2], err_msg="mask")
    np.testing.assert_array_equal(got[3], expected[3], err_msg="nimage")


def assert_bitwise_equal(got: tuple[np.ndarray, ...], expected: tuple[np.ndarray, ...]) -> None:
    """Same dtype, same NaN positions, and the same bytes everywhere else."""
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype
        if a.dtype.kind == "f":
            nan = np.isnan(a)
            np.testing.assert_array_equal(nan, np.isnan(b))
            a, b = a[~nan], b[~nan]
        assert a.tobytes() == b.tobytes(), f"{a} != {b}"


def reference_of(case: StackCase) -> tuple[tuple[np.ndarray, ...], list[str]]:
    notes: list[str] = []
    return reference_stack(*case.arguments(), notes=notes), notes


# -- stack_tile --------------------------------------------------------------------------------------
@THOROUGH
@given(stack_cases())
def test_stack_tile_matches_reference(case):
    expected, notes = reference_of(case)
    assume(not notes)
    assert_matches(run_stack_tile(case), expected)


@FAST
@given(stack_cases(statistics=(STATISTIC_MEANCLIP,), values=("ties",), weights=("grid", "unit")))
def test_stack_tile_meanclip_ties_match_reference(case):
    # IQR = 0 is common here: pass 0 keeps only the values equal to the median (SPEC §3.3)
    expected, notes = reference_of(case)
    assume(not notes)
    assert_matches(run_stack_tile(case), expected)


@FAST
@given(stack_cases(), st.sampled_from([">", "<"]))
def test_big_endian_planes_converted_to_native_give_identical_results(case, order):
    swapped = replace(case, image=case.image.astype(case.image.dtype.newbyteorder(order)),
                      variance=case.variance.astype(case.variance.dtype.newbyteorder(order)),
                      mask=case.mask.astype(case.mask.dtype.newbyteorder(order)))
    for plane in (swapped.image, swapped.variance, swapped.mask):
        converted = native(plane)
        assert converted.dtype.isnative and converted.flags.c_contiguous
        np.testing.assert_array_equal(converted, plane)
    assert_bitwise_equal(run_stack_tile(swapped), run_stack_tile(case))
    assert_bitwise_equal(reference_stack(*swapped.arguments()), reference_stack(*case.arguments()))


@FAST
@given(stack_cases(statistics=(STATISTIC_MEANCLIP,), weights=("positive", "unit"),
                   values=("grid", "float")))
def test_meanclip_with_huge_sigma_equals_mean(case):
    # "huge" must be huge for the data: pass 0 (h = sigma · 0.7413 · IQR) has to keep every value;
    # IQR = 0 gives h = 0 (SPEC §3.3), and an IQR of subnormal size a tiny h, whatever sigma is
    sigma = 1e30
    values = case.image.astype(np.float64) * case.scales[:, None, None]
    good = np.isfinite(values) & ((case.mask & case.rules[RULE_BAD]) == 0)
    for y, x in np.ndindex(values.shape[1:]):
        column = values[good[:, y, x], y, x]
        if column.size:
            q1, median, q3 = np.percentile(column, [25, 50, 75])
            assume(np.all(np.abs(column - median) <= sigma * 0.741301109252802 * (q3 - q1))
                   or np.all(column == column[0]))
    clip = replace(case, sigma=sigma)
    mean = replace(case, statistic=STATISTIC_MEAN)
    assert_bitwise_equal(run_stack_tile(clip), run_stack_tile(mean))


@FAST
@given(stack_cases(statistics=(STATISTIC_MEAN, STATISTIC_MEDIAN), weights=("positive", "float"),
                   values=("float",), scales=st.just(1.0)),
       st.randoms(use_true_random=False))
def test_mean_and_median_do_not_depend_on_input_order(case, random):
    # float64 outputs so that 1e-12 is measurable; values kept positive so no sum cancels
    case = replace(case, image=np.abs(case.image) + 1, variance_from_scatter=False)
    order = list(range(case.image.shape[0]))
    random.shuffle(order)
    shuffled = replace(case, image=case.image[order], variance=case.variance[order], mask=case.mask[order],
                       scales=case.scales[order], weights=case.weights[order])
    first, second = run_stack_tile(case, np.float64), run_stack_tile(shuffled, np.float64)
    # the median itself does not depend on order at all; its variance is the MEAN variance × π/2
    rtols = (1e-12 if case.statistic == STATISTIC_MEAN else 0.0, 1e-12)
    for a, b, rtol in zip(first[:2], second[:2], rtols, strict=True):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0)
    np.testing.assert_array_equal(first[2], second[2])
    np.testing.assert_array_equal(first[3], second[3])


@FAST
@given(st.integers(1, 12), st.integers(1, 5), st.integers(1, 6), st.sampled_from(STATISTICS),
       st.sampled_from(["ties", "grid", "float"]), st.sampled_from(["unit", "positive", "float"]),
       st.booleans(), st.data())
def test_identical_inputs_give_the_input_back(n, ny, nx, statistic, values, weights, scatter, data):
    image = data.draw(arrays(np.float32, (ny, nx), elements=st.one_of(VALUES[values], st.just(math.nan))))
    variance = data.draw(arrays(np.float32, (ny, nx), elements=st.one_of(st.just(0.0),
                                                                         st.floats(2.0**-10, 1e3, width=32))))
    mask = data.draw(arrays(np.int32, (ny, nx), elements=st.sampled_from([0, DETECTED, BAD, DETECTED | SAT])))
    w = np.array(data.draw(st.lists(WEIGHTS[weights], min_size=n, max_size=n)), np.float64)
    assume(np.any(w > 0))
    # SPEC §3.3: with n >= 2 but one non-zero weight s² is NaN, so pass 1 keeps nothing
    assume(statistic != STATISTIC_MEANCLIP or n == 1 or np.count_nonzero(w) > 1)
    case = StackCase(np.repeat(image[None], n, 0), np.repeat(variance[None], n, 0), np.repeat(mask[None], n, 0),
                     np.ones(n), w, statistic, 3.0, 2, scatter, make_rules(), *NO_THRESHOLDS)
    out_image, out_variance, out_mask, out_nimage = run_stack_tile(case)
    good = np.isfinite(image) & ((mask & DEFAULT_BAD) == 0)
    np.testing.assert_array_equal(out_image[good], image[good])
    assert np.all(np.isnan(out_image[~good]))
    np.testing.assert_array_equal(out_nimage, np.where(good, n, 0))
    if scatter:
        # s² = 0 for identical inputs (NaN without two non-zero weights); variance 0 adds NO_DATA
        expected_variance = np.where(good, 0.0 if np.count_nonzero(w) > 1 else np.nan, np.nan)
    else:
        factor = np.sum(w * w) / np.sum(w) ** 2 * (np.pi / 2 if statistic == STATISTIC_MEDIAN else 1.0)
        expected_variance = np.where(good, variance.astype(np.float64) * factor, np.nan)
        if np.all(w == w[0]):
            np.testing.assert_allclose(expected_variance[good], variance[good].astype(np.float64) / n
                                       * (np.pi / 2 if statistic == STATISTIC_MEDIAN else 1.0), rtol=1e-12)
    np.testing.assert_allclose(out_variance, expected_variance, rtol=1e-6)
    expected_mask = np.where(good, mask | np.where(expected_variance == 0, NO_DATA, 0), NO_DATA)
    np.testing.assert_array_equal(out_mask, expected_mask)


# -- online mean -------------------------------------------------------------------------------------
@THOROUGH
@given(stack_cases(statistics=(STATISTIC_MEAN,)))
def test_online_mean_equals_tiled_mean_bit_for_bit(case):
    assert_bitwise_equal(run_online_mean(case), run_stack_tile(case))


@FAST
@given(stack_cases(statistics=(STATISTIC_MEAN,)))
def test_online_mean_matches_reference(case):
    notes: list[str] = []
    expected = reference_online_mean(case.image, case.variance, case.mask, case.scales, case.weights,
                                     case.variance_from_scatter, case.rules, case.threshold_bits,
                                     case.threshold_values, notes=notes)
    assume(not notes)
    assert_matches(run_online_mean(case), expected)


# SPEC §3.2: an input of weight 0 contributes nothing to μ or s². A sum shifted by the first
# good value gets both wrong when that value has weight 0 and lies far from the others.
ZERO_WEIGHT_EXAMPLES = {
    # MEAN from scatter: μ = 1.5, s² = 0.5, Var = 0.25 (a shift of 1e8 gave Var 0 and so NO_DATA)
    "scatter": ([1e8, 1.0, 2.0], [0.0, 1.0, 1.0], True),
    # MEAN: μ = 2**-52 (a shift of 3 gave 0)
    "mean": ([3.0, 2.0**-52], [0.0, 0.5], False),
}


@pytest.mark.parametrize("path", ["tiled", "online"])
@pytest.mark.parametrize("example", list(ZERO_WEIGHT_EXAMPLES))
def test_zero_weight_input_changes_nothing(example, path):
    values, weights, scatter = ZERO_WEIGHT_EXAMPLES[example]
    run = run_stack_tile if path == "tiled" else run_online_mean
    n = len(values)
    with_it = spec_case(np.reshape(values, (n, 1, 1)), weights, scatter=scatter)
    without = spec_case(np.reshape(values[1:], (n - 1, 1, 1)), weights[1:], scatter=scatter)
    expected = reference_stack(*without.arguments())
    twin = reference_stack(*with_it.arguments())
    assert_matches((*twin[:3], twin[3] - 1), expected)  # the twin: the input only adds to NIMAGE
    got = run(with_it)
    assert_matches((*got[:3], got[3] - 1), expected)


# -- the 1-D clipped mean of the weights (SPEC §4) -----------------------------------------------------
ONE_D = st.one_of(*(st.lists(v, max_size=40) for v in VALUES.values()),
                  st.lists(st.floats(1e-3, 1e3), max_size=40))


@FAST
@given(ONE_D, SIGMAS, st.integers(1, 4))
# a last pass centred far from its kept values, whose mean is close to 0: shifting the sums by the
# centre instead of a kept value loses the mean's relative precision
@example([0.0, 0.0, 0.0, 0.0, 1.0, 4.0, 13.0, 52.0, 52.0, 52.0, 5.183804232221367e-13], 0.5, 4)
def test_unweighted_clipped_mean_matches_reference(values, sigma, iterations):
    values = np.array(values, dtype=np.float64)
    notes: list[str] = []
    expected = reference_clipped_mean_1d(values, sigma, iterations, notes)
    assume(not notes)
    got = unweighted_clipped_mean(values.copy(), sigma, iterations)
    assert math.isnan(got) == math.isnan(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    if not math.isnan(got):
        assert values.min() <= got <= values.max()


@FAST
@given(st.floats(1e-30, 1e30), st.integers(1, 3000), SIGMAS, st.integers(1, 4))
def test_unweighted_clipped_mean_of_a_constant_is_that_constant(value, n, sigma, iterations):
    # a uniform variance plane must give its own value back, not NaN (SPEC §6 invariant)
    assert unweighted_clipped_mean(np.full(n, value), sigma, iterations) == value


@FAST
@given(st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=200), st.integers(1, 4),
       st.randoms(use_true_random=False))
def test_unweighted_clipped_mean_huge_sigma_is_the_mean_in_any_order(values, iterations, random):
    values = np.array(values)
    q1, q3 = np.percentile(values, [25, 75])
    assume(q3 > q1)
    got = unweighted_clipped_mean(values.copy(), 1e30, iterations)
    np.testing.assert_allclose(got, math.fsum(values) / values.size, rtol=1e-12)
    shuffled = values.copy()
    random.shuffle(shuffled)
    np.testing.assert_allclose(unweighted_clipped_mean(shuffled, 1e30, iterations), got, rtol=1e-12)


FLOAT32_VALUES = st.one_of(
    st.floats(width=32, allow_nan=False),  # zeros of both signs, subnormals, infinities
    st.sampled_from([0.0, -0.0, 1.0, 1.0000001, -1.0, 3.4028235e38, -math.inf, math.inf]),  # ties
)


@FAST
@given(st.lists(FLOAT32_VALUES, min_size=1, max_size=300), st.data())
def test_select_float32_matches_sorting(values, data):
    values = np.array(values, dtype=np.float32)
    ranks = np.array(data.draw(st.lists(st.integers(0, values.size - 1), min_size=1, max_size=6)), dtype=np.int64)
    got = select_float32(values, ranks)
    expected = np.sort(values)[ranks]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)  # -0.0 == 0.0: either may come back for a tie of zeros


@FAST
@given(st.lists(st.floats(-2.0**100, 2.0**100, width=32, allow_subnormal=False), min_size=1, max_size=300),
       st.sampled_from([1.0, 2.5e-3, 7.0]))
def test_quantiles_by_selection_match_numpy_percentile(values, value_scale):
    values = np.array(values, dtype=np.float32)
    got = quantiles_by_selection(values, (0.0, 0.25, 0.5, 0.75, 1.0), value_scale)
    expected = np.percentile(values.astype(np.float64) * value_scale, [0, 25, 50, 75, 100])
    np.testing.assert_array_equal(got, expected)


@FAST
@given(st.lists(st.floats(0.0009765625, 1024.0, width=32), max_size=300), SIGMAS, st.integers(1, 4),
       st.sampled_from([1.0, 0.37, 1e4]))
def test_unweighted_clipped_mean_of_float32_matches_reference(values, sigma, iterations, value_scale):
    # float32 values take the radix-selection path (float64 ones go through numpy.partition)
    values = np.array(values, dtype=np.float32)
    notes: list[str] = []
    expected = reference_clipped_mean_1d(values.astype(np.float64) * value_scale, sigma, iterations, notes)
    assume(not notes)
    got = unweighted_clipped_mean(values, sigma, iterations, value_scale)
    assert math.isnan(got) == math.isnan(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_unweighted_clipped_mean_of_nothing_is_nan():
    assert math.isnan(unweighted_clipped_mean(np.zeros(0), 3.0, 2))
    assert math.isnan(reference_clipped_mean_1d(np.zeros(0), 3.0, 2))


@pytest.mark.parametrize("twin", [False, True])
def test_unweighted_clipped_mean_spec_case_2(twin):
    # SPEC §6 case 2: median 2, IQR 1, h = 2.2239 keeps {1, 2, 2, 3}; the next passes keep the same
    values = np.array([1.0, 2.0, 2.0, 3.0, 8.0])
    function = reference_clipped_mean_1d if twin else unweighted_clipped_mean
    assert function(values.copy(), 3.0, 3) == 2.0


# -- interpolation -----------------------------------------------------------------------------------
PLANE_VALUES = st.one_of(st.floats(-1e3, 1e3, width=32), st.sampled_from([math.nan, math.inf, -math.inf]))


@FAST
@given(st.integers(1, 5), st.integers(1, 10), st.data())
def test_interpolate_rows_matches_reference(ny, nx, data):
    image = data.draw(arrays(np.float32, (ny, nx), elements=PLANE_VALUES))
    variance = data.draw(arrays(np.float32, (ny, nx), elements=st.one_of(
        st.floats(0, 1e3, width=32), st.sampled_from([math.nan, math.inf]))))
    mask = data.draw(arrays(np.int32, (ny, nx), elements=st.sampled_from(
        [0, NO_DATA, NO_DATA, DETECTED, NO_DATA | DETECTED, INTRP])))
    fallback_image = data.draw(st.floats(0, 1e3, width=32))
    fallback_variance = data.draw(st.one_of(st.floats(0, 1e3, width=32), st.just(math.inf)))
    expected = reference_interpolate(image, variance, mask, NO_DATA, INTRP, fallback_image, fallback_variance)
    got = (image.copy(), variance.copy(), mask.copy())
    interpolate_rows(*got, NO_DATA, INTRP, fallback_image, fallback_variance)
    for a, b in zip(got[:2], expected[:2], strict=True):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_array_equal(got[2], expected[2])


def test_interpolate_rows_non_finite_neighbour_takes_the_fallback():
    # the second run's right neighbour has no NO_DATA but a NaN value, so it cannot anchor
    image = np.array([[1.0, 0.0, 3.0, 0.0, np.nan]], np.float32)
    variance = np.ones_like(image)
    mask = np.array([[0, NO_DATA, 0, NO_DATA, 0]], np.int32)
    got = (image.copy(), variance.copy(), mask.copy())
    interpolate_rows(*got, NO_DATA, INTRP, 7.0, 5.0)
    expected = reference_interpolate(image, variance, mask, NO_DATA, INTRP, 7.0, 5.0)
    for planes in (got, expected):
        np.testing.assert_array_equal(planes[0], [[1.0, 2.0, 3.0, 7.0, np.nan]])
        np.testing.assert_array_equal(planes[1], [[1.0, 1.0, 1.0, 5.0, 1.0]])
        np.testing.assert_array_equal(planes[2], [[0, NO_DATA | INTRP, 0, NO_DATA | INTRP, 0]])


@FAST
@given(arrays(np.float32, (3, 4), elements=st.one_of(st.floats(-10, 10, width=32),
                                                     st.sampled_from([math.nan, math.inf, -math.inf]))))
def test_replace_nonpositive_variance_matches_reference(variance):
    got = variance.copy()
    replace_nonpositive_variance(got)
    np.testing.assert_array_equal(got, reference_replace_nonpositive_variance(variance))


# -- mask remapping ------------------------------------------------------------------------------------
MASK_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


@FAST
@given(st.sampled_from(MASK_DTYPES), st.sampled_from(["<", ">"]), st.integers(1, 5), st.integers(1, 6),
       st.data())
def test_remap_mask_tile_matches_reference(dtype, order, ny, nx, data):
    dtype = np.dtype(dtype).newbyteorder(order)
    mask_in = data.draw(arrays(dtype, (ny, nx)))
    # entries above the input's width must be ignored (a negative value must not sign-extend)
    table = np.array(data.draw(st.lists(st.one_of(st.just(0), st.integers(0, 30).map(lambda b: 1 << b)),
                                        min_size=64, max_size=64)), np.int64)
    got = np.full((ny, nx), -1, np.int32)
    remap_mask_tile(native(mask_in), table, got)
    np.testing.assert_array_equal(got, reference_remap(mask_in, table))


def test_remap_mask_tile_ignores_table_entries_above_the_mask_width():
    table = np.zeros(64, np.int64)
    table[31] = 1 << 3
    table[40] = 1 << 7
    mask_in = np.array([[np.iinfo(np.int32).min]], np.int32)  # only bit 31 set
    got = np.zeros((1, 1), np.int32)
    remap_mask_tile(mask_in, table, got)
    assert reference_remap(mask_in, table)[0, 0] == 1 << 3
    assert got[0, 0] == 1 << 3


# -- the twin and the kernel on SPEC §6 reference cases -----------------------------------------------
def spec_case(image, weights, mask=None, variance=None, statistic=STATISTIC_MEAN, sigma=3.0, iterations=2,
              scatter=False, flag_rejections=True, thresholds=NO_THRESHOLDS) -> StackCase:
    image = np.array(image, np.float32)
    mask = np.zeros(image.shape, np.int32) if mask is None else np.array(mask, np.int32)
    variance = np.ones(image.shape, np.float32) if variance is None else np.array(variance, np.float32)
    return StackCase(image, variance, mask, np.ones(image.shape[0]), np.array(weights, np.float64), statistic,
                     sigma, iterations, scatter, make_rules(flag_rejections=flag_rejections), *thresholds)


def spec_case_11(scatter: bool) -> StackCase:
    image = [[[1, 1, 1, 1]], [[2, 3, 5, 7]], [[4, 4, 4, 4]]]
    variance = [[[1] * 4], [[2] * 4], [[4] * 4]]
    mask = [[[0, 0, BAD, NO_DATA]], [[0, SAT, 0, NO_DATA]], [[0, 0, EDGE, NO_DATA]]]
    sat = (np.array([SAT], np.int64), np.array([0.1]))
    return spec_case(image, [1, 2, 0.5], mask, variance, scatter=scatter, thresholds=sat)


def spec_case_5(fifth_weight: float) -> StackCase:
    image = [[[1, 1, 1, 1]]] * 4 + [[[12, 12, 12, 12]]]
    mask = [[[0, 0, 0, 0]]] * 4 + [[[0, BAD, DETECTED, BAD | DETECTED]]]
    detected = (np.array([DETECTED], np.int64), np.array([0.3]))
    return spec_case(image, [1, 1, 1, 1, fifth_weight], mask, flag_rejections=False, thresholds=detected)


SPEC_CASES = {
    "5, weights 1": (spec_case_5(1.0), [3.2, 1, 3.2, 1], None, [0, 0, DETECTED, 0]),
    "5, fifth weight 2": (spec_case_5(2.0), [14 / 3, 1, 14 / 3, 1], None, [0, 0, DETECTED, DETECTED]),
    "6": (spec_case(np.where(np.arange(10)[:, None, None] == 0, np.pad([[1]], 1), 0), np.ones(10),
                    statistic=STATISTIC_MEANCLIP, flag_rejections=False),
          np.zeros((3, 3)), None, np.pad([[CLIPPED]], 1)),
    "10, sigma 3": (spec_case([[[1]], [[10]], [[10]], [[20]]], np.ones(4), statistic=STATISTIC_MEANCLIP),
                    [[10.25]], None, [[0]]),
    "10, sigma 1.5": (spec_case([[[1]], [[10]], [[10]], [[20]]], np.ones(4), statistic=STATISTIC_MEANCLIP,
                                sigma=1.5, iterations=3), [[10.0]], None, [[CLIPPED | INEXACT_PSF]]),
    "11, input variance": (spec_case_11(False), [2.0, 2.0, 5.0, np.nan], [0.816327, 0.888889, 2.0, np.nan],
                           [0, SAT | REJECTED | INEXACT_PSF, REJECTED | SENSOR_EDGE | INEXACT_PSF, NO_DATA]),
    "11, variance from scatter": (spec_case_11(True), [2.0, 2.0, 5.0, np.nan], [0.642857, 2.5, np.nan, np.nan],
                                  [0, SAT | REJECTED | INEXACT_PSF, REJECTED | SENSOR_EDGE | INEXACT_PSF,
                                   NO_DATA]),
}


@pytest.mark.parametrize("implementation", ["kernel", "twin"])
@pytest.mark.parametrize("name", list(SPEC_CASES))
def test_spec_reference_cases(name, implementation):
    case, image, variance, mask = SPEC_CASES[name]
    got = run_stack_tile(case) if implementation == "kernel" else reference_stack(*case.arguments())
    shape = got[0].shape
    np.testing.assert_allclose(got[0], np.reshape(image, shape), rtol=1e-6)
    if variance is not None:
        np.testing.assert_allclose(got[1], np.reshape(variance, shape), rtol=1e-6)
    np.testing.assert_array_equal(got[2], np.reshape(mask, shape))
