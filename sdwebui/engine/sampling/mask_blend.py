"""Inpainting's blend of the original into a sampling pass, where A1111 does it: into the denoiser's x0
prediction at every model evaluation (the k-diffusion samplers; before the UNet for DDIM/PLMS/UniPC, A1111's
`mask_before_denoising`), and into the finished latents (`blend_final`). A script's `on_mask_blend`
(soft inpainting) sees each blend as `MaskBlendArgs` and may replace `blended_latent`; without one, or
when it changes nothing, the result is the plain blend."""
from __future__ import annotations

from typing import Callable

import torch

from sdwebui.engine.hooks import MaskBlendArgs
from sdwebui.engine.sampling.denoiser import CFGDenoiser

BlendHook = Callable[[MaskBlendArgs], None]


def _a1111_masks(keep_mask: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask, nmask) in A1111's shape, one (channels, h, w) map for the batch; 1 = keep in `mask`."""
    keep = keep_mask[0].expand(channels, -1, -1) if keep_mask.shape[0] == 1 else keep_mask
    return keep, 1 - keep


def blend_prediction(hook: BlendHook | None, keep_mask: torch.Tensor, init: torch.Tensor, current: torch.Tensor,
                     denoiser: CFGDenoiser | None, sigma: torch.Tensor) -> torch.Tensor:
    """The original where the mask keeps it, `current` elsewhere (A1111's apply_blend); `sigma` is the
    evaluation's noise level (the timestep for the timestep samplers), one value for the batch."""
    plain = current * (1 - keep_mask) + init * keep_mask
    if hook is None:
        return plain
    mask, nmask = _a1111_masks(keep_mask, current.shape[1])
    args = MaskBlendArgs(current, nmask, init, mask, plain, denoiser=denoiser or CFGDenoiser(),
                         sigma=sigma.to(current.device).expand(current.shape[0]))
    hook(args)
    return args.blended_latent


def blend_final(hook: BlendHook | None, latents: torch.Tensor, keep_mask: torch.Tensor,
                init_latents: torch.Tensor) -> torch.Tensor:
    """The blend of the finished latents with the clean original (A1111's `is_final_blend`)."""
    plain = init_latents * keep_mask + latents * (1 - keep_mask)
    if hook is None:
        return plain
    mask, nmask = _a1111_masks(keep_mask, latents.shape[1])
    args = MaskBlendArgs(latents, nmask, init_latents, mask, plain)
    hook(args)
    return args.blended_latent
