"""The result of a job (A1111's `Processed`): its images, infotexts and the fields of the request
that made them, serialisable as A1111's `info` JSON."""
from __future__ import annotations

import json
from typing import Any

from PIL import Image

from sdwebui.engine.processing.base import StableDiffusionProcessing
from sdwebui.engine.sampling import samplers
from sdwebui.version import INFOTEXT_VERSION


class Processed:
    """The result of a job, serialisable as A1111's `info` JSON (js())."""

    def __init__(self, p: StableDiffusionProcessing, images_list: list[Image.Image], seed: Any = -1, info: str = "",
                 subseed: Any = None, all_prompts: list[str] | None = None,
                 all_negative_prompts: list[str] | None = None, all_seeds: list[int] | None = None,
                 all_subseeds: list[int] | None = None, index_of_first_image: int = 0,
                 infotexts: list[str] | None = None, comments: str = "", extra_images_list: list | None = None):
        """A1111's signature: scripts build results as `Processed(p, images, seed, info, ...)`. A list
        as the third argument is taken as the infotexts (this project's earlier form, still used by
        extensions written against it)."""
        if isinstance(seed, (list, tuple)) and infotexts is None:
            seed, infotexts = -1, list(seed)
        self.images = images_list
        self.extra_images = list(extra_images_list or [])
        self.infotexts = list(infotexts) if infotexts is not None else [info] * len(images_list)
        self.info = info or (self.infotexts[0] if self.infotexts else "")
        self.comments = comments
        # A1111 accepts list prompts and seeds on p (prompt matrix, X/Y/Z): the first stands for the job
        self.prompt = p.prompt[0] if isinstance(p.prompt, list) and p.prompt else p.prompt
        self.negative_prompt = (p.negative_prompt[0] if isinstance(p.negative_prompt, list) and p.negative_prompt
                                else p.negative_prompt)
        self.seed = _first(seed) if seed not in (None, -1) else _first(p.all_seeds or p.seed)
        self.subseed = _first(subseed) if subseed is not None else _first(p.all_subseeds or p.subseed)
        self.subseed_strength = p.subseed_strength
        self.all_prompts = all_prompts or p.all_prompts or [self.prompt]
        self.all_negative_prompts = all_negative_prompts or p.all_negative_prompts or [self.negative_prompt]
        self.all_seeds = all_seeds or p.all_seeds or [self.seed]
        self.all_subseeds = all_subseeds or p.all_subseeds or [self.subseed]
        self.width = p.width
        self.height = p.height
        self.sampler_name = p.sampler.name if p.sampler else p.sampler_name
        self.scheduler = samplers.schedule_type_label(p.sampler, p.schedule) if p.sampler and p.schedule else p.scheduler
        self.cfg_scale = p.cfg_scale
        self.steps = p.steps
        self.batch_size = p.batch_size
        self.restore_faces = p.restore_faces
        # as A1111: the setting's restorer when faces were restored
        ctx = getattr(p, "ctx", None)
        self.face_restoration_model = (getattr(ctx.opts, "face_restoration_model", None)
                                       if p.restore_faces and ctx is not None else None)
        self.clip_skip = p.clip_skip
        self.seed_resize_from_w = p.seed_resize_from_w
        self.seed_resize_from_h = p.seed_resize_from_h
        self.denoising_strength = p.denoising_strength
        self.extra_generation_params = p.extra_generation_params
        self.index_of_first_image = index_of_first_image
        self.warnings = list(p.warnings)   # not in A1111: what the job could not do as asked
        self.styles = p.styles
        self.job_timestamp = p.job_timestamp
        model = p.sd_model      # None without a context: then there is no model (or VAE) to describe
        info = model.sd_checkpoint_info if model is not None else None
        self.sd_model_name = info.name_for_extra if info else None
        self.sd_model_hash = info.shorthash if info else None
        self.is_using_inpainting_conditioning = bool(model is not None and model.is_inpainting)
        vae = model.loaded_vae if model is not None else None
        self.sd_vae_name = vae.stem if vae else None
        self.sd_vae_hash = p.ctx.vae_registry.shorthash(vae) if vae else None

    def js(self) -> str:
        return json.dumps({
            "prompt": self.prompt, "all_prompts": self.all_prompts,
            "negative_prompt": self.negative_prompt, "all_negative_prompts": self.all_negative_prompts,
            "seed": self.seed, "all_seeds": self.all_seeds, "subseed": self.subseed, "all_subseeds": self.all_subseeds,
            "subseed_strength": self.subseed_strength, "width": self.width, "height": self.height,
            "sampler_name": self.sampler_name, "cfg_scale": self.cfg_scale, "steps": self.steps,
            "batch_size": self.batch_size, "restore_faces": self.restore_faces,
            "face_restoration_model": self.face_restoration_model,
            "sd_model_name": self.sd_model_name, "sd_model_hash": self.sd_model_hash,
            "sd_vae_name": self.sd_vae_name, "sd_vae_hash": self.sd_vae_hash,
            "seed_resize_from_w": self.seed_resize_from_w, "seed_resize_from_h": self.seed_resize_from_h,
            "denoising_strength": self.denoising_strength,
            "extra_generation_params": self.extra_generation_params,
            "index_of_first_image": self.index_of_first_image, "infotexts": self.infotexts,
            "styles": self.styles, "job_timestamp": self.job_timestamp, "clip_skip": self.clip_skip,
            "is_using_inpainting_conditioning": self.is_using_inpainting_conditioning, "version": INFOTEXT_VERSION,
            **({"warnings": self.warnings} if self.warnings else {}),
        }, ensure_ascii=False)


def _first(value: Any) -> int:
    """A seed given as a list (A1111 allows one per image) stands for its first."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else -1
    return int(value) if value is not None else -1
