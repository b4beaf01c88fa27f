"""Hires fix helpers (A1111's txt2img second pass): the target size rules and the upscale of
the first pass, in latent space (the "Latent*" modes) or through an image upscaler."""
from __future__ import annotations

import torch
from PIL import Image

from sdwebui.engine.processing.latent_upscale import LATENT_UPSCALE_MODES

DEFAULT_UPSCALER = "Latent"
DEFAULT_DENOISING = 0.7   # the A1111 UI default; the API sends null when a client does not set it


def target_size(width: int, height: int, scale: float, resize_x: int, resize_y: int,
                factor: int = 8) -> tuple[int, int, int, int]:
    """(upscale-to width, height, truncate x, truncate y) as A1111 computes them: `hr_resize_x/y`
    win over `hr_scale`; with both set the image is scaled to cover and the excess (in latent
    pixels) is cut off afterwards."""
    if resize_x == 0 and resize_y == 0:
        return int(width * scale), int(height * scale), 0, 0
    if resize_y == 0:
        return resize_x, resize_x * height // width, 0, 0
    if resize_x == 0:
        return resize_y * width // height, resize_y, 0, 0
    if width / height < resize_x / resize_y:
        w, h = resize_x, resize_x * height // width
    else:
        w, h = resize_y * width // height, resize_y
    return w, h, (w - resize_x) // factor, (h - resize_y) // factor


def is_latent(upscaler: str | None) -> bool:
    return (upscaler or DEFAULT_UPSCALER) in LATENT_UPSCALE_MODES


def upscale_latents(latents: torch.Tensor, upscaler: str | None, width: int, height: int, factor: int) -> torch.Tensor:
    mode, antialias = LATENT_UPSCALE_MODES[upscaler or DEFAULT_UPSCALER]
    size = (height // factor, width // factor)
    if mode in ("nearest", "nearest-exact"):
        return torch.nn.functional.interpolate(latents, size=size, mode=mode)
    return torch.nn.functional.interpolate(latents, size=size, mode=mode, antialias=antialias)


def upscale_images(images: list[Image.Image], upscaler: str, width: int, height: int, registry) -> list[Image.Image]:
    return [registry.upscale_to_size(im, (width, height), upscaler, field="hr_upscaler") for im in images]


def crop_truncated(latents: torch.Tensor, truncate_x: int, truncate_y: int) -> torch.Tensor:
    """Cut the excess of a cover-scaled hires latent (centred, as A1111)."""
    if truncate_x == 0 and truncate_y == 0:
        return latents
    h, w = latents.shape[-2:]
    top, left = truncate_y // 2, truncate_x // 2
    return latents[..., top:h - (truncate_y - top), left:w - (truncate_x - left)]
