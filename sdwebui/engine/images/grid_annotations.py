"""Text around a grid: the column and row titles of an X/Y/Z plot or a prompt matrix, laid out as
A1111 lays them out (``modules/images.py`` there: ``draw_grid_annotations``, ``draw_prompt_matrix``).

Labels are drawn with a font shipped in ``data/`` (Liberation Sans 2.1, SIL OFL 1.1, licence beside
it), so a grid looks the same on every machine; the ``font`` option may name another font file.
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

DEFAULT_FONT = Path(__file__).resolve().parent / "data" / "LiberationSans-Regular.ttf"
STRIKE_WIDTH = 4    # the line through an inactive title (A1111's width)


@dataclass(frozen=True)
class GridStyle:
    """The grid options: `font` (a font file; empty = the shipped one), text and background colours."""
    font: str = ""
    text_active: str = "#000000"
    text_inactive: str = "#999999"
    background: str = "#ffffff"


class GridAnnotation:
    """One title line of a column or row (A1111's name); an inactive one is greyed and struck through."""

    def __init__(self, text: str = "", is_active: bool = True) -> None:
        self.text = text
        self.is_active = is_active
        self.size: tuple[int, int] | None = None
        self.allowed_width = 0

    def __repr__(self) -> str:
        return f"GridAnnotation({self.text!r}, is_active={self.is_active})"


@functools.lru_cache(maxsize=64)
def load_font(size: int, path: str = "") -> ImageFont.FreeTypeFont:
    """The TrueType font `path` at `size` px; the shipped font when `path` is empty or does not load."""
    size = max(1, int(size))
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError as e:
            logger.warning("grid font %r does not load (%s); using %s", path, e, DEFAULT_FONT.name)
    return ImageFont.truetype(str(DEFAULT_FONT), size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Words of `text` in lines no wider than `width` (a single longer word keeps its own line)."""
    lines = [""]
    for word in text.split():
        candidate = f"{lines[-1]} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _layout(texts: list[list[GridAnnotation]], allowed: int, draw: ImageDraw.ImageDraw,
            font: ImageFont.FreeTypeFont) -> list[list[GridAnnotation]]:
    """Each title wrapped to `allowed` px, one GridAnnotation per drawn line, with its size."""
    out = []
    for group in texts:
        lines = []
        for annotation in group:
            for text in _wrap(draw, annotation.text, font, allowed):
                line = GridAnnotation(text, annotation.is_active)
                left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font)
                line.size, line.allowed_width = (right - left, bottom - top), allowed
                lines.append(line)
        out.append(lines)
    return out


def _block_height(lines: list[GridAnnotation], spacing: int) -> int:
    return sum(line.size[1] for line in lines) + spacing * max(0, len(lines) - 1)


def draw_grid_annotations(im: Image.Image, width: int, height: int, hor_texts: list[list[GridAnnotation]],
                          ver_texts: list[list[GridAnnotation]], margin: int = 0,
                          style: GridStyle = GridStyle()) -> Image.Image:
    """`im`, a grid of cells `width` x `height`, with `margin` px between the cells, the titles of each
    column above it (`hor_texts`, one list of lines per column) and of each row on its left
    (`ver_texts`). The font size follows the cell size ((width + height) // 25, as A1111); a line
    too wide for its place is drawn smaller."""
    cols, rows = im.width // width, im.height // height
    if cols != len(hor_texts) or rows != len(ver_texts):
        raise ValueError(f"a {cols}x{rows} grid of {width}x{height} cells needs {cols} column and {rows} row "
                         f"titles, got {len(hor_texts)} and {len(ver_texts)}")
    active = ImageColor.getcolor(style.text_active, "RGB")
    inactive = ImageColor.getcolor(style.text_inactive, "RGB")
    background = ImageColor.getcolor(style.background, "RGB")
    fontsize = (width + height) // 25
    spacing = fontsize // 2
    font = load_font(fontsize, style.font)
    has_row_titles = any(a.text for group in ver_texts for a in group)
    pad_left = width * 3 // 4 if has_row_titles else 0

    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    hor = _layout(hor_texts, width, measure, font)
    ver = _layout(ver_texts, pad_left, measure, font)
    hor_heights = [_block_height(lines, spacing) for lines in hor]
    ver_heights = [_block_height(lines, spacing) for lines in ver]
    pad_top = max(hor_heights) + spacing * 2 if any(hor_heights) else 0

    result = Image.new("RGB", (im.width + pad_left + margin * (cols - 1), im.height + pad_top + margin * (rows - 1)),
                       background)
    for row in range(rows):
        for col in range(cols):
            cell = im.crop((width * col, height * row, width * (col + 1), height * (row + 1)))
            result.paste(cell, (pad_left + (width + margin) * col, pad_top + (height + margin) * row))

    draw = ImageDraw.Draw(result)

    def draw_lines(x: float, y: float, lines: list[GridAnnotation]) -> None:
        for line in lines:
            line_font, size = font, fontsize
            while size > 1 and draw.textlength(line.text, font=line_font) > line.allowed_width:
                size -= 1
                line_font = load_font(size, style.font)
            middle = y + line.size[1] / 2
            draw.text((x, middle), line.text, font=line_font, fill=active if line.is_active else inactive,
                      anchor="mm", align="center")
            if not line.is_active:
                draw.line((x - line.size[0] // 2, middle, x + line.size[0] // 2, middle), fill=inactive,
                          width=STRIKE_WIDTH)
            y += line.size[1] + spacing

    for col, lines in enumerate(hor):
        draw_lines(pad_left + (width + margin) * col + width / 2, pad_top / 2 - hor_heights[col] / 2, lines)
    for row, lines in enumerate(ver):
        draw_lines(pad_left / 2, pad_top + (height + margin) * row + height / 2 - ver_heights[row] / 2, lines)
    return result


def prompt_matrix_annotations(all_prompts: list[str]) -> tuple[list[list[GridAnnotation]],
                                                                list[list[GridAnnotation]]]:
    """The titles of a prompt matrix: `all_prompts[1:]` are the optional parts; the first half go
    across the columns, the rest down the rows, each column/row showing which parts it has (its
    index's bits) as active lines."""
    parts = all_prompts[1:]
    boundary = math.ceil(len(parts) / 2)
    across, down = parts[:boundary], parts[boundary:]

    def titles(texts: list[str]) -> list[list[GridAnnotation]]:
        return [[GridAnnotation(t, is_active=bool(pos & (1 << i))) for i, t in enumerate(texts)]
                for pos in range(1 << len(texts))]

    return titles(across), titles(down)


def draw_prompt_matrix(im: Image.Image, width: int, height: int, all_prompts: list[str], margin: int = 0,
                       style: GridStyle = GridStyle()) -> Image.Image:
    """A prompt matrix grid with its titles (prompt_matrix_annotations)."""
    hor, ver = prompt_matrix_annotations(all_prompts)
    return draw_grid_annotations(im, width, height, hor, ver, margin, style)
