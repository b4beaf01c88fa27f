"""What the sampling loop hands a control at each UNet call, and what a control gives back.

A control (a ControlNet unit, an adapter) is any object with `residuals(call) -> Residuals | None`.
The loop asks every control of the job before each UNet call, sums what they give and passes the sum
as the UNet's additional residuals. None means "not now" (outside the unit's guidance window, or the
other hires pass), and costs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import torch


@dataclass
class UNetCall:
    x: torch.Tensor                 # the scheduler-scaled latent rows the UNet gets (no inpainting channels)
    timestep: torch.Tensor
    step: int                       # 0-based index of this step in the pass
    total: int                      # steps in the pass (img2img and hires: the steps actually run)
    context: torch.Tensor           # text states, one row per UNet row
    added: dict | None              # SDXL's added conditioning (pooled text, time ids), per row
    n_uncond: int                   # the first n_uncond rows are the negative prompt's (0 without CFG)
    rows: Sequence[int]             # which image of the batch each row belongs to
    pass_name: str                  # "first" or "hires"
    model: Any                      # the SDModel running the step


@dataclass
class Residuals:
    down: list[torch.Tensor] | None = None          # one per UNet down-block output (ControlNet)
    mid: torch.Tensor | None = None                 # the middle block's (ControlNet)
    intrablock: list[torch.Tensor] | None = None    # added inside the down levels (T2I-Adapter)

    def __add__(self, other: "Residuals") -> "Residuals":
        return Residuals(_sum_lists(self.down, other.down), _sum(self.mid, other.mid),
                         _sum_lists(self.intrablock, other.intrablock))

    def unet_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.down is not None:
            kwargs["down_block_additional_residuals"] = tuple(self.down)
        if self.mid is not None:
            kwargs["mid_block_additional_residual"] = self.mid
        if self.intrablock is not None:
            kwargs["down_intrablock_additional_residuals"] = list(self.intrablock)
        return kwargs


class UNetControl(Protocol):
    def residuals(self, call: UNetCall) -> Residuals | None:
        """What to add to this UNet call, or None."""


def _sum(a, b):
    return b if a is None else a if b is None else a + b


def _sum_lists(a, b):
    if a is None or b is None:
        return b if a is None else a
    if len(a) != len(b):
        raise ValueError(f"controls give {len(a)} and {len(b)} residuals: they do not fit the same UNet")
    return [x + y for x, y in zip(a, b)]


def unet_kwargs(controls: Sequence[UNetControl], call: UNetCall) -> dict[str, Any]:
    """The summed residuals of every control that acts at this call, as UNet keyword arguments."""
    total: Residuals | None = None
    for control in controls:
        got = control.residuals(call)
        if got is not None:
            total = got if total is None else total + got
    return {} if total is None else total.unet_kwargs()
