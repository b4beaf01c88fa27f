"""Restart sampling (Xu et al. 2023) as A1111 runs it ("Restart"): Heun steps down a Karras schedule,
and at sigma ~0.1 the path jumps back up to sigma ~2 with fresh noise and descends again, which
contracts the accumulated error. Below 20 steps there is no restart and it is plain Heun."""
from __future__ import annotations

import torch

from sdwebui.engine.sampling.kdiffusion.schedules import karras
from sdwebui.engine.sampling.kdiffusion.solvers import Callback, Model, Noise, to_d


def restart_plan(sigmas: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The (from, to) pairs the sampler steps through, the restart segments included."""
    steps = sigmas.shape[0] - 1
    restarts: dict[float, tuple[int, int, float]] = {}
    if steps >= 20:
        restart_steps, times = (steps // 4, 2) if steps >= 36 else (9, 1)
        # the restart's steps come out of the main schedule, which is rebuilt shorter (Karras)
        sigmas = karras(steps - restart_steps * times, sigmas[-2].item(), sigmas[0].item())
        restarts = {0.1: (restart_steps + 1, times, 2.0)}
    at = {int(torch.argmin(abs(sigmas - key), dim=0)): value for key, value in restarts.items()}
    plan = []
    for i in range(len(sigmas) - 1):
        plan.append((sigmas[i], sigmas[i + 1]))
        if i + 1 in at:
            n, times, top = at[i + 1]
            low = i + 1
            high = int(torch.argmin(abs(sigmas - top), dim=0))
            if high < low:
                segment = karras(n, sigmas[low].item(), sigmas[high].item())[:-1]
                for _ in range(times):
                    plan.extend(zip(segment[:-1], segment[1:]))
    return plan


def restart(model: Model, x: torch.Tensor, sigmas: torch.Tensor, noise: Noise, callback: Callback, *,
            s_noise: float = 1.0) -> torch.Tensor:
    last = None
    for i, (old, new) in enumerate(restart_plan(sigmas)):
        if last is None:
            last = old
        elif last < old:     # a restart: back up to `old` with fresh noise
            x = x + noise(last, old) * s_noise * (old ** 2 - last ** 2) ** 0.5
        denoised = model(x, old)
        d = to_d(x, old, denoised)
        callback(i, x, denoised)
        dt = new - old
        if new == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            d_2 = to_d(x_2, new, model(x_2, new))
            x = x + (d + d_2) / 2 * dt
        last = new
    return x
