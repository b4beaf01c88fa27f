"""Names of A1111's `modules.processing`, `modules.images`, `modules.hashes`, `modules.prompt_parser`
that the engine does not hold under those names: small helpers over the engine's own functions,
and stand-ins for what belongs to A1111's LDM conditioning objects."""
from __future__ import annotations

import hashlib
import logging
import os
from collections import namedtuple
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from sdwebui.engine.images import metadata, writing
from sdwebui.engine.models.hashes import addnet_sha256, sha256_file
from sdwebui.engine.processing import img2img_prep
from sdwebui.services import runtime
from sdwebui.services.legacy import unsupported
from sdwebui.services.legacy.misc import ImageRNG

logger = logging.getLogger(__name__)

__all__ = ["opt_C", "opt_f", "create_binary_mask", "uncrop", "create_random_tensors", "apply_overlay",
           "apply_color_correction", "setup_color_correction", "read_info_from_image", "resize_image", "flatten",
           "get_next_sequence_number", "GridAnnotation", "draw_grid_annotations", "sha256_from_cache", "sha256",
           "calculate_sha256", "addnet_hash_safetensors", "ScheduledPromptConditioning",
           "ComposableScheduledPromptConditioning", "MulticondLearnedConditioning", "get_learned_conditioning",
           "get_multicond_learned_conditioning", "reconstruct_cond_batch", "reconstruct_multicond_batch"]

opt_C = 4   # latent channels
opt_f = 8   # VAE downscale factor

# --- modules.processing ----------------------------------------------------------------------------


create_binary_mask = img2img_prep.binary_mask
uncrop = img2img_prep.uncrop


def create_random_tensors(shape: tuple[int, ...], seeds: list[int], subseeds: list[int] | None = None,
                          subseed_strength: float = 0.0, seed_resize_from_h: int = 0, seed_resize_from_w: int = 0,
                          p: Any = None) -> torch.Tensor:
    """The initial noise for `seeds` (one image each), exactly as a generation with those seeds draws it."""
    rng = ImageRNG(shape, seeds, subseeds=subseeds, subseed_strength=subseed_strength,
                   seed_resize_from_h=seed_resize_from_h, seed_resize_from_w=seed_resize_from_w)
    return rng.first()


def apply_overlay(image: Image.Image, paste_loc: tuple[int, int, int, int] | None, overlay: Image.Image | None
                  ) -> tuple[Image.Image, Image.Image]:
    """Paste a generated crop back into the full image (inpaint "only masked") and lay the original
    over the unmasked part; returns (result, the image before the overlay)."""
    if overlay is None:
        return image, image.copy()
    if paste_loc is not None:
        x, y, w, h = paste_loc
        base = Image.new("RGBA", (overlay.width, overlay.height))
        image = img2img_prep.resize_image(1, image, w, h)
        base.paste(image, (x, y))
        image = base
    original_denoised = image.copy()
    image = image.convert("RGBA")
    image.alpha_composite(overlay)
    return image.convert("RGB"), original_denoised


def setup_color_correction(image: Image.Image) -> np.ndarray:
    """The colour statistics img2img's colour correction matches (per-channel mean and spread in LAB)."""
    lab = np.asarray(image.convert("LAB"), dtype=np.float32)
    return np.stack([lab.reshape(-1, 3).mean(0), lab.reshape(-1, 3).std(0) + 1e-6])


def apply_color_correction(correction: np.ndarray, original_image: Image.Image) -> Image.Image:
    """Move `original_image`'s colours to the statistics of `correction` (A1111 matches histograms;
    this matches mean and spread per LAB channel, the same intent with numpy alone)."""
    lab = np.asarray(original_image.convert("RGB").convert("LAB"), dtype=np.float32)
    flat = lab.reshape(-1, 3)
    mean, std = flat.mean(0), flat.std(0) + 1e-6
    matched = ((flat - mean) / std * correction[1] + correction[0]).clip(0, 255).astype(np.uint8)
    return Image.fromarray(matched.reshape(lab.shape), "LAB").convert("RGB")


# --- modules.images --------------------------------------------------------------------------------

def read_info_from_image(image: Image.Image) -> tuple[str | None, dict[str, Any]]:
    """(infotext, the other metadata items), as A1111's images.read_info_from_image."""
    return metadata.read_info(image)


resize_image = img2img_prep.resize_image


def flatten(img: Image.Image, bgcolor: str) -> Image.Image:
    """An RGB image: transparency composited over `bgcolor`."""
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, bgcolor)
        background.paste(img, mask=img)
        img = background
    return img.convert("RGB")


