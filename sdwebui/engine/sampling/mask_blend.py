"""Inpainting's latent blend when a script takes part in it (A1111's `on_mask_blend`, which soft
inpainting uses), for the diffusers scheduler (LCM): the loop (loop.sample) calls `blend_step` after every
step and `blend_final` at the end instead of its own plain blend, and the script may replace
`MaskBlendArgs.blended_latent`. (A1111's samplers blend where A1111 does: kdiffusion/driver.py.)

The loop blends the latents it steps with, so a step's `init_latent` is the original noised to the
level the latents are now at (A1111 blends the denoiser's x0 prediction with the clean original; its
final blend, and the one here, use the clean original). With no script changing anything, both give
exactly the loop's plain blend, so a job's images do not depend on whether such a script is loaded."""
from __future__ import annotations

from typing import Callable

import torch

from sdwebui.engine.hooks import MaskBlendArgs
from sdwebui.engine.sampling.denoiser import CFGDenoiser

BlendHook = Callable[[MaskBlendArgs], None]


def step_sigma(scheduler, t: torch.Tensor, images: int, device) -> torch.Tensor:
    """The k-diffusion sigma of the noise level the UNet saw at timestep `t`, one per image (A1111
    hands the denoiser's per-row sigma). Found by the timestep, not the scheduler's step index: the
    scheduler has already stepped when the blend runs. Schedulers without sigmas (DDIM, PLMS, LCM)
    give it from alphas_cumprod."""
    sigmas = getattr(scheduler, "sigmas", None)
    value = None
    if sigmas is not None:
        where = (scheduler.timesteps.to(t.device) == t).nonzero()
        if len(where) and int(where[0]) < len(sigmas):
            value = float(sigmas[int(where[0])])
    if value is None:
        a = float(scheduler.alphas_cumprod[int(t)])
        value = ((1.0 - a) / a) ** 0.5
    return torch.full((images,), value, device=device, dtype=torch.float32)


def _a1111_masks(keep_mask: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask, nmask) in A1111's shape, one (channels, h, w) map for the batch; 1 = keep in `mask`."""
    keep = keep_mask[0].expand(channels, -1, -1) if keep_mask.shape[0] == 1 else keep_mask
    return keep, 1 - keep


def blend_step(hook: BlendHook, latents: torch.Tensor, keep_mask: torch.Tensor, init_latents: torch.Tensor,
               noise: torch.Tensor, scheduler, timesteps: torch.Tensor, i: int, t: torch.Tensor,
               denoiser: CFGDenoiser | None) -> torch.Tensor:
    """The blend after step `i` (at timestep `t`): the script sees the plain blend and may replace it."""
    last = i + 1 >= len(timesteps)
    original = init_latents if last else scheduler.add_noise(init_latents, noise, timesteps[i + 1:i + 2])
    plain = original * keep_mask + latents * (1 - keep_mask)
    mask, nmask = _a1111_masks(keep_mask, latents.shape[1])
    args = MaskBlendArgs(latents, nmask, original, mask, plain, denoiser=denoiser or CFGDenoiser(),
                         sigma=step_sigma(scheduler, t, latents.shape[0], latents.device))
    hook(args)
    if last and args.blended_latent is plain:
        # the last step's plain blend is blend_final's: doing it here too would blend a soft mask twice
        return latents
    return args.blended_latent


def blend_final(hook: BlendHook, latents: torch.Tensor, keep_mask: torch.Tensor,
                init_latents: torch.Tensor) -> torch.Tensor:
    """The blend of the finished latents with the clean original (A1111's `is_final_blend`)."""
    plain = init_latents * keep_mask + latents * (1 - keep_mask)
    mask, nmask = _a1111_masks(keep_mask, latents.shape[1])
    args = MaskBlendArgs(latents, nmask, init_latents, mask, plain)
    hook(args)
    return args.blended_latent
