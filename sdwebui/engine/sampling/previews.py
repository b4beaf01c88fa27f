"""Latents -> RGB by A1111's four methods (its `show_progress_type` / `sd_vae_decode_method` choices):

* "Full": the model's own VAE (exact, the slowest);
* "Approx NN": A1111's small VAE-approximation network (its weights file, when present);
* "Approx cheap": a fixed linear map from the 4 latent channels to RGB, at the latent's size;
* "TAESD": the Tiny AutoEncoder's decoder (its weights file, when present).

A method whose weights file is missing falls back to "Approx cheap" and says so once per file.
Everything here takes latents in the UNet's scaled space and gives (B, 3, H, W) in [0, 1] on the CPU.
"""
from __future__ import annotations

import logging

import torch
from PIL import Image

from sdwebui.engine.models.preview_decoders import PreviewDecoders, PreviewModelMissing
from sdwebui.engine.sampling.loop import decode

logger = logging.getLogger(__name__)

METHODS = ("Full", "Approx NN", "Approx cheap", "TAESD")

# Linear latent -> RGB maps (no network at all: the cheapest preview there is).
_SD1_RGB = [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]]
_SDXL_RGB = [[0.3448, 0.4168, 0.4395], [-0.1953, -0.0290, 0.0250], [0.1074, 0.0886, -0.0163], [-0.3730, -0.2499, -0.2088]]

# SD3's 16 channels (the factors A1111's SD3LatentFormat previews with)
_SD3_RGB = [[-0.0645, 0.0177, 0.1052], [0.0028, 0.0312, 0.0650], [0.1848, 0.0762, 0.0360], [0.0944, 0.0360, 0.0889],
            [0.0897, 0.0506, -0.0364], [-0.0020, 0.1203, 0.0284], [0.0855, 0.0118, 0.0283], [-0.0539, 0.0658, 0.1047],
            [-0.0057, 0.0116, 0.0700], [-0.0412, 0.0281, -0.0039], [0.1106, 0.1171, 0.1220], [-0.0248, 0.0682, -0.0481],
            [0.0815, 0.0846, 0.1207], [-0.0120, -0.0055, -0.0867], [-0.0749, -0.0634, -0.0456], [-0.1418, -0.1457, -0.1259]]

# FLUX.1's 16 channels (ComfyUI's published factors)
_FLUX_RGB = [[-0.0404, 0.0159, 0.0609], [0.0043, 0.0298, 0.0850], [0.0328, -0.0749, -0.0503], [-0.0245, 0.0085, 0.0549],
             [0.0966, 0.0894, 0.0530], [0.0035, 0.0399, 0.0123], [0.0583, 0.1184, 0.1262], [-0.0191, -0.0206, -0.0306],
             [-0.0324, 0.0055, 0.1001], [0.0955, 0.0659, -0.0545], [-0.0504, 0.0231, -0.0013], [0.0500, -0.0008, -0.0088],
             [0.0982, 0.0941, 0.0976], [-0.1233, -0.0280, -0.0897], [-0.0005, -0.0530, -0.0020], [-0.1273, -0.0932, -0.0680]]

_warned: set[str] = set()


def approximate_rgb_batch(model, latents: torch.Tensor) -> torch.Tensor:
    """The cheap colour estimate of every latent: (B, 3, H/8, W/8) in [0, 1]."""
    table = (_FLUX_RGB if getattr(model, "is_flux", False) else _SD3_RGB if getattr(model, "is_sd3", False)
             else _SDXL_RGB if model.is_sdxl else _SD1_RGB)
    coeffs = torch.tensor(table, device=latents.device, dtype=torch.float32)
    x = torch.einsum("bchw,cr->brhw", latents[:, :len(table)].float(), coeffs)
    return ((x + 1) / 2).clamp(0, 1)


def approximate_rgb(model, latents: torch.Tensor) -> torch.Tensor:
    """The cheap colour estimate of the first latent: (3, H/8, W/8) in [0, 1]."""
    return approximate_rgb_batch(model, latents[:1])[0]


def effective_method(model, method: str, *, allow_offloaded_full: bool = False) -> str:
    """A1111: with --medvram / --lowvram a "Full" preview would move the VAE back and forth every
    time; it uses "Approx NN" instead unless `live_preview_allow_lowvram_full` says otherwise."""
    if method not in METHODS:
        return "Approx cheap"
    if method == "Full" and getattr(model, "offload", None) and not allow_offloaded_full:
        return "Approx NN"
    return method


@torch.inference_mode()
def latents_to_rgb(model, latents: torch.Tensor, method: str, decoders: PreviewDecoders | None) -> torch.Tensor:
    """`latents` (B, C, h, w) -> (B, 3, H, W) in [0, 1] on the CPU, by `method`. The size is the
    method's own: the image's for Full and TAESD, half of it for Approx NN, the latent's for Approx cheap."""
    if method == "Full":
        return decode(model, latents)
    if method in ("Approx NN", "TAESD") and decoders is not None:
        try:
            net = decoders.approx_nn(model) if method == "Approx NN" else decoders.taesd_decoder(model)
        except PreviewModelMissing as e:
            _warn_once(method, str(e))
        else:
            x = net(latents.to(device=model.device, dtype=model.vae_dtype)).float()
            if method == "Approx NN":   # the approximation's output is in [-1, 1], TAESD's in [0, 1]
                x = (x + 1) / 2
            return x.clamp(0, 1).cpu()
    return approximate_rgb_batch(model, latents).cpu()


@torch.inference_mode()
def rgb_to_latents(model, images: torch.Tensor, decoders: PreviewDecoders) -> torch.Tensor:
    """TAESD's encoder: images (B, 3, H, W) in [0, 1] -> latents in the UNet's scaled space. Raises
    PreviewModelMissing without its weights file."""
    net = decoders.taesd_encoder(model)
    return net(images.to(device=model.device, dtype=model.vae_dtype)).float()


def _warn_once(method: str, why: str) -> None:
    if why not in _warned:
        _warned.add(why)
        logger.warning("%s live preview: %s; using Approx cheap", method, why)


def to_images(rgb: torch.Tensor, size: tuple[int, int] | None = None) -> list[Image.Image]:
    """(B, 3, H, W) in [0, 1] -> PIL images, scaled up to `size` (width, height) when smaller: a preview
    from the latent's colours is an eighth of the image on a side, drawn as blocks (nearest), an
    Approx NN one half of it (smoothed)."""
    arr = (rgb.permute(0, 2, 3, 1).numpy() * 255).round().astype("uint8")
    out = []
    for a in arr:
        image = Image.fromarray(a)
        if size is not None and image.size != tuple(size) and image.width < size[0]:
            factor = size[0] / image.width
            resample = Image.Resampling.NEAREST if factor >= 4 else Image.Resampling.BILINEAR
            image = image.resize(tuple(size), resample)
        out.append(image)
    return out
