"""A1111's own timestep samplers: DDIM (Song et al. 2021), DDIM CFG++ (Chung et al. 2024) and PLMS
(Liu et al. 2022). They step on the trained timesteps A1111 picks, range(0, 1000, 1000 // n) + 1
(clipped to 999), from the highest down to the second lowest: the lowest only gives the last step's
target alpha. `model(x, t) -> eps` is the guided noise prediction at unscaled x (variance-preserving);
`callback(i, x, pred_x0)` runs after each step, as A1111's."""
from __future__ import annotations

from typing import Callable

import torch

from sdwebui.engine.sampling.kdiffusion.solvers import Callback

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def a1111_timesteps(n: int, discard_penultimate: bool = False) -> torch.Tensor:
    n = n + 1 if discard_penultimate else n
    return torch.clip(torch.arange(0, 1000, 1000 // n) + 1, 0, 999)


def _alphas(alphas_cumprod: torch.Tensor, timesteps: torch.Tensor):
    alphas = alphas_cumprod[timesteps]
    previous = alphas_cumprod[torch.nn.functional.pad(timesteps[:-1], pad=(1, 0))].to(torch.float64)
    return alphas, previous


def _ddim_sigmas(alphas: torch.Tensor, previous: torch.Tensor, eta: float) -> torch.Tensor:
    a, p = alphas.double(), previous
    return eta * ((1 - p) / (1 - a) * (1 - a / p)).sqrt()


def ddim(model: EpsModel, x: torch.Tensor, timesteps: torch.Tensor, alphas_cumprod: torch.Tensor,
         noise: Callable[[], torch.Tensor], callback: Callback, *, eta: float = 0.0,
         uncond_eps: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:
    """DDIM; with `uncond_eps` (the last call's unguided noise prediction) it is CFG++: the step's
    direction follows the unguided prediction while x0 follows the guided one."""
    alphas, previous = _alphas(alphas_cumprod, timesteps)
    sigmas = _ddim_sigmas(alphas, previous, eta)
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t = model(x, timesteps[index])
        a_t, a_prev = alphas[index].item(), previous[index].item()
        sigma_t = sigmas[index].item()
        pred_x0 = (x - (1 - a_t) ** 0.5 * e_t) / a_t ** 0.5
        direction = e_t if uncond_eps is None else uncond_eps()
        x = a_prev ** 0.5 * pred_x0 + (1.0 - a_prev - sigma_t ** 2) ** 0.5 * direction + sigma_t * noise()
        callback(i, x, pred_x0)
    return x


def plms(model: EpsModel, x: torch.Tensor, timesteps: torch.Tensor, alphas_cumprod: torch.Tensor,
         callback: Callback) -> torch.Tensor:
    """Pseudo linear multistep: a pseudo improved-Euler first step (two evaluations), then
    Adams–Bashforth of order 2, 3 and 4 over the previous noise predictions."""
    alphas, previous = _alphas(alphas_cumprod, timesteps)

    def step(x: torch.Tensor, e_t: torch.Tensor, index: int):
        a_t, a_prev = alphas[index].item(), previous[index].item()
        pred_x0 = (x - (1 - a_t) ** 0.5 * e_t) / a_t ** 0.5
        return a_prev ** 0.5 * pred_x0 + (1.0 - a_prev) ** 0.5 * e_t, pred_x0

    old: list[torch.Tensor] = []
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t = model(x, timesteps[index])
        if not old:
            x_next, _ = step(x, e_t, index)
            e_prime = (e_t + model(x_next, timesteps[max(index - 1, 0)])) / 2
        elif len(old) == 1:
            e_prime = (3 * e_t - old[-1]) / 2
        elif len(old) == 2:
            e_prime = (23 * e_t - 16 * old[-1] + 5 * old[-2]) / 12
        else:
            e_prime = (55 * e_t - 59 * old[-1] + 37 * old[-2] - 9 * old[-3]) / 24
        x, pred_x0 = step(x, e_prime, index)
        old.append(e_t)
        if len(old) >= 4:
            old.pop(0)
        callback(i, x, pred_x0)
    return x
