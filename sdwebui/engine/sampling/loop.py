"""The sampling pass: `sample` runs one of A1111's samplers (kdiffusion/driver.py) over the guided UNet
(guided_unet.py), so that every step reports progress, shows a preview and honours interrupt/skip; and
the VAE decode after it."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Callable, Sequence

import torch

from sdwebui.engine.control.residuals import UNetControl
from sdwebui.engine.hooks import NO_HOOKS, Hooks
from sdwebui.engine.models.single_file import SDModel
from sdwebui.engine.sampling.kdiffusion.driver import KSampler, run_ksampler
from sdwebui.engine.sampling.mask_blend import BlendHook
from sdwebui.engine.sampling.step_info import Interrupted, StepInfo  # noqa: F401  (imported from here)

logger = logging.getLogger(__name__)


@torch.inference_mode()
def sample(model: SDModel, scheduler: KSampler, noise: torch.Tensor, conditioning, *,
           steps: int, cfg_scale: float, width: int, height: int, generators: list[torch.Generator] | None,
           callback: Callable[[StepInfo], None] | None = None, desc: str = "Sampling",
           image_cond: torch.Tensor | None = None, init_latents: torch.Tensor | None = None,
           denoise_steps: int | None = None, keep_mask: torch.Tensor | None = None,
           switch_at: int | None = None, on_switch: Callable[[], tuple[SDModel, object]] | None = None,
           hooks: Hooks = NO_HOOKS, sampler: Any = None, mask_blend: BlendHook | None = None,
           controls: Sequence[UNetControl] = (), pass_name: str = "first", rng: Any = None,
           image_cfg_scale: float | None = None) -> tuple[torch.Tensor, bool]:
    """Run the sampler. `conditioning` (text_encoding.ScheduledConditioning) gives the text
    conditioning for each step. txt2img starts from pure noise; img2img (`init_latents`) noises the
    image to the level where the last `denoise_steps` + 1 steps of a `steps` schedule start (A1111's
    t_enc) and runs only those, as A1111 does. `keep_mask` (1 = keep the original) keeps the original where it is 1; `mask_blend` (the job's
    scripts' on_mask_blend) may change that blend (mask_blend.py). `image_cond` (mask + masked-image
    latents) is appended to the UNet input of inpainting models. At evaluation `switch_at`,
    `on_switch()` gives another model and its conditioning (the SDXL refiner) and the same schedule
    goes on with them. `hooks` (the job's extensions) get A1111's cfg_denoiser / cfg_denoised /
    cfg_after_cfg calls at each evaluation; `sampler` is the job's A1111 sampler object (`p.sampler`),
    whose denoiser they see (guided_unet.py). `controls` (ControlNet units, engine/control) act on each
    UNet call; `pass_name` ("first" / "hires") tells them which pass this is. `rng` (rng.ImageRNG) gives
    the noise A1111's samplers add at each step (else `generators`). `image_cfg_scale`: an
    instruct-pix2pix model's guidance towards the input picture (None or 1: plain CFG).

    `scheduler` is what samplers.create_scheduler made (kdiffusion.KSampler). Returns (latents, finished):
    finished is False when the callback stopped the pass early (interrupt / skip)."""
    return run_ksampler(scheduler, model, noise, conditioning, steps=steps, cfg_scale=cfg_scale, width=width,
                        height=height, generators=generators, rng=rng, callback=callback, desc=desc,
                        image_cond=image_cond, init_latents=init_latents, denoise_steps=denoise_steps,
                        keep_mask=keep_mask, switch_at=switch_at, on_switch=on_switch, hooks=hooks, sampler=sampler,
                        mask_blend=mask_blend, controls=controls, pass_name=pass_name, image_cfg_scale=image_cfg_scale)


@contextmanager
def vae_tiles(model: SDModel, height: int, width: int, tile_above: int):
    """Within: an image this large goes through the VAE in overlapping tiles (`tile_above` px per
    side; 0 = never). The VAE's memory grows with the image area; tiles keep it at one tile's."""
    vae = model.vae
    on = bool(tile_above) and max(height, width) > tile_above and hasattr(vae, "use_tiling")
    if not on:
        yield False
        return
    before = getattr(vae, "use_tiling", False)
    vae.use_tiling = True
    try:
        with model.eager_only():     # tiles of every odd size: not worth compiled slots
            yield True
    finally:
        vae.use_tiling = before


# The VAE decoder's peak memory is about this many copies of its first level's full-resolution
# activation, channels x height x width (measured with diffusers decoding batches of 1 and 4: SD1.5
# 512² fp16 and SDXL 1024² fp32 both need ~7.4 per image).
_DECODE_ACTIVATION_COPIES = 8


def decode_chunk_size(model: SDModel, height: int, width: int, n: int) -> int:
    """How many images to decode at once: the whole batch when its activations fit in half the free
    memory (one decoder call per image is slower on a GPU), else fewer, at least one."""
    if n <= 1:
        return 1
    element = torch.finfo(model.vae_dtype).bits // 8
    per_image = height * width * model.vae.config.block_out_channels[0] * element * _DECODE_ACTIVATION_COPIES
    if model.device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(model.device)
        free += torch.cuda.memory_reserved(model.device) - torch.cuda.memory_allocated(model.device)
    else:
        import psutil

        free = psutil.virtual_memory().available
    return max(1, min(n, int(free * 0.5 // per_image)))


@torch.inference_mode()
def decode(model: SDModel, latents: torch.Tensor, tile_above: int = 0) -> torch.Tensor:
    """Latents -> images in [0, 1], (B, 3, H, W) float32 on the CPU."""
    vae = model.vae
    scaling = vae.config.scaling_factor
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    f = model.vae_scale_factor
    images = []
    height, width = latents.shape[2] * f, latents.shape[3] * f
    with vae_tiles(model, height, width, tile_above) as tiled:
        chunk = 1 if tiled else decode_chunk_size(model, height, width, latents.shape[0])
        for i in range(0, latents.shape[0], chunk):
            z = (latents[i:i + chunk] / scaling + shift).to(device=model.device, dtype=model.vae_dtype)
            image = vae.decode(z, return_dict=False)[0].float()
            if not bool(torch.isfinite(image).all()):
                image = torch.cat([_decode_without_nan(model, z[j:j + 1]) for j in range(z.shape[0])])
            images.append(image)
    x = torch.cat(images)
    return ((x + 1) / 2).clamp(0, 1).cpu()


@torch.inference_mode()
def txt2img_image_conditioning(model: SDModel, batch: int, width: int, height: int) -> torch.Tensor:
    """What an inpainting UNet sees in txt2img (as A1111): a full mask and the latents of a
    mid-grey image, i.e. "repaint everything". An instruct-pix2pix UNet sees no picture: zero latents."""
    f = model.vae_scale_factor
    if model.is_edit:
        return torch.zeros((batch, model.latent_channels, height // f, width // f), device=model.device,
                           dtype=model.dtype)
    grey = torch.zeros((1, 3, height, width), device=model.device, dtype=model.vae_dtype)
    latents = model.vae.encode(grey).latent_dist.mode() * model.vae.config.scaling_factor
    mask = torch.ones((1, 1, *latents.shape[2:]), device=model.device, dtype=latents.dtype)
    return torch.cat([mask, latents], dim=1).repeat(batch, 1, 1, 1)


class NanImageError(RuntimeError):
    """The model produced NaN/inf values: the image would be black. Never returned silently."""


def _decode_without_nan(model: SDModel, z: torch.Tensor) -> torch.Tensor:
    """A half-precision VAE can overflow (A1111's auto_vae_precision): retry in fp32 and say so."""
    if not bool(torch.isfinite(z).all()):
        raise NanImageError("the UNet produced NaN values, the image would be black; try --no-half "
                            "(or another sampler / fewer steps)")
    if model.vae_dtype != torch.float32:
        logger.warning("VAE produced NaN in %s; decoding this image again in fp32 (use --no-half-vae to always do "
                       "so)", str(model.vae_dtype).removeprefix("torch."))
        model.vae.to(torch.float32)
        try:
            with model.eager_only():     # a one-off in fp32: compiling it would be wasted
                image = model.vae.decode(z.float(), return_dict=False)[0].float()
        finally:
            model.vae.to(model.vae_dtype)
        if bool(torch.isfinite(image).all()):
            return image
    raise NanImageError("the VAE produced NaN values, the image would be black; try --no-half-vae")
