"""The image operations of A1111's training postprocessing scripts (extensions-builtin/
postprocessing-for-training): split an oversized image into overlapping tiles, crop to an
automatically chosen size, and flipped copies. The focal-point crop is in autocrop.py."""
from __future__ import annotations

import logging
import math
from typing import Iterator

from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

FLIP_CHOICES = ("Horizontal", "Vertical", "Both")
CROP_OBJECTIVES = ("Maximize area", "Minimize error")
# auto-sized crop tries sizes on this grid (A1111's)
_SIZE_STEP = 64


def split_ratio(width: int, height: int, target_w: int, target_h: int) -> tuple[float, bool]:
    """(how much of the target's aspect the image fills along its long side, whether the image is
    split across its width). A ratio below the split threshold means the image is "oversized"."""
    if height > width:
        return (width * target_h) / (height * target_w), False
    return (height * target_w) / (width * target_h), True


def split_image(image: Image.Image, across_width: bool, width: int, height: int,
                overlap_ratio: float) -> Iterator[Image.Image]:
    """Scale the image so its short side matches the target's, then cut it along its long side
    into target-sized tiles that overlap by about `overlap_ratio`, the last ending at the edge."""
    if across_width:
        long_side, short_side, tile_short, tile_long = image.width, image.height, height, width
    else:
        long_side, short_side, tile_short, tile_long = image.height, image.width, width, height
    scaled_long = long_side * tile_short // short_side
    image = image.resize((scaled_long, tile_short) if across_width else (tile_short, scaled_long))
    count = math.ceil((scaled_long - tile_long * overlap_ratio) / (tile_long * (1.0 - overlap_ratio)))
    step = (scaled_long - tile_long) / (count - 1) if count > 1 else 0
    for i in range(count):
        start = int(step * i)
        yield image.crop((start, 0, start + tile_long, tile_short) if across_width
                         else (0, start, tile_short, start + tile_long))


def center_crop_resize(image: Image.Image, w: int, h: int) -> Image.Image:
    """The largest centred box of the w:h aspect, resized (Lanczos) to w x h."""
    iw, ih = image.size
    if ih / h < iw / w:
        sw = w * ih / h
        box = ((iw - sw) / 2, 0, iw - (iw - sw) / 2, ih)
    else:
        sh = h * iw / w
        box = (0, (ih - sh) / 2, iw, ih - (ih - sh) / 2)
    return image.resize((w, h), Image.Resampling.LANCZOS, box)


def autosized_crop(image: Image.Image, mindim: int, maxdim: int, minarea: int, maxarea: int,
                   objective: str, threshold: float) -> Image.Image | None:
    """Centre-crop to the size on the 64-pixel grid (sides from mindim to maxdim, area from minarea
    to maxarea) whose aspect is within `threshold` of the image's: the largest such size
    ("Maximize area") or the one closest in aspect ("Minimize error"). None when no size fits."""
    if objective not in CROP_OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(CROP_OBJECTIVES)}, got {objective!r}")
    aspect = image.width / image.height

    def error(w: int, h: int) -> float:
        r = aspect / (w / h)
        return 1 - (r if r < 1 else 1 / r)

    sides = range(int(mindim), int(maxdim) + 1, _SIZE_STEP)
    fits = [(w, h) for w in sides for h in sides if minarea <= w * h <= maxarea and error(w, h) <= threshold]
    if not fits:
        return None
    if objective == "Maximize area":
        best = max(fits, key=lambda wh: (wh[0] * wh[1], -error(*wh)))
    else:
        best = max(fits, key=lambda wh: (-error(*wh), wh[0] * wh[1]))
    return center_crop_resize(image, *best)


def flipped_copies(image: Image.Image, options: list[str] | tuple[str, ...]) -> list[Image.Image]:
    """Mirror images for each chosen option, in A1111's order: Horizontal, Vertical, Both."""
    unknown = [o for o in options if o not in FLIP_CHOICES]
    if unknown:
        raise ValueError(f"unknown flip {unknown[0]!r}; choose from {', '.join(FLIP_CHOICES)}")
    out = []
    if "Horizontal" in options:
        out.append(ImageOps.mirror(image))
    if "Vertical" in options:
        out.append(ImageOps.flip(image))
    if "Both" in options:
        out.append(image.transpose(Image.Transpose.ROTATE_180))
    return out
