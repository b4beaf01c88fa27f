"""Noise inversion: the noise from which the model would draw a given image, found by running the
Euler sampler backwards (from the clean latent up to the highest noise level) on k-diffusion's
sigma schedule of the model. A1111's "img2img alternative test" redraws an image from it
(`find_noise_for_image` and its sigma-adjusted variant there).
"""
from __future__ import annotations

import logging
from typing import Callable

import torch

from sdwebui.engine.models.single_file import SDModel
from sdwebui.engine.sampling.loop import StepInfo

logger = logging.getLogger(__name__)


def training_sigmas(model: SDModel) -> torch.Tensor:
    """The noise level (sigma = sqrt((1 - a) / a)) of each of the model's training timesteps."""
    from diffusers import DDPMScheduler

    alphas = DDPMScheduler.from_config(model.scheduler_config).alphas_cumprod.to(torch.float64)
    return ((1 - alphas) / alphas).sqrt()


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """numpy.interp for increasing `xp`."""
    index = torch.searchsorted(xp, x.clamp(xp[0], xp[-1])).clamp(1, len(xp) - 1)
    lo, hi = xp[index - 1], xp[index]
    w = (x.clamp(xp[0], xp[-1]) - lo) / (hi - lo)
    return fp[index - 1] + w * (fp[index] - fp[index - 1])


def ascending_sigmas(all_sigmas: torch.Tensor, steps: int) -> torch.Tensor:
    """k-diffusion's discretisation of the training sigmas for `steps` steps (timesteps evenly
    spaced from the last to the first, sigma interpolated in log space), plus 0, lowest first."""
    t = torch.linspace(len(all_sigmas) - 1, 0, steps, dtype=torch.float64)
    log = all_sigmas.log()
    sigmas = _interp(t, torch.arange(len(all_sigmas), dtype=torch.float64), log).exp()
    return torch.cat([sigmas, sigmas.new_zeros(1)]).flip(0)


def sigma_to_t(sigma: float, all_sigmas: torch.Tensor) -> float:
    """The (fractional) training timestep of a noise level."""
    log = all_sigmas.log()
    return float(_interp(torch.tensor([max(sigma, float(all_sigmas[0]))], dtype=torch.float64).log(), log,
                         torch.arange(len(all_sigmas), dtype=torch.float64))[0])


def _denoiser(model: SDModel, context: torch.Tensor, pooled: torch.Tensor | None, image_cond: torch.Tensor | None,
              cfg_scale: float, width: int, height: int) -> Callable[[torch.Tensor, float, float], torch.Tensor]:
    """denoise(x, sigma, t): the model's estimate of the clean latent of `x` at noise level `sigma`
    (fed to the UNet as timestep `t`), guided from the uncond rows (first half of `context`) to the
    cond rows by `cfg_scale`."""
    v_model = model.parameterization == "v"
    added = None
    if model.is_sdxl:
        ids = torch.tensor([[height, width, 0, 0, height, width]] * context.shape[0], device=model.device,
                           dtype=model.dtype)
        added = {"text_embeds": pooled.to(model.device, model.dtype), "time_ids": ids}
    context = context.to(model.device, model.dtype)

    def denoise(x: torch.Tensor, sigma: float, t: float) -> torch.Tensor:
        x_in = torch.cat([x, x])
        scale_in = 1.0 / (sigma * sigma + 1.0) ** 0.5
        unet_in = (x_in * scale_in).to(model.dtype)
        if image_cond is not None:      # inpainting models: mask and masked-image latents beside the latent
            unet_in = torch.cat([unet_in, torch.cat([image_cond, image_cond]).to(model.dtype)], dim=1)
        timestep = torch.full((x_in.shape[0],), t, device=model.device, dtype=torch.float32)
        out = model.unet(unet_in, timestep, encoder_hidden_states=context, added_cond_kwargs=added,
                         return_dict=False)[0].float()
        if v_model:     # v-prediction: x0 = c_skip x + c_out v
            denoised = x_in / (sigma * sigma + 1.0) - out * sigma * scale_in
        else:           # eps-prediction: x0 = x - sigma eps
            denoised = x_in - out * sigma
        uncond, cond = denoised.chunk(2)
        return uncond + (cond - uncond) * cfg_scale

    return denoise


@torch.inference_mode()
def find_noise_for_image(model: SDModel, init_latent: torch.Tensor, context: torch.Tensor, pooled: torch.Tensor | None,
                         cfg_scale: float, steps: int, *, sigma_adjustment: bool = False,
                         image_cond: torch.Tensor | None = None, width: int = 512, height: int = 512,
                         callback: Callable[[StepInfo], None] | None = None) -> torch.Tensor:
    """The unit-scale noise that Euler sampling of `steps` steps would turn into `init_latent`.
    `context`: the uncond rows (one per image) then the cond rows, the prompts the image was made
    with. With `sigma_adjustment` each step evaluates the model at the level it starts from (the
    variant suggested in A1111's issue 736), and the result is divided by the top sigma instead of
    normalised to unit spread. `callback` gets each step (it may raise loop.Interrupted)."""
    all_sigmas = training_sigmas(model)
    sigmas = ascending_sigmas(all_sigmas, steps).tolist()
    denoise = _denoiser(model, context, pooled, image_cond, cfg_scale, width, height)
    x = init_latent.to(model.device, torch.float32)
    for i in range(1, len(sigmas)):
        if sigma_adjustment:
            # the first step's level is 0: evaluate at the next level's timestep, and halve its slope
            t = sigma_to_t(sigmas[i] if i == 1 else sigmas[i - 1], all_sigmas)
            denoised = denoise(x, sigmas[i - 1], t)
            d = (x - denoised) / (2 * sigmas[i] if i == 1 else sigmas[i - 1])
        else:
            denoised = denoise(x, sigmas[i], sigma_to_t(sigmas[i], all_sigmas))
            d = (x - denoised) / sigmas[i]
        x = x + d * (sigmas[i] - sigmas[i - 1])
        if callback is not None:
            callback(StepInfo(step=i, total=len(sigmas) - 1, latents=x))
    return x / sigmas[-1] if sigma_adjustment else x / x.std()


def start_sigma(scheduler, total_steps: int, denoise_steps: int) -> float:
    """The noise level at which the sampling pass (loop.sample) starts an img2img run with A1111's t_enc
    `denoise_steps` out of a `total_steps` schedule (`scheduler`: a kdiffusion.KSampler)."""
    return scheduler.start_sigma(total_steps, denoise_steps)
