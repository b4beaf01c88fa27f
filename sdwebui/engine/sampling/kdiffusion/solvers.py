"""k-diffusion's first- and second-order samplers (Karras et al. 2022 and Katherine Crowson's
k-diffusion, whose behaviour A1111 runs), written over three callables:

- `model(x, sigma) -> denoised`: the guided denoiser at noise level sigma (x in sigma space),
- `noise(sigma, sigma_next) -> tensor`: standard normal noise shaped like x (A1111's per-image
  generators, or a Brownian tree),
- `callback(i, x, denoised)`: once per step, after the step's first model evaluation.

Every sampler returns the final x. `sigmas` is the schedule, ending in 0.
"""
from __future__ import annotations

from typing import Callable

import torch

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Noise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[int, torch.Tensor, torch.Tensor], None]


def to_d(x: torch.Tensor, sigma: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """The probability-flow ODE's derivative dx/dsigma."""
    return (x - denoised) / sigma


def ancestral_step(sigma_from: torch.Tensor, sigma_to: torch.Tensor, eta: float = 1.0):
    """(sigma_down, sigma_up): step deterministically down to sigma_down, then add sigma_up of fresh
    noise, so the result is at sigma_to; eta scales how much of the step is noise."""
    if not eta:
        return sigma_to, sigma_to * 0
    sigma_up = torch.minimum(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
    return sigma_down, sigma_up


def _churn(x: torch.Tensor, sigma: torch.Tensor, steps: int, noise: Noise, s_churn: float, s_tmin: float,
           s_tmax: float, s_noise: float, sigma_next: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Karras's stochastic "churn": raise the noise level by gamma before the step (when s_churn > 0 and
    sigma is within [s_tmin, s_tmax]). The noise is drawn every step, as k-diffusion does, so the
    generators advance the same whether or not it is used."""
    gamma = min(s_churn / steps, 2 ** 0.5 - 1) if s_tmin <= float(sigma) <= s_tmax else 0.0
    eps = noise(sigma, sigma_next) * s_noise
    sigma_hat = sigma * (gamma + 1)
    if gamma > 0:
        x = x + eps * (sigma_hat ** 2 - sigma ** 2) ** 0.5
    return x, sigma_hat


def euler(model: Model, x: torch.Tensor, sigmas: torch.Tensor, noise: Noise, callback: Callback, *,
          s_churn: float = 0.0, s_tmin: float = 0.0, s_tmax: float = float("inf"), s_noise: float = 1.0) -> torch.Tensor:
    for i in range(len(sigmas) - 1):
        x, sigma_hat = _churn(x, sigmas[i], len(sigmas) - 1, noise, s_churn, s_tmin, s_tmax, s_noise, sigmas[i + 1])
        denoised = model(x, sigma_hat)
        callback(i, x, denoised)
        x = x + to_d(x, sigma_hat, denoised) * (sigmas[i + 1] - sigma_hat)
    return x


def euler_ancestral(model: Model, x: torch.Tensor, sigmas: torch.Tensor, noise: Noise, callback: Callback, *,
                    eta: float = 1.0, s_noise: float = 1.0) -> torch.Tensor:
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        callback(i, x, denoised)
        x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def heun(model: Model, x: torch.Tensor, sigmas: torch.Tensor, noise: Noise, callback: Callback, *,
         s_churn: float = 0.0, s_tmin: float = 0.0, s_tmax: float = float("inf"), s_noise: float = 1.0) -> torch.Tensor:
    """Heun's method (Karras's Algorithm 2): Euler, then the average of both ends' slopes; the last step
    (to sigma 0) stays Euler."""
    for i in range(len(sigmas) - 1):
        x, sigma_hat = _churn(x, sigmas[i], len(sigmas) - 1, noise, s_churn, s_tmin, s_tmax, s_noise, sigmas[i + 1])
        denoised = model(x, sigma_hat)
        d = to_d(x, sigma_hat, denoised)
        callback(i, x, denoised)
        dt = sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            d_2 = to_d(x_2, sigmas[i + 1], model(x_2, sigmas[i + 1]))
            x = x + (d + d_2) / 2 * dt
    return x


def _log_midpoint(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a.log().lerp(b.log(), 0.5).exp()


def dpm_2(model: Model, x: torch.Tensor, sigmas: torch.Tensor, noise: Noise, callback: Callback, *,
          s_churn: float = 0.0, s_tmin: float = 0.0, s_tmax: float = float("inf"), s_noise: float = 1.0) -> torch.Tensor:
    """DPM-Solver-2 in sigma: the slope at the log-midpoint carries the whole step."""
    for i in range(len(sigmas) - 1):
        x, sigma_hat = _churn(x, sigmas[i], len(sigmas) - 1, noise, s_churn, s_tmin, s_tmax, s_noise, sigmas[i + 1])
        denoised = model(x, sigma_hat)
        d = to_d(x, sigma_hat, denoised)
        callback(i, x, denoised)
        if sigmas[i + 1] == 0:
            x = x + d * (sigmas[i + 1] - sigma_hat)
        else:
            sigma_mid = _log_midpoint(sigma_hat, sigmas[i + 1])
            x_2 = x + d * (sigma_mid - sigma_hat)
            d_2 = to_d(x_2, sigma_mid, model(x_2, sigma_mid))
            x = x + d_2 * (sigmas[i + 1] - sigma_hat)
    return x


def dpm_2_ancestral(model: Model, x: torch.Tensor, sigmas: torch.Tensor, noise: Noise, callback: Callback, *,
                    eta: float = 1.0, s_noise: float = 1.0) -> torch.Tensor:
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        callback(i, x, denoised)
        d = to_d(x, sigmas[i], denoised)
        if sigma_down == 0:
            x = x + d * (sigma_down - sigmas[i])
        else:
            sigma_mid = _log_midpoint(sigmas[i], sigma_down)
            x_2 = x + d * (sigma_mid - sigmas[i])
            d_2 = to_d(x_2, sigma_mid, model(x_2, sigma_mid))
            x = x + d_2 * (sigma_down - sigmas[i])
        # drawn at every step, the last included (its sigma_up is 0), as k-diffusion
        x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def _multistep_coeff(order: int, t, i: int, j: int) -> float:
    """The integral over [t_i, t_i+1] of the Lagrange basis polynomial for point i - j."""
    from scipy import integrate

    def basis(tau: float) -> float:
        prod = 1.0
        for k in range(order):
            if k != j:
                prod *= (tau - t[i - k]) / (t[i - j] - t[i - k])
        return prod
    return integrate.quad(basis, t[i], t[i + 1], epsrel=1e-4)[0]


def lms(model: Model, x: torch.Tensor, sigmas: torch.Tensor, noise: Noise, callback: Callback, *,
        order: int = 4) -> torch.Tensor:
    """Linear multistep (Adams–Bashforth in sigma) over the last `order` slopes."""
    sigmas_host = sigmas.detach().cpu().numpy()
    ds: list[torch.Tensor] = []
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        ds.append(to_d(x, sigmas[i], denoised))
        if len(ds) > order:
            ds.pop(0)
        callback(i, x, denoised)
        cur = min(i + 1, order)
        coeffs = [_multistep_coeff(cur, sigmas_host, i, j) for j in range(cur)]
        x = x + sum(c * d for c, d in zip(coeffs, reversed(ds)))
    return x
