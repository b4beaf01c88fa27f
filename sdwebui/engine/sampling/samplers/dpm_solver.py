"""The DPM-Solver family (DPM++ 2M, 2M SDE, 2M SDE Heun, 3M SDE, 2S a, SDE): A1111's timestep
schedules, ``discard_next_to_last_sigma``, Brownian-tree noise and k-diffusion's 3M SDE update."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from sdwebui.engine.sampling.samplers.noise import brownian_sampler, seeds_from_generators
from sdwebui.engine.sampling.samplers.schedules import a1111_timesteps

logger = logging.getLogger(__name__)


class CustomTimestepsMixin:
    """DPM-Solver family: A1111 timestep schedules (diffusers' 'linspace' drops t=0) and the
    ``discard_next_to_last_sigma`` option."""

    _a1111_timesteps_kind: str | None = None
    _a1111_discard_penultimate: bool = False

    def set_timesteps(self, num_inference_steps: int | None = None, device: Any = None, mu: float | None = None,
                      timesteps: list[int] | None = None) -> None:
        if timesteps is not None or num_inference_steps is None:
            super().set_timesteps(num_inference_steps, device=device, mu=mu, timesteps=timesteps)  # type: ignore[misc]
            return
        n = int(num_inference_steps) + (1 if self._a1111_discard_penultimate else 0)
        kind = self._a1111_timesteps_kind
        if kind is not None:
            ts = a1111_timesteps(kind, n, self.config.num_train_timesteps).round().astype(np.int64)  # type: ignore[attr-defined]
            super().set_timesteps(device=device, timesteps=ts.tolist())  # type: ignore[misc]
        else:
            super().set_timesteps(n, device=device, mu=mu)  # type: ignore[misc]
        if self._a1111_discard_penultimate and len(self.timesteps) >= 2:  # type: ignore[attr-defined]
            self.sigmas = torch.cat([self.sigmas[:-2], self.sigmas[-1:]])  # type: ignore[attr-defined]
            self.timesteps = self.timesteps[:-1]  # type: ignore[attr-defined]
            self.num_inference_steps = len(self.timesteps)


class DPMMultistepMixin(CustomTimestepsMixin):
    """DPM++ 2M / 2M SDE / 3M SDE: Brownian-tree noise when seeded, k-diffusion's 3M SDE update."""

    _a1111_brownian_seed: int | list[int] | None = None
    _a1111_noise_sampler: Any = None

    def set_timesteps(self, *args: Any, **kwargs: Any) -> None:
        super().set_timesteps(*args, **kwargs)
        self._a1111_noise_sampler = None

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any,
             variance_noise: torch.Tensor | None = None, **kwargs: Any) -> Any:
        if (self._a1111_brownian_seed is not None and variance_noise is None and not args
                and self.config.algorithm_type == "sde-dpmsolver++"):  # type: ignore[attr-defined]
            if self.step_index is None:  # type: ignore[attr-defined]
                self._init_step_index(timestep)  # type: ignore[attr-defined]
            if self._a1111_noise_sampler is None:
                self._a1111_noise_sampler = brownian_sampler(sample, self.sigmas, self._a1111_brownian_seed)  # type: ignore[attr-defined]
            i = self.step_index  # type: ignore[attr-defined]
            sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]  # type: ignore[attr-defined]
            if float(sigma_next) > 0:
                variance_noise = self._a1111_noise_sampler(sigma, sigma_next)
            else:
                variance_noise = torch.zeros_like(sample)
        return super().step(model_output, timestep, sample, *args, variance_noise=variance_noise, **kwargs)  # type: ignore[misc]

    def multistep_dpm_solver_third_order_update(self, model_output_list: list[torch.Tensor], *args: Any,
                                                sample: torch.Tensor | None = None,
                                                noise: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        if self.config.algorithm_type != "sde-dpmsolver++" or args or sample is None:  # type: ignore[attr-defined]
            return super().multistep_dpm_solver_third_order_update(  # type: ignore[misc]
                model_output_list, *args, sample=sample, noise=noise, **kwargs)
        # k-diffusion's DPM++ 3M SDE (eta = 1), written for diffusers' VP-scaled sample.
        i = self.step_index  # type: ignore[attr-defined]
        alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(self.sigmas[i + 1])  # type: ignore[attr-defined]
        lambdas = []
        for s in (self.sigmas[i + 1], self.sigmas[i], self.sigmas[i - 1], self.sigmas[i - 2]):  # type: ignore[attr-defined]
            a, sg = self._sigma_to_alpha_sigma_t(s)  # type: ignore[attr-defined]
            lambdas.append(torch.log(a) - torch.log(sg))
        _, sigma_s0 = self._sigma_to_alpha_sigma_t(self.sigmas[i])  # type: ignore[attr-defined]
        lam_t, lam_s0, lam_s1, lam_s2 = lambdas
        h, h_0, h_1 = lam_t - lam_s0, lam_s0 - lam_s1, lam_s1 - lam_s2
        r0, r1 = h_0 / h, h_1 / h
        m0, m1, m2 = model_output_list[-1], model_output_list[-2], model_output_list[-3]
        d1_0, d1_1 = (m0 - m1) / r0, (m1 - m2) / r1
        d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        h_eta = 2.0 * h
        phi_1 = -torch.expm1(-h_eta)
        phi_2 = torch.expm1(-h_eta) / h_eta + 1.0
        phi_3 = phi_2 / h_eta - 0.5
        x_t = ((sigma_t / sigma_s0) * torch.exp(-h)) * sample + alpha_t * (phi_1 * m0 + phi_2 * d1 - phi_3 * d2)
        if noise is not None:
            x_t = x_t + sigma_t * torch.sqrt(phi_1) * noise
        return x_t


class DPMSDEMixin:
    """DPM++ SDE: Brownian-tree seeds from ``seed`` or, failing that, from the step generators."""

    _a1111_brownian_seed: int | list[int] | None = None

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any,
             generator: Any = None, **kwargs: Any) -> Any:
        if self.noise_sampler is None:  # type: ignore[attr-defined]  # (re)set by set_timesteps
            if self.step_index is None:  # type: ignore[attr-defined]
                self._init_step_index(timestep)  # type: ignore[attr-defined]
            seed = self._a1111_brownian_seed
            if seed is None:
                seed = seeds_from_generators(generator, sample.shape[0])
            self.noise_sampler = brownian_sampler(sample, self.sigmas, seed)  # type: ignore[attr-defined]
        return super().step(model_output, timestep, sample, *args, generator=generator, **kwargs)  # type: ignore[misc]
