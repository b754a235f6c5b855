"""Pure geometry: split a patch into tiles that fit a memory budget."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: Bytes per output pixel held for the whole patch: image, variance, mask, nimage.
OUTPUT_BYTES_PER_PIXEL = 16
#: Smallest share of the budget left to tiles, whatever the outputs take.
_MIN_TILE_BYTES = 16 * 1024**2
#: Tile buffers beyond this size only cost page faults and cache misses, not speed.
WORKING_SET_BYTES = 128 * 1024**2


@dataclass(frozen=True)
class Tile:
    """A rectangle of the patch: rows ``[y0, y1)`` and columns ``[x0, x1)``."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def rows(self) -> slice:
        """Row slice."""
        return slice(self.y0, self.y1)

    @property
    def cols(self) -> slice:
        """Column slice."""
        return slice(self.x0, self.x1)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return (self.y1 - self.y0, self.x1 - self.x0)


def plan_tile_shape(shape: tuple[int, int], bytes_per_pixel: int, budget: int,
                    working_set: int = WORKING_SET_BYTES) -> tuple[int, int]:
    """Largest tile shape whose buffers fit in ``budget`` after the whole-patch outputs.

    Tiles span full rows when at least one row fits (contiguous reads); otherwise they
    are one row high and as wide as fits. Buffers never exceed ``working_set`` bytes
    (larger tiles are no faster), unless one row needs more.

    Parameters
    ----------
    shape : (int, int)
        Patch shape (rows, columns).
    bytes_per_pixel : int
        Bytes of tile buffers per pixel of a tile (all inputs together).
    budget : int
        Memory budget in bytes.
    working_set : int
        Upper bound of the tile buffers in bytes.
    """
    ny, nx = shape
    available = min(max(budget - OUTPUT_BYTES_PER_PIXEL * ny * nx, _MIN_TILE_BYTES), working_set)
    pixels = max(available // max(bytes_per_pixel, 1), 1)
    if pixels >= nx:
        return (int(min(ny, pixels // nx)), nx)
    return (1, int(pixels))


def iter_tiles(shape: tuple[int, int], tile_shape: tuple[int, int]) -> Iterator[Tile]:
    """Tiles covering ``shape`` in row-major order; edge tiles are smaller."""
    ny, nx = shape
    ty, tx = tile_shape
    for y0 in range(0, ny, ty):
        for x0 in range(0, nx, tx):
            yield Tile(y0, min(y0 + ty, ny), x0, min(x0 + tx, nx))