def get_next_sequence_number(path: str, basename: str) -> int:
    """The next free number for file names in `path` (A1111's 00001- prefix)."""
    from pathlib import Path

    return writing.next_sequence_number(Path(path), basename)


class GridAnnotation:
    def __init__(self, text: str = "", is_active: bool = True) -> None:
        self.text = text
        self.is_active = is_active
        self.size: tuple[int, int] | None = None


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:       # Pillow < 10.1 has one size
        return ImageFont.load_default()


def draw_grid_annotations(im: Image.Image, width: int, height: int, hor_texts: list[list[GridAnnotation]],
                          ver_texts: list[list[GridAnnotation]], margin: int = 0) -> Image.Image:
    """`im` (a grid of cells `width` x `height`) with the column titles above and the row titles on
    the left, as A1111's X/Y plot draws them (inactive titles struck through)."""
    font = _font(max(12, (width + height) // 25))
    line_h = int(font.size * 1.4) if hasattr(font, "size") else 16
    pad_left = 0 if not any(any(a.text for a in row) for row in ver_texts) else int(width * 3 / 4)
    pad_top = max(len(t) for t in hor_texts) * line_h + line_h // 2 if hor_texts else 0
    cols, rows = len(hor_texts) or 1, len(ver_texts) or 1
    result = Image.new("RGB", (im.width + pad_left + margin * (cols - 1), im.height + pad_top + margin * (rows - 1)),
                       "white")
    for row in range(rows):
        for col in range(cols):
            cell = im.crop((width * col, height * row, width * (col + 1), height * (row + 1)))
            result.paste(cell, (pad_left + (width + margin) * col, pad_top + (height + margin) * row))
    draw = ImageDraw.Draw(result)

    def text_at(x: float, y: float, lines: list[GridAnnotation]) -> None:
        for i, line in enumerate(lines):
            color = "black" if line.is_active else "#999999"
            draw.text((x, y + i * line_h), line.text, font=font, fill=color, anchor="mm")

    for col, lines in enumerate(hor_texts):
        text_at(pad_left + (width + margin) * col + width / 2, line_h, lines)
    for row, lines in enumerate(ver_texts):
        y = pad_top + (height + margin) * row + height / 2 - (len(lines) - 1) * line_h / 2
        text_at(pad_left / 2, y, lines)
    return result


# --- modules.hashes ---------------------------------------------------------------------------------

def sha256_from_cache(filename: str, title: str, use_addnet_hash: bool = False) -> str | None:
    from sdwebui.services.shared_items import sha256_from_cache as from_cache

    return from_cache(filename, title, use_addnet_hash)


def sha256(filename: str, title: str, use_addnet_hash: bool = False) -> str:
    """The file's sha256, cached in cache.json under `title`."""
    if runtime.hash_cache is None:
        return addnet_hash_safetensors(filename) if use_addnet_hash else sha256_file(filename)
    return runtime.hash_cache.sha256(filename, title, addnet=use_addnet_hash)


calculate_sha256 = sha256_file


def addnet_hash_safetensors(b: Any) -> str:
    """The sha256 of a .safetensors file's tensor data only (after its header), as the
    additional-networks extension hashes LoRAs. `b`: an open binary file or a file name."""
    if isinstance(b, (str, os.PathLike)):
        return addnet_sha256(b)
    digest = hashlib.sha256()
    b.seek(0)
    header = int.from_bytes(b.read(8), "little")
    b.seek(header + 8)
    for block in iter(lambda: b.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


# --- modules.prompt_parser: A1111's conditioning objects -----------------------------------------

ScheduledPromptConditioning = namedtuple("ScheduledPromptConditioning", ["end_at_step", "cond"])
ComposableScheduledPromptConditioning = namedtuple("ComposableScheduledPromptConditioning", ["schedules", "weight"])


class MulticondLearnedConditioning:
    def __init__(self, shape: tuple, batch: list) -> None:
        self.shape = shape
        self.batch = batch


_CONDITIONING = ("prompts are encoded by the job's PromptEncoder with diffusers' text encoders; use "
                 "script_callbacks.on_cfg_denoiser to read or change params.text_cond / params.text_uncond")
get_learned_conditioning = unsupported("prompt_parser.get_learned_conditioning", _CONDITIONING)
get_multicond_learned_conditioning = unsupported("prompt_parser.get_multicond_learned_conditioning", _CONDITIONING)
reconstruct_cond_batch = unsupported("prompt_parser.reconstruct_cond_batch", _CONDITIONING)
reconstruct_multicond_batch = unsupported("prompt_parser.reconstruct_multicond_batch", _CONDITIONING)
