"""Image and mask preparation for img2img and inpainting, with A1111's semantics:
resize modes, separable Gaussian mask blur, the "only masked" crop region, the "fill"
masked-content mode and the final overlay that puts unmasked pixels back unchanged."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter, ImageOps

LANCZOS = Image.Resampling.LANCZOS

RESIZE_MODES = {0: "Just resize", 1: "Crop and resize", 2: "Resize and fill", 3: "Just resize (latent upscale)"}
FILL_MODES = {0: "fill", 1: "original", 2: "latent noise", 3: "latent nothing"}


def resize_image(mode: int, image: Image.Image, width: int, height: int) -> Image.Image:
    """0: stretch to width x height; 1: scale to cover, then centre-crop; 2: scale to fit, then fill the
    borders by stretching the image's edge rows/columns (A1111's "Resize and fill")."""
    if mode in (0, 3) or image.size == (width, height):
        return image.resize((width, height), LANCZOS)
    ratio, src_ratio = width / height, image.width / image.height
    if mode == 1:
        w = max(1, width if ratio > src_ratio else image.width * height // image.height)
        h = max(1, height if ratio <= src_ratio else image.height * width // image.width)
        resized = image.resize((w, h), LANCZOS)
        out = Image.new(image.mode, (width, height))
        out.paste(resized, box=(width // 2 - w // 2, height // 2 - h // 2))
        return out
    if mode == 2:
        w = max(1, width if ratio < src_ratio else image.width * height // image.height)
        h = max(1, height if ratio >= src_ratio else image.height * width // image.width)
        resized = image.resize((w, h), LANCZOS)
        out = Image.new(image.mode, (width, height))
        out.paste(resized, box=(width // 2 - w // 2, height // 2 - h // 2))
        if ratio < src_ratio:
            gap = height // 2 - h // 2
            if gap > 0:
                out.paste(resized.resize((width, gap), box=(0, 0, width, 0)), box=(0, 0))
                out.paste(resized.resize((width, gap), box=(0, resized.height, width, resized.height)),
                          box=(0, gap + h))
        elif ratio > src_ratio:
            gap = width // 2 - w // 2
            if gap > 0:
                out.paste(resized.resize((gap, height), box=(0, 0, 0, height)), box=(0, 0))
                out.paste(resized.resize((gap, height), box=(resized.width, 0, resized.width, height)),
                          box=(gap + w, 0))
        return out
    raise ValueError(f"resize_mode must be one of {sorted(RESIZE_MODES)}")


def _gaussian_kernel(sigma: float) -> np.ndarray:
    size = 2 * int(2.5 * sigma + 0.5) + 1        # the kernel width A1111 uses for its cv2 blur
    x = np.arange(size) - size // 2
    k = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def blur_mask(mask: Image.Image, blur_x: int, blur_y: int) -> Image.Image:
    """Separable Gaussian blur along x then y (edges replicated)."""
    arr = np.asarray(mask.convert("L"), dtype=np.float32)
    for axis, sigma in ((1, blur_x), (0, blur_y)):
        if sigma > 0:
            k = _gaussian_kernel(float(sigma))
            pad = len(k) // 2
            padded = np.pad(arr, [(pad, pad) if a == axis else (0, 0) for a in range(2)], mode="edge")
            arr = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), axis, padded)
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L")


def mask_crop_region(mask: Image.Image, padding: int = 0) -> tuple[int, int, int, int] | None:
    """Bounding box (x1, y1, x2, y2) of the non-zero mask grown by `padding`, clipped to the image."""
    box = mask.convert("L").point(lambda v: 255 if v > 0 else 0).getbbox()
    if box is None:
        return None
    x1, y1, x2, y2 = box
    w, h = mask.size
    return max(x1 - padding, 0), max(y1 - padding, 0), min(x2 + padding, w), min(y2 + padding, h)


def _grow_span(lo: float, hi: float, want: float, limit: int) -> tuple[float, float]:
    """Widen [lo, hi] symmetrically to length `want`, shifted back inside [0, limit]."""
    grow = want - (hi - lo)
    lo, hi = lo - grow / 2, hi + grow / 2
    if lo < 0:
        hi, lo = hi - lo, 0
    if hi > limit:
        lo, hi = lo - (hi - limit), limit
    return max(lo, 0), hi


def expand_crop_region(region: tuple[int, int, int, int], width: int, height: int,
                       image_width: int, image_height: int) -> tuple[int, int, int, int]:
    """Grow the crop region to the processing aspect ratio (width:height) within the image, so the
    crop is not distorted when it is scaled to the processing size."""
    x1, y1, x2, y2 = region
    ratio = width / height
    crop_w, crop_h = x2 - x1, y2 - y1
    if crop_w / crop_h < ratio:       # too tall: widen
        x1, x2 = _grow_span(x1, x2, crop_h * ratio, image_width)
    else:                             # too wide: heighten
        y1, y2 = _grow_span(y1, y2, crop_w / ratio, image_height)
    return int(math.floor(x1)), int(math.floor(y1)), int(math.ceil(x2)), int(math.ceil(y2))


def fill_masked(image: Image.Image, mask: Image.Image) -> Image.Image:
    """"fill" masked content: paint the masked area with ever blurrier copies of the surroundings,
    so the sampler starts from the local colours instead of the old content."""
    base = Image.new("RGBA", image.size)
    rgba = image.convert("RGBA")
    inverse = ImageOps.invert(mask.convert("L"))
    cut = Image.new("RGBa", image.size)
    cut.paste(rgba.convert("RGBa"), mask=inverse)
    cut = cut.convert("RGBA")
    for radius, repeats in ((256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1)):
        blurred = cut.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
        for _ in range(repeats):
            base.alpha_composite(blurred)
    return base.convert("RGB")


def binary_mask(image: Image.Image, round: bool = True) -> Image.Image:
    """A mask as "L": an RGBA image's alpha channel when it has transparency (thresholded at half
    unless `round` is off, which keeps a soft mask soft), else the image in grey (A1111's
    create_binary_mask)."""
    if image.mode == "RGBA" and image.getextrema()[-1] != (255, 255):
        image = image.split()[-1].convert("L")
        return image.point(lambda x: 255 if x > 128 else 0) if round else image
    return image.convert("L")


def overlay_image(original: Image.Image, mask: Image.Image) -> Image.Image:
    """The original as an RGBA layer, transparent where the mask is white: laid over a result it puts
    the original back wherever the (blurred) mask is not fully white, so unmasked pixels come back
    exactly as they were sent (A1111's overlay_images)."""
    overlay = Image.new("RGBa", original.size)
    overlay.paste(original.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(mask.convert("L")))
    return overlay.convert("RGBA")


def uncrop(image: Image.Image, dest_size: tuple[int, int], paste_loc: tuple[int, int, int, int]) -> Image.Image:
    """A crop ("only masked") scaled back into its box `paste_loc` (x, y, w, h) on a transparent RGBA
    canvas of `dest_size` (A1111's processing.uncrop)."""
    x, y, w, h = paste_loc
    canvas = Image.new("RGBA", dest_size)
    canvas.paste(resize_image(1, image, w, h), (x, y))
    return canvas


def apply_overlay(result: Image.Image, paste_to: tuple[int, int, int, int] | None, overlay: Image.Image | None,
                  base: Image.Image | None = None) -> Image.Image:
    """The finished image: a crop ("only masked") pasted back at `paste_to` into `base` (the whole
    original), then `overlay` laid over it."""
    if paste_to is not None and base is not None:
        x, y, w, h = paste_to
        base = base.copy()
        base.paste(result.resize((w, h), LANCZOS), (x, y))
        result = base
    if overlay is None:
        return result
    out = result.convert("RGBA")
    out.alpha_composite(overlay)
    return out.convert("RGB")
