"""Mask-bit kernels: remapping input bits to output bits and the final mask rules (SPEC §3.5).

The mask rules reach the kernels as one int64 array, ``rules``, indexed by the
constants below, so a kernel signature stays short and no config object crosses
into compiled code.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit, jit_parallel, prange

#: Index of each entry of the ``rules`` array.
RULE_BAD = 0  # OR of the bad-plane bits: an input carrying any of them is not good
RULE_NO_DATA = 1
RULE_EDGE = 2
RULE_CLIPPED = 3
RULE_REJECTED = 4
RULE_SENSOR_EDGE = 5
RULE_INEXACT_PSF = 6
RULE_FLAG_REJECTIONS = 7  # 1: apply SPEC §3.5 steps 5 and 6; 0: skip them
N_RULES = 8


@jit
def rejection_bits(bad_bits: int, rules: np.ndarray) -> int:
    """Map the bad bits of one rejected input to the output flags of SPEC §3.5 step 5.

    Parameters
    ----------
    bad_bits : int
        ``m_i & bad`` for one input that is not good.
    rules : ndarray of int64, shape (N_RULES,)
        Mask rules.

    Returns
    -------
    int
        ``REJECTED`` if a bad bit other than NO_DATA, EDGE, CLIPPED is present, OR
        ``SENSOR_EDGE`` if EDGE is present, OR ``CLIPPED`` if CLIPPED is present.
    """
    out = 0
    if bad_bits == 0:
        return out
    ignored = rules[RULE_NO_DATA] | rules[RULE_EDGE] | rules[RULE_CLIPPED]
    if bad_bits & ~ignored:
        out |= rules[RULE_REJECTED]
    if bad_bits & rules[RULE_EDGE]:
        out |= rules[RULE_SENSOR_EDGE]
    if bad_bits & rules[RULE_CLIPPED]:
        out |= rules[RULE_CLIPPED]
    return out


@jit
def finish_mask(
    or_mask: int,
    n_good: int,
    any_clipped: bool,
    rejection_flags: int,
    good_weight: float,
    rejected_weight: np.ndarray,
    threshold_bits: np.ndarray,
    threshold_values: np.ndarray,
    variance: float,
    rules: np.ndarray,
) -> int:
    """Apply SPEC §3.5 steps 2-7 to one output pixel.

    Parameters
    ----------
    or_mask : int
        OR of the masks of the good inputs (step 1).
    n_good : int
        Number of good inputs, n.
    any_clipped : bool
        True if a good input was left out of the final clipping pass.
    rejection_flags : int
        OR of :func:`rejection_bits` over the inputs that are not good.
    good_weight : float
        Sum of weights of the good inputs.
    rejected_weight : ndarray of float64, shape (n_thresholds,)
        For each threshold plane b, R_b: sum of weights of not-good inputs carrying b.
    threshold_bits, threshold_values : ndarray
        Plane bit and threshold t; plane b is set when R_b / (good_weight + R_b) > t.
    variance : float
        The coadd variance at the pixel (step 7: exactly 0 adds NO_DATA).
    rules : ndarray of int64
        Mask rules.

    Returns
    -------
    int
        The output mask value.
    """
    if n_good == 0:
        return rules[RULE_NO_DATA]
    mask = or_mask
    for j in range(threshold_bits.shape[0]):
        r = rejected_weight[j]
        if r > 0.0 and r / (good_weight + r) > threshold_values[j]:
            mask |= threshold_bits[j]
    if any_clipped:
        mask |= rules[RULE_CLIPPED]
    if rules[RULE_FLAG_REJECTIONS]:
        mask |= rejection_flags
        if mask & (rules[RULE_SENSOR_EDGE] | rules[RULE_CLIPPED] | rules[RULE_REJECTED]):
            mask |= rules[RULE_INEXACT_PSF]
    if variance == 0.0:
        mask |= rules[RULE_NO_DATA]
    return mask


@jit_parallel
def remap_mask_tile(mask_in: np.ndarray, bit_map: np.ndarray, mask_out: np.ndarray) -> None:
    """Translate one warp's mask bits into the output plane numbering.

    Parameters
    ----------
    mask_in : ndarray of int, shape (ny, nx)
        Mask in the warp's own numbering (any integer dtype).
    bit_map : ndarray of int64, shape (64,)
        ``bit_map[k]`` is the output value (a single bit, or 0 to drop) for input bit k.
    mask_out : ndarray of int32, shape (ny, nx)
        Changed in place: the remapped mask.
    """
    ny, nx = mask_in.shape
    # only the bits the input type has: a negative int32 must not sign-extend into bits 32..63
    width = np.int64(-1) if mask_in.itemsize >= 8 else (np.int64(1) << np.int64(8 * mask_in.itemsize)) - 1
    for y in prange(ny):
        for x in range(nx):
            m = np.int64(mask_in[y, x]) & width
            out = np.int64(0)
            k = 0
            while m != 0 and k < 64:
                if m & 1:
                    out |= bit_map[k]
                m = (m >> 1) & np.int64(0x7FFFFFFFFFFFFFFF)
                k += 1
            mask_out[y, x] = out
