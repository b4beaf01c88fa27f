"""What txt2img and img2img processing objects have in common: A1111's fields (extensions read
them by those names), seeds and prompts per image, the refiner switch and the per-step progress
callback. Everything outside the job reaches it through `p.ctx` (engine.context.GenerationContext).
"""
from __future__ import annotations

import random
from typing import Any

from PIL import Image

from sdwebui.engine.context import GenerationContext
from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.prompt.encoding import PromptEncoder, ScheduledConditioning
from sdwebui.engine.prompt.encoding_dit import prompt_encoder_for
from sdwebui.engine.prompt.extra_networks import parse_prompts
from sdwebui.engine.sampling import samplers
from sdwebui.engine.sampling.loop import Interrupted, StepInfo

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
    # A1111's class-level conditioning caches: extensions reset them ([None, None]) to force a
    # re-encode; the prompt encoder here caches per job, so they hold nothing
    cached_c: list = [None, None]
    cached_uc: list = [None, None]

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
                 disable_extra_networks: bool = False, s_churn: float | None = None, s_tmax: float | None = None,
                 s_tmin: float | None = None, s_noise: float | None = None, s_min_uncond: float | None = None,
                 scripts: Any = None, script_args: list | None = None, distilled_cfg_scale: float = 3.5, **_: Any):
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
        # the sampler's churn/noise settings; None: the option of the same name (sampler_setup.py)
        self.s_churn, self.s_tmax, self.s_tmin, self.s_noise = s_churn, s_tmax, s_tmin, s_noise
        self.s_min_uncond = s_min_uncond
        self.batch_size = int(batch_size)
        self.n_iter = int(n_iter)
        self.steps = int(steps)
        self.cfg_scale = cfg_scale
        # Forge's: the guidance FLUX.1 dev was distilled to take (its guidance embedder); no other model reads it
        self.distilled_cfg_scale = 3.5 if distilled_cfg_scale is None else float(distilled_cfg_scale)
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
        # A1111: with it set, no `<name:...>` tag acts (not even LoRA); the tags are still removed
        self.disable_extra_networks = bool(disable_extra_networks)
        self.extra_network_data: dict | None = None     # this batch's tags by name (A1111's field)
        self.base_checkpoint_info = None
        self.extra_generation_params: dict[str, Any] = {}
        # residuals added to the UNet at each step (ControlNet units, engine/control); scripts fill it
        self.unet_controls: list = []
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
        # the job's way to the rest of the process; set by the services layer before the job runs
        self.ctx: GenerationContext | None = None

    @property
    def script_args_value(self) -> list:
        """A1111 1.10's field behind its `script_args` property; sd-webui-controlnet's external_code
        (ADetailer and others drive ControlNet with it) reads it."""
        return self.script_args

    @script_args_value.setter
    def script_args_value(self, value) -> None:
        self.script_args = value

    def parse_extra_network_prompts(self) -> None:
        """A1111's: this batch's prompts lose their `<name:...>` tags, which `extra_network_data` keeps
        by name (the first prompt's, as in A1111)."""
        self.prompts, data = parse_prompts(self.prompts)
        self.extra_network_data = data if data is not None else {}

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
        registry = self.ctx.registry
        info = registry.match(self.refiner_checkpoint)
        if info is None:
            raise ProcessingError("refiner_checkpoint", f"checkpoint {self.refiner_checkpoint!r} not found; available: "
                                                        f"{[c.title for c in registry.list()]}")
        self.refiner_checkpoint_info = info
        self.extra_generation_params["Refiner"] = info.short_title
        self.extra_generation_params["Refiner switch at"] = self.refiner_switch_at

    def refiner_for(self, pass_name: str, steps_run: int, lo: int, hi: int, prompts: list[str] | None = None,
                    negatives: list[str] | None = None) -> dict:
        """Keyword arguments for sample(): the step at which to switch to the refiner and how."""
        if self.refiner_checkpoint_info is None or steps_run < 2:
            return {}
        ctx = self.ctx
        if getattr(self, "enable_hr", False):
            wanted = ctx.opts.hires_fix_refiner_pass
            if not (wanted == "both passes" or wanted.startswith(pass_name)):
                return {}
        prompts = self.all_prompts[lo:hi] if prompts is None else prompts
        negatives = self.all_negative_prompts[lo:hi] if negatives is None else negatives

        def switch():
            model = ctx.model_manager.load(self.refiner_checkpoint_info)
            ctx.embeddings.refresh(model)
            conditioning = ScheduledConditioning(make_encoder(self, model), prompts,
                                                 negatives if self.cfg_scale != 1.0 else None,
                                                 self.steps * samplers.step_multiplier(self.sampler))
            conditioning.distilled_cfg_scale = self.distilled_cfg_scale
            return model, conditioning

        return {"switch_at": max(1, min(steps_run - 1, int(float(self.refiner_switch_at) * steps_run))),
                "on_switch": switch}

    def callback(self, model):
        return preview_callback(self, model)

    @property
    def sd_model(self):
        """The resident model (A1111's p.sd_model); None outside a job's context."""
        ctx = self.ctx
        return ctx.model_manager.sd_model if ctx is not None and ctx.model_manager else None

    def setup_seeds(self) -> None:
        """all_prompts / all_seeds ... for the job. As A1111, p.prompt, p.negative_prompt and p.seed
        may be lists (one per image: prompt matrix, prompts from file), which then set the count."""
        n = self.n_iter * self.batch_size
        if isinstance(self.prompt, list):
            n = len(self.prompt)
        elif isinstance(self.negative_prompt, list):
            n = len(self.negative_prompt)
        if isinstance(self.seed, list):
            self.all_seeds = [random_seed() if int(s) == -1 else int(s) for s in self.seed]
            seed = self.all_seeds[0] if self.all_seeds else random_seed()
        else:
            seed = random_seed() if self.seed == -1 else int(self.seed)
            # A1111: with a variation strength, every image shares the seed and the subseed varies
            self.all_seeds = [seed] * n if self.subseed_strength > 0 else [seed + i for i in range(n)]
        subseed = random_seed() if self.subseed == -1 else self.subseed
        self.seed, self.subseed = seed, subseed
        self.all_subseeds = [subseed + i for i in range(n)]
        prompts = list(self.prompt) if isinstance(self.prompt, list) else [self.prompt] * n
        negatives = list(self.negative_prompt) if isinstance(self.negative_prompt, list) else [self.negative_prompt] * n
        styles = self.ctx.prompt_styles
        if self.styles and styles is not None:
            missing = styles.check(self.styles)
            if missing:
                raise ProcessingError("styles", f"style {missing[0]!r} not found; available: {list(styles.styles)}")
            pairs = [styles.apply(a, b, self.styles) for a, b in zip(prompts, negatives)]
            prompts, negatives = [a for a, _ in pairs], [b for _, b in pairs]
        self.all_prompts = prompts
        self.all_negative_prompts = negatives


