"""Extras' upscale step (A1111's "Upscale" postprocessing script, scripts/postprocessing_upscale.py,
runs this): upscale an image with one or two upscalers.

Behaviour follows A1111's Extras upscale step:
- resize_mode 0 scales by `upscaling_resize`; with `max_side_length` above 0 an image whose longer
  side would exceed it is scaled to fit that side instead (no crop). resize_mode 1 scales by
  max(w/W, h/H) so the image covers `upscaling_resize_w` x `upscaling_resize_h`, then, with
  `upscaling_crop`, cuts the centre to exactly that size (A1111 pastes onto a black RGB canvas;
  here the mode is kept).
- upscaler_1 "None" means no upscaling at all (A1111 returns before the upscale step, and then
  ignores upscaler_2 too).
- upscaler_2 is computed from the original image as well and blended over upscaler_1's result
  with alpha `extras_upscaler_2_visibility`.
Face restoration and the other operations are postprocessing scripts of their own.
"""
from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Any

from PIL import Image

from sdwebui.engine.images.infotext import quote
from sdwebui.engine.upscalers import MAX_OUTPUT_SIDE, UpscalerError, UpscalerRegistry, check_scale, target_size

logger = logging.getLogger(__name__)


@dataclass
class ExtrasParams:
    """The Upscale script's arguments, under the API's (ExtrasBaseRequest's) field names."""
    resize_mode: int = 0
    upscaling_resize: float = 2.0
    upscaling_resize_w: int = 512
    upscaling_resize_h: int = 512
    upscaling_crop: bool = True
    upscaler_1: str = "None"
    upscaler_2: str = "None"
    extras_upscaler_2_visibility: float = 0.0
    max_side_length: int = 0      # scale by: the longest side allowed (0: no limit)


@dataclass
class ExtrasResult:
    images: list[Image.Image]
    infotexts: list[str]          # per image, A1111's "postprocessing" text ("Postprocess upscale by: 2, ...")
    html_info: str = ""


def _is_none(name: str | None) -> bool:
    return name is None or name.strip().lower() == "none"


