"""A1111's sampler objects as extensions see and replace them: `Sampler` (what
`sd_samplers.create_sampler` returns and `p.sampler` holds, with its `model_wrap_cfg`) and `CFGDenoiser`
(the `model_wrap_cfg`, also what the cfg callbacks get as `params.denoiser`).

Sampling itself is the project's sampling pass (`loop.sample`, `kdiffusion/`); a Sampler object
here names which A1111 sampler the loop runs (its `name`, `aliases`, `options` are those of the
catalog's `SamplerInfo`, so `p.sampler` may be either) and carries the denoiser. When an extension
installs a CFGDenoiser subclass that overrides `combine_denoised` (sd-dynamic-thresholding does), the
loop computes the guidance with it, with A1111's arguments (docs/compatibility.md)."""
from __future__ import annotations

import logging
from typing import Any

import torch

from sdwebui.engine.sampling.samplers.catalog import SAMPLERS, SamplerInfo

logger = logging.getLogger(__name__)


class CFGDenoiser:
    """A1111's classifier-free guidance wrapper, as far as it is data here: A1111's fields, and
    `combine_denoised` with A1111's arguments and arithmetic."""

    def __init__(self, sampler: Any = None) -> None:
        self.sampler = sampler
        self.model: Any = getattr(sampler, "sd_model", None)   # the SDModel that samples (set by the loop)
        self.model_wrap = None                                 # A1111's k-diffusion wrapper: none here
        self.p = None
        self.steps = 0
        self.total_steps = 0
        self.step = 0
        self.mask = None
        self.nmask = None
        self.init_latent = None
        self.image_cfg_scale = None
        self.padded_cond_uncond = False
        self.padded_cond_uncond_v0 = False
        self.mask_before_denoising = False
        self.cond_scale_miltiplier = 1.0
        self.need_last_noise_uncond = False
        self.last_noise_uncond = None

    @property
    def inner_model(self) -> Any:
        """What A1111 calls the wrapped model; the UNet here."""
        return getattr(self.model, "unet", None)

    @property
    def inner_model_is_sdxl(self) -> bool:
        return bool(getattr(self.model, "is_sdxl", False))

    def combine_denoised(self, x_out: torch.Tensor, conds_list: list[list[tuple[int, float]]], uncond: Any,
                         cond_scale: float) -> torch.Tensor:
        """A1111's guidance: `x_out` holds the denoised (x0) predictions, every cond row first, then
        one uncond row per image; `conds_list[i]` lists image i's (cond row, weight)."""
        n_uncond = _rows(uncond)
        denoised_uncond = x_out[-n_uncond:]
        denoised = torch.clone(denoised_uncond)
        for i, conds in enumerate(conds_list):
            for cond_index, weight in conds:
                denoised[i] += (x_out[cond_index] - denoised_uncond[i]) * (weight * cond_scale)
        return denoised

    def combine_denoised_for_edit_model(self, x_out: torch.Tensor, cond_scale: float) -> torch.Tensor:
        out_cond, out_img_cond, out_uncond = x_out.chunk(3)
        return out_uncond + cond_scale * (out_cond - out_img_cond) + self.image_cfg_scale * (out_img_cond - out_uncond)

    def get_pred_x0(self, x_in: torch.Tensor, x_out: torch.Tensor, sigma: Any) -> torch.Tensor:
        return x_out

    def overrides_combine(self) -> bool:
        """Whether an extension's subclass computes the guidance itself."""
        return type(self).combine_denoised is not CFGDenoiser.combine_denoised


def _rows(cond: Any) -> int:
    if isinstance(cond, dict):
        cond = cond.get("crossattn", next(iter(cond.values())))
    return int(cond.shape[0])


class CFGDenoiserKDiffusion(CFGDenoiser):
    """A1111's denoiser of the k-diffusion samplers (extensions subclass it)."""


class CFGDenoiserTimesteps(CFGDenoiser):
    """A1111's denoiser of the timestep samplers (DDIM, PLMS, UniPC)."""


def _info_by_funcname(funcname: Any) -> SamplerInfo | None:
    """The catalog sampler an A1111 sampler function name means: k-diffusion's `sample_euler_ancestral`
    is the sampler with the alias `k_euler_ancestral`; the timestep ones are named by their label."""
    if not isinstance(funcname, str):
        return None
    key = funcname.lower()
    for info in SAMPLERS:
        if key.startswith("sample_") and f"k_{key[len('sample_'):]}" in info.aliases:
            return info
        if key == info.name.lower().replace(" ", "_").replace("+", "p"):
            return info
    return None


