"""A1111's sampler modules (`sd_samplers_common`, `sd_samplers_kdiffusion`, `sd_samplers_timesteps`,
`sd_samplers_cfg_denoiser` ...) as far as they mean something here.

Sampling here is the project's own implementation of A1111's samplers (`engine/sampling/kdiffusion`),
run by its sampling pass (`engine/sampling/loop.py`) and chosen by A1111's sampler and schedule names. What carries over: the sampler tables (names, aliases,
options, constructors), `create_sampler` and the sampler objects with their `model_wrap_cfg` denoiser
(`engine/sampling/denoiser.py`: an extension's CFGDenoiser subclass computes the guidance), the latent
<-> image helpers (on the resident model's VAE), `setup_img2img_steps` and the cond helpers. Running
an A1111 sampler object's own `sample` raises NotImplementedError: the loop samples.
"""
from __future__ import annotations

import logging
from typing import Any

import torch

from sdwebui.engine.sampling.denoiser import (CFGDenoiser, CFGDenoiserKDiffusion, CFGDenoiserTimesteps, CompVisSampler,
                                              InterruptedException, KDiffusionSampler, Sampler,
                                              TIMESTEP_SAMPLERS)
from sdwebui.engine.sampling.samplers.catalog import SAMPLERS
from sdwebui.engine.sampling.samplers.extension_tables import SamplerData, all_samplers, create_sampler
from sdwebui.services import runtime
from sdwebui.services.legacy import unsupported, unsupported_class

logger = logging.getLogger(__name__)

__all__ = ["CFGDenoiser", "CFGDenoiserKDiffusion", "CFGDenoiserTimesteps", "CompVisSampler",
           "CompVisTimestepsDenoiser", "CompVisTimestepsVDenoiser", "InterruptedException", "KDiffusionSampler",
           "LCMCompVisDenoiser", "NoiseScheduleVP", "Sampler", "SamplerData", "TorchHijack", "UniPC", "UniPCSampler",
           "VanillaStableDiffusionSampler",
           "apply_refiner", "approximation_indexes", "catenate_conds", "create_sampler", "decode_first_stage",
           "images_tensor_to_samples", "is_sampler_using_eta_noise_seed_delta", "k_diffusion_samplers_map",
           "k_diffusion_scheduler", "pad_cond", "replace_torchsde_browinan", "sample_to_image",
           "sampler_extra_params", "samplers_data_k_diffusion", "samplers_data_timesteps", "samplers_k_diffusion",
           "samplers_timesteps", "samples_to_image_grid", "samples_to_images_tensor", "setup_img2img_steps",
           "single_sample_to_image", "store_latent", "subscript_cond", "cheap_approximation"]

_NO_SAMPLER_OBJECTS = ("the project's own samplers are chosen by name here: set p.sampler_name and p.scheduler, "
                       "and use script_callbacks.on_cfg_denoiser / on_cfg_after_cfg to act on each step")

approximation_indexes = {"Full": 0, "Approx NN": 1, "Approx cheap": 2, "TAESD": 3}

VanillaStableDiffusionSampler = CompVisSampler    # A1111's old name, kept by sd_samplers_timesteps


def _funcname(aliases: tuple[str, ...] | list[str]) -> str | None:
    # k-diffusion's function for a sampler: its "k_" alias (k_dpmpp_2m -> sample_dpmpp_2m)
    return next((f"sample_{a[2:]}" for a in aliases if a.startswith("k_")), None)


samplers_k_diffusion: list[tuple[str, str | None, list[str], dict]] = [
    (s.name, _funcname(s.aliases), list(s.aliases), dict(s.options)) for s in SAMPLERS if s.name not in TIMESTEP_SAMPLERS]
samplers_timesteps: list[tuple[str, None, list[str], dict]] = [
    (s.name, None, list(s.aliases), dict(s.options)) for s in SAMPLERS if s.name in TIMESTEP_SAMPLERS]
