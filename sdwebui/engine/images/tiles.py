"""Cutting an image into overlapping tiles and joining them back with soft seams: what SD upscale
and poor man's outpainting redraw tile by tile (A1111's `images.split_grid` / `combine_grid` and its
`Grid` tuple, whose layout extensions such as Ultimate SD Upscale read)."""
from __future__ import annotations

import logging
import math
from collections import namedtuple

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

# tiles: [[y, tile_h, [[x, tile_w, tile_image], ...]], ...]: rows top to bottom, each a list of
# mutable [x, w, image] cells (callers replace the image in place before combine_grid)
Grid = namedtuple("Grid", ["tiles", "tile_w", "tile_h", "image_w", "image_h", "overlap"])


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    """Where the tiles along one side begin: as few as cover `size` with at least `overlap` shared
    pixels, spread evenly, the last one flush with the far edge."""
    if tile >= size:
        return [0]
    count = math.ceil((size - overlap) / (tile - overlap))
    if count <= 1:
        return [0]
    step = (size - tile) / (count - 1)
    return [min(int(i * step), size - tile) for i in range(count)]


def split_grid(image: Image.Image, tile_w: int = 512, tile_h: int = 512, overlap: int = 64) -> Grid:
    """`image` as a Grid of `tile_w` x `tile_h` tiles overlapping by at least `overlap` pixels. A
    side shorter than its tile gives one tile padded with black (the crop reaches past the edge)."""
    if tile_w <= overlap or tile_h <= overlap:
        raise ValueError(f"tile size {tile_w}x{tile_h} must be larger than the overlap {overlap}")
    w, h = image.size
    rows = []
    for y in _starts(h, tile_h, overlap):
        cells = [[x, tile_w, image.crop((x, y, x + tile_w, y + tile_h))] for x in _starts(w, tile_w, overlap)]
        rows.append([y, tile_h, cells])
    return Grid(rows, tile_w, tile_h, w, h, overlap)


def _ramp(length: int, across: int, horizontal: bool) -> Image.Image:
    """An "L" mask rising from 0 to 255 over `length` pixels (left to right, or top to bottom), used
    to fade a tile's overlapping edge into what is already there."""
    values = (np.arange(length, dtype=np.float32) * 255 / max(length, 1)).astype(np.uint8)
    arr = np.tile(values, (across, 1)) if horizontal else np.tile(values[:, None], (1, across))
    return Image.fromarray(arr, "L")


def combine_grid(grid: Grid) -> Image.Image:
    """The tiles of `grid` joined into one `image_w` x `image_h` RGB image; each tile fades in over
    the `overlap` pixels it shares with the tile to its left and the row above."""
    overlap = grid.overlap
    out = Image.new("RGB", (grid.image_w, grid.image_h))
    for y, h, cells in grid.tiles:
        row = Image.new("RGB", (grid.image_w, h))
        for x, w, tile in cells:
            tile = tile.convert("RGB")
            if x == 0 or overlap <= 0:
                row.paste(tile, (x, 0))
                continue
            row.paste(tile.crop((0, 0, overlap, h)), (x, 0), mask=_ramp(overlap, h, horizontal=True))
            row.paste(tile.crop((overlap, 0, w, h)), (x + overlap, 0))
        if y == 0 or overlap <= 0:
            out.paste(row, (0, y))
            continue
        out.paste(row.crop((0, 0, row.width, overlap)), (0, y), mask=_ramp(overlap, row.width, horizontal=False))
        out.paste(row.crop((0, overlap, row.width, h)), (0, y + overlap))
    return out