def _plan(size: tuple[int, int], p: ExtrasParams) -> tuple[tuple[int, int], tuple[int, int] | None, dict[str, Any]]:
    """(size to upscale to, size to centre-crop to or None, the infotext fields saying so) for one
    image; UpscalerError when the request cannot be met."""
    w, h = size
    info: dict[str, Any] = {}
    if p.resize_mode == 0:
        info["Postprocess upscale by"] = p.upscaling_resize
        limit = p.max_side_length
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise UpscalerError(f"max_side_length must be 0 (no limit) or a positive integer, got {limit!r}",
                                "max_side_length")
        scaled = check_scale(size, p.upscaling_resize, "upscaling_resize")
        if not limit or max(scaled) <= limit:
            return scaled, None, info
        # too large: scale so the longer side is `limit` instead, keeping the aspect ratio (no crop)
        info["Max side length"] = limit
        tw, th = fit_longer_side(w * p.upscaling_resize, h * p.upscaling_resize, limit)
        crop = False
    elif p.resize_mode == 1:
        tw, th = p.upscaling_resize_w, p.upscaling_resize_h
        crop = p.upscaling_crop
    else:
        raise UpscalerError(f"resize_mode must be 0 (scale by) or 1 (scale to), got {p.resize_mode!r}", "resize_mode")
    for name, v in (("upscaling_resize_w", tw), ("upscaling_resize_h", th)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1 or v > MAX_OUTPUT_SIDE:
            raise UpscalerError(f"{name} must be an integer from 1 to {MAX_OUTPUT_SIDE}, got {v!r}", name)
    # The scale that makes the image cover the target box in both directions.
    by_w, by_h = tw / w, th / h
    scale = max(by_w, by_h)
    sw, sh = target_size(w, h, scale)
    # Rounding must never leave the scaled image a pixel short of the box it is cropped to.
    sw, sh = max(sw, tw), max(sh, th)
    if sw > MAX_OUTPUT_SIDE or sh > MAX_OUTPUT_SIDE:
        # The aspect ratios differ so much that the intermediate image would be huge.
        name = "upscaling_resize_w" if by_w >= by_h else "upscaling_resize_h"
        raise UpscalerError(f"{name}: covering {tw}x{th} from a {w}x{h} image needs a {sw}x{sh} intermediate, "
                            f"larger than the maximum {MAX_OUTPUT_SIDE}x{MAX_OUTPUT_SIDE}", name)
    if p.resize_mode == 1:
        info["Postprocess upscale to"] = f"{tw}x{th}"
    return (sw, sh), ((tw, th) if crop else None), info


def fit_longer_side(w: float, h: float, limit: int) -> tuple[int, int]:
    """(w, h) shrunk so neither side exceeds `limit`, aspect kept (A1111's limit_size_by_one_dimention)."""
    if h > w and h > limit:
        w, h = limit * w // h, limit
    elif w > limit:
        w, h = limit, limit * h // w
    return max(1, int(w)), max(1, int(h))


def _center_crop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    tw, th = size
    left, top = (image.width - tw) // 2, (image.height - th) // 2
    return image.crop((left, top, left + tw, top + th))


def _validate(p: ExtrasParams, registry: UpscalerRegistry) -> None:
    # Names are checked whatever the visibility so a typo is reported, not silently ignored.
    registry.get(p.upscaler_1, "upscaler_1")
    registry.get(p.upscaler_2, "upscaler_2")
    vis = p.extras_upscaler_2_visibility
    if not isinstance(vis, (int, float)) or not 0 <= vis <= 1:
        raise UpscalerError(f"extras_upscaler_2_visibility must be between 0 and 1, got {vis!r}",
                            "extras_upscaler_2_visibility")


def plaintext_to_html(text: str) -> str:
    """A1111's html_info: the text escaped, lines joined with <br>, in one <p>."""
    return "<p>" + "<br>\n".join(html.escape(line) for line in text.split("\n")) + "</p>"


def validate(params: ExtrasParams, registry: UpscalerRegistry, sizes: list[tuple[int, int]]) -> None:
    """UpscalerError (naming the field) when the upscale cannot be done for images of `sizes`."""
    _validate(params, registry)
    for size in sizes:
        _plan(size, params)


def upscale_image(image: Image.Image, params: ExtrasParams, registry: UpscalerRegistry,
                  info: dict[str, Any]) -> Image.Image:
    """One image through the upscale step; the infotext fields it adds go into `info`. With
    upscaler_1 "None" the image is returned as it is and nothing is added."""
    _validate(params, registry)
    if _is_none(params.upscaler_1):
        return image
    size, crop, plan_info = _plan(image.size, params)
    up1 = registry.get(params.upscaler_1, "upscaler_1")
    up2 = None if _is_none(params.upscaler_2) else registry.get(params.upscaler_2, "upscaler_2")
    vis = float(params.extras_upscaler_2_visibility)
    info.update(plan_info)
    result = registry.upscale_to_size(image, size, up1.name, field="upscaler_1")
    if crop is not None:
        result = _center_crop(result, crop)
        info["Postprocess crop to"] = f"{result.width}x{result.height}"
    info["Postprocess upscaler"] = up1.name
    if up2 is not None and vis > 0:
        if up2.name == up1.name:
            second = result  # same upscaler, same input: the blend would change nothing
        else:
            second = registry.upscale_to_size(image, size, up2.name, field="upscaler_2")
            if crop is not None:
                second = _center_crop(second, crop)
            if second.mode != result.mode:
                second = second.convert(result.mode)
        result = second.copy() if vis >= 1 else Image.blend(result, second, vis)
        info["Postprocess upscaler 2"] = up2.name
    logger.info("extras upscale: %dx%d -> %dx%d", image.width, image.height, result.width, result.height)
    return result


def format_info(info: dict[str, Any]) -> str:
    """A1111's "postprocessing" text: `key: value` pairs joined by ", " (a key equal to its value
    alone; values quoted where they need it)."""
    return ", ".join(k if k == v else f"{k}: {quote(v)}" for k, v in info.items() if v is not None)


def run_extras_detailed(images: list[Image.Image], params: ExtrasParams,
                        registry: UpscalerRegistry) -> ExtrasResult:
    """The upscale step on every image; everything is validated before any image is processed."""
    validate(params, registry, [img.size for img in images])
    outputs: list[Image.Image] = []
    infotexts: list[str] = []
    for image in images:
        info: dict[str, Any] = {}
        result = upscale_image(image, params, registry, info)
        if result is image:
            result = image.copy()
        infotext = format_info(info)
        # Keep the source's text chunks (its generation "parameters") and add A1111's postprocessing key.
        result.info = {k: v for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
        if infotext:
            result.info["postprocessing"] = infotext
        outputs.append(result)
        infotexts.append(infotext)
    # A1111 reports the infotext of the last image processed.
    text = infotexts[-1] if infotexts else ""
    return ExtrasResult(images=outputs, infotexts=infotexts, html_info=plaintext_to_html(text))


def run_upscale(images: list[Image.Image], params: ExtrasParams,
                registry: UpscalerRegistry) -> tuple[list[Image.Image], str]:
    """(output images, html_info) of the upscale step alone."""
    result = run_extras_detailed(images, params, registry)
    return result.images, result.html_info


class UpscaleCache:
    """The last few upscale results by (image pixels, settings), so re-running Extras on the same
    image with other operations changed does not upscale again (A1111's upscale cache; the
    upscaling_max_images_in_cache setting sizes it, the Extras tab's image_changed clears it)."""

    def __init__(self) -> None:
        self._items: dict[tuple, tuple[Image.Image, dict[str, Any]]] = {}

    @staticmethod
    def key(image: Image.Image, params: ExtrasParams) -> tuple:
        import hashlib

        digest = hashlib.sha1(image.tobytes()).hexdigest()
        return digest, image.size, image.mode, tuple(vars(params).items())

    def get(self, key: tuple) -> tuple[Image.Image, dict[str, Any]] | None:
        hit = self._items.pop(key, None)
        if hit is not None:
            self._items[key] = hit   # most recently used last
        return hit

    def put(self, key: tuple, image: Image.Image, info: dict[str, Any], limit: int) -> None:
        self._items[key] = (image, dict(info))
        while len(self._items) > max(0, int(limit)):
            self._items.pop(next(iter(self._items)))

    def clear(self) -> None:
        self._items.clear()
