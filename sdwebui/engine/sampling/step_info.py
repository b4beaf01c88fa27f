"""What a sampling pass tells its step callback (progress, live previews), and how the callback stops it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


class Interrupted(Exception):
    """Raised by the step callback to stop the loop; the loop returns the latent so far."""


@dataclass
class StepInfo:
    step: int           # 1-based number of model evaluations done
    total: int
    latents: torch.Tensor
    # the model's prediction of the finished latents (x0) at this step, for live previews, by A1111's
    # `live_preview_content`: "Prompt" (the cond rows), "Negative prompt" (the uncond rows) or
    # "Combined" (after guidance). Computed only when called; None where the loop has no prediction.
    denoised: Callable[[str], torch.Tensor] | None = None
