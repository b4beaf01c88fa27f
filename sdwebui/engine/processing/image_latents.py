"""Images <-> latents through the model's VAE, as the processing objects need them: PIL images to
scaled latents (img2img, the hires pass through an image upscaler), the inpainting UNet's extra
input, and decoded tensors back to PIL images."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from sdwebui.engine.sampling.loop import vae_tiles


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


def encode_images(model, images: list[Image.Image], tile_above: int = 0) -> torch.Tensor:
    """PIL images -> scaled latents (see encode_images_tensor)."""
    return encode_images_tensor(model, _to_tensor(images), tile_above)


@torch.inference_mode()
def inpainting_conditioning(model, images: list[Image.Image], mask: Image.Image | None, weight: float,
                            tile_above: int = 0) -> torch.Tensor:
    """Mask + masked-image latents for 9-channel inpainting UNets (A1111's inpainting_image_conditioning)."""
    x = _to_tensor(images)
    if mask is None:
        m = torch.ones((1, 1, x.shape[2], x.shape[3]))
    else:
        m = torch.from_numpy(np.around(np.asarray(mask.convert("L"), dtype=np.float32) / 255.0))[None, None]
    masked = torch.lerp(x, x * (1.0 - m), weight)
    latents = encode_images_tensor(model, masked, tile_above)
    m_lat = torch.nn.functional.interpolate(m, size=latents.shape[-2:]).to(latents)
    return torch.cat([m_lat.expand(latents.shape[0], -1, -1, -1), latents], dim=1)


def encode_images_tensor(model, x: torch.Tensor, tile_above: int = 0) -> torch.Tensor:
    """Images in [-1, 1] -> scaled latents (the distribution's mean, so the same image always gives
    the same latents; A1111 samples it with the global RNG). Images larger than `tile_above` px
    per side (0: never) pass the VAE in tiles."""
    x = x.to(device=model.device, dtype=model.vae_dtype)
    with vae_tiles(model, x.shape[2], x.shape[3], tile_above):
        out = [model.vae.encode(x[i:i + 1]).latent_dist.mode() for i in range(x.shape[0])]
    shift = getattr(model.vae.config, "shift_factor", None) or 0.0
    return ((torch.cat(out) - shift) * model.vae.config.scaling_factor).float()
