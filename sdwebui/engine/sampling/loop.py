"""The denoising loop: our own loop over a diffusers scheduler and UNet, so that every step
can report progress, show a preview, honour interrupt/skip and (later) switch conditioning."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from tqdm import tqdm

from sdwebui.engine.control.residuals import UNetCall, UNetControl, call_unet, controls_pass
from sdwebui.engine.hooks import NO_HOOKS, AfterCFGCallbackParams, CFGDenoisedParams, CFGDenoiserParams, Hooks
from sdwebui.engine.models.single_file import SDModel
from sdwebui.engine.sampling.denoiser import CFGDenoiser
from sdwebui.engine.sampling.mask_blend import BlendHook, blend_final, blend_step
from sdwebui.engine.sampling.prediction import alpha_at, to_x0

logger = logging.getLogger(__name__)


class Interrupted(Exception):
    """Raised by the step callback to stop the loop; the loop returns the latent so far."""


@dataclass
class StepInfo:
    step: int           # 1-based number of model evaluations done
    total: int
    latents: torch.Tensor
    # the model's prediction of the finished latents (x0) at this step, for live previews, by A1111's
    # `live_preview_content`: "Prompt" (the cond rows), "Negative prompt" (the uncond rows) or
    # "Combined" (after guidance). Computed only when called; None where the loop has no prediction.
    denoised: Callable[[str], torch.Tensor] | None = None


def _time_ids(model: SDModel, width: int, height: int, aesthetic_score: float) -> list[float]:
    if model.family == "sdxl-refiner":
        return [height, width, 0, 0, aesthetic_score]      # refiner: size, crop, aesthetic score
    return [height, width, 0, 0, height, width]            # base: original size, crop, target size


def _combine(out: torch.Tensor, batch, images: int, cfg_scale: float, use_cfg: bool) -> torch.Tensor:
    """Classifier-free guidance over the batch rows; with AND, each image sums its weighted
    sub-prompts' differences from its uncond (composable diffusion, as A1111)."""
    if use_cfg:
        u, c = out[:images], out[images:]
        if batch.simple:
            return u + cfg_scale * (c - u)
        res = u.clone()
        for i, group in enumerate(batch.groups):
            for row, weight in group:
                res[i] += cfg_scale * weight * (c[row] - u[i])
        return res
    c = out[batch.n_uncond:]
    if batch.simple:
        return c
    res = torch.zeros_like(out[:images])
    for i, group in enumerate(batch.groups):
        total = sum(w for _, w in group) or 1.0
        for row, weight in group:
            res[i] += weight / total * c[row]
    return res


