"""A request -> images + infotext. `p` objects carry A1111's field names so extensions can read them.

process_images() must run on the queue worker: it owns the device and the per-job state.
"""
from __future__ import annotations

import json
import logging
import random
import time
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import torch
from PIL import Image

from sdwebui.engine.images import infotext as infotext_mod
from sdwebui.engine.images import grids, writing
from sdwebui.engine.sampling import rng as rng_mod
from sdwebui.engine.models import lora as lora_mod
from sdwebui.engine.sampling import samplers
from sdwebui.services import runtime as shared
from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.engine.sampling.loop import Interrupted, StepInfo, approximate_rgb, decode, sample, txt2img_image_conditioning, vae_tiles
from sdwebui.engine.prompt.encoding import PromptEncoder, ScheduledConditioning
from sdwebui.version import INFOTEXT_VERSION
from sdwebui.engine.errors import ProcessingError  # noqa: F401 (A1111 name: modules.processing)

logger = logging.getLogger(__name__)

MAX_SEED = 4294967294


def random_seed() -> int:
    return random.randrange(MAX_SEED)


def get_fixed_seed(seed: int | str | None) -> int:
    """A1111: an empty or -1 seed becomes a random one (extensions call it before a job)."""
    if seed in (None, "", -1, "-1"):
        return random_seed()
    return int(seed)


def fix_seed(p: "StableDiffusionProcessing") -> None:
    """Resolve p.seed and p.subseed now, as A1111's fix_seed does (Dynamic Prompts calls it)."""
    p.seed = get_fixed_seed(p.seed)
    p.subseed = get_fixed_seed(p.subseed)