# the same entries as sd_samplers.all_samplers (their constructors make the sampler objects)
samplers_data_k_diffusion = [d for d in all_samplers if d.name not in TIMESTEP_SAMPLERS]
samplers_data_timesteps = [d for d in all_samplers if d.name in TIMESTEP_SAMPLERS]
k_diffusion_samplers_map = {d.name: d for d in samplers_data_k_diffusion}
sampler_extra_params = {"sample_euler": ["s_churn", "s_tmin", "s_tmax", "s_noise"],
                        "sample_heun": ["s_churn", "s_tmin", "s_tmax", "s_noise"],
                        "sample_dpm_2": ["s_churn", "s_tmin", "s_tmax", "s_noise"],
                        "sample_dpm_fast": ["s_noise"], "sample_dpm_2_ancestral": ["s_noise"],
                        "sample_dpmpp_2s_ancestral": ["s_noise"], "sample_dpmpp_sde": ["s_noise"],
                        "sample_dpmpp_2m_sde": ["s_noise"], "sample_dpmpp_3m_sde": ["s_noise"]}
k_diffusion_scheduler = {"Automatic": None, "karras": "get_sigmas_karras", "exponential": "get_sigmas_exponential",
                         "polyexponential": "get_sigmas_polyexponential"}


def setup_img2img_steps(p: Any, steps: int | None = None) -> tuple[int, int]:
    """(steps to schedule, steps to run) for img2img at p.denoising_strength, as A1111 computes them;
    with the img2img_fix_steps setting (or `steps`), the steps run are exactly the requested ones."""
    fix = bool(getattr(runtime.opts, "img2img_fix_steps", False)) if runtime.opts is not None else False
    strength = float(p.denoising_strength)
    if fix or steps is not None:
        requested = steps or p.steps
        return (int(requested / min(strength, 0.999)) if strength > 0 else 0), requested - 1
    return p.steps, int(min(strength, 0.999) * p.steps)


def is_sampler_using_eta_noise_seed_delta(p: Any) -> bool:
    """Whether eta_noise_seed_delta (ENSD) applies to the sampler of `p` (A1111: ancestral and SDE ones)."""
    from sdwebui.engine.sampling.samplers.extension_tables import find_sampler_config

    data = find_sampler_config(getattr(p, "sampler_name", None))
    return bool(data and data.options.get("uses_ensd", False))


def _model(model: Any = None) -> Any:
    model = model or (runtime.model_manager.sd_model if runtime.model_manager is not None else None)
    if model is None:
        raise RuntimeError("no model is loaded: decoding latents needs the resident model's VAE")
    return model


def samples_to_images_tensor(sample: torch.Tensor, approximation: int | None = None, model: Any = None) -> torch.Tensor:
    """Latents -> images in [-1, 1] (B, 3, H, W) by A1111's method index (0 Full, 1 Approx NN, 2 Approx
    cheap, 3 TAESD; None: the live preview's `show_progress_type`). The approximations come at their
    own size (Approx cheap: the latent's), as in A1111."""
    from sdwebui.engine.sampling import previews

    model = _model(model)
    opts = runtime.opts
    if approximation is None:
        method = previews.effective_method(model, opts.show_progress_type,
                                           allow_offloaded_full=opts.live_preview_allow_lowvram_full)
    else:
        method = {v: k for k, v in approximation_indexes.items()}.get(approximation, "Full")
    return previews.latents_to_rgb(model, sample, method, runtime.preview_decoders) * 2 - 1


def decode_first_stage(model: Any, x: torch.Tensor) -> torch.Tensor:
    return samples_to_images_tensor(x, approximation_indexes.get(runtime.opts.sd_vae_decode_method, 0), model)


def single_sample_to_image(sample: torch.Tensor, approximation: int | None = None) -> Any:
    """One latent (C, H, W) -> a PIL image."""
    from sdwebui.engine.processing.image_latents import to_pil

    x = samples_to_images_tensor(sample[None], approximation)
    return to_pil(((x + 1) / 2).clamp(0, 1).float().cpu())[0]


def sample_to_image(samples: torch.Tensor, index: int = 0, approximation: int | None = None) -> Any:
    return single_sample_to_image(samples[index], approximation)