class Sampler:
    """A1111's sampler object. Its `name`, `aliases` and `options` are those of the catalog sampler
    it runs (`info`), so the engine reads it wherever it reads a SamplerInfo; `model_wrap_cfg` is the
    denoiser the loop asks for the guidance."""

    def __init__(self, funcname: Any, sd_model: Any = None, options: dict | None = None, *,
                 info: SamplerInfo | None = None) -> None:
        self.funcname = funcname
        self.func = funcname
        self.sd_model = sd_model
        self.info = info or _info_by_funcname(funcname)
        self.config: Any = None            # the SamplerData it was made from (create_sampler sets it)
        self.options: dict = dict(options if options is not None else (self.info.options if self.info else {}))
        self.extra_params: list[str] = []
        self.sampler_noises = None
        self.stop_at = None
        self.eta = None
        self.last_latent = None
        self.s_min_uncond = None
        self.s_churn, self.s_tmin, self.s_tmax, self.s_noise = 0.0, 0.0, float("inf"), 1.0
        self.eta_option_field, self.eta_infotext_field, self.eta_default = "eta_ancestral", "Eta", 1.0
        self.conditioning_key = "crossattn"
        self.p = None
        self.sampler_extra_args = None
        self.model_wrap_cfg: Any = self.make_denoiser()
        self.model_wrap = None

    def make_denoiser(self) -> CFGDenoiser:
        return CFGDenoiser(self)

    @property
    def name(self) -> str:
        """The catalog name of the sampler this runs ("Euler a"); an object made for a sampler the
        catalog lacks gives its config's name, which the scheduler factory then rejects by name."""
        if self.info is not None:
            return self.info.name
        return getattr(self.config, "name", None) or str(self.funcname)

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.info.aliases if self.info is not None else ()

    def callback_state(self, d: dict[str, Any]) -> None:
        step = d["i"]
        if self.stop_at is not None and step > self.stop_at:
            raise InterruptedException
        state = getattr(getattr(self.p, "ctx", None), "state", None)
        if state is not None:
            state.sampling_step = step

    def launch_sampling(self, steps: int, func: Any) -> Any:
        try:
            return func()
        except InterruptedException:
            return self.last_latent

    def number_of_needed_noises(self, p: Any) -> int:
        return p.steps

    def initialize(self, p: Any) -> dict[str, Any]:
        self.p = p
        self.model_wrap_cfg.p = p
        return {}

    def sample(self, p: Any, x: Any, conditioning: Any, unconditional_conditioning: Any, steps: int | None = None,
               image_conditioning: Any = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.sample: {_NO_SAMPLE}")

    def sample_img2img(self, p: Any, x: Any, noise: Any, conditioning: Any, unconditional_conditioning: Any,
                       steps: int | None = None, image_conditioning: Any = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.sample_img2img: {_NO_SAMPLE}")

    def add_infotext(self, p: Any) -> None:
        pass


_NO_SAMPLE = ("sampling runs in the project's sampling pass (engine/sampling/kdiffusion): set "
              "p.sampler (or p.sampler_name) and let processing sample; the loop calls this sampler's "
              "model_wrap_cfg.combine_denoised")


class InterruptedException(BaseException):
    """Raised by A1111 samplers when the job is interrupted."""


class KDiffusionSampler(Sampler):
    def make_denoiser(self) -> CFGDenoiser:
        return CFGDenoiserKDiffusion(self)


class CompVisSampler(Sampler):
    def __init__(self, funcname: Any, sd_model: Any = None, *, info: SamplerInfo | None = None) -> None:
        super().__init__(funcname, sd_model, info=info)
        self.eta_option_field, self.eta_infotext_field, self.eta_default = "eta_ddim", "Eta DDIM", 0.0

    def make_denoiser(self) -> CFGDenoiser:
        return CFGDenoiserTimesteps(self)

    @property
    def sampler(self) -> Any:
        # A1111 before 1.6 kept the LDM sampler object here; sd-dynamic-thresholding's UniPC support
        # still configures it
        raise AttributeError(f"{type(self).__name__}.sampler: A1111's LDM sampler object (ldm's DDIM/PLMS/UniPC) "
                             "does not exist; DDIM, PLMS and UniPC run in the project's own sampling pass, "
                             "so an extension cannot configure that object (use another sampler)")


# A1111's timestep samplers; the rest are k-diffusion ones
TIMESTEP_SAMPLERS = frozenset({"DDIM", "DDIM CFG++", "PLMS", "UniPC"})


def builtin_constructor(info: SamplerInfo):
    """The `SamplerData.constructor` of a catalog sampler: model -> its A1111 sampler object."""
    cls = CompVisSampler if info.name in TIMESTEP_SAMPLERS else KDiffusionSampler

    def construct(model: Any) -> Sampler:
        return cls(info.name, model, info=info)
    return construct
