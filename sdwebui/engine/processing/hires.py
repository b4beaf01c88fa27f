"""Hires fix (A1111's txt2img second pass): the target size rules, the checks and infotext fields of
a hires request, the upscale of the first pass (in latent space, the "Latent*" modes, or through an
image upscaler) and the img2img pass at the hires size with its own prompts, sampler and checkpoint."""
from __future__ import annotations

import torch
from PIL import Image

from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.processing.base import StableDiffusionProcessing, make_encoder
from sdwebui.engine.processing.image_latents import decode_latents, encode_images, to_pil, vae_tile_above
from sdwebui.engine.processing.latent_upscale import LATENT_UPSCALE_MODES
from sdwebui.engine.processing.sampler_setup import make_scheduler
from sdwebui.engine.prompt.encoding import ScheduledConditioning
from sdwebui.engine.prompt.extra_networks import parse_prompts
from sdwebui.engine.sampling import rng as rng_mod
from sdwebui.engine.sampling import samplers
from sdwebui.engine.sampling.samplers import extension_tables
from sdwebui.engine.sampling.loop import sample, txt2img_image_conditioning

DEFAULT_UPSCALER = "Latent"
DEFAULT_DENOISING = 0.7   # the A1111 UI default; the API sends null when a client does not set it

# the hr_* values that mean "as the first pass"
_SAME = ("", None, "Use same sampler", "Use same scheduler", "Use same checkpoint")


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


def prepare(p: StableDiffusionProcessing, model) -> None:
    """Check the hires request of `p` (a txt2img object with enable_hr) and fill in what the second
    pass needs (size, sampler, checkpoint, prompts) and its infotext fields, once the job's seeds and
    prompts are known."""
    ctx = p.ctx
    if p.denoising_strength is None:
        p.denoising_strength = DEFAULT_DENOISING
    p.hr_upscaler = p.hr_upscaler or DEFAULT_UPSCALER
    if not is_latent(p.hr_upscaler) and p.hr_upscaler.lower() not in (n.lower() for n in ctx.upscalers.names()):
        raise ProcessingError("hr_upscaler", f"upscaler {p.hr_upscaler!r} not found; available: "
                                             f"{[*LATENT_UPSCALE_MODES, *ctx.upscalers.names()]}")
    x, y, tx, ty = target_size(p.width, p.height, float(p.hr_scale), int(p.hr_resize_x), int(p.hr_resize_y),
                               model.vae_scale_factor)
    p.hr_upscale_to_x, p.hr_upscale_to_y, p.truncate_x, p.truncate_y = x, y, tx, ty
    if x * y > ctx.max_image_pixels:
        raise ProcessingError("hr_scale", f"hires size {x}x{y} is more than the {ctx.max_image_pixels} "
                                          "pixels this server allows (--max-image-pixels)")
    try:
        p.hr_sampler, p.hr_schedule = samplers.resolve(
            p.sampler_name if p.hr_sampler_name in _SAME else p.hr_sampler_name,
            p.scheduler if p.hr_scheduler in _SAME else p.hr_scheduler)
    except samplers.SamplerError as e:
        raise ProcessingError("hr_" + e.field if e.field == "scheduler" else "hr_sampler_name", str(e)) from None
    if p.hr_checkpoint_name not in _SAME:
        info = ctx.registry.match(p.hr_checkpoint_name)
        if info is None:
            raise ProcessingError("hr_checkpoint_name", f"checkpoint {p.hr_checkpoint_name!r} not found; "
                                                        f"available: {[c.title for c in ctx.registry.list()]}")
        p.hr_checkpoint_info = info
    n = len(p.all_prompts)
    p.all_hr_prompts = [p.hr_prompt or x for x in p.all_prompts] if p.hr_prompt else list(p.all_prompts)
    p.all_hr_negative_prompts = [p.hr_negative_prompt] * n if p.hr_negative_prompt else list(p.all_negative_prompts)
    _record_params(p)
    ctx.state.job_count = p.n_iter * 2


def _record_params(p: StableDiffusionProcessing) -> None:
    """The infotext fields of the second pass (A1111's names, only those that differ from the first)."""
    g = p.extra_generation_params
    if p.hr_resize_x == 0 and p.hr_resize_y == 0:
        g["Hires upscale"] = p.hr_scale
    else:
        g["Hires resize"] = f"{p.hr_resize_x}x{p.hr_resize_y}"
    if p.hr_second_pass_steps:
        g["Hires steps"] = p.hr_second_pass_steps
    g["Hires upscaler"] = p.hr_upscaler
    if p.hr_sampler_name not in _SAME:
        g["Hires sampler"] = p.hr_sampler.name
    if p.hr_scheduler not in _SAME:
        g["Hires schedule type"] = samplers.schedule_type_label(p.hr_sampler, p.hr_schedule)
    if p.hr_checkpoint_info is not None:
        g["Hires checkpoint"] = p.hr_checkpoint_info.short_title
    if p.hr_prompt and p.hr_prompt != p.prompt:
        g["Hires prompt"] = p.hr_prompt
    if p.hr_negative_prompt and p.hr_negative_prompt != p.negative_prompt:
        g["Hires negative prompt"] = p.hr_negative_prompt
    if p.hr_cfg_scale != float(p.cfg_scale):   # not in A1111 1.10: Forge's key, which its infotexts carry
        g["Hires CFG Scale"] = p.hr_cfg_scale


