"""A1111's grid functions of `modules.images` (`image_grid`, `draw_grid_annotations`,
`draw_prompt_matrix`, `get_font`), with A1111's signatures, over the engine's grid code.

The engine's functions take every choice as an argument; here they are read from the settings
(`n_rows`, `grid_prevent_empty_spots`, `font`, `grid_text_active_color`, `grid_text_inactive_color`,
`grid_background_color`) and the extensions' `image_grid` callbacks are handed to them, so a script
(the X/Y/Z plot, the prompt matrix, an extension's) draws its grids as the user's settings say.
"""
from __future__ import annotations

import logging
from typing import Any

from PIL import Image, ImageFont

from sdwebui.engine.images import grid_annotations, grids
from sdwebui.engine.images.grid_annotations import GridAnnotation, GridStyle
from sdwebui.services import runtime
from sdwebui.services.extensions import callbacks

__all__ = ["GridAnnotation", "annotated_grid", "plot_grids", "draw_grid_annotations", "draw_prompt_matrix", "get_font", "grid_style",
           "image_grid"]

logger = logging.getLogger(__name__)


def _opt(name: str, default: Any) -> Any:
    opts = runtime.opts
    return default if opts is None else getattr(opts, name, default)


def grid_style() -> GridStyle:
    """The grid settings as the engine's GridStyle."""
    return GridStyle(font=str(_opt("font", "") or ""), text_active=_opt("grid_text_active_color", "#000000"),
                     text_inactive=_opt("grid_text_inactive_color", "#999999"),
                     background=_opt("grid_background_color", "#ffffff"))


def get_font(fontsize: int) -> ImageFont.FreeTypeFont:
    """The grid font (the `font` setting, else the shipped one) at `fontsize` px."""
    return grid_annotations.load_font(fontsize, grid_style().font)


def image_grid(imgs: list[Image.Image], batch_size: int = 1, rows: int | None = None) -> Image.Image:
    """`imgs` in a grid on the background colour; `rows` None: the `n_rows` setting (-1 automatic,
    0 = `batch_size`) and `grid_prevent_empty_spots`. The `image_grid` callbacks may change it."""
    return grids.image_grid(imgs, rows=rows, batch_size=batch_size, n_rows=int(_opt("n_rows", -1)),
                            prevent_empty_spots=bool(_opt("grid_prevent_empty_spots", False)),
                            background=grid_style().background, hooks=callbacks)


def draw_grid_annotations(im: Image.Image, width: int, height: int, hor_texts: list[list[GridAnnotation]],
                          ver_texts: list[list[GridAnnotation]], margin: int = 0) -> Image.Image:
    """Column and row titles around the grid `im` of `width` x `height` cells, in the settings' font
    and colours (grid_annotations.draw_grid_annotations)."""
    return grid_annotations.draw_grid_annotations(im, width, height, hor_texts, ver_texts, margin, grid_style())


def draw_prompt_matrix(im: Image.Image, width: int, height: int, all_prompts: list[str],
                       margin: int = 0) -> Image.Image:
    """A prompt matrix's titles around `im` (grid_annotations.draw_prompt_matrix)."""
    return grid_annotations.draw_prompt_matrix(im, width, height, all_prompts, margin, grid_style())


def annotated_grid(cells: list[Image.Image], rows: int, hor_texts: list[list[GridAnnotation]] | None = None,
                   ver_texts: list[list[GridAnnotation]] | None = None, margin: int = 0) -> Image.Image:
    """`cells` in `rows` rows (image_grid), `margin` px apart, titled by `hor_texts` (per column) and
    `ver_texts` (per row) when given: a plot's grid. The cells' largest size is the cell size."""
    grid = image_grid(cells, rows=rows)
    if hor_texts is None and ver_texts is None and not margin:
        return grid
    width, height = map(max, zip(*(c.size for c in cells)))
    cols, rows = grid.width // width, grid.height // height     # as the image_grid callbacks left them
    return draw_grid_annotations(grid, width, height, hor_texts or [[GridAnnotation()] for _ in range(cols)],
                                 ver_texts or [[GridAnnotation()] for _ in range(rows)], margin)


def plot_grids(cells: list[Image.Image], cols: int, rows: int, x_labels: list[str] | None, y_labels: list[str] | None,
               z_labels: list[str] | None, margin: int = 0) -> tuple[Image.Image, list[Image.Image]]:
    """A plot's grids: `cells` (x fastest, then y, then z) make one grid of `cols` x `rows` per Z value,
    titled with `x_labels` / `y_labels`, and those grids side by side make the main grid, titled with
    `z_labels` (None: no titles). Returns (main grid, the grids per Z value)."""
    def titles(labels: list[str] | None) -> list[list[GridAnnotation]] | None:
        return None if labels is None else [[GridAnnotation(str(t))] for t in labels]

    per_grid = cols * rows
    subs = [annotated_grid(cells[i:i + per_grid], rows, titles(x_labels), titles(y_labels), margin)
            for i in range(0, len(cells), per_grid)]
    main = annotated_grid(subs, 1, titles(z_labels), None if z_labels is None else [[GridAnnotation()]], margin)
    return main, subs
