"""ControlNet units that also steer the UNet's prediction in x0 space, as sd-webui-controlnet's do
after each UNet call:

- tile_colorfix: the predicted image keeps its details but takes its low frequencies (a box blur
  of 2k+1 latent pixels, k = the "Variation" slider, doubled in the hires pass) from the control
  image's latents; "+sharp" also pulls the negative prompt's rows towards a blurred copy, so that
  guidance sharpens ("Sharpness" / 100 of the blur);
- inpaint_only: outside the mask (grown to latent cells) the predicted image is the control image.

The changed x0 goes back to the scheduler's kind of prediction, blended with the UNet's by the
unit's weight (clamped to 0..1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sdwebui.engine.control.residuals import UNetCall
from sdwebui.engine.sampling.prediction import from_x0, to_x0

COLORFIX = ("tile_colorfix", "tile_colorfix+sharp")
INPAINT_ONLY = "inpaint_only"


def box_blur(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean over a (2k+1)^2 window, the edges repeated outwards."""
    padded = F.pad(x, (k, k, k, k), mode="replicate")
    return F.avg_pool2d(padded, (2 * k + 1, 2 * k + 1), stride=1)


def latent_mask(mask: np.ndarray, device, dtype) -> torch.Tensor:
    """A pixel mask (HxW, >127 = repaint) at latent size, grown so that any latent cell touching the
    area counts as inside (max pool 10 wide, stride 8)."""
    m = torch.from_numpy((mask > 127).astype(np.float32))[None, None]
    return F.max_pool2d(m, (10, 10), stride=(8, 8), padding=1).to(device=device, dtype=dtype)


@dataclass
class LatentEdit:
    """What one unit does to the prediction: `kind` is a COLORFIX module or INPAINT_ONLY."""
    kind: str
    weight: float
    variation: float = 8.0          # tile_colorfix's threshold_a
    sharpness: float = 1.0          # tile_colorfix+sharp's threshold_b

    def apply(self, call: UNetCall, out: torch.Tensor, reference: torch.Tensor,
              mask: torch.Tensor | None = None) -> torch.Tensor:
        """`reference`: the control image's latents (1 row); `mask`: inpaint_only's latent mask."""
        a = call.alpha()
        x = call.x.float()
        x0 = to_x0(call.prediction_type, a, x, out)
        reference = reference.to(x0)
        if self.kind == INPAINT_ONLY:
            mask = mask.to(x0)
            x0 = x0 * mask + reference * (1 - mask)
        else:
            k = int(self.variation) * (2 if call.pass_name == "hires" else 1)
            x0 = x0 - box_blur(x0, k) + box_blur(reference, k)
            if self.kind.endswith("+sharp") and call.n_uncond:
                detail = float(self.sharpness) * 0.01
                x0 = x0.clone()
                x0[:call.n_uncond] = detail * box_blur(x0[:call.n_uncond], k) + (1 - detail) * x0[:call.n_uncond]
        weight = max(0.0, min(1.0, float(self.weight)))
        return from_x0(call.prediction_type, a, x, x0) * weight + out * (1 - weight)
