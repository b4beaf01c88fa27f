"""Euler a: Karras/Exponential sigmas and A1111's eta (``eta_ancestral``)."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from diffusers.utils.torch_utils import randn_tensor

from sdwebui.engine.sampling.samplers.schedules import exponential_sigmas, karras_sigmas, sigma_to_t

logger = logging.getLogger(__name__)


class EulerAncestralMixin:
    """Euler a: Karras/Exponential sigmas (diffusers lacks them for this class) and eta."""

    _a1111_sigma_kind: str | None = None
    _a1111_eta: float = 1.0

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        super().set_timesteps(num_inference_steps, device)  # type: ignore[misc]
        kind = self._a1111_sigma_kind
        if kind not in ("karras", "exponential", "polyexponential"):
            return
        ac = self.alphas_cumprod.double().numpy()  # type: ignore[attr-defined]
        train = ((1.0 - ac) / ac) ** 0.5
        lo, hi = float(train.min()), float(train.max())
        n = int(num_inference_steps)
        sig = karras_sigmas(n, lo, hi) if kind == "karras" else exponential_sigmas(n, lo, hi)
        ts = sigma_to_t(sig, train)
        self.sigmas = torch.from_numpy(np.append(sig, 0.0).astype(np.float32))
        self.timesteps = torch.from_numpy(ts.astype(np.float32)).to(device=device)

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any,
             generator: Any = None, return_dict: bool = True, **kwargs: Any) -> Any:
        eta = float(self._a1111_eta)
        if eta == 1.0 or args or kwargs:
            return super().step(model_output, timestep, sample, *args, generator=generator,  # type: ignore[misc]
                                return_dict=return_dict, **kwargs)
        from diffusers.schedulers.scheduling_euler_ancestral_discrete import EulerAncestralDiscreteSchedulerOutput

        if self.step_index is None:  # type: ignore[attr-defined]
            self._init_step_index(timestep)  # type: ignore[attr-defined]
        i = self.step_index  # type: ignore[attr-defined]
        sigma, sigma_to = float(self.sigmas[i]), float(self.sigmas[i + 1])  # type: ignore[attr-defined]
        x = sample.to(torch.float32)
        eps = model_output.to(torch.float32)
        if self.config.prediction_type == "epsilon":  # type: ignore[attr-defined]
            denoised = x - sigma * eps
        elif self.config.prediction_type == "v_prediction":  # type: ignore[attr-defined]
            denoised = eps * (-sigma / (sigma**2 + 1) ** 0.5) + x / (sigma**2 + 1)
        else:
            raise ValueError(f"prediction_type {self.config.prediction_type!r} is not supported by Euler a")  # type: ignore[attr-defined]
        sigma_up = min(sigma_to, eta * (sigma_to**2 * (sigma**2 - sigma_to**2) / sigma**2) ** 0.5)
        sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5
        x = x + (x - denoised) / sigma * (sigma_down - sigma)
        noise = randn_tensor(model_output.shape, dtype=model_output.dtype, device=model_output.device,
                             generator=generator)
        x = (x + noise.to(torch.float32) * sigma_up).to(model_output.dtype)
        self._step_index += 1  # type: ignore[attr-defined]
        if not return_dict:
            return (x, denoised)
        return EulerAncestralDiscreteSchedulerOutput(prev_sample=x, pred_original_sample=denoised)