def make_encoder(p: StableDiffusionProcessing, model) -> PromptEncoder:
    """The prompt encoder for `model` with the job's settings; `p.encoders` keeps every one made (their
    used embeddings go into the infotext)."""
    opts = p.ctx.opts
    pad = "v0" if opts.pad_cond_uncond_v0 else "empty" if opts.pad_cond_uncond else "separate"
    encoder = prompt_encoder_for(model, clip_skip=p.clip_skip, emphasis=opts.emphasis,
                            comma_backtrack=int(opts.comma_padding_backtrack), embeddings=p.ctx.embeddings,
                            pad_conds=pad)
    p.encoders = [*getattr(p, "encoders", []), encoder]
    # A1111 records a mode other than Original when a text it encodes has brackets
    if opts.emphasis != "Original" and any("(" in t or "[" in t for t in (*p.all_prompts, *p.all_negative_prompts)):
        p.extra_generation_params["Emphasis"] = opts.emphasis
    return encoder


def preview_callback(p: StableDiffusionProcessing, model):
    """The sampling loop's per-step callback: progress into the job state; the step's predicted
    result (A1111's `live_preview_content`) as `state.current_latent`, turned into the live preview
    when a client asked for one and it is due (A1111's `show_progress_every_n_steps`); the interrupt /
    skip flags turned into Interrupted."""
    state = p.ctx.state
    opts = p.ctx.opts
    previews = opts.live_previews_enable

    def cb(info: StepInfo) -> None:
        state.sampling_step = info.step
        state.sampling_steps = info.total
        if previews:
            state.current_latent = info.denoised(opts.live_preview_content) if info.denoised else info.latents
            if state.live_preview_wanted and info.step < info.total and state.live_preview_due():
                state.live_preview_wanted = False
                state.do_set_current_image()
        if state.interrupted or state.skipped or state.stopping_generation:
            raise Interrupted()

    return cb
