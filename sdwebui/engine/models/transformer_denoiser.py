"""SD3's transformer (MMDiT) behind the UNet's call signature.

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
