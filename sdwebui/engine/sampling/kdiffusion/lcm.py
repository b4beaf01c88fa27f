"""LCM (Luo et al. 2023) as A1111 runs it: the model's noise levels reduced to the 50 timesteps an LCM was
distilled on (19, 39, ..., 999), timesteps quantized to them, the consistency model's boundary scaling
(sigma_data 0.5, timestep scale 10) on top of the epsilon denoiser, and the sampler that jumps to each
prediction and re-noises it to the next level."""
from __future__ import annotations

import torch

from sdwebui.engine.sampling.kdiffusion.discrete import DiscreteSchedule, append_zero
from sdwebui.engine.sampling.kdiffusion.solvers import Callback, Model, Noise

ORIGINAL_STEPS = 50


class LCMSchedule(DiscreteSchedule):
    """The 50 distilled levels: level k is the trained timestep k * skip + skip - 1."""

    def __init__(self, alphas_cumprod: torch.Tensor) -> None:
        n = len(alphas_cumprod)
        self.skip = n // ORIGINAL_STEPS
        picked = torch.stack([alphas_cumprod[n - 1 - k * self.skip] for k in range(ORIGINAL_STEPS)]).flip(0)
        super().__init__(picked, quantize=True)

    def sigma_to_t(self, sigma: torch.Tensor, quantize: bool | None = None) -> torch.Tensor:
        dists = sigma.log() - self.log_sigmas.to(sigma.device)[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape) * self.skip + (self.skip - 1)

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        level = torch.clamp((torch.as_tensor(t) - (self.skip - 1)) / self.skip, min=0, max=len(self.sigmas) - 1)
        return super().t_to_sigma(level.float())

    def uniform_sigmas(self, n: int) -> torch.Tensor:
        start, end = self.sigma_to_t(self.sigma_max), self.sigma_to_t(self.sigma_min)
        return append_zero(self.t_to_sigma(torch.linspace(float(start), float(end), n)))


def boundary(schedule: LCMSchedule, sigma: torch.Tensor, denoised: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The consistency model's output: c_out * denoised + c_skip * x at the level's scaled timestep."""
    scaled = schedule.sigma_to_t(sigma.reshape(1)).reshape(()).float() * 10.0
    c_skip = 0.25 / (scaled ** 2 + 0.25)
    c_out = scaled / (scaled ** 2 + 0.25) ** 0.5
    return c_out * denoised + c_skip * x


def lcm(model: Model, x: torch.Tensor, sigmas: torch.Tensor, noise: Noise, callback: Callback) -> torch.Tensor:
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        callback(i, x, denoised)
        x = denoised
        if sigmas[i + 1] > 0:
            x = x + sigmas[i + 1] * noise(sigmas[i], sigmas[i + 1])
    return x