@torch.inference_mode()
def sample(model: SDModel, scheduler, noise: torch.Tensor, conditioning, *,
           steps: int, cfg_scale: float, width: int, height: int, generators: list[torch.Generator] | None,
           callback: Callable[[StepInfo], None] | None = None, desc: str = "Sampling",
           image_cond: torch.Tensor | None = None, init_latents: torch.Tensor | None = None,
           denoise_steps: int | None = None, keep_mask: torch.Tensor | None = None,
           switch_at: int | None = None, on_switch: Callable[[], tuple[SDModel, object]] | None = None,
           hooks: Hooks = NO_HOOKS, sampler: Any = None, mask_blend: BlendHook | None = None,
           controls: Sequence[UNetControl] = (), pass_name: str = "first"
           ) -> tuple[torch.Tensor, bool]:
    """Run the scheduler. `conditioning` (text_encoding.ScheduledConditioning) gives the text
    conditioning for each step. txt2img starts from pure noise; img2img (`init_latents`) noises the
    image to the level of the last `denoise_steps` of a `steps` schedule and runs only those, as A1111
    does. `keep_mask` (1 = keep the original) re-imposes the original, noised to the current level,
    after every step and at the end; `mask_blend` (the job's scripts' on_mask_blend) may change that
    blend (mask_blend.py). `image_cond` (mask + masked-image latents) is appended to the
    UNet input of inpainting models. At step index `switch_at`, `on_switch()` gives another model and
    its conditioning (the SDXL refiner) and the same schedule goes on with them. `hooks` (the job's
    extensions) get A1111's cfg_denoiser / cfg_denoised / cfg_after_cfg calls at each step. `sampler` is
    the job's A1111 sampler object (`p.sampler`) when it has one: its `model_wrap_cfg` is the denoiser
    the callbacks see, and when an extension's subclass overrides `combine_denoised`, that computes
    the guidance (`_extension_guidance`); otherwise the guidance is `_combine`, as without one.
    `controls` (ControlNet units, engine/control) add their residuals to each UNet call; `pass_name`
    ("first" / "hires") tells them which pass this is. Returns
    (latents, finished): finished is False when the callback stopped the loop early (interrupt / skip)."""
    device = model.device
    scheduler.set_timesteps(steps, device=device)
    timesteps = scheduler.timesteps
    noise = noise.to(device=device, dtype=torch.float32)
    if init_latents is None:
        latents = noise * scheduler.init_noise_sigma
    else:
        init_latents = init_latents.to(device=device, dtype=torch.float32)
        t_enc = steps if denoise_steps is None else max(0, min(int(denoise_steps), steps))
        start = (steps - t_enc) * getattr(scheduler, "order", 1)
        timesteps = timesteps[start:]
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(start)
        latents = scheduler.add_noise(init_latents, noise, timesteps[:1]) if len(timesteps) else init_latents.clone()
    if keep_mask is not None:
        keep_mask = keep_mask.to(device=device, dtype=torch.float32)
    if image_cond is not None:
        image_cond = image_cond.to(device=device, dtype=model.dtype)
    images = latents.shape[0]

    finished = True
    rows_key, rows = None, None
    # extensions' cfg callbacks; checked once so the loop pays nothing when none is registered
    hooked = hooks.has("cfg_denoiser") or hooks.has("cfg_denoised") or hooks.has("cfg_after_cfg")
    denoiser = getattr(sampler, "model_wrap_cfg", None)
    extension_guidance = denoiser is not None and denoiser.overrides_combine()
    if denoiser is None and hooked:
        denoiser = CFGDenoiser()
    if denoiser is not None:
        denoiser.model, denoiser.steps, denoiser.total_steps, denoiser.step = model, steps, len(timesteps), 0
        denoiser.init_latent, denoiser.mask = init_latents, keep_mask
        denoiser.nmask = None if keep_mask is None else 1 - keep_mask
    compiled, graphs = bool(model.compiled), model.runs_as_cuda_graphs()
    # the timesteps on the host, read once: the callback's x0 prediction needs each step's noise level
    # without a device sync per step
    timesteps_host = timesteps.cpu() if callback is not None else None
    kind = scheduler.config.get("prediction_type", "epsilon")
    with controls_pass(controls, model), tqdm(total=len(timesteps), desc=desc, unit="it", leave=False,
                                              dynamic_ncols=True) as bar:
        for i, t in enumerate(timesteps):
            if on_switch is not None and i == switch_at:
                model, conditioning = on_switch()
                device = model.device
                compiled, graphs = bool(model.compiled), model.runs_as_cuda_graphs()
                rows_key = None
            batch = conditioning.at(i)
            use_cfg = batch.n_uncond > 0 and cfg_scale != 1.0
            if rows_key is not batch:   # which image each UNet row belongs to; changes only with the texts
                cond_rows = list(range(images)) if batch.simple else batch.cond_image_index
                rows = (list(range(images)) if use_cfg else []) + cond_rows
                rows_key = batch
                context = batch.context if use_cfg else batch.context[batch.n_uncond:]
                added = None
                if model.is_sdxl:
                    pooled = batch.pooled if use_cfg else batch.pooled[batch.n_uncond:]
                    n_u = images if use_cfg else 0
                    ids = [_time_ids(model, width, height, 2.5 if r < n_u else 6.0) for r in range(len(rows))]
                    added = {"text_embeds": pooled,
                             "time_ids": torch.tensor(ids, device=device, dtype=model.dtype)}
                row_index = torch.tensor(rows, device=device)
                identity = rows == list(range(images))
            x_in = latents if identity else latents.index_select(0, row_index)
            x_in = scheduler.scale_model_input(x_in, t).to(model.dtype)
            text_states = context
            if denoiser is not None:
                denoiser.step, denoiser.model = i, model
            if hooked:
                x_in, text_states = _before_unet(hooks, x_in, text_states, image_cond, scheduler, t, i,
                                                 len(timesteps), images if use_cfg else 0, denoiser)
            x_plain = x_in
            if image_cond is not None:
                x_in = torch.cat([x_in, image_cond.index_select(0, row_index)], dim=1)
            if graphs:   # the previous step's graph outputs are consumed: CUDA graphs may reuse them
                torch.compiler.cudagraph_mark_step_begin()
            # a compiled UNet guards on the timestep's dtype: one dtype whatever the scheduler uses (the
            # UNet's time embedding casts to float anyway, so the result is the same)
            t_in = t.to(torch.float32) if compiled else t
            def run(extra: dict, added: dict | None, x_in=x_in, t_in=t_in, text_states=text_states, model=model):
                return model.unet(x_in, t_in, encoder_hidden_states=text_states, added_cond_kwargs=added,
                                  return_dict=False, **extra)[0]
            if controls:
                call = UNetCall(x_plain, t_in, i, len(timesteps), text_states, added, images if use_cfg else 0, rows,
                                pass_name, model, x_in[:, x_plain.shape[1]:] if image_cond is not None else None,
                                alpha=lambda t=t: alpha_at(scheduler, t), prediction_type=kind)
                out = call_unet(controls, call, run)
            else:
                out = run({}, added).float()
            if hooked:
                params = CFGDenoisedParams(out, i, len(timesteps), model.unet)
                hooks.call("cfg_denoised", params)
                out = params.x
            raw = out
            if extension_guidance and use_cfg:
                uncond = text_states[:images]
                if added is not None:
                    uncond = {"crossattn": uncond, "vector": added["text_embeds"][:images]}
                out = _extension_guidance(denoiser, out, x_plain.float(), batch, images, cfg_scale, scheduler, t,
                                          uncond)
            else:
                out = _combine(out, batch, images, cfg_scale, use_cfg)
            if hooked:
                params = AfterCFGCallbackParams(out, i, len(timesteps))
                hooks.call("cfg_after_cfg", params)
                out = params.x
            step_index = getattr(scheduler, "step_index", None)
            latents = scheduler.step(out, t, latents, generator=generators, return_dict=False)[0]
            if keep_mask is not None and mask_blend is not None:    # scripts' on_mask_blend (mask_blend.py)
                latents = blend_step(mask_blend, latents, keep_mask, init_latents, noise, scheduler, timesteps, i, t,
                                     denoiser)
            elif keep_mask is not None and i + 1 < len(timesteps):
                original = scheduler.add_noise(init_latents, noise, timesteps[i + 1:i + 2])
                latents = original * keep_mask + latents * (1 - keep_mask)
            bar.update(1)
            if callback is not None:
                try:
                    callback(StepInfo(step=i + 1, total=len(timesteps), latents=latents,
                                      denoised=_denoised_getter(scheduler, timesteps_host[i], step_index, x_plain, raw,
                                                                out, images, use_cfg, batch)))
                except Interrupted:
                    finished = False
                    break
    if keep_mask is not None and mask_blend is not None:
        latents = blend_final(mask_blend, latents, keep_mask, init_latents)
    elif keep_mask is not None:
        latents = init_latents * keep_mask + latents * (1 - keep_mask)
    return latents, finished


