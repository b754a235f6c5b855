"""Shared helpers for the test suite: small in-memory warps and the LSST default plane bits."""

from __future__ import annotations

import numpy as np
import pytest

import fastcoadd as fc
from fastcoadd.masks import DEFAULT_PLANES


def bit(name: str) -> int:
    """Value of an LSST default mask plane."""
    return 1 << DEFAULT_PLANES[name]


def memory_warp(image, mask=None, variance=None, **kwargs) -> fc.Warp:
    """An in-memory warp in nJy from array-likes (scalars make a 1x1 warp)."""
    image = np.atleast_2d(np.asarray(image, dtype=np.float32))
    mask = np.zeros(image.shape, np.int32) if mask is None else np.atleast_2d(np.asarray(mask, np.int32))
    if variance is None:
        variance = np.ones(image.shape, np.float32)
    variance = np.broadcast_to(np.asarray(variance, np.float32), image.shape).copy()
    kwargs.setdefault("calibration", {"BUNIT": "nJy"})
    return fc.Warp(image, mask, variance, **kwargs)


def plane_names(result: fc.CoaddResult, value: int) -> set[str]:
    """Names of the planes set in one mask value."""
    return {name for name, b in result.planes.items() if (int(value) >> b) & 1}


@pytest.fixture
def no_interp():
    """A config factory with interpolation off (reference numbers are before interpolation)."""

    def factory(**kwargs):
        return fc.CoaddConfig(interpolate=False, **kwargs)

    return factory
