"""Grids of images, laid out as A1111 lays them out (``modules/images.py`` there: ``image_grid``)."""
from __future__ import annotations

import logging
import math

from PIL import Image, ImageColor

from sdwebui.engine.hooks import NO_HOOKS, Hooks, ImageGridLoopParams

logger = logging.getLogger(__name__)


def grid_rows(count: int, batch_size: int = 1, n_rows: int = -1, prevent_empty_spots: bool = False) -> int:
    """A1111's row count for a grid of `count` images (option n_rows): >0 fixed, 0 = batch_size,
    -1 = round(sqrt(count)) (Python rounding), or the largest divisor <= sqrt with prevent_empty_spots."""
    if n_rows > 0:
        rows = n_rows
    elif n_rows == 0:
        rows = batch_size
    elif prevent_empty_spots:
        rows = math.floor(math.sqrt(count))
        while count % rows != 0:
            rows -= 1
    else:
        rows = round(math.sqrt(count))
    return max(1, min(rows, count))


def image_grid(imgs: list[Image.Image], rows: int | None = None, batch_size: int = 1, n_rows: int = -1, *,
               prevent_empty_spots: bool = False, background: str = "#ffffff", hooks: Hooks = NO_HOOKS) -> Image.Image:
    """Images laid out row by row in cells the size of the largest image; smaller images are centred.
    `rows` None uses A1111's rule (:func:`grid_rows`); columns = ceil(count / rows). `hooks`' image_grid
    callbacks may change the images and the layout."""
    if not imgs:
        raise ValueError("image_grid needs at least one image")
    if rows is None:
        rows = grid_rows(len(imgs), batch_size, n_rows, prevent_empty_spots)
    rows = max(1, min(rows, len(imgs)))
    cols = math.ceil(len(imgs) / rows)
    if hooks.has("image_grid"):     # extensions may change the layout (A1111's image_grid callback)
        params = ImageGridLoopParams(imgs, cols, rows)
        hooks.call("image_grid", params)
        imgs, cols, rows = params.imgs, max(1, int(params.cols)), max(1, int(params.rows))
    w, h = map(max, zip(*(img.size for img in imgs)))
    grid = Image.new("RGB", size=(cols * w, rows * h), color=ImageColor.getcolor(background, "RGB"))
    for i, img in enumerate(imgs):
        img_w, img_h = img.size
        grid.paste(img, box=(i % cols * w + (w - img_w) // 2, i // cols * h + (h - img_h) // 2))
    return grid
