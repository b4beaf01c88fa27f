"""Images <-> latents through the model's VAE, as the processing objects need them: PIL images to
scaled latents (img2img, the hires pass through an image upscaler), the inpainting UNet's extra
input, and decoded tensors back to PIL images. `decode_latents` / `encode_images` follow A1111's
`sd_vae_decode_method` / `sd_vae_encode_method`: "TAESD" uses the Tiny AutoEncoder (much faster,
approximate) when its weights file is there."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from PIL import Image

from sdwebui.engine.models.preview_decoders import PreviewModelMissing
from sdwebui.engine.sampling import previews
from sdwebui.engine.sampling.loop import decode, vae_tiles

logger = logging.getLogger(__name__)


def vae_tile_above(opts: Any) -> int:
    """Option vae_tiled_min_size: images larger than this (px per side) pass the VAE in tiles."""
    return int(opts.vae_tiled_min_size or 0) if opts is not None else 0


def to_pil(x: torch.Tensor) -> list[Image.Image]:
    """Decoded images, (B, 3, H, W) in [0, 1] on the CPU -> PIL images."""
    arr = (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    return [Image.fromarray(a) for a in arr]


def _to_tensor(images: list[Image.Image]) -> torch.Tensor:
    arr = np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2) * 2.0 - 1.0


def _wants_taesd(ctx: Any, option: str) -> bool:
    return ctx is not None and getattr(ctx.opts, option, "Full") == "TAESD" and ctx.preview_decoders is not None


def decode_latents(ctx: Any, model, latents: torch.Tensor, preview_method: str | None = None) -> torch.Tensor:
    """Scaled latents -> images (B, 3, H, W) in [0, 1] on the CPU, by the job's sd_vae_decode_method.
    Without the TAESD weights the full VAE decodes (the image is never worse than asked), with a warning.
    `preview_method`: decode by that live preview method instead, scaled to the image's size (an
    interrupted job with live_preview_fast_interrupt)."""
    if preview_method is not None and ctx is not None:
        method = previews.effective_method(model, preview_method)
        rgb = previews.latents_to_rgb(model, latents, method, ctx.preview_decoders)
        f = model.vae_scale_factor
        size = (latents.shape[-2] * f, latents.shape[-1] * f)
        return rgb if rgb.shape[-2:] == size else torch.nn.functional.interpolate(rgb, size=size, mode="nearest")
    if _wants_taesd(ctx, "sd_vae_decode_method"):
        try:
            ctx.preview_decoders.taesd_decoder(model)
        except PreviewModelMissing as e:
            logger.warning("sd_vae_decode_method TAESD: %s; decoding with the full VAE", e)
        else:
            return previews.latents_to_rgb(model, latents, "TAESD", ctx.preview_decoders)
    return decode(model, latents, vae_tile_above(ctx.opts if ctx is not None else None))


def encode_images(model, images: list[Image.Image], tile_above: int = 0, ctx: Any = None) -> torch.Tensor:
    """PIL images -> scaled latents (see encode_images_tensor); with a job's `ctx`, by its
    sd_vae_encode_method (TAESD's encoder when asked and its weights file is there)."""
    if _wants_taesd(ctx, "sd_vae_encode_method"):
        try:
            return previews.rgb_to_latents(model, (_to_tensor(images) + 1) / 2, ctx.preview_decoders)
        except PreviewModelMissing as e:
            logger.warning("sd_vae_encode_method TAESD: %s; encoding with the full VAE", e)
    return encode_images_tensor(model, _to_tensor(images), tile_above)


@torch.inference_mode()
def inpainting_conditioning(model, images: list[Image.Image], mask: Image.Image | None, weight: float,
                            tile_above: int = 0, round_mask: bool = True) -> torch.Tensor:
    """Mask + masked-image latents for 9-channel inpainting UNets (A1111's inpainting_image_conditioning).
    The mask is rounded to 0/1 unless `round_mask` is off (the job's mask_round; soft inpainting)."""
    x = _to_tensor(images)
    if mask is None:
        m = torch.ones((1, 1, x.shape[2], x.shape[3]))
    else:
        m = np.asarray(mask.convert("L"), dtype=np.float32) / 255.0
        m = torch.from_numpy(np.around(m) if round_mask else m)[None, None]
    masked = torch.lerp(x, x * (1.0 - m), weight)
    latents = encode_images_tensor(model, masked, tile_above)
    m_lat = torch.nn.functional.interpolate(m, size=latents.shape[-2:]).to(latents)
    return torch.cat([m_lat.expand(latents.shape[0], -1, -1, -1), latents], dim=1)


def edit_conditioning(model, images: list[Image.Image], tile_above: int = 0) -> torch.Tensor:
    """What an instruct-pix2pix UNet sees beside the latents: the picture's unscaled VAE latents (the
    distribution's mode, as A1111's edit_image_conditioning)."""
    shift = getattr(model.vae.config, "shift_factor", None) or 0.0
    return encode_images_tensor(model, _to_tensor(images), tile_above) / model.vae.config.scaling_factor + shift


def encode_images_tensor(model, x: torch.Tensor, tile_above: int = 0) -> torch.Tensor:
    """Images in [-1, 1] -> scaled latents (the distribution's mean, so the same image always gives
    the same latents; A1111 samples it with the global RNG). Images larger than `tile_above` px
    per side (0: never) pass the VAE in tiles."""
    x = x.to(device=model.device, dtype=model.vae_dtype)
    with vae_tiles(model, x.shape[2], x.shape[3], tile_above):
        out = [model.vae.encode(x[i:i + 1]).latent_dist.mode() for i in range(x.shape[0])]
    shift = getattr(model.vae.config, "shift_factor", None) or 0.0
    return ((torch.cat(out) - shift) * model.vae.config.scaling_factor).float()