class StableDiffusionProcessing:
    """Common fields of A1111's processing objects (API defaults)."""

    is_txt2img = False
    tabname = "txt2img"

    def __init__(self, prompt: str = "", negative_prompt: str = "", styles: list[str] | None = None,
                 seed: int = -1, subseed: int = -1, subseed_strength: float = 0.0,
                 seed_resize_from_h: int = -1, seed_resize_from_w: int = -1,
                 sampler_name: str | None = None, scheduler: str | None = None,
                 batch_size: int = 1, n_iter: int = 1, steps: int = 50, cfg_scale: float = 7.0,
                 width: int = 512, height: int = 512, restore_faces: bool | None = None, tiling: bool | None = None,
                 do_not_save_samples: bool = False, do_not_save_grid: bool = False, eta: float | None = None,
                 denoising_strength: float | None = None, override_settings: dict | None = None,
                 override_settings_restore_afterwards: bool = True, outpath_samples: str | None = None,
                 outpath_grids: str | None = None, comments: dict | None = None,
                 refiner_checkpoint: str | None = None, refiner_switch_at: float | None = None,
                 scripts: Any = None, script_args: list | None = None, **_: Any):
        self.prompt = prompt or ""
        self.negative_prompt = negative_prompt or ""
        self.styles = list(styles or [])
        self.seed = -1 if seed is None else int(seed)
        self.subseed = -1 if subseed is None else int(subseed)
        self.subseed_strength = float(subseed_strength or 0.0)
        self.seed_resize_from_h = seed_resize_from_h
        self.seed_resize_from_w = seed_resize_from_w
        self.sampler_name = sampler_name
        self.scheduler = scheduler
        self.batch_size = int(batch_size)
        self.n_iter = int(n_iter)
        self.steps = int(steps)
        self.cfg_scale = cfg_scale
        self.width = int(width)
        self.height = int(height)
        self.restore_faces = restore_faces
        self.tiling = tiling
        self.do_not_save_samples = do_not_save_samples
        self.do_not_save_grid = do_not_save_grid
        self.eta = eta
        self.denoising_strength = denoising_strength
        self.override_settings = dict(override_settings or {})
        self.override_settings_restore_afterwards = override_settings_restore_afterwards
        self.outpath_samples = outpath_samples
        self.outpath_grids = outpath_grids
        self.comments = comments or {}
        self.refiner_checkpoint = refiner_checkpoint
        self.refiner_switch_at = refiner_switch_at
        self.refiner_checkpoint_info = None
        self.base_checkpoint_info = None
        self.extra_generation_params: dict[str, Any] = {}
        self.warnings: list[str] = []
        self.all_prompts: list[str] = []
        self.all_negative_prompts: list[str] = []
        self.all_seeds: list[int] = []
        self.all_subseeds: list[int] = []
        self.iteration = 0
        self.scripts = scripts      # modules.scripts.ScriptRunner of the tab (set by the API / UI)
        self.script_args: list = list(script_args or [])
        self.is_api = False
        self.user = None
        self.prompts: list[str] = []            # this batch's, while it runs (A1111 names)
        self.negative_prompts: list[str] = []
        self.seeds: list[int] = []
        self.subseeds: list[int] = []
        self.job_timestamp = ""
        self.clip_skip = 1
        self.sampler: samplers.SamplerInfo | None = None
        self.schedule: samplers.SchedulerInfo | None = None

    # hooks the generation loop calls; the subclasses fill them in -------------------------------
    def init(self, model) -> None:
        """Per-job preparation once seeds are known (img2img: images, masks, init latents)."""

    def sample(self, model, scheduler, noise, conditioning, noise_rng, lo: int, hi: int):
        raise NotImplementedError

    def postprocess_image(self, index: int, image: Image.Image) -> Image.Image:
        return image

    def setup_refiner(self) -> None:
        """`refiner_checkpoint` + `refiner_switch_at`: the rest of the steps run on another checkpoint."""
        if self.refiner_checkpoint in (None, "", "None") or self.refiner_switch_at is None:
            return
        if not 0 < float(self.refiner_switch_at) < 1:
            raise ProcessingError("refiner_switch_at", "refiner_switch_at must be between 0 and 1 (the fraction of "
                                                       "the steps done before switching)")
        info = shared.registry.match(self.refiner_checkpoint)
        if info is None:
            raise ProcessingError("refiner_checkpoint", f"checkpoint {self.refiner_checkpoint!r} not found; available: "
                                                        f"{[c.title for c in shared.registry.list()]}")
        self.refiner_checkpoint_info = info
        self.extra_generation_params["Refiner"] = info.short_title
        self.extra_generation_params["Refiner switch at"] = self.refiner_switch_at

    def refiner_for(self, pass_name: str, steps_run: int, lo: int, hi: int, prompts: list[str] | None = None,
                    negatives: list[str] | None = None) -> dict:
        """Keyword arguments for sample(): the step at which to switch to the refiner and how."""
        if self.refiner_checkpoint_info is None or steps_run < 2:
            return {}
        if getattr(self, "enable_hr", False):
            wanted = shared.opts.hires_fix_refiner_pass
            if not (wanted == "both passes" or wanted.startswith(pass_name)):
                return {}
        prompts = self.all_prompts[lo:hi] if prompts is None else prompts
        negatives = self.all_negative_prompts[lo:hi] if negatives is None else negatives

        def switch():
            model = shared.model_manager.load(self.refiner_checkpoint_info)
            shared.embeddings.refresh(model)
            conditioning = ScheduledConditioning(make_encoder(self, model), prompts,
                                                 negatives if self.cfg_scale != 1.0 else None, self.steps)
            return model, conditioning

        return {"switch_at": max(1, min(steps_run - 1, int(float(self.refiner_switch_at) * steps_run))),
                "on_switch": switch}

    def callback(self, model):
        return _preview_callback(self, model, self.steps)

    @property
    def sd_model(self):
        return shared.model_manager.sd_model if shared.model_manager else None

    def setup_seeds(self) -> None:
        n = self.n_iter * self.batch_size
        seed = random_seed() if self.seed == -1 else self.seed
        subseed = random_seed() if self.subseed == -1 else self.subseed
        self.seed, self.subseed = seed, subseed
        # A1111: with a variation strength, every image shares the seed and the subseed varies
        self.all_seeds = [seed] * n if self.subseed_strength > 0 else [seed + i for i in range(n)]
        self.all_subseeds = [subseed + i for i in range(n)]
        prompt, negative = self.prompt, self.negative_prompt
        if self.styles and shared.prompt_styles is not None:
            missing = shared.prompt_styles.check(self.styles)
            if missing:
                raise ProcessingError("styles", f"style {missing[0]!r} not found; available: "
                                                f"{list(shared.prompt_styles.styles)}")
            prompt, negative = shared.prompt_styles.apply(prompt, negative, self.styles)
        self.all_prompts = [prompt] * n
        self.all_negative_prompts = [negative] * n


