"""Mask-plane registry: plane names <-> bits, the output plane set, and remap tables.

Planes are matched by name across warps (SPEC §1). The output keeps every input
plane's name; a plane keeps the bit it has in the first warp (canonical order) that
declares it, unless that bit is taken, in which case it moves to the lowest free bit.
The planes fastcoadd adds (NO_DATA, CLIPPED, REJECTED, SENSOR_EDGE, INEXACT_PSF,
INTRP) go to the lowest free bits when not already present.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np

from .errors import MaskPlaneError

log = logging.getLogger(__name__)

#: LSST's default plane numbers, used when a MASK header names no planes.
DEFAULT_PLANES: dict[str, int] = {
    "BAD": 0, "SAT": 1, "INTRP": 2, "CR": 3, "EDGE": 4, "DETECTED": 5,
    "DETECTED_NEGATIVE": 6, "SUSPECT": 7, "NO_DATA": 8,
}
#: Planes every coadd carries, added in this order at the lowest free bit.
ADDED_PLANES = ("NO_DATA", "CLIPPED", "REJECTED", "SENSOR_EDGE", "INEXACT_PSF", "INTRP")
#: Bits available in the int32 output mask.
OUTPUT_BITS = 32
_PREFIX = "MP_"
_PLANE_NAME = re.compile(r"[A-Z0-9_-]+")


def planes_from_header(header: Mapping[str, object], path: object | None = None) -> dict[str, int]:
    """Read the ``MP_<NAME> = bit`` cards of a MASK header; LSST defaults when there are none.

    Raises
    ------
    MaskPlaneError
        If a bit is not an integer in [0, 63] or two names share one bit.
    """
    planes: dict[str, int] = {}
    # one entry per card (a keyword may come twice); values are parsed only for MP_ cards
    cards = header.cards if hasattr(header, "cards") else [_Card(k, v) for k, v in header.items()]
    for card in cards:
        name = str(card.keyword)
        if name.upper().startswith("HIERARCH "):
            name = name[len("HIERARCH "):]
        if not name.upper().startswith(_PREFIX) or len(name) <= len(_PREFIX):
            continue
        plane = name[len(_PREFIX):].strip().upper()
        bit = _check_bit(plane, card.value, path)
        if planes.get(plane, bit) != bit:
            raise MaskPlaneError(
                f"mask plane {plane} is declared twice, at bits {planes[plane]} and {bit}", path)
        planes[plane] = bit
    if not planes:
        return dict(DEFAULT_PLANES)
    _check_unique_bits(planes, path)
    return planes


def check_planes(planes: Mapping[object, object], path: object | None = None) -> dict[str, int]:
    """Validate a plane name -> bit dictionary given by the user; return it with upper-case names.

    Raises
    ------
    MaskPlaneError
        If a name is not made of letters, digits, ``_`` and ``-``, a bit is not an integer
        in [0, 63], a name appears twice or two names share one bit.
    """
    checked: dict[str, int] = {}
    for name, value in planes.items():
        plane = str(name).strip().upper()
        if not _PLANE_NAME.fullmatch(plane):
            raise MaskPlaneError(f"invalid mask plane name {name!r}", path)
        if plane in checked:
            raise MaskPlaneError(f"mask plane {plane} is declared twice", path)
        checked[plane] = _check_bit(plane, value, path)
    _check_unique_bits(checked, path)
    return checked


def unknown_plane_names(names: Iterable[str], planes: Mapping[str, int]) -> list[str]:
    """Names that are neither in ``planes`` nor LSST default or added planes (most likely typos)."""
    known = set(planes) | set(DEFAULT_PLANES) | set(ADDED_PLANES) | {"BRIGHT_OBJECT"}
    return [name for name in names if name not in known]


def planes_to_header(planes: Mapping[str, int]) -> dict[str, int]:
    """Return the ``MP_<NAME>`` cards describing ``planes`` (astropy writes long names as HIERARCH)."""
    return {f"{_PREFIX}{name}": bit for name, bit in sorted(planes.items(), key=lambda item: item[1])}


def merge_planes(
    input_planes: Iterable[Mapping[str, int]], added: Iterable[str] = ADDED_PLANES
) -> dict[str, int]:
    """Build the output plane dictionary from the inputs' planes (see module docstring).

    Raises
    ------
    MaskPlaneError
        If the planes do not fit in the 32 bits of the output mask.
    """
    output: dict[str, int] = {}
    used: set[int] = set()

    def place(name: str, wanted: int | None) -> None:
        if name in output:
            return
        bit = wanted if wanted is not None and wanted < OUTPUT_BITS and wanted not in used else None
        if bit is None:
            free = [b for b in range(OUTPUT_BITS) if b not in used]
            if not free:
                raise MaskPlaneError(
                    f"more than {OUTPUT_BITS} distinct mask planes; cannot place {name}")
            bit = free[0]
        output[name] = bit
        used.add(bit)

    for planes in input_planes:
        for name, bit in sorted(planes.items(), key=lambda item: item[1]):
            place(name, bit)
    for name in added:
        place(name, None)
    return output


def bit_map(input_planes: Mapping[str, int], output_planes: Mapping[str, int]) -> np.ndarray:
    """Remap table for the kernels: ``table[k]`` is the output value of input bit k (0: dropped).

    Bits of the input that no plane names are dropped.
    """
    table = np.zeros(64, dtype=np.int64)
    for name, bit in input_planes.items():
        table[bit] = np.int64(1) << np.int64(output_planes[name])
    return table


def is_identity(table: np.ndarray, input_planes: Mapping[str, int]) -> bool:
    """True if ``table`` leaves every named bit of ``input_planes`` where it is."""
    return all(table[bit] == (np.int64(1) << np.int64(bit)) for bit in input_planes.values())


def bits_of(names: Iterable[str], planes: Mapping[str, int]) -> int:
    """OR of the bits of ``names`` that exist in ``planes`` (unknown names contribute nothing)."""
    value = 0
    for name in names:
        if name in planes:
            value |= 1 << planes[name]
    return value


class _Card(NamedTuple):
    keyword: str
    value: object


def _check_bit(name: str, value: object, path: object | None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 64:
        raise MaskPlaneError(f"mask plane {name} has bit {value!r}; expected an integer in 0..63", path)
    return int(value)


def _check_unique_bits(planes: Mapping[str, int], path: object | None) -> None:
    seen: dict[int, str] = {}
    for name, bit in planes.items():
        if bit in seen:
            raise MaskPlaneError(f"mask planes {seen[bit]} and {name} share bit {bit}", path)
        seen[bit] = name
