"""Pictures whose sides are not multiples of 64 (of 8 latent pixels, for SD1/SD2): where a UNet level
halves an odd size, its upsampling side must come back to that odd size.

diffusers resizes straight to the skip connection's size and then convolves. A1111 (its UNet from
ldm/sgm) doubles, convolves, and then its `torch.cat` hijack resizes the result to the skip's size
(nearest). The two differ on the edge row or column the convolution sees (the doubled map repeats the
last row where the direct one pads with zeros), enough to move an A1111 infotext's picture: 49 dB
instead of 51 against A1111 at 96x64. So the upsamplers here do it A1111's way; at sizes that are
multiples of 64 nothing changes (the doubled size is the skip's size).
"""
from __future__ import annotations

from types import MethodType
from typing import Any

import torch
import torch.nn.functional as F


def _upsample_then_fit(self: Any, hidden_states: torch.Tensor, output_size: Any = None, *args: Any,
                       **kwargs: Any) -> torch.Tensor:
    out = type(self).forward(self, hidden_states, None, *args, **kwargs)
    if output_size is not None and tuple(out.shape[-2:]) != tuple(output_size):
        out = F.interpolate(out, size=tuple(output_size), mode="nearest")
    return out


def upsample_like_a1111(unet: torch.nn.Module) -> torch.nn.Module:
    """Make every nearest-neighbour upsampler of `unet`'s up blocks double, convolve, then fit the skip
    connection's size (A1111's order). Returns `unet`."""
    from diffusers.models.upsampling import Upsample2D

    for block in getattr(unet, "up_blocks", []):
        for up in getattr(block, "upsamplers", None) or []:
            if isinstance(up, Upsample2D) and up.interpolate and not up.use_conv_transpose:
                up.forward = MethodType(_upsample_then_fit, up)
    return unet
