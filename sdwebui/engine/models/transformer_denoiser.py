"""SD3's and Flux's transformers behind the UNet's call signature.

The sampling loop, the extensions' cfg callbacks and the controls call `model.unet(x, t,
encoder_hidden_states=..., added_cond_kwargs=...)`. Wrapping the transformer in that signature keeps
one call path for every family: the pooled text vector arrives as `added_cond_kwargs["text_embeds"]`
(as SDXL's does) and becomes the transformer's `pooled_projections`. UNet-only inputs (ControlNet's
residuals) are refused with a clear error instead of being dropped.
"""
from __future__ import annotations

from typing import Any

import torch

from sdwebui.engine.errors import ProcessingError


class TransformerDenoiser(torch.nn.Module):
    """`model.unet` of a transformer family; `.transformer` is the diffusers model itself."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    @property
    def config(self) -> Any:
        return self.transformer.config

    @property
    def device(self) -> torch.device:
        return self.transformer.device

    @property
    def dtype(self) -> torch.dtype:
        return self.transformer.dtype

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float, encoder_hidden_states: torch.Tensor,
                added_cond_kwargs: dict | None = None, return_dict: bool = False, **unet_only: Any):
        if unet_only:
            raise ProcessingError("alwayson_scripts", f"{', '.join(sorted(unet_only))} (UNet residuals, such as "
                                                      "ControlNet's) do not apply to an SD3 model")
        pooled = (added_cond_kwargs or {}).get("text_embeds")
        timestep = torch.as_tensor(timestep, device=sample.device)
        if timestep.ndim == 0:
            timestep = timestep.expand(sample.shape[0])
        out = self.transformer(hidden_states=sample, timestep=timestep, encoder_hidden_states=encoder_hidden_states,
                               pooled_projections=pooled, return_dict=False)[0]
        return (out,) if not return_dict else {"sample": out}


class FluxDenoiser(TransformerDenoiser):
    """FLUX.1's transformer: it sees 2x2 patches of the latent as a sequence of 64-wide tokens with
    their (0, row, column) positions, text positions all zero, its timestep as sigma (the sampler gives
    sigma * 1000, as to SD3), and, for dev, the distilled guidance (`added_cond_kwargs["guidance"]`)."""

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float, encoder_hidden_states: torch.Tensor,
                added_cond_kwargs: dict | None = None, return_dict: bool = False, **unet_only: Any):
        if unet_only:
            raise ProcessingError("alwayson_scripts", f"{', '.join(sorted(unet_only))} (UNet residuals, such as "
                                                      "ControlNet's) do not apply to a Flux model")
        added = added_cond_kwargs or {}
        b, c, h, w = sample.shape
        tokens = sample.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), c * 4)
        rows = torch.arange(h // 2, device=sample.device)[:, None].expand(h // 2, w // 2)
        cols = torch.arange(w // 2, device=sample.device)[None, :].expand(h // 2, w // 2)
        img_ids = torch.stack([torch.zeros_like(rows), rows, cols], dim=-1).reshape(-1, 3).to(sample.dtype)
        txt_ids = torch.zeros((encoder_hidden_states.shape[1], 3), device=sample.device, dtype=sample.dtype)
        timestep = torch.as_tensor(timestep, device=sample.device)
        timestep = (timestep.expand(b) if timestep.ndim == 0 else timestep) / 1000
        guidance = None
        if self.config.guidance_embeds:
            guidance = torch.full((b,), float(added.get("guidance") or 3.5), device=sample.device, dtype=torch.float32)
        out = self.transformer(hidden_states=tokens, timestep=timestep, guidance=guidance,
                               pooled_projections=added.get("text_embeds"), encoder_hidden_states=encoder_hidden_states,
                               txt_ids=txt_ids, img_ids=img_ids, return_dict=False)[0]
        out = out.view(b, h // 2, w // 2, c, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)
        return (out,) if not return_dict else {"sample": out}