class StableDiffusionProcessingTxt2Img(StableDiffusionProcessing):
    is_txt2img = True
    tabname = "txt2img"

    def __init__(self, enable_hr: bool = False, hr_scale: float = 2.0, hr_upscaler: str | None = None,
                 hr_second_pass_steps: int = 0, hr_resize_x: int = 0, hr_resize_y: int = 0,
                 hr_checkpoint_name: str | None = None, hr_sampler_name: str | None = None,
                 hr_scheduler: str | None = None, hr_prompt: str = "", hr_negative_prompt: str = "",
                 firstphase_width: int = 0, firstphase_height: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.enable_hr = enable_hr
        self.hr_scale = hr_scale
        self.hr_upscaler = hr_upscaler
        self.hr_second_pass_steps = hr_second_pass_steps
        self.hr_resize_x = hr_resize_x
        self.hr_resize_y = hr_resize_y
        self.hr_checkpoint_name = hr_checkpoint_name
        self.hr_sampler_name = hr_sampler_name
        self.hr_scheduler = hr_scheduler
        self.hr_prompt = hr_prompt
        self.hr_negative_prompt = hr_negative_prompt
        self.hr_upscale_to_x = self.hr_upscale_to_y = 0
        self.truncate_x = self.truncate_y = 0
        self.hr_checkpoint_info = None
        self.hr_sampler = self.hr_schedule = None
        self.all_hr_prompts: list[str] = []
        self.all_hr_negative_prompts: list[str] = []

    @property
    def hr_steps(self) -> int:
        return self.hr_second_pass_steps or self.steps

    def init(self, model) -> None:
        if not self.enable_hr:
            return
        from sdwebui.engine.processing import hires as hires_fix

        if self.denoising_strength is None:
            self.denoising_strength = hires_fix.DEFAULT_DENOISING
        self.hr_upscaler = self.hr_upscaler or hires_fix.DEFAULT_UPSCALER
        if not hires_fix.is_latent(self.hr_upscaler) and self.hr_upscaler.lower() not in (
                n.lower() for n in shared.upscalers.names()):
            from sdwebui.engine.processing.latent_upscale import LATENT_UPSCALE_MODES

            raise ProcessingError("hr_upscaler", f"upscaler {self.hr_upscaler!r} not found; available: "
                                                 f"{[*LATENT_UPSCALE_MODES, *shared.upscalers.names()]}")
        x, y, tx, ty = hires_fix.target_size(self.width, self.height, float(self.hr_scale), int(self.hr_resize_x),
                                             int(self.hr_resize_y), model.vae_scale_factor)
        self.hr_upscale_to_x, self.hr_upscale_to_y, self.truncate_x, self.truncate_y = x, y, tx, ty
        if x * y > shared.cmd_opts.max_image_pixels:
            raise ProcessingError("hr_scale", f"hires size {x}x{y} is more than the {shared.cmd_opts.max_image_pixels} "
                                              "pixels this server allows (--max-image-pixels)")
        same = ("", None, "Use same sampler", "Use same scheduler", "Use same checkpoint")
        try:
            self.hr_sampler, self.hr_schedule = samplers.resolve(
                self.sampler_name if self.hr_sampler_name in same else self.hr_sampler_name,
                self.scheduler if self.hr_scheduler in same else self.hr_scheduler)
        except samplers.SamplerError as e:
            raise ProcessingError("hr_" + e.field if e.field == "scheduler" else "hr_sampler_name", str(e)) from None
        if self.hr_checkpoint_name not in same:
            info = shared.registry.match(self.hr_checkpoint_name)
            if info is None:
                raise ProcessingError("hr_checkpoint_name", f"checkpoint {self.hr_checkpoint_name!r} not found; "
                                                            f"available: {[c.title for c in shared.registry.list()]}")
            self.hr_checkpoint_info = info
        n = len(self.all_prompts)
        self.all_hr_prompts = [self.hr_prompt or p for p in self.all_prompts] if self.hr_prompt else list(self.all_prompts)
        self.all_hr_negative_prompts = ([self.hr_negative_prompt] * n if self.hr_negative_prompt
                                        else list(self.all_negative_prompts))
        g = self.extra_generation_params
        if self.hr_resize_x == 0 and self.hr_resize_y == 0:
            g["Hires upscale"] = self.hr_scale
        else:
            g["Hires resize"] = f"{self.hr_resize_x}x{self.hr_resize_y}"
        if self.hr_second_pass_steps:
            g["Hires steps"] = self.hr_second_pass_steps
        g["Hires upscaler"] = self.hr_upscaler
        if self.hr_sampler_name not in same:
            g["Hires sampler"] = self.hr_sampler.name
        if self.hr_scheduler not in same:
            g["Hires schedule type"] = samplers.schedule_type_label(self.hr_sampler, self.hr_schedule)
        if self.hr_checkpoint_info is not None:
            g["Hires checkpoint"] = self.hr_checkpoint_info.short_title
        if self.hr_prompt and self.hr_prompt != self.prompt:
            g["Hires prompt"] = self.hr_prompt
        if self.hr_negative_prompt and self.hr_negative_prompt != self.negative_prompt:
            g["Hires negative prompt"] = self.hr_negative_prompt
        shared.state.job_count = self.n_iter * 2

    def sample(self, model, scheduler, noise, conditioning, noise_rng, lo: int, hi: int):
        image_cond = None
        if model.is_inpainting:
            image_cond = txt2img_image_conditioning(model, hi - lo, self.width, self.height)
        latents, finished = sample(model, scheduler, noise, conditioning, steps=self.steps,
                                   cfg_scale=float(self.cfg_scale), width=self.width, height=self.height,
                                   generators=noise_rng.generators, callback=self.callback(model), image_cond=image_cond,
                                   **self.refiner_for("first", self.steps, lo, hi))
        model = shared.model_manager.sd_model
        if not self.enable_hr or not finished or shared.state.interrupted:
            return latents, finished
        shared.state.nextjob()
        return self.sample_hr(model, latents, lo, hi)

    def sample_hr(self, model, latents, lo: int, hi: int):
        """The second pass: upscale, then img2img at the hires size with its own prompts and sampler."""
        from sdwebui.engine.processing import hires as hires_fix

        opts = shared.opts
        w, h = self.hr_upscale_to_x, self.hr_upscale_to_y
        if hires_fix.is_latent(self.hr_upscaler):
            init = hires_fix.upscale_latents(latents, self.hr_upscaler, w, h, model.vae_scale_factor)
        else:
            images = hires_fix.upscale_images(to_pil(decode(model, latents, vae_tile_above())), self.hr_upscaler, w, h,
                                              shared.upscalers)
        if self.hr_checkpoint_info is not None and shared.model_manager.checkpoint_info != self.hr_checkpoint_info:
            model = shared.model_manager.load(self.hr_checkpoint_info)
        if not hires_fix.is_latent(self.hr_upscaler):
            init = encode_images(model, images)
        seeds = self.all_seeds[lo:hi]
        rng = rng_mod.ImageRNG(tuple(init.shape[1:]), seeds, subseeds=self.all_subseeds[lo:hi],
                               subseed_strength=self.subseed_strength, seed_resize_from_w=self.seed_resize_from_w,
                               seed_resize_from_h=self.seed_resize_from_h, factor=model.vae_scale_factor,
                               device=model.device, randn_source=opts.randn_source)
        noise = rng.first()
        rng.reseed_for_sampler(int(opts.eta_noise_seed_delta or 0))
        eta = self.eta if self.eta is not None else (opts.eta_ddim if self.hr_sampler.name == "DDIM" else opts.eta_ancestral)
        scheduler = samplers.create_scheduler(self.hr_sampler, self.hr_schedule, model.scheduler_config, eta=eta,
                                              seed=seeds)
        if model is not self.encoder.model:
            shared.embeddings.refresh(model)
        encoder = self.encoder if model is self.encoder.model else make_encoder(self, model)
        conditioning = ScheduledConditioning(encoder, self.all_hr_prompts[lo:hi],
                                             self.all_hr_negative_prompts[lo:hi] if self.cfg_scale != 1.0 else None,
                                             self.steps, hires_steps=self.hr_steps)
        t_enc = int(min(float(self.denoising_strength), 0.999) * self.hr_steps)
        shared.state.sampling_steps = t_enc
        if self.scripts is not None:
            self.scripts.before_hr(self)
        image_cond = None
        if model.is_inpainting:
            image_cond = txt2img_image_conditioning(model, hi - lo, w, h)
        out, finished = sample(model, scheduler, noise, conditioning, steps=self.hr_steps,
                               cfg_scale=float(self.cfg_scale), width=w, height=h, generators=rng.generators,
                               callback=self.callback(model), init_latents=init, denoise_steps=t_enc,
                               image_cond=image_cond, desc="Hires",
                               **self.refiner_for("second", t_enc, lo, hi, self.all_hr_prompts[lo:hi],
                                                  self.all_hr_negative_prompts[lo:hi]))
        return hires_fix.crop_truncated(out, self.truncate_x, self.truncate_y), finished


def _to_tensor(images: list[Image.Image]) -> torch.Tensor:
    arr = np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2) * 2.0 - 1.0