def samples_to_image_grid(samples: torch.Tensor, approximation: int | None = None) -> Any:
    from sdwebui.engine.images.grids import image_grid

    return image_grid([single_sample_to_image(s, approximation) for s in samples])


def images_tensor_to_samples(image: torch.Tensor, approximation: int | None = None, model: Any = None) -> torch.Tensor:
    """Images (B, 3, H, W) in [0, 1] -> latents, by A1111's method index (3: TAESD's encoder; else the
    VAE; None: `sd_vae_encode_method`)."""
    from sdwebui.engine.processing.image_latents import encode_images_tensor
    from sdwebui.engine.sampling import previews

    model = _model(model)
    if approximation is None:
        approximation = approximation_indexes.get(runtime.opts.sd_vae_encode_method, 0)
    with torch.inference_mode():
        if approximation == approximation_indexes["TAESD"]:
            return previews.rgb_to_latents(model, image, runtime.preview_decoders)
        return encode_images_tensor(model, image * 2 - 1)


def cheap_approximation(sample: torch.Tensor) -> torch.Tensor:
    """A1111's sd_vae_approx.cheap_approximation: a latent (4, H, W) -> its colours (3, H, W) in [-1, 1]."""
    from sdwebui.engine.sampling.previews import approximate_rgb

    return approximate_rgb(_model(), sample[None]) * 2 - 1


def store_latent(decoded: torch.Tensor) -> None:
    """Make `decoded` the live preview's latent (A1111's samplers call this every step)."""
    state = runtime.state
    state.current_latent = decoded
    state.set_current_image()


def catenate_conds(conds: list[Any]) -> Any:
    if not isinstance(conds[0], dict):
        return torch.cat(conds)
    return {key: torch.cat([c[key] for c in conds]) for key in conds[0]}


def subscript_cond(cond: Any, a: int, b: int) -> Any:
    if not isinstance(cond, dict):
        return cond[a:b]
    return {key: vec[a:b] for key, vec in cond.items()}


def pad_cond(tensor: Any, repeats: int, empty: torch.Tensor) -> Any:
    """`tensor`'s token axis lengthened by `repeats` copies of `empty` (77-token chunks)."""
    if isinstance(tensor, dict):
        for key, vec in tensor.items():
            if vec.dim() == 3:
                tensor[key] = pad_cond(vec, repeats, empty)
        return tensor
    return torch.cat([tensor, empty.repeat((tensor.shape[0], repeats, 1))], dim=1)


class TorchHijack:
    """A1111 routes k-diffusion's torch.randn_like through the job's seeded noise with this; here
    the loop draws its own seeded noise. Attribute reads fall through to torch."""

    def __init__(self, p: Any) -> None:
        self.rng = getattr(p, "rng", None)

    def __getattr__(self, item: str) -> Any:
        return getattr(torch, item)


def replace_torchsde_browinan() -> None:
    """A1111 patches torchsde's Brownian interval for seeded SDE noise; there is no torchsde here."""


apply_refiner = unsupported("sd_samplers_common.apply_refiner",
                            "the refiner switch is made by the sampling loop (p.refiner_checkpoint, p.refiner_switch_at)")
CompVisTimestepsDenoiser = unsupported_class("sd_samplers_timesteps.CompVisTimestepsDenoiser", _NO_SAMPLER_OBJECTS)
CompVisTimestepsVDenoiser = unsupported_class("sd_samplers_timesteps.CompVisTimestepsVDenoiser", _NO_SAMPLER_OBJECTS)
LCMCompVisDenoiser = unsupported_class("sd_samplers_lcm.LCMCompVisDenoiser", _NO_SAMPLER_OBJECTS)
UniPCSampler = unsupported_class("models.diffusion.uni_pc.UniPCSampler", _NO_SAMPLER_OBJECTS)
UniPC = unsupported_class("models.diffusion.uni_pc.uni_pc.UniPC", _NO_SAMPLER_OBJECTS)
NoiseScheduleVP = unsupported_class("models.diffusion.uni_pc.uni_pc.NoiseScheduleVP", _NO_SAMPLER_OBJECTS)
