"""Outpainting arithmetic: how far each side grows (A1111's outpainting scripts round the new size
up to a multiple of 64 and share the extra pixels between opposite sides), the masks that mark what
is redrawn, and the noise Outpainting mk2 paints into the new area before img2img: noise whose
spectrum follows the picture's own (so its texture and scale continue) and whose colours are
matched to the picture's histogram. That noise is the method of g-diffuser-bot, which A1111 uses;
written here with numpy alone.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

logger = logging.getLogger(__name__)

DIRECTIONS = ("left", "right", "up", "down")


@dataclass(frozen=True)
class Expansion:
    """Pixels added on each side and the size of the grown image (both multiples of 64)."""
    left: int
    right: int
    up: int
    down: int
    width: int
    height: int


def expansion(width: int, height: int, pixels: int, directions: list[str] | tuple[str, ...]) -> Expansion:
    """Grow a `width` x `height` image by `pixels` on each named side, then round the size up to a
    multiple of 64, the extra shared between the named sides in proportion (the left/top side gets
    the floor of its share, as A1111)."""
    unknown = [d for d in directions if d not in DIRECTIONS]
    if unknown:
        raise ValueError(f"unknown outpainting direction(s) {unknown}; valid: {list(DIRECTIONS)}")
    left, right, up, down = (pixels if d in directions else 0 for d in DIRECTIONS)
    target_w = math.ceil((width + left + right) / 64) * 64
    target_h = math.ceil((height + up + down) / 64) * 64
    if left > 0:
        left = left * (target_w - width) // (left + right)
    if right > 0:
        right = target_w - width - left
    if up > 0:
        up = up * (target_h - height) // (up + down)
    if down > 0:
        down = target_h - height - up
    return Expansion(left, right, up, down, target_w, target_h)


def box_mask(size: tuple[int, int], box: tuple[float, float, float, float], mode: str = "L") -> Image.Image:
    """A mask of `size`: white (redraw) everywhere but the black rectangle `box` (x1, y1, x2, y2),
    the part that is kept."""
    mask = Image.new(mode, size, "white")
    ImageDraw.Draw(mask).rectangle(tuple(box), fill="black")
    return mask


def match_histograms(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`source` (N x C) with each channel's values moved so that their distribution is the one of
    `reference` (M x C): every value goes to the reference value at the same quantile."""
    out = np.empty_like(source, dtype=np.float64)
    for c in range(source.shape[1]):
        values, inverse, counts = np.unique(source[:, c], return_inverse=True, return_counts=True)
        ref_values, ref_counts = np.unique(reference[:, c], return_counts=True)
        quantiles = np.cumsum(counts) / source.shape[0]
        ref_quantiles = np.cumsum(ref_counts) / reference.shape[0]
        out[:, c] = np.interp(quantiles, ref_quantiles, ref_values)[inverse.reshape(-1)]
    return out


def _spectrum(data: np.ndarray) -> np.ndarray:
    """Orthonormal 2-D FFT over the first two axes, zero frequency in the centre."""
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(data, axes=(0, 1)), axes=(0, 1), norm="ortho"), axes=(0, 1))


def _image(spectrum: np.ndarray) -> np.ndarray:
    """The inverse of _spectrum."""
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(spectrum, axes=(0, 1)), axes=(0, 1), norm="ortho"),
                           axes=(0, 1))


def _low_pass(rows: int, cols: int) -> np.ndarray:
    """A soft low-pass window over a centred spectrum: 1 / ((x^2 + 1) (y^2 + 1)), with x and y in
    [-1, 1) stretched by the aspect ratio."""
    short = min(rows, cols)
    y = (np.arange(rows) / rows * 2.0 - 1.0) * (rows / short)
    x = (np.arange(cols) / cols * 2.0 - 1.0) * (cols / short)
    return 1.0 / np.outer(y ** 2 + 1.0, x ** 2 + 1.0)


def matched_noise(image: np.ndarray, mask: np.ndarray, noise_q: float = 1.0, color_variation: float = 0.05,
                  seed: int = 0) -> np.ndarray:
    """`image` (H x W x 3 floats in 0..1) with the area `mask` (H x W x 3, 1 = new) filled with noise
    shaped like the kept part: the noise's spectrum is the kept part's raised to `noise_q` (lower =
    more fine detail) with its phases, and its colours follow the kept part's histogram.
    `color_variation` (0..1) is how colourful the starting noise is. Deterministic for a `seed`."""
    image = image.astype(np.float64)
    mask = mask.astype(np.float64)
    rows, cols, channels = image.shape
    grey_mask = mask.mean(axis=2)
    fill_area = grey_mask > 1e-6
    reference_area = grey_mask < 1e-3

    # the kept part, the new area set to the picture's mean colour (a black hole would dominate the spectrum)
    kept = image * (1.0 - grey_mask[..., None])
    peak = kept.max()
    windowed = (kept / peak if peak > 0 else kept) + image.mean() * mask
    source_spectrum = _spectrum(windowed)
    magnitude = np.abs(source_spectrum)
    phase = source_spectrum / np.where(magnitude == 0, 1.0, magnitude)

    rng = np.random.default_rng(seed)
    noise = rng.random((rows, cols, channels))
    grey = noise.mean(axis=2, keepdims=True)
    noise = noise * color_variation + (1.0 - color_variation) * grey
    noise = np.real(_image(_spectrum(noise) * _low_pass(rows, cols)[..., None]))
    shaped = np.abs(_spectrum(noise)) ** 2 * magnitude ** noise_q * phase
    shaped = np.real(_image(shaped))
    shaped -= shaped.min()
    top = shaped.max()
    if top > 0:
        shaped /= top
    if fill_area.any() and reference_area.any():
        shaped[fill_area] = match_histograms(shaped[fill_area], image[reference_area])
    return np.clip(image * (1.0 - mask) + shaped * mask, 0.0, 1.0)


def matched_noise_image(image: Image.Image, mask: Image.Image, noise_q: float = 1.0,
                        color_variation: float = 0.05) -> Image.Image:
    """matched_noise over PIL images: `mask` white where the noise goes."""
    arr = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    mask_arr = np.asarray(mask.convert("RGB"), dtype=np.float64) / 255.0
    out = matched_noise(arr, mask_arr, noise_q, color_variation)
    return Image.fromarray(np.clip(out * 255.0, 0, 255).astype(np.uint8), "RGB")
