"""One ControlNet unit acting on the sampling loop, as sd-webui-controlnet's units act.

- Weight and control mode give one scale per residual (the 12 down residuals and the mid one of
  SD1/SD2; SDXL's 9 + 1): "Balanced" is `weight` everywhere; "My prompt is more important" and
  "ControlNet is more important" are `weight * 0.825 ** (12 - i)` for residual i of the extension's
  13-entry list, cut to the model's count (so SDXL's run 0.825^12 .. 0.825^3, as the extension's).
  "ControlNet is more important" also acts on the prompt's rows only: the negative prompt's rows
  get no control, so guidance pushes towards the control.
- Guidance window: the unit acts at step i of a pass of n when start <= i / n <= end (our loop's
  step index, without A1111's one-step lag: docs/compatibility.md).
- The ControlNet runs once per step on the UNet's rows (CFG batch included), in the UNet's dtype.
- tile_colorfix and inpaint_only units also change the prediction after the UNet (latent_edits.py),
  at every step of the passes they act in (the extension ignores the guidance window there too).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sdwebui.engine.control.latent_edits import LatentEdit, latent_mask
from sdwebui.engine.control.preprocess import RESIZE_MODES, fit
from sdwebui.engine.control.residuals import Residuals, UNetCall, UNetControl

CONTROL_MODES = ("Balanced", "My prompt is more important", "ControlNet is more important")
SOFT_BASE = 0.825
_LIST_LENGTH = 13      # the extension's per-unit scale list (SD1/SD2: 12 down + mid)
ADAPTER_SOFT = (0.25, 0.62, 0.825, 1.0)   # a T2I-Adapter's per-level scales in the two soft modes


def residual_scales(weight: float, control_mode: str, count: int,
                    advanced_weighting: list[float] | None = None) -> list[float]:
    """The scale of each of `count` residuals (down ones, then mid). A list shorter than `count`
    drops the residuals past its end, as the extension's zip does."""
    if advanced_weighting is not None:
        scales = [float(w) for w in advanced_weighting]
    elif control_mode == CONTROL_MODES[0]:
        scales = [float(weight)] * _LIST_LENGTH
    else:
        scales = [float(weight) * SOFT_BASE ** (_LIST_LENGTH - 1 - i) for i in range(_LIST_LENGTH)]
    return (scales + [0.0] * count)[:count]


def acts_in(call: UNetCall, passes: frozenset[str], for_unet: Any) -> bool:
    """The unit belongs to this pass (hr_option) and to the UNet running it (not a refiner's)."""
    if call.pass_name not in passes:
        return False
    return for_unet is None or getattr(call.model, "unet", None) is for_unet


def in_window(call: UNetCall, start: float, end: float) -> bool:
    """Guidance start/end, as fractions of the pass's steps."""
    fraction = call.step / max(call.total, 1)
    return start <= fraction and (end >= 1.0 or fraction <= end)


def image_latents(call: UNetCall, rgb: np.ndarray) -> torch.Tensor:
    """An HxWx3 uint8 picture as the running model's latents (1 row)."""
    from sdwebui.engine.processing.image_latents import encode_images_tensor

    x = torch.from_numpy(np.ascontiguousarray(rgb[:, :, :3])).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    return encode_images_tensor(call.model, x).to(call.x.device)


