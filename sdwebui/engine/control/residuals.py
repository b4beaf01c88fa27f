"""What the sampling loop hands a control at each UNet call, and what a control may do there.

A control (a ControlNet unit, an adapter, a reference image) is a UNetControl. Around each UNet call
the loop (through `call_unet`):
1. lets every control prepare (`before_unet`): a reference unit runs the UNet on its own image here,
   to give the real call its attention and feature statistics (reference.py);
2. sums every control's `residuals` and passes the sum as the UNet's additional residuals; None means
   "not now" (outside the unit's guidance window, or the other hires pass), and costs nothing;
3. hands the UNet's prediction to every control (`after_unet`), which may change it in x0 space
   (the tile colour fix, inpaint_only's restore);
and at the end of the pass, `end_pass`, even when the pass failed.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch

logger = logging.getLogger(__name__)


@dataclass
class UNetCall:
    x: torch.Tensor                 # the scheduler-scaled latent rows the UNet gets (no inpainting channels)
    timestep: torch.Tensor
    step: int                       # 0-based index of this step in the pass
    total: int                      # steps in the pass (img2img and hires: the steps actually run)
    context: torch.Tensor           # text states, one row per UNet row
    added: dict | None              # added conditioning (SDXL's pooled text and time ids, IP-Adapter's
                                    # image embeddings), per row
    n_uncond: int                   # the first n_uncond rows are the negative prompt's (0 without CFG)
    rows: Sequence[int]             # which image of the batch each row belongs to
    pass_name: str                  # "first" or "hires"
    model: Any                      # the SDModel running the step
    image_cond: torch.Tensor | None = None   # an inpainting UNet's extra input channels, per row
    alpha: Callable[[], Any] | None = None   # alpha_cumprod of this step's noise level (prediction.py)
    prediction_type: str = "epsilon"         # the scheduler's: what the UNet predicts

    def unet(self, x: torch.Tensor, image_cond: torch.Tensor | None = None, **extra) -> torch.Tensor:
        """One more UNet call at this step on other latent rows (the same count), with this call's
        text and added conditioning; an inpainting UNet gets `image_cond` (default: this call's)."""
        image_cond = self.image_cond if image_cond is None else image_cond
        x_in = x if image_cond is None else torch.cat([x, image_cond.to(x.dtype)], dim=1)
        return self.model.unet(x_in, self.timestep, encoder_hidden_states=self.context, added_cond_kwargs=self.added,
                               return_dict=False, **extra)[0]


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


class UNetControl:
    """What a control may do at each UNet call; each step does nothing unless a control overrides it."""

    # hooks inside the UNet (attention processors, forward hooks) are Python a compiled UNet does not
    # run: a pass with such a control runs the UNet eagerly
    eager: bool = False
    # controls prepare in this order: those that add conditioning (IP-Adapter's image embeddings, 0)
    # before those that run the UNet with it (reference units, 1)
    order: int = 1

    def before_unet(self, call: UNetCall) -> None:
        """Prepare for this call (may run the UNet itself)."""

    def residuals(self, call: UNetCall) -> Residuals | None:
        """What to add to this UNet call, or None."""
        return None

    def after_unet(self, call: UNetCall, out: torch.Tensor) -> torch.Tensor:
        """The UNet's prediction (float32, one row per UNet row), changed or as it is."""
        return out

    def end_pass(self) -> None:
        """The pass is over (or failed): undo what the control changed on the model."""


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


def call_unet(controls: Sequence[UNetControl], call: UNetCall,
              run: Callable[[dict, dict | None], torch.Tensor]) -> torch.Tensor:
    """`run(extra_unet_kwargs, added_cond_kwargs)` is the loop's UNet call; the controls act around it
    as the module docstring says (a control may replace `call.added`). The prediction comes back as
    float32."""
    for control in sorted(controls, key=lambda c: c.order):
        control.before_unet(call)
    out = run(unet_kwargs(controls, call), call.added).float()
    for control in controls:
        out = control.after_unet(call, out)
    return out


@contextmanager
def controls_pass(controls: Sequence[UNetControl], model: Any) -> Iterator[None]:
    """One sampling pass of `model`: eager when a control needs it; every control's `end_pass` runs
    after it, even when it failed (the pass's own error is the one raised then; a control's clean-up
    error is logged)."""
    failed = False
    eager = any(c.eager for c in controls) and hasattr(model, "eager_only")
    try:
        with model.eager_only() if eager else nullcontext():
            yield
    except BaseException:
        failed = True
        raise
    finally:
        errors = []
        # the reverse of the order they prepare in: what was put on the UNet last comes off first
        for control in reversed(sorted(controls, key=lambda c: c.order)):
            try:
                control.end_pass()
            except Exception as e:  # noqa: BLE001 - every control must get its chance to clean up
                logger.error("a control failed to clean up after the pass: %s", e)
                errors.append(e)
        if errors and not failed:
            raise errors[0]