def _denoised_getter(scheduler, t, index: int | None, x_in: torch.Tensor, raw: torch.Tensor,
                     combined: torch.Tensor, images: int, use_cfg: bool, batch) -> Callable[[str], torch.Tensor]:
    """StepInfo.denoised for this step. `index` is the scheduler's step index before it stepped (it
    points at the next noise level by the time the callback runs)."""
    kind = scheduler.config.get("prediction_type", "epsilon")

    def denoised(content: str = "Prompt") -> torch.Tensor:
        a = alpha_at(scheduler, t, index)
        x = x_in.float()
        if content == "Negative prompt" and use_cfg:
            return to_x0(kind, a, x[:images], raw[:images])
        # each image's (first) cond row: after the uncond rows when there are any
        first = images if use_cfg else 0
        if batch.simple:
            x_cond, raw_cond = x[first:first + images], raw[first:first + images]
        else:
            sel = torch.tensor([first + group[0][0] for group in batch.groups], device=raw.device)
            x_cond, raw_cond = x.index_select(0, sel), raw.index_select(0, sel)
        if content == "Prompt":
            return to_x0(kind, a, x_cond, raw_cond)
        return to_x0(kind, a, x[:images] if use_cfg else x_cond, combined)   # "Combined"

    return denoised


def _extension_guidance(denoiser: CFGDenoiser, out: torch.Tensor, x_in: torch.Tensor, batch, images: int,
                        cfg_scale: float, scheduler, t: torch.Tensor, uncond) -> torch.Tensor:
    """The guidance of an extension's `combine_denoised`, called as A1111's samplers call it: the
    denoised (x0) predictions with every cond row first and the uncond rows last, `conds_list` of
    (row, weight) per image. The UNet's rows here are uncond first, and its output is the model's
    prediction (epsilon or v) at input `x_in` = sqrt(a)·x0 + sqrt(1-a)·noise (true of every scheduler's
    scaled input), so it goes to x0 and the result comes back to the prediction the scheduler steps with."""
    a = alpha_at(scheduler, t)
    sa, sb = a ** 0.5, (1.0 - a) ** 0.5
    kind = scheduler.config.get("prediction_type", "epsilon")
    x0 = to_x0(kind, a, x_in, out)
    x_out = torch.cat([x0[images:], x0[:images]])
    conds_list = ([[(i, 1.0)] for i in range(images)] if batch.simple
                  else [[(row, float(weight)) for row, weight in group] for group in batch.groups])
    denoised = denoiser.combine_denoised(x_out, conds_list, uncond, cfg_scale).float()
    x = x_in[:images]
    if kind == "epsilon":
        return (x - sa * denoised) / sb
    if kind == "v_prediction":
        return (sa * x - denoised) / sb
    return denoised


def _before_unet(hooks: Hooks, x_in, context, image_cond, scheduler, t, step: int, total: int, n_uncond: int,
                 denoiser: CFGDenoiser):
    """The cfg_denoiser callbacks: they see (and may replace) the UNet input and the text
    conditioning of this step."""
    sigma = t
    sigmas = getattr(scheduler, "sigmas", None)
    index = getattr(scheduler, "step_index", None)
    if index is None:
        index = getattr(scheduler, "begin_index", None) or 0
    if sigmas is not None and index < len(sigmas):
        sigma = sigmas[index]
    cond, uncond = context[n_uncond:], context[:n_uncond]
    params = CFGDenoiserParams(x_in, image_cond, sigma, step, total, cond, uncond, denoiser)
    hooks.call("cfg_denoiser", params)
    if params.text_cond is not cond or params.text_uncond is not uncond:
        context = torch.cat([params.text_uncond, params.text_cond]) if n_uncond else params.text_cond
    return params.x, context


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
    mid-grey image, i.e. "repaint everything"."""
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
