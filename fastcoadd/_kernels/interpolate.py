"""Fill pixels without data by linear interpolation along rows (SPEC §3.6)."""

from __future__ import annotations

import numpy as np

from ._jit import jit_parallel, prange


@jit_parallel
def interpolate_rows(
    image: np.ndarray,
    variance: np.ndarray,
    mask: np.ndarray,
    no_data_bit: int,
    interpolated_bit: int,
    fallback_image: float,
    fallback_variance: float,
) -> None:
    """Fill every run of ``NO_DATA`` pixels of each row, in place.

    A run between good pixels at columns ``a`` and ``b`` (good: no ``NO_DATA`` and a
    finite image value) takes ``p(x) = p(a) + (p(b) - p(a)) · (x - a) / (b - a)`` for the
    image and the variance alike. A run that touches either end of the row takes the
    fallback values instead. Every filled pixel gets ``interpolated_bit``.

    Parameters
    ----------
    image, variance : ndarray of float32, shape (ny, nx)
        Coadd planes; changed in place.
    mask : ndarray of int32, shape (ny, nx)
        Coadd mask; changed in place.
    no_data_bit, interpolated_bit : int
        Values of the NO_DATA and INTRP bits.
    fallback_image, fallback_variance : float
        Values for runs with no good pixel on one side.
    """
    ny, nx = image.shape
    for y in prange(ny):
        x = 0
        while x < nx:
            if not (mask[y, x] & no_data_bit):
                x += 1
                continue
            start = x
            while x < nx and (mask[y, x] & no_data_bit):
                x += 1
            stop = x  # run is [start, stop)
            left = start - 1
            right = stop
            # a neighbour that carries no NO_DATA but a non-finite value cannot anchor
            if left >= 0 and not np.isfinite(image[y, left]):
                left = -1
            if right < nx and not np.isfinite(image[y, right]):
                right = nx
            if left < 0 or right >= nx:
                for k in range(start, stop):
                    image[y, k] = fallback_image
                    variance[y, k] = fallback_variance
            else:
                span = np.float64(right - left)
                image_left = np.float64(image[y, left])
                image_right = np.float64(image[y, right])
                variance_left = np.float64(variance[y, left])
                variance_right = np.float64(variance[y, right])
                for k in range(start, stop):
                    t = (k - left) / span
                    image[y, k] = image_left + (image_right - image_left) * t
                    variance[y, k] = variance_left + (variance_right - variance_left) * t
            for k in range(start, stop):
                mask[y, k] |= interpolated_bit


@jit_parallel
def replace_nonpositive_variance(variance: np.ndarray) -> None:
    """Set every variance that is not > 0 (zero, negative, NaN) to +inf, in place."""
    ny, nx = variance.shape
    for y in prange(ny):
        for x in range(nx):
            if not variance[y, x] > 0:
                variance[y, x] = np.inf
