"""Soft inpainting's arithmetic (A1111 1.10's built-in soft-inpainting extension; its Script is
extensions-builtin/soft-inpainting): a partially masked latent is a mix of the original and the
denoised latents that changes with the noise level, and the final picture takes the original's pixels
back wherever the result barely differs from it, instead of by the mask alone.

Everything here works on tensors and PIL images; the extension's hooks call it with what the job has."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter

from sdwebui.engine.processing import img2img_prep


@dataclass
class SoftInpaintingSettings:
    mask_blend_power: float = 1.0                   # "Schedule bias"
    mask_blend_scale: float = 0.5                   # "Preservation strength"
    inpaint_detail_preservation: float = 4.0        # "Transition contrast boost"
    composite_mask_influence: float = 0.0           # "Mask influence"
    composite_difference_threshold: float = 0.5     # "Difference threshold"
    composite_difference_contrast: float = 2.0      # "Difference contrast"


def _wide_float(t: torch.Tensor) -> torch.dtype:
    # the powered magnitudes need float64's range; MPS has no float64
    return torch.float32 if t.device.type == "mps" else torch.float64


def scheduled_nmask(settings: SoftInpaintingSettings, nmask: torch.Tensor, sigma) -> torch.Tensor:
    """How much of the denoised latent a partially masked spot takes at noise level `sigma`: the mask's
    transparency to the power sigma^bias x strength, as if the original were laid over it that many
    times. High noise keeps more of the original; at the end the denoised content takes over."""
    return torch.pow(nmask, (sigma ** settings.mask_blend_power) * settings.mask_blend_scale)


def latent_blend(settings: SoftInpaintingSettings, original: torch.Tensor, current: torch.Tensor,
                 t: torch.Tensor) -> torch.Tensor:
    """Mix `original` and `current` latents by `t` (1 = current). The direction of each latent
    pixel is mixed linearly; its length is mixed as a power mean (power = transition contrast boost),
    which leans toward the longer of the two, so half-masked spots do not lose contrast."""
    if t.dim() == 3:
        t = t.unsqueeze(0)
    t_pixel = t[:, :1]
    mixed = original * (1 - t) + current * t
    wide = _wide_float(mixed)
    p = settings.inpaint_detail_preservation
    length = torch.linalg.vector_norm(mixed, dim=1, keepdim=True).to(wide) + 0.00001
    wanted = (torch.linalg.vector_norm(original, dim=1, keepdim=True).to(wide).pow(p) * (1 - t_pixel)
              + torch.linalg.vector_norm(current, dim=1, keepdim=True).to(wide).pow(p) * t_pixel).pow(1 / p)
    return mixed * (wanted / length).to(mixed.dtype)


# --- the pixel composite ----------------------------------------------------------------------------

def gaussian_kernel(stddev_radius: float = 1.0, max_radius: int = 2) -> tuple[np.ndarray, int]:
    """A (2r+1)² bell exp(-d²/s²) shifted and rescaled so that it is 1 at the centre and reaches 0 one
    pixel beyond the radius; returns it and its centre index."""
    def bell(d2: np.ndarray | float):
        return np.exp(-d2 / (stddev_radius * stddev_radius))

    floor = bell((max_radius + 1.0) ** 2)
    offsets = np.arange(-max_radius, max_radius + 1, dtype=np.float64)
    d2 = offsets[:, None] ** 2 + offsets[None, :] ** 2
    kernel = np.maximum(0.0, (bell(d2) - floor) / (1 - floor))
    return kernel, max_radius


def weighted_histogram_filter(img: np.ndarray, kernel: np.ndarray, kernel_center: int, percentile_min: float = 0.0,
                              percentile_max: float = 1.0, min_width: float = 1.0) -> np.ndarray:
    """For every pixel: the neighbours under the kernel (inside the image), sorted by value and
    stacked with their kernel weights as heights; the mean of the values within the slice
    [min, max] percentile of that stack (at least `min_width` high), each weighted by how much of it
    lies in the slice. 0..1 is a weighted mean, 0.5..0.5 a weighted median, 0.9..1 near the maximum."""
    h, w = img.shape
    kh, kw = kernel.shape
    c = int(kernel_center)
    pads = ((c, kh - 1 - c), (c, kw - 1 - c))
    windows = np.lib.stride_tricks.sliding_window_view
    values = windows(np.pad(img.astype(np.float64), pads), (kh, kw)).reshape(h * w, kh * kw)
    inside = windows(np.pad(np.ones((h, w)), pads), (kh, kw)).reshape(h * w, kh * kw)
    weights = inside * kernel.reshape(1, -1)
    order = np.argsort(values, axis=1, kind="stable")
    values = np.take_along_axis(values, order, axis=1)
    weights = np.take_along_axis(weights, order, axis=1)
    top = np.cumsum(weights, axis=1)
    bottom = np.concatenate([np.zeros((h * w, 1)), top[:, :-1]], axis=1)
    total = top[:, -1:]
    lo, hi = total * percentile_min, total * percentile_max
    narrow = (hi - lo) < min_width
    middle = (lo + hi) / 2
    lo = np.where(narrow, middle - min_width / 2, lo)
    hi = np.where(narrow, middle + min_width / 2, hi)
    past_top = narrow & (hi > total)            # slide a too-narrow slice back inside the stack
    hi = np.where(past_top, total, hi)
    lo = np.where(past_top, total - min_width, lo)
    below = narrow & (lo < 0)
    lo = np.where(below, 0.0, lo)
    hi = np.where(below, min_width, hi)
    share = np.clip(np.minimum(top, hi) - np.maximum(bottom, lo), 0.0, None)
    weight_sum = share.sum(axis=1)
    mean = np.divide((values * share).sum(axis=1), weight_sum, out=np.zeros(h * w), where=weight_sum != 0)
    return mean.reshape(h, w).astype(img.dtype)


def smootherstep(x):
    """6x⁵ - 15x⁴ + 10x³: an S-curve from 0 to 1 on [0, 1] with flat ends."""
    return x * x * x * (x * (6 * x - 15) + 10)


def _full_size_mask(latent_mask: np.ndarray, width: int, height: int, paste_to, canvas_size) -> Image.Image:
    """A latent-sized 0..1 map of "take the result" -> the full picture's "L" mask, softened so the
    latent grid does not show, placed into the whole picture when the job worked on a crop."""
    mask = Image.fromarray((255.0 * latent_mask).astype(np.uint8))
    mask = img2img_prep.binary_mask(img2img_prep.resize_image(2, mask, width, height), round=False)
    mask = mask.filter(ImageFilter.GaussianBlur(radius=4))
    if paste_to is not None:
        mask = img2img_prep.uncrop(mask, canvas_size, paste_to)
    return mask.convert("L")


@torch.no_grad()   # the latents may come from a VAE encode that tracked gradients
def difference_masks(settings: SoftInpaintingSettings, nmask: torch.Tensor, latent_orig: torch.Tensor,
                     latent_processed: torch.Tensor, originals: list[Image.Image], width: int, height: int,
                     paste_to) -> tuple[list[Image.Image], list[Image.Image]]:
    """The composite masks (white = take the result) and overlays (the original, transparent there)
    for each image of a batch: the result is taken where its latents moved far from the original's,
    measured by a robust local maximum of the distance, against a threshold that the inpainting mask
    may scale (mask influence)."""
    latent_mask = (nmask[0] if nmask.dim() == 3 else nmask[:, 0]).float()
    scalar = 1 - torch.clamp(latent_mask, 0, 1) ** (settings.mask_blend_scale / 2)
    scalar = 0.5 * (1 - settings.composite_mask_influence) + scalar * settings.composite_mask_influence
    scalar = (scalar / (1.00001 - scalar)).cpu().numpy()
    distances = torch.linalg.vector_norm((latent_processed - latent_orig.to(latent_processed)).float(), dim=1)
    kernel, center = gaussian_kernel(stddev_radius=1.5, max_radius=2)
    masks, overlays = [], []
    for i, original in enumerate(originals):
        d = distances[min(i, len(distances) - 1)].cpu().numpy()
        d = weighted_histogram_filter(d, kernel, center, percentile_min=0.9, percentile_max=1, min_width=1)
        d = weighted_histogram_filter(d, kernel, center, percentile_min=0.25, percentile_max=0.75, min_width=1)
        s = scalar[min(i, scalar.shape[0] - 1)] if scalar.ndim == 3 else scalar
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = d / (settings.composite_difference_threshold * s)   # 1 where the original is half there
            keep = smootherstep(1 / (1 + ratio ** settings.composite_difference_contrast))
        mask = _full_size_mask(1 - keep, width, height, paste_to, original.size)
        masks.append(mask)
        overlays.append(img2img_prep.overlay_image(original, mask))
    return masks, overlays


@torch.no_grad()
def mask_only_masks(settings: SoftInpaintingSettings, nmask: torch.Tensor, originals: list[Image.Image],
                    width: int, height: int, paste_to) -> tuple[list[Image.Image], list[Image.Image]]:
    """The composite from the inpainting mask alone, for samples that are already pixels (no latents to
    compare)."""
    latent_mask = (nmask[0] if nmask.dim() == 3 else nmask[:, 0][0]).float()
    take = torch.clamp(latent_mask, 0, 1).pow(settings.mask_blend_scale / 2).cpu().numpy()
    masks, overlays = [], []
    for original in originals:
        mask = _full_size_mask(take, width, height, paste_to, original.size)
        masks.append(mask)
        overlays.append(img2img_prep.overlay_image(original, mask))
    return masks, overlays

