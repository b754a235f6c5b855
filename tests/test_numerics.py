"""Numerical robustness: a large common offset, and 10,000 inputs, against a float64 reference.

float32 inputs with a sky of 1e6 and a signal of 1 (values whose spacing is 1/16), and
10,000 inputs of a tiny patch, combined with every statistic: the coadd agrees with a
plain float64 evaluation of SPEC §3 on the same float32 inputs to 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastcoadd as fc

RTOL = 1e-6
MAD_TO_SIGMA = 0.741301109252802


# -- float64 reference of SPEC §3.2-3.4, one pixel at a time ------------------------------------------
def weighted(x: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Mean, de-biased weighted scatter s², variance from input variance (SPEC §3.2)."""
    sw, sw2 = w.sum(), (w * w).sum()
    mean = (w * x).sum() / sw
    scatter = (w * (x - mean) ** 2).sum() / sw * sw**2 / (sw**2 - sw2) if x.size > 1 else np.nan
    return mean, scatter, (w * w * v).sum() / sw**2


def reference_pixel(x, v, w, statistic: str, sigma: float = 3.0, iterations: int = 2,
                    from_scatter: bool = False) -> tuple[float, float]:
    x, v, w = (np.asarray(a, dtype=np.float64) for a in (x, v, w))
    if statistic == "median":
        mean, scatter, variance = weighted(x, v, w)
        if from_scatter:
            variance = scatter * (w * w).sum() / w.sum() ** 2
        return float(np.median(x)), variance * np.pi / 2
    keep = np.ones(x.size, bool)
    if statistic == "meanclip":
        q1, median, q3 = np.percentile(x, [25, 50, 75])
        centre, half = median, sigma * MAD_TO_SIGMA * (q3 - q1)
        for _ in range(iterations):
            keep = np.abs(x - centre) <= half
            mean, scatter, _ = weighted(x[keep], v[keep], w[keep])
            centre, half = mean, sigma * np.sqrt(max(scatter, 0.0))
    mean, scatter, variance = weighted(x[keep], v[keep], w[keep])
    if from_scatter:
        variance = scatter * (w[keep] ** 2).sum() / w[keep].sum() ** 2
    return mean, variance


def reference(images, variances, weights, statistic, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = images.shape[1:]
    image, variance = np.empty((ny, nx)), np.empty((ny, nx))
    for y in range(ny):
        for x in range(nx):
            image[y, x], variance[y, x] = reference_pixel(images[:, y, x], variances[:, y, x], weights,
                                                          statistic, **kwargs)
    return image, variance


def warps_of(images, variances) -> list[fc.Warp]:
    mask = np.zeros(images.shape[1:], np.int32)
    return [fc.Warp(image, mask, variance, calibration={"BUNIT": "nJy"}, visit=i)
            for i, (image, variance) in enumerate(zip(images, variances, strict=True))]


CASES = [("mean", {}), ("mean", {"online_mean": False}), ("mean", {"variance_from_scatter": True}),
         ("meanclip", {}), ("meanclip", {"variance_from_scatter": True}), ("median", {})]


# -- a large common offset ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def offset_stack():
    rng = np.random.default_rng(5)
    n, shape = 60, (8, 9)
    signal = rng.uniform(0.5, 1.5, shape)
    images = (1e6 + signal + rng.normal(0, 1, (n, *shape))).astype(np.float32)
    images[7, 2, 3] = np.float32(1e6 + 40)  # an outlier for the clipping
    variances = rng.uniform(0.8, 1.2, (n, *shape)).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, n)
    return images, variances, weights


@pytest.mark.parametrize(("statistic", "options"), CASES, ids=lambda c: str(c))
def test_large_offset_agrees_with_float64(offset_stack, statistic, options):
    images, variances, weights = offset_stack
    config = fc.CoaddConfig(statistic=statistic, interpolate=False, **options)
    result = fc.assemble(warps_of(images, variances), config, weights=weights)
    image, variance = reference(images, variances, weights, statistic,
                                from_scatter=options.get("variance_from_scatter", False))
    np.testing.assert_allclose(result.image, image, rtol=RTOL)
    np.testing.assert_allclose(result.variance, variance, rtol=RTOL)
    # stronger: the signal of ~1 on the sky of 1e6 survives to the last float32 bit
    assert np.all(np.abs(result.image - image) <= np.spacing(np.float32(1e6)))


def test_large_offset_weights_agree_with_float64(offset_stack):
    """The measured weight 1 / MEANCLIP(variance) (SPEC §4), against float64."""
    images, variances, _ = offset_stack
    result = fc.assemble(warps_of(images * np.float32(1), variances * np.float32(1e6)),
                         fc.CoaddConfig(interpolate=False))
    for record, plane in zip(result.inputs, variances, strict=True):
        values = plane.astype(np.float64).ravel() * 1e6
        expected = 1.0 / reference_pixel(values, values, np.ones(values.size), "meanclip")[0]
        assert record.weight == pytest.approx(expected, rel=RTOL)


def test_large_offset_clips_the_outlier(offset_stack):
    images, variances, weights = offset_stack
    result = fc.assemble(warps_of(images, variances), fc.CoaddConfig(interpolate=False), weights=weights)
    assert result.plane("CLIPPED")[2, 3]


# -- ten thousand inputs ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def deep_stack():
    rng = np.random.default_rng(9)
    n, shape = 10_000, (2, 3)
    images = (1e6 + rng.normal(0, 2, (n, *shape))).astype(np.float32)
    variances = rng.uniform(3.0, 5.0, (n, *shape)).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, n)
    return images, variances, weights, warps_of(images, variances)


@pytest.mark.parametrize(("statistic", "options"), CASES[:2] + CASES[3:4] + CASES[5:], ids=lambda c: str(c))
def test_ten_thousand_inputs_agree_with_float64(deep_stack, statistic, options):
    images, variances, weights, warps = deep_stack
    config = fc.CoaddConfig(statistic=statistic, interpolate=False, **options)
    result = fc.assemble(warps, config, weights=weights)
    image, variance = reference(images, variances, weights, statistic)
    np.testing.assert_allclose(result.image, image, rtol=RTOL)
    np.testing.assert_allclose(result.variance, variance, rtol=RTOL)
    np.testing.assert_array_equal(result.nimage, images.shape[0])


def test_ten_thousand_inputs_with_measured_weights(deep_stack):
    images, variances, _, warps = deep_stack
    result = fc.assemble(warps, fc.CoaddConfig(interpolate=False))
    weights = np.array([1.0 / reference_pixel(v.ravel(), v.ravel(), np.ones(v.size), "meanclip")[0]
                        for v in variances.astype(np.float64)])
    np.testing.assert_allclose([r.weight for r in result.inputs], weights, rtol=RTOL)
    image, variance = reference(images, variances, weights, "meanclip")
    np.testing.assert_allclose(result.image, image, rtol=RTOL)
    np.testing.assert_allclose(result.variance, variance, rtol=RTOL)