@dataclass
class ControlNetUnit(UNetControl):
    net: Any                                    # diffusers ControlNetModel on the UNet's device and dtype
    detected: np.ndarray                        # the control map (HxWx3 uint8) at the preprocessor's size
    resize_mode: str = RESIZE_MODES[1]
    passes: frozenset[str] = frozenset({"first", "hires"})   # hr_option: the passes it acts in
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    control_mode: str = CONTROL_MODES[0]
    advanced_weighting: list[float] | None = None
    for_unet: Any = None            # the UNet it was made for: it sits out a refiner's steps
    edit: LatentEdit | None = None  # tile_colorfix / inpaint_only: the prediction is changed after the UNet
    region: np.ndarray | None = None    # effective_region_mask: HxW in 0..1, stretched onto each residual
    maps: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)   # fitted maps by (height, width)
    _hints: dict = field(default_factory=dict, repr=False)

    def fitted(self, height: int, width: int) -> np.ndarray:
        """The map fitted to a generation size (each pass's size: the hires pass has its own)."""
        if (height, width) not in self.maps:
            self.maps[(height, width)] = fit(self.detected, width, height, self.resize_mode)
        return self.maps[(height, width)]

    def _hint(self, call: UNetCall) -> torch.Tensor:
        scale = getattr(call.model, "vae_scale_factor", 8)
        key = (call.x.shape[-2] * scale, call.x.shape[-1] * scale, call.x.device)
        if key not in self._hints:
            fitted = self.fitted(key[0], key[1])
            image = torch.from_numpy(fitted[:, :, :3].copy()).permute(2, 0, 1)[None].float() / 255.0
            if fitted.shape[2] == 4:        # inpainting: the pixels to repaint are -1
                masked = torch.from_numpy(fitted[:, :, 3] > 127)[None, None].expand_as(image)
                image = image.masked_fill(masked, -1.0)
            self._hints[key] = image.to(device=call.x.device, dtype=self.net.dtype)
        return self._hints[key]

    def active(self, call: UNetCall) -> bool:
        return acts_in(call, self.passes, self.for_unet) and in_window(call, self.guidance_start, self.guidance_end)

    def after_unet(self, call: UNetCall, out: torch.Tensor) -> torch.Tensor:
        if self.edit is None or not acts_in(call, self.passes, self.for_unet):
            return out
        scale = getattr(call.model, "vae_scale_factor", 8)
        key = ("latents", call.x.shape[-2] * scale, call.x.shape[-1] * scale, call.x.device)
        if key not in self._hints:
            fitted = self.fitted(key[1], key[2])
            mask = latent_mask(fitted[:, :, 3], call.x.device, torch.float32) if fitted.shape[2] == 4 else None
            if self.edit.kind == "inpaint_only" and mask is None:
                self._hints[key] = None       # no mask: nothing to keep
            else:
                self._hints[key] = (image_latents(call, fitted), mask)
        if self._hints[key] is None:
            return out
        reference, mask = self._hints[key]
        return self.edit.apply(call, out, reference, mask)

    def _hint_rows(self, hint: torch.Tensor, rows) -> torch.Tensor:
        if hint.shape[0] == 1:
            return hint.expand(len(rows), -1, -1, -1)
        index = torch.tensor([r % hint.shape[0] for r in rows], device=hint.device)
        return hint.index_select(0, index)

    def residuals(self, call: UNetCall) -> Residuals | None:
        if (self.weight == 0 and self.advanced_weighting is None) or not self.active(call):
            return None
        if is_adapter(self.net):
            return self._adapter_residuals(call)
        pool = bool(getattr(self.net.config, "global_pool_conditions", False))
        cond_only = (self.control_mode == CONTROL_MODES[2] or pool) and call.n_uncond > 0
        skip = call.n_uncond if cond_only else 0
        x, context, rows = call.x[skip:], call.context[skip:], list(call.rows)[skip:]
        added = None
        if call.added is not None:
            added = {k: v[skip:] for k, v in call.added.items()}
        hint = self._hint_rows(self._hint(call), rows)
        down, mid = self.net(x.to(self.net.dtype), call.timestep, encoder_hidden_states=context.to(self.net.dtype),
                             controlnet_cond=hint, conditioning_scale=1.0, added_cond_kwargs=added,
                             return_dict=False)
        outputs = [*down, mid]
        if pool:
            outputs = [o.mean(dim=(2, 3), keepdim=True) for o in outputs]
        scales = residual_scales(self.weight, self.control_mode, len(outputs), self.advanced_weighting)
        outputs = [self._in_region(o * s) for o, s in zip(outputs, scales)]
        if skip:
            outputs = [torch.cat([torch.zeros_like(o[:1]).expand(skip, *o.shape[1:]), o]) for o in outputs]
        return Residuals(down=outputs[:-1], mid=outputs[-1])

    def _in_region(self, residual: torch.Tensor) -> torch.Tensor:
        """The residual where the effective region mask lets it act (bilinear, as the extension)."""
        if self.region is None:
            return residual
        key = ("region", residual.shape[-2], residual.shape[-1], residual.device, residual.dtype)
        if key not in self._hints:
            mask = torch.from_numpy(self.region.astype(np.float32))[None, None]
            mask = torch.nn.functional.interpolate(mask, size=residual.shape[-2:], mode="bilinear")
            self._hints[key] = mask.to(device=residual.device, dtype=residual.dtype)
        return residual * self._hints[key]

    def _adapter_residuals(self, call: UNetCall) -> Residuals:
        """A T2I-Adapter's features depend on the control image only: computed once per size, then
        given to every row (none to the negative prompt's with "ControlNet is more important")."""
        key = ("features", call.x.shape[-2], call.x.shape[-1], call.x.device)
        if key not in self._hints:
            hint = self._hint(call)
            if self.net.config.in_channels == 1:
                hint = hint.mean(dim=1, keepdim=True)
            self._hints[key] = list(self.net(hint))
        features = self._hints[key]
        if self.advanced_weighting is not None or self.control_mode == CONTROL_MODES[0]:
            scales = residual_scales(self.weight, self.control_mode, len(features), self.advanced_weighting)
        else:
            scales = [self.weight * s for s in ADAPTER_SOFT[:len(features)]]
        skip = call.n_uncond if self.control_mode == CONTROL_MODES[2] else 0
        rows = len(call.rows)
        out = []
        for feature, scale in zip(features, scales):
            rows_feature = self._in_region(feature * scale).expand(rows - skip, *feature.shape[1:])
            if skip:
                rows_feature = torch.cat([torch.zeros_like(feature).expand(skip, *feature.shape[1:]), rows_feature])
            out.append(rows_feature)
        return Residuals(intrablock=out)


def is_adapter(net) -> bool:
    return type(net).__name__ == "T2IAdapter"