def encode_images(model, images: list[Image.Image]) -> torch.Tensor:
    return encode_images_tensor(model, _to_tensor(images))


@torch.inference_mode()
def inpainting_conditioning(model, images: list[Image.Image], mask: Image.Image | None, weight: float) -> torch.Tensor:
    """Mask + masked-image latents for 9-channel inpainting UNets (A1111's inpainting_image_conditioning)."""
    x = _to_tensor(images)
    if mask is None:
        m = torch.ones((1, 1, x.shape[2], x.shape[3]))
    else:
        m = torch.from_numpy(np.around(np.asarray(mask.convert("L"), dtype=np.float32) / 255.0))[None, None]
    masked = torch.lerp(x, x * (1.0 - m), weight)
    latents = encode_images_tensor(model, masked)
    m_lat = torch.nn.functional.interpolate(m, size=latents.shape[-2:]).to(latents)
    return torch.cat([m_lat.expand(latents.shape[0], -1, -1, -1), latents], dim=1)


@torch.inference_mode()
def vae_tile_above() -> int:
    """Option vae_tiled_min_size: images larger than this (px per side) pass the VAE in tiles."""
    return int(shared.opts.vae_tiled_min_size or 0) if shared.opts is not None else 0


def encode_images_tensor(model, x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> scaled latents (the distribution's mean, so the same image always gives
    the same latents; A1111 samples it with the global RNG)."""
    x = x.to(device=model.device, dtype=model.vae_dtype)
    with vae_tiles(model, x.shape[2], x.shape[3], vae_tile_above()):
        out = [model.vae.encode(x[i:i + 1]).latent_dist.mode() for i in range(x.shape[0])]
    shift = getattr(model.vae.config, "shift_factor", None) or 0.0
    return ((torch.cat(out) - shift) * model.vae.config.scaling_factor).float()


class Processed:
    """The result of a job, serialisable as A1111's `info` JSON (js())."""

    def __init__(self, p: StableDiffusionProcessing, images: list[Image.Image], infotexts: list[str],
                 *, index_of_first_image: int = 0):
        self.images = images
        self.infotexts = infotexts
        self.info = infotexts[0] if infotexts else ""
        self.prompt = p.prompt
        self.negative_prompt = p.negative_prompt
        self.seed = p.all_seeds[0] if p.all_seeds else p.seed
        self.subseed = p.all_subseeds[0] if p.all_subseeds else p.subseed
        self.subseed_strength = p.subseed_strength
        self.all_prompts = p.all_prompts
        self.all_negative_prompts = p.all_negative_prompts
        self.all_seeds = p.all_seeds
        self.all_subseeds = p.all_subseeds
        self.width = p.width
        self.height = p.height
        self.sampler_name = p.sampler.name if p.sampler else p.sampler_name
        self.scheduler = samplers.schedule_type_label(p.sampler, p.schedule) if p.sampler and p.schedule else p.scheduler
        self.cfg_scale = p.cfg_scale
        self.steps = p.steps
        self.batch_size = p.batch_size
        self.restore_faces = p.restore_faces
        self.clip_skip = p.clip_skip
        self.seed_resize_from_w = p.seed_resize_from_w
        self.seed_resize_from_h = p.seed_resize_from_h
        self.denoising_strength = p.denoising_strength
        self.extra_generation_params = p.extra_generation_params
        self.index_of_first_image = index_of_first_image
        self.warnings = list(p.warnings)   # not in A1111: what the job could not do as asked
        self.styles = p.styles
        self.job_timestamp = p.job_timestamp
        model = p.sd_model
        info = model.sd_checkpoint_info if model is not None else None
        self.sd_model_name = info.name_for_extra if info else None
        self.sd_model_hash = info.shorthash if info else None
        self.is_using_inpainting_conditioning = bool(model is not None and model.is_inpainting)
        vae = model.loaded_vae if model is not None else None
        self.sd_vae_name = vae.stem if vae else None
        self.sd_vae_hash = shared.vae_registry.shorthash(vae) if vae else None

    def js(self) -> str:
        return json.dumps({
            "prompt": self.prompt, "all_prompts": self.all_prompts,
            "negative_prompt": self.negative_prompt, "all_negative_prompts": self.all_negative_prompts,
            "seed": self.seed, "all_seeds": self.all_seeds, "subseed": self.subseed, "all_subseeds": self.all_subseeds,
            "subseed_strength": self.subseed_strength, "width": self.width, "height": self.height,
            "sampler_name": self.sampler_name, "cfg_scale": self.cfg_scale, "steps": self.steps,
            "batch_size": self.batch_size, "restore_faces": self.restore_faces, "face_restoration_model": None,
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


def create_infotext(p: StableDiffusionProcessing, index: int) -> str:
    opts = shared.opts
    model = p.sd_model
    info = model.sd_checkpoint_info if model is not None else None
    sampler, schedule = p.sampler, p.schedule
    vae = model.loaded_vae if model is not None else None
    ensd = opts.eta_noise_seed_delta
    params: dict[str, Any] = {
        "Steps": p.steps,
        "Sampler": sampler.name if sampler else p.sampler_name,
        "Schedule type": samplers.schedule_type_label(sampler, schedule) if sampler and schedule else None,
        "CFG scale": p.cfg_scale,
        "Seed": p.all_seeds[index],
        "Size": f"{p.width}x{p.height}",
        "Model hash": info.shorthash if info and opts.add_model_hash_to_info else None,
        "Model": info.name_for_extra if info and opts.add_model_name_to_info else None,
        "VAE hash": shared.vae_registry.shorthash(vae) if vae and opts.add_vae_hash_to_info else None,
        "VAE": vae.stem if vae and opts.add_vae_name_to_info else None,
        "Variation seed": p.all_subseeds[index] if p.subseed_strength > 0 else None,
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
    return infotext_mod.build(p.all_prompts[index], p.all_negative_prompts[index], params)


def _apply_checkpoint_override(p: StableDiffusionProcessing, stack: ExitStack) -> None:
    """`override_settings.sd_model_checkpoint`: switch for this job (and back after it, unless
    `override_settings_restore_afterwards` is false)."""
    name = p.override_settings.pop("sd_model_checkpoint", None)
    if not name:
        return
    info = shared.registry.match(name)
    if info is None:
        raise ProcessingError("override_settings.sd_model_checkpoint",
                              f"checkpoint {name!r} not found; available: {[c.title for c in shared.registry.list()]}",
                              status_code=404)
    previous = shared.model_manager.checkpoint_info
    if p.override_settings_restore_afterwards and previous is not None:
        stack.callback(_restore_checkpoint, previous)      # runs after the override below has ended
        # while the job runs, config.json keeps the checkpoint outside it: a save meanwhile must not
        # store the job's temporary one (the option's value itself is set by the model load)
        stack.enter_context(shared.opts.override({"sd_model_checkpoint": info.title}))
        shared.model_manager.load(info)
    else:
        shared.model_manager.load(info)
        shared.opts.set("sd_model_checkpoint", info.title, run_callbacks=False)


def _restore_checkpoint(info) -> None:
    try:
        shared.model_manager.load(info)
        shared.opts.set("sd_model_checkpoint", info.title, run_callbacks=False)
    except Exception:
        logger.exception("could not restore checkpoint %s", info.title)


def _preview_callback(p: StableDiffusionProcessing, model, steps_total: int):
    state = shared.state
    opts = shared.opts
    every = opts.show_progress_every_n_steps

    def cb(info: StepInfo) -> None:
        state.sampling_step = info.step
        state.sampling_steps = info.total
        if opts.live_previews_enable and every > 0 and info.step % every == 0 and info.step < info.total:
            rgb = approximate_rgb(model, info.latents)
            arr = (rgb.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)
            state.set_current_image(Image.fromarray(arr).resize((p.width, p.height), Image.Resampling.NEAREST))
            state.current_image_sampling_step = info.step
        if state.interrupted or state.skipped or state.stopping_generation:
            raise Interrupted()

    return cb


def to_pil(x: torch.Tensor) -> list[Image.Image]:
    arr = (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    return [Image.fromarray(a) for a in arr]


def process_images(p: StableDiffusionProcessing) -> Processed:
    """Run a txt2img or img2img job. Call it on the queue worker."""
    opts = shared.opts
    if p.scripts is not None:
        p.scripts.before_process(p)
    with ExitStack() as stack:
        _apply_checkpoint_override(p, stack)
        stack.enter_context(opts.override(p.override_settings, restore=p.override_settings_restore_afterwards))
        model = shared.ensure_model_loaded()
        shared.apply_vae_setting()
        job_checkpoint = shared.model_manager.checkpoint_info
        try:
            return _process(p, model)
        finally:
            # a hires pass may have switched to hr_checkpoint_name; the job ends on its own checkpoint
            if job_checkpoint is not None and shared.model_manager.checkpoint_info != job_checkpoint:
                shared.model_manager.load(job_checkpoint)


def _process(p: StableDiffusionProcessing, model) -> Processed:
    state = shared.state
    opts = shared.opts
    p.sampler, p.schedule = samplers.resolve(p.sampler_name, p.scheduler)
    p.sampler_name = p.sampler.name
    p.clip_skip = int(opts.CLIP_stop_at_last_layers)
    p.setup_seeds()
    p.job_timestamp = state.job_timestamp
    if p.scripts is not None:
        p.scripts.process(p)     # extensions may rewrite all_prompts / all_seeds here (as in A1111)
    uses = lora_mod.requested(p.all_prompts, shared.loras) if shared.loras is not None else []
    if not uses:
        return _generate(p, model)
    applier = getattr(model, "lora_applier", None) or lora_mod.LoraApplier(model)
    model.lora_applier = applier
    try:
        applier.apply(uses)
        p.extra_generation_params["Lora hashes"] = ", ".join(
            f"{u.file.alias}: {shared.loras.shorthash(u.file)}" for u in uses)
        return _generate(p, model)
    finally:
        applier.restore()   # the networks last for this job only


def make_encoder(p: StableDiffusionProcessing, model) -> PromptEncoder:
    opts = shared.opts
    encoder = PromptEncoder(model, clip_skip=p.clip_skip, emphasis=opts.emphasis,
                            comma_backtrack=int(opts.comma_padding_backtrack), embeddings=shared.embeddings)
    p.encoders = [*getattr(p, "encoders", []), encoder]
    return encoder


def _record_embeddings(p: StableDiffusionProcessing) -> None:
    """A1111's "TI hashes" infotext field for the embeddings the prompts used."""
    used = sorted(set().union(*(e.used_embeddings for e in getattr(p, "encoders", []))))
    if used:
        db = shared.embeddings
        p.extra_generation_params["TI hashes"] = ", ".join(
            f"{name}: {db.shorthash(db.loaded[name])}" for name in used if name in db.loaded)


def _generate(p: StableDiffusionProcessing, model) -> Processed:
    if p.tiling is None:
        p.tiling = bool(shared.opts.tiling)
    if p.restore_faces is None:
        p.restore_faces = bool(shared.opts.face_restoration)
    if p.restore_faces:
        p.warnings.append("restore_faces: no face restorer is installed; faces were not restored")
    with seamless_tiling(model, p.tiling):
        return _generate_images(p, model)


@contextmanager
def seamless_tiling(model, enabled: bool):
    """`tiling`: circular padding in every convolution of the UNet and VAE, so the image wraps around."""
    if not enabled:
        yield
        return
    convs = [m for part in (model.unet, model.vae) for m in part.modules() if isinstance(m, torch.nn.Conv2d)]
    before = [m.padding_mode for m in convs]
    for m in convs:
        m.padding_mode = "circular"
    try:
        yield
    finally:
        for m, mode in zip(convs, before):
            m.padding_mode = mode


def _generate_images(p: StableDiffusionProcessing, model) -> Processed:
    state = shared.state
    opts = shared.opts
    p.base_checkpoint_info = model.sd_checkpoint_info
    p.setup_refiner()
    p.init(model)
    if shared.embeddings is not None:
        shared.embeddings.refresh(model)
    encoder = make_encoder(p, model)
    p.encoder = encoder
    state.job_count = max(state.job_count, p.n_iter)
    state.sampling_steps = p.steps

    images: list[Image.Image] = []
    infotexts: list[str] = []
    factor = model.vae_scale_factor
    shape = (model.latent_channels, p.height // factor, p.width // factor)
    t0 = time.perf_counter()
    for n in range(p.n_iter):
        p.iteration = n
        if state.skipped:
            state.skipped = False
        if state.interrupted or state.stopping_generation:
            break
        if shared.model_manager.checkpoint_info != p.base_checkpoint_info:
            # a refiner or hires checkpoint ran last batch: the next batch starts on the job's own model
            model = shared.model_manager.load(p.base_checkpoint_info)
            shared.embeddings.refresh(model)
            encoder = p.encoder = make_encoder(p, model)
        lo, hi = n * p.batch_size, (n + 1) * p.batch_size
        prompts, negatives = p.all_prompts[lo:hi], p.all_negative_prompts[lo:hi]
        seeds, subseeds = p.all_seeds[lo:hi], p.all_subseeds[lo:hi]
        if p.scripts is not None:
            p.scripts.before_process_batch(p, batch_number=n, prompts=prompts, seeds=seeds, subseeds=subseeds)
        p.prompts, p.negative_prompts, p.seeds, p.subseeds = prompts, negatives, seeds, subseeds
        if p.scripts is not None:
            p.scripts.process_batch(p, batch_number=n, prompts=prompts, seeds=seeds, subseeds=subseeds)
            p.scripts.process_before_every_sampling(p, batch_number=n, prompts=prompts, seeds=seeds,
                                                    subseeds=subseeds)
            prompts, negatives = p.prompts, p.negative_prompts

        conditioning = ScheduledConditioning(encoder, prompts, negatives if p.cfg_scale != 1.0 else None, p.steps)

        noise_rng = rng_mod.ImageRNG(shape, seeds, subseeds=subseeds, subseed_strength=p.subseed_strength,
                                     seed_resize_from_w=p.seed_resize_from_w, seed_resize_from_h=p.seed_resize_from_h,
                                     factor=factor, device=model.device, randn_source=opts.randn_source)
        noise = noise_rng.first()
        noise_rng.reseed_for_sampler(int(opts.eta_noise_seed_delta or 0))   # A1111 reseeds for every sampler
        eta = p.eta if p.eta is not None else (opts.eta_ddim if p.sampler.name == "DDIM" else opts.eta_ancestral)
        scheduler = samplers.create_scheduler(p.sampler, p.schedule, model.scheduler_config, eta=eta, seed=seeds)
        latents, _finished = p.sample(model, scheduler, noise, conditioning, noise_rng, lo, hi)
        _record_embeddings(p)
        if p.scripts is not None:
            ps = scripts_mod.PostSampleArgs(latents)
            p.scripts.post_sample(p, ps)
            latents = ps.samples
        decoded = decode(shared.model_manager.sd_model or model, latents, vae_tile_above())
        if p.scripts is not None:
            decoded = _postprocess_batch(p, decoded, n)
        batch_images = to_pil(decoded)
        for i, image in enumerate(batch_images):
            index = lo + i
            image = p.postprocess_image(index, image)
            if p.scripts is not None:
                pp = scripts_mod.PostprocessImageArgs(image)
                p.scripts.postprocess_image(p, pp)
                image = pp.image
            text = create_infotext(p, index)
            if opts.samples_save and not p.do_not_save_samples:
                _save(p, image, index, text)
            images.append(image)
            infotexts.append(text)
        state.nextjob()
    logger.info("%s: %d image(s) in %.2fs", p.tabname, len(images), time.perf_counter() - t0)
    grid = _make_grid(p, images, infotexts)
    if grid is not None:
        processed = Processed(p, [grid, *images], [infotexts[0], *infotexts], index_of_first_image=1)
    else:
        processed = Processed(p, images, infotexts)
    if p.scripts is not None:
        p.scripts.postprocess(p, processed)
    return processed


def _postprocess_batch(p: StableDiffusionProcessing, decoded: torch.Tensor, n: int) -> torch.Tensor:
    """Scripts' postprocess_batch (the batch tensor, in place) and postprocess_batch_list (may
    replace or add images)."""
    p.scripts.postprocess_batch(p, decoded, batch_number=n)
    images = list(decoded)
    pp = scripts_mod.PostprocessBatchListArgs(list(images))
    p.scripts.postprocess_batch_list(p, pp, batch_number=n)
    if len(pp.images) == len(images) and all(a is b for a, b in zip(pp.images, images)):
        return decoded      # the usual case: no script touched the list, so no copy of the batch
    return torch.stack([x.float().clamp(0, 1).cpu() for x in pp.images]) if pp.images else decoded[:0]


def save_values(p: StableDiffusionProcessing, index: int, image: Image.Image | None) -> dict[str, Any]:
    """What the filename pattern tokens of modules.images read."""
    model = p.sd_model
    info = model.sd_checkpoint_info if model is not None else None
    vae = model.loaded_vae if model is not None else None
    return {"seed": p.all_seeds[index] if index < len(p.all_seeds) else p.seed, "all_seeds": p.all_seeds,
            "prompt": p.all_prompts[index] if index < len(p.all_prompts) else p.prompt,
            "prompt_no_styles": p.prompt, "negative_prompt": p.negative_prompt, "styles": p.styles,
            "steps": p.steps, "cfg": p.cfg_scale, "width": p.width, "height": p.height,
            "sampler": p.sampler_name, "scheduler": p.schedule.label if p.schedule else p.scheduler,
            "model_name": info.name_for_extra if info else "", "model_hash": info.shorthash if info else "",
            "batch_number": index % p.batch_size + 1, "batch_size": p.batch_size, "n_iter": p.n_iter,
            "generation_number": index + 1, "job_timestamp": p.job_timestamp, "clip_skip": p.clip_skip,
            "denoising": p.denoising_strength if not p.is_txt2img else None,
            "vae_filename": vae.model_name if vae else "", "image": image}


def _save_kwargs() -> dict[str, Any]:
    opts = shared.opts
    return {"fmt": opts.samples_format, "jpeg_quality": opts.jpeg_quality, "webp_lossless": opts.webp_lossless,
            "max_length": getattr(shared.cmd_opts, "filenames_max_length", 128),
            "unix_only": bool(getattr(shared.cmd_opts, "unix_filenames_sanitization", False)),
            "max_prompt_words": int(opts.directories_max_prompt_words)}


def _save(p: StableDiffusionProcessing, image: Image.Image, index: int, text: str) -> None:
    opts = shared.opts
    folder = p.outpath_samples or opts.outdir_samples or (
        opts.outdir_txt2img_samples if p.is_txt2img else opts.outdir_img2img_samples)
    try:
        writing.write_image(
            image, shared.paths.resolve_output(folder), values=save_values(p, index, image),
            infotext=text if opts.enable_pnginfo else None, pattern=opts.samples_filename_pattern,
            save_to_dirs=opts.save_to_dirs, dir_pattern=opts.directories_filename_pattern,
            add_number=opts.save_images_add_number, save_txt=opts.save_txt,
            replace_action=opts.save_images_replace_action, p=p, **_save_kwargs())
    except OSError as e:
        # the image is still returned; a full disk or read-only folder must not lose the result
        logger.error("could not save image to %s: %s", folder, e)
        p.warnings.append(f"image not saved: {e}")


def _make_grid(p: StableDiffusionProcessing, images: list[Image.Image], infotexts: list[str]) -> Image.Image | None:
    """A1111: a grid of the batch when there are 2+ images (or always, without grid_only_if_multiple),
    saved when grid_save and not do_not_save_grid, returned first when return_grid."""
    opts = shared.opts
    if p.do_not_save_grid or not images or (len(images) < 2 and opts.grid_only_if_multiple):
        return None
    if not (opts.return_grid or opts.grid_save):
        return None
    grid = grids.image_grid(images, batch_size=p.batch_size, n_rows=int(opts.n_rows),
                            prevent_empty_spots=opts.grid_prevent_empty_spots)
    if opts.grid_save:
        folder = p.outpath_grids or opts.outdir_grids or (
            opts.outdir_txt2img_grids if p.is_txt2img else opts.outdir_img2img_grids)
        try:
            kwargs = _save_kwargs()
            kwargs["fmt"] = opts.grid_format
            writing.save_grid(grid, shared.paths.resolve_output(folder), values=save_values(p, 0, grid),
                              infotext=infotexts[0] if opts.enable_pnginfo else None,
                              save_to_dirs=opts.grid_save_to_dirs, dir_pattern=opts.directories_filename_pattern,
                              extended_filename=opts.grid_extended_filename, **kwargs)
        except OSError as e:
            logger.error("could not save grid to %s: %s", folder, e)
            p.warnings.append(f"grid not saved: {e}")
    return grid if opts.return_grid else None


# A1111 extensions import the img2img class from here; it lives in its own module
from sdwebui.engine.processing.img2img import StableDiffusionProcessingImg2Img  # noqa: E402,F401
