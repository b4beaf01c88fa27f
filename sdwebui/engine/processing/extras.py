"""Extras (A1111's "postprocessing"): upscale a list of images with one or two upscalers.

Behaviour follows A1111's Extras upscale step:
- resize_mode 0 scales by `upscaling_resize`; resize_mode 1 scales by max(w/W, h/H) so the image
  covers `upscaling_resize_w` x `upscaling_resize_h`, then, with `upscaling_crop`, cuts the centre
  to exactly that size (A1111 pastes onto a black RGB canvas; here the mode is kept).
- upscaler_1 "None" means no upscaling at all (A1111 returns before the upscale step, and then
  ignores upscaler_2 too).
- upscaler_2 is computed from the original image as well and blended over upscaler_1's result
  with alpha `extras_upscaler_2_visibility`.
- Face restoration (GFPGAN/CodeFormer) is accepted and not applied: no restorer exists here. A note
  says so in html_info when a visibility is above 0.
"""
from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from sdwebui.engine.images.infotext import quote
from sdwebui.engine.upscalers import MAX_OUTPUT_SIDE, UpscalerError, UpscalerRegistry, check_scale, target_size

logger = logging.getLogger(__name__)


@dataclass
class ExtrasParams:
    """The ExtrasBaseRequest fields that affect the result (show_extras_results only affects the UI)."""
    resize_mode: int = 0
    upscaling_resize: float = 2.0
    upscaling_resize_w: int = 512
    upscaling_resize_h: int = 512
    upscaling_crop: bool = True
    upscaler_1: str = "None"
    upscaler_2: str = "None"
    extras_upscaler_2_visibility: float = 0.0
    upscale_first: bool = False   # order of face restoration vs upscaling; no restorer, so no effect
    gfpgan_visibility: float = 0.0
    codeformer_visibility: float = 0.0
    codeformer_weight: float = 0.0


@dataclass
class ExtrasResult:
    images: list[Image.Image]
    infotexts: list[str]          # per image, A1111's "postprocessing" text ("Postprocess upscale by: 2, ...")
    notes: list[str] = field(default_factory=list)  # what was asked for but not done
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
        return check_scale(size, p.upscaling_resize, "upscaling_resize"), None, info
    if p.resize_mode != 1:
        raise UpscalerError(f"resize_mode must be 0 (scale by) or 1 (scale to), got {p.resize_mode!r}", "resize_mode")
    tw, th = p.upscaling_resize_w, p.upscaling_resize_h
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
    info["Postprocess upscale to"] = f"{tw}x{th}"
    return (sw, sh), ((tw, th) if p.upscaling_crop else None), info


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


def run_extras_detailed(images: list[Image.Image], params: ExtrasParams,
                        registry: UpscalerRegistry) -> ExtrasResult:
    """Extras on every image; everything is validated before any image is processed."""
    _validate(params, registry)
    plans = [_plan(img.size, params) for img in images]

    notes = []
    if params.gfpgan_visibility > 0:
        notes.append("GFPGAN face restoration was not applied: no face restorer is available.")
    if params.codeformer_visibility > 0:
        notes.append("CodeFormer face restoration was not applied: no face restorer is available.")

    up1 = None if _is_none(params.upscaler_1) else registry.get(params.upscaler_1, "upscaler_1")
    up2 = None if _is_none(params.upscaler_2) else registry.get(params.upscaler_2, "upscaler_2")
    vis = float(params.extras_upscaler_2_visibility)

    outputs: list[Image.Image] = []
    infotexts: list[str] = []
    for image, (size, crop, info) in zip(images, plans):
        if up1 is None:
            result = image.copy()
            info = {}
        else:
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
        infotext = ", ".join(k if k == v else f"{k}: {quote(v)}" for k, v in info.items() if v is not None)
        # Keep the source's text chunks (its generation "parameters") and add A1111's postprocessing key.
        result.info = {k: v for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
        if infotext:
            result.info["postprocessing"] = infotext
        outputs.append(result)
        infotexts.append(infotext)
        logger.info("extras: %dx%d -> %dx%d %s", image.width, image.height, result.width, result.height, infotext)

    # A1111 reports the infotext of the last image processed.
    text = "\n".join(([infotexts[-1]] if infotexts and infotexts[-1] else []) + notes)
    return ExtrasResult(images=outputs, infotexts=infotexts, notes=notes, html_info=plaintext_to_html(text))


def run_extras(images: list[Image.Image], params: ExtrasParams,
               registry: UpscalerRegistry) -> tuple[list[Image.Image], str]:
    """(output images, html_info) as /sdapi/v1/extra-single-image and extra-batch-images return them."""
    result = run_extras_detailed(images, params, registry)
    return result.images, result.html_info
