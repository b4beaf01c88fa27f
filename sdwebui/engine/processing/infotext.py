"""The infotext of one generated image (A1111's create_infotext): the job's parameters in A1111's
order and wording, followed by what the job and its extensions added."""
from __future__ import annotations

from typing import Any

from sdwebui.engine.images import infotext as infotext_mod
from sdwebui.engine.processing.base import StableDiffusionProcessing
from sdwebui.engine.sampling import samplers


def create_infotext(p: StableDiffusionProcessing, all_prompts: list[str] | int | None = None,
                    all_seeds: list[int] | None = None, all_subseeds: list[int] | None = None, comments: Any = None,
                    iteration: int = 0, position_in_batch: int = 0, use_main_prompt: bool = False,
                    index: int | None = None, all_negative_prompts: list[str] | None = None) -> str:
    """The infotext of the job's image number `index` (0-based over all batches). Called as
    `create_infotext(p, index)`, or with A1111's arguments (`create_infotext(p, p.all_prompts,
    p.all_seeds, p.all_subseeds, iteration=..., position_in_batch=...)`, as scripts do): the lists
    given replace p's, `use_main_prompt` describes the first image (a grid's text)."""
    if isinstance(all_prompts, int) and not isinstance(all_prompts, bool):
        index, all_prompts = all_prompts, None
    if use_main_prompt:
        index = 0
    elif index is None:
        index = position_in_batch + iteration * p.batch_size
    prompts = p.all_prompts if all_prompts is None else all_prompts
    negatives = p.all_negative_prompts if all_negative_prompts is None else all_negative_prompts
    seeds = p.all_seeds if all_seeds is None else all_seeds
    subseeds = p.all_subseeds if all_subseeds is None else all_subseeds
    opts = p.ctx.opts
    model = p.sd_model
    # the job's own checkpoint, as A1111 records it before sampling: a refiner or hires checkpoint may
    # be the resident one by the time the infotext is written
    info = getattr(p, "base_checkpoint_info", None) or (model.sd_checkpoint_info if model is not None else None)
    sampler, schedule = p.sampler, p.schedule
    vae = model.loaded_vae if model is not None else None
    ensd = opts.eta_noise_seed_delta
    params: dict[str, Any] = {
        "Steps": p.steps,
        "Sampler": sampler.name if sampler else p.sampler_name,
        "Schedule type": samplers.schedule_type_label(sampler, schedule) if sampler and schedule else None,
        "CFG scale": p.cfg_scale,
        "Distilled CFG Scale": p.distilled_cfg_scale if model is not None and model.uses_distilled_cfg else None,
        "Image CFG scale": getattr(p, "image_cfg_scale", None),
        "Seed": seeds[index],
        "Face restoration": opts.face_restoration_model if p.restore_faces else None,
        "Size": f"{p.width}x{p.height}",
        "Model hash": info.shorthash if info and opts.add_model_hash_to_info else None,
        "Model": info.name_for_extra if info and opts.add_model_name_to_info else None,
        "VAE hash": p.ctx.vae_registry.shorthash(vae) if vae and opts.add_vae_hash_to_info else None,
        "VAE": vae.stem if vae and opts.add_vae_name_to_info else None,
        "Variation seed": subseeds[index] if p.subseed_strength > 0 else None,
        "Variation seed strength": p.subseed_strength if p.subseed_strength > 0 else None,
        "Seed resize from": (f"{p.seed_resize_from_w}x{p.seed_resize_from_h}"
                             if p.seed_resize_from_w > 0 and p.seed_resize_from_h > 0 else None),
        "Denoising strength": p.denoising_strength if not p.is_txt2img or getattr(p, "enable_hr", False) else None,
        "Clip skip": p.clip_skip if p.clip_skip > 1 else None,
        "ENSD": ensd if ensd and sampler and sampler.options.get("uses_ensd") else None,
        "RNG": opts.randn_source if opts.randn_source != "GPU" else None,
        "Tiling": True if p.tiling else None,
    }
    params.update(p.extra_generation_params)
    infotext_mod.with_version(params, opts.add_version_to_infotext)
    return infotext_mod.build(prompts[index], negatives[index], params)