def second_pass(p: StableDiffusionProcessing, model, latents: torch.Tensor, lo: int, hi: int):
    """Upscale the first pass's `latents` (images lo..hi of the job), then img2img them at the hires
    size. Returns (latents, finished) as the sampling loop does."""
    ctx = p.ctx
    opts = ctx.opts
    w, h = p.hr_upscale_to_x, p.hr_upscale_to_y
    if is_latent(p.hr_upscaler):
        init = upscale_latents(latents, p.hr_upscaler, w, h, model.vae_scale_factor)
    else:
        images = upscale_images(to_pil(decode_latents(ctx, model, latents)), p.hr_upscaler, w, h,
                                ctx.upscalers)
    if p.hr_checkpoint_info is not None and ctx.model_manager.checkpoint_info != p.hr_checkpoint_info:
        model = ctx.model_manager.load(p.hr_checkpoint_info)
    if not is_latent(p.hr_upscaler):
        init = encode_images(model, images, vae_tile_above(opts), ctx)
    seeds = p.all_seeds[lo:hi]
    rng = rng_mod.ImageRNG(tuple(init.shape[1:]), seeds, subseeds=p.all_subseeds[lo:hi],
                           subseed_strength=p.subseed_strength, seed_resize_from_w=p.seed_resize_from_w,
                           seed_resize_from_h=p.seed_resize_from_h, factor=model.vae_scale_factor,
                           device=model.device, randn_source=opts.randn_source)
    noise = rng.first()
    rng.reseed_for_sampler(int(opts.eta_noise_seed_delta or 0))
    scheduler = make_scheduler(p, model, p.hr_sampler, p.hr_schedule, seeds, from_image=True)
    if model is not p.encoder.model:
        ctx.embeddings.refresh(model)
    encoder = p.encoder if model is p.encoder.model else make_encoder(p, model)
    # A1111 activates the hires prompts' tags for this pass (its parse_extra_network_prompts)
    p.hr_prompts, data = parse_prompts(p.all_hr_prompts[lo:hi])
    p.hr_extra_network_data = data if data is not None else {}
    if not p.disable_extra_networks:
        ctx.extra_networks.activate(p, p.hr_extra_network_data)
    conditioning = ScheduledConditioning(encoder, p.all_hr_prompts[lo:hi],
                                         p.all_hr_negative_prompts[lo:hi] if p.hr_cfg_scale != 1.0 else None,
                                         p.steps * samplers.step_multiplier(p.sampler),
                                         hires_steps=p.hr_steps * samplers.step_multiplier(p.hr_sampler))
    conditioning.distilled_cfg_scale = p.hr_distilled_cfg
    if model.uses_distilled_cfg:
        p.extra_generation_params["Hires Distilled CFG Scale"] = p.hr_distilled_cfg
    # A1111 runs the second pass's steps at the end of a longer schedule: hr_steps / strength long, its
    # last hr_steps (setup_img2img_steps with explicit steps)
    strength = min(float(p.denoising_strength), 0.999)
    total = int(p.hr_steps / strength) if strength > 0 else 0
    t_enc = p.hr_steps - 1
    ctx.state.sampling_steps = p.hr_steps
    if p.scripts is not None:
        p.scripts.before_hr(p)
    image_cond = None
    if model.is_inpainting or model.is_edit:
        image_cond = txt2img_image_conditioning(model, hi - lo, w, h)
    # the pass's own A1111 sampler object, made through create_sampler as A1111's hires pass makes it
    # (looked up at call time): an extension's sampler entry or denoiser (sd-dynamic-thresholding's)
    # guides this pass too. With "Use same sampler" it is the job's sampler name, which such an
    # extension may have pointed at its own entry.
    hr_sampler = extension_tables.create_sampler(
        p.sampler_name if p.hr_sampler_name in _SAME else p.hr_sampler.name, model)
    if total == 0:
        return crop_truncated(init, p.truncate_x, p.truncate_y), True
    out, finished = sample(model, scheduler, noise, conditioning, steps=total, rng=rng,
                           cfg_scale=p.hr_cfg_scale, width=w, height=h, generators=rng.generators,
                           callback=p.callback(model), init_latents=init, denoise_steps=t_enc,
                           image_cond=image_cond, desc="Hires", hooks=ctx.hooks, sampler=hr_sampler,
                           controls=p.unet_controls, pass_name="hires",
                           **p.refiner_for("second", p.hr_steps, lo, hi, p.all_hr_prompts[lo:hi],
                                           p.all_hr_negative_prompts[lo:hi]))
    p.extra_generation_params.update(dict.fromkeys(conditioning.padded, True))
    return crop_truncated(out, p.truncate_x, p.truncate_y), finished
