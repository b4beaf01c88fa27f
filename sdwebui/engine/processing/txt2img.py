"""txt2img processing (A1111's `StableDiffusionProcessingTxt2Img`): sampling from noise, with the
optional hires second pass (engine.processing.hires)."""
from __future__ import annotations

from typing import Any

from sdwebui.engine.processing import hires
from sdwebui.engine.processing.base import StableDiffusionProcessing
from sdwebui.engine.sampling.loop import sample, txt2img_image_conditioning


class StableDiffusionProcessingTxt2Img(StableDiffusionProcessing):
    is_txt2img = True
    tabname = "txt2img"

    def __init__(self, enable_hr: bool = False, hr_scale: float = 2.0, hr_upscaler: str | None = None,
                 hr_second_pass_steps: int = 0, hr_resize_x: int = 0, hr_resize_y: int = 0,
                 hr_checkpoint_name: str | None = None, hr_sampler_name: str | None = None,
                 hr_scheduler: str | None = None, hr_prompt: str = "", hr_negative_prompt: str = "",
                 hr_cfg: float | None = None, hr_distilled_cfg: float = 3.5, firstphase_width: int = 0, firstphase_height: int = 0, **kwargs: Any):
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
        self.hr_cfg = hr_cfg    # the second pass's CFG scale; None or 0: the first pass's
        self.hr_distilled_cfg = float(hr_distilled_cfg)     # Forge's: the second pass's distilled CFG (Flux dev)
        self.hr_upscale_to_x = self.hr_upscale_to_y = 0
        self.truncate_x = self.truncate_y = 0
        self.hr_checkpoint_info = None
        self.hr_sampler = self.hr_schedule = None
        self.all_hr_prompts: list[str] = []
        self.all_hr_negative_prompts: list[str] = []

    @property
    def hr_steps(self) -> int:
        return self.hr_second_pass_steps or self.steps

    @property
    def hr_cfg_scale(self) -> float:
        return float(self.hr_cfg) if self.hr_cfg else float(self.cfg_scale)

    def init(self, model) -> None:
        if self.enable_hr:
            hires.prepare(self, model)

    def sample(self, model, scheduler, noise, conditioning, noise_rng, lo: int, hi: int):
        ctx = self.ctx
        image_cond = None
        if model.is_inpainting or model.is_edit:
            image_cond = txt2img_image_conditioning(model, hi - lo, self.width, self.height)
        latents, finished = sample(model, scheduler, noise, conditioning, steps=self.steps,
                                   cfg_scale=float(self.cfg_scale), width=self.width, height=self.height,
                                   generators=noise_rng.generators, rng=noise_rng, callback=self.callback(model),
                                   image_cond=image_cond,
                                   hooks=ctx.hooks, sampler=self.sampler, controls=self.unet_controls,
                                   **self.refiner_for("first", self.steps, lo, hi))
        model = ctx.model_manager.sd_model
        if not self.enable_hr or not finished or ctx.state.interrupted:
            return latents, finished
        ctx.state.nextjob()
        return self.sample_hr(model, latents, lo, hi)

    def sample_hr(self, model, latents, lo: int, hi: int):
        """The second pass: upscale, then img2img at the hires size with its own prompts and sampler."""
        return hires.second_pass(self, model, latents, lo, hi)
