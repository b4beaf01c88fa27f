"""reference_only / reference_adain / reference_adain+attn: the picture steers generation with no
ControlNet model, as sd-webui-controlnet's "Reference" units do, through diffusers attention
processors and forward hooks on the UNet the job runs.

At each step inside the unit's window, before the real UNet call, the UNet runs once on the
reference's latents noised to this step's level ("write"): each self-attention keeps its input and
each AdaIN point keeps its feature mean and variance. The real call then ("read")
- reference_only: lets each self-attention also attend to the reference's tokens;
- reference_adain: gives the features at the AdaIN points the reference's mean and variance.
"Style fidelity" blends the negative prompt's rows between that and their plain values (so CFG
pushes towards the reference): 0 leaves them steered, 1 leaves them plain. SDXL cubes it; "ControlNet
is more important" makes it 1, "My prompt is more important" and the hires pass 0.
The weight decides how many places take part: self-attentions ranked widest first, AdaIN points by
the extension's depth weights.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sdwebui.engine.control.controlnet_unit import CONTROL_MODES, acts_in, image_latents, in_window
from sdwebui.engine.control.preprocess import RESIZE_MODES, fit
from sdwebui.engine.control.residuals import UNetCall, UNetControl

REFERENCE = ("reference_only", "reference_adain", "reference_adain+attn")
_EPS = 1e-6


class ReferenceHooks:
    """The job's hooks: one _Steering per UNet, shared by every reference unit of the job (their
    kept states add up); installed at the first step that needs them, removed at the end of the pass."""

    def __init__(self) -> None:
        self._by_unet: dict[int, _Steering] = {}

    def on(self, unet) -> "_Steering":
        steering = self._by_unet.get(id(unet))
        if steering is None or steering.unet is not unet:
            steering = self._by_unet[id(unet)] = _Steering(unet)
        return steering

    def clear(self, unet) -> None:
        steering = self._by_unet.get(id(unet))
        if steering is not None and steering.unet is unet:
            steering.clear()

    def remove(self) -> None:
        while self._by_unet:
            self._by_unet.popitem()[1].remove()


class _Steering:
    """The hooks on one UNet."""

    def __init__(self, unet) -> None:
        self.unet = unet
        self.mode: str | None = None        # None (plain), "write" or "read"
        self.attn_weight = self.gn_weight = -1.0   # the writing unit's weight, per kind
        self.fidelity = 0.0
        self.n_uncond = 0
        self._processors: list[tuple[Any, Any]] = []
        self._handles: list[Any] = []
        self._attn: list[_ReferenceAttention] = []
        self._gn: list[_AdaIN] = []
        self._install()

    def _install(self) -> None:
        blocks = [m for part in _unet_parts(self.unet) for m in part.modules()
                  if hasattr(m, "attn1") and hasattr(m, "norm1")]
        blocks.sort(key=lambda b: -b.attn1.to_q.in_features)        # stable: down, mid, up within a width
        for i, block in enumerate(blocks):
            processor = _ReferenceAttention(self, i / len(blocks), block.attn1.processor)
            self._processors.append((block.attn1, block.attn1.processor))
            block.attn1.set_processor(processor)
            self._attn.append(processor)
        for module, weight in _adain_points(self.unet):
            hook = _AdaIN(self, weight)
            self._handles.append(module.register_forward_hook(hook))
            self._gn.append(hook)

    def remove(self) -> None:
        for attn, processor in self._processors:
            attn.set_processor(processor)
        for handle in self._handles:
            handle.remove()
        self._processors, self._handles = [], []

    def clear(self) -> None:
        self.mode = None
        for hook in (*self._attn, *self._gn):
            hook.clear()


def _unet_parts(unet) -> list:
    """The UNet's blocks in the extension's walk order: down, middle, up."""
    return [b for b in (*unet.down_blocks, unet.mid_block, *unet.up_blocks) if b is not None]


def _ldm_blocks(unet) -> tuple[list, list]:
    """diffusers' sub-modules whose outputs are LDM's input_blocks[1:] and output_blocks outputs: per
    layer its attention (or resnet where the level has none), a level's down/up sampler in its place."""
    inputs, outputs = [], []
    for block in unet.down_blocks:
        attentions = getattr(block, "attentions", None)
        for j, resnet in enumerate(block.resnets):
            inputs.append(attentions[j] if attentions else resnet)
        if getattr(block, "downsamplers", None):
            inputs.append(block.downsamplers[0])
    for block in unet.up_blocks:
        attentions = getattr(block, "attentions", None)
        for j, resnet in enumerate(block.resnets):
            last = j == len(block.resnets) - 1
            if last and getattr(block, "upsamplers", None):
                outputs.append(block.upsamplers[0])
            else:
                outputs.append(attentions[j] if attentions else resnet)
    return inputs, outputs


def _adain_points(unet) -> list[tuple[Any, float]]:
    """The modules whose outputs the extension re-normalises (its LDM input/output block indices,
    mapped to diffusers' sub-modules), with its weight thresholds. A smaller UNet (the tiny test
    models) keeps the indices that exist."""
    sdxl = len(unet.down_blocks) == 3
    input_indices = (4, 5, 7, 8) if sdxl else (4, 5, 7, 8, 10, 11)
    output_indices = tuple(range(6 if sdxl else 8))
    inputs, outputs = _ldm_blocks(unet)
    points: list[tuple[Any, float]] = [(unet.mid_block, 0.0)] if unet.mid_block is not None else []
    for w, k in enumerate(input_indices):
        if k - 1 < len(inputs):
            points.append((inputs[k - 1], 2 * (1.0 - w / len(input_indices))))
    for w, k in enumerate(output_indices):
        if k < len(outputs):
            points.append((outputs[k], 2 * w / len(output_indices)))
    return points


class _ReferenceAttention:
    """A self-attention processor that keeps its input (write) or also attends to what was kept (read)."""

    def __init__(self, steering: _Steering, rank: float, inner=None) -> None:
        self.steering, self.rank, self.inner = steering, rank, inner
        self.bank: list[torch.Tensor] = []
        self.fidelities: list[float] = []

    def clear(self) -> None:
        self.bank, self.fidelities = [], []

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        def plain(x, context=None):
            return self.inner(attn, x, context, attention_mask, temb, **kwargs)

        s = self.steering
        if encoder_hidden_states is not None or s.mode is None:
            return plain(hidden_states, encoder_hidden_states)
        if s.mode == "write":
            if s.attn_weight > self.rank:
                self.bank.append(hidden_states.clone())
                self.fidelities.append(s.fidelity)
            return plain(hidden_states)
        if not self.bank:
            return plain(hidden_states)
        fidelity = sum(self.fidelities) / len(self.fidelities)
        steered = plain(hidden_states, torch.cat([hidden_states, *self.bank], dim=1))
        n = s.n_uncond
        if n and fidelity > 1e-5:
            steered = steered.clone()
            steered[:n] = fidelity * plain(hidden_states[:n]) + (1.0 - fidelity) * steered[:n]
        self.clear()
        return steered


class _AdaIN:
    """A forward hook that keeps a module's feature statistics (write) or gives them to its output (read)."""

    def __init__(self, steering: _Steering, weight: float) -> None:
        self.steering, self.weight = steering, weight
        self.means: list[torch.Tensor] = []
        self.variances: list[torch.Tensor] = []
        self.fidelities: list[float] = []

    def clear(self) -> None:
        self.means, self.variances, self.fidelities = [], [], []

    def __call__(self, module, args, output):
        s = self.steering
        x = output[0] if isinstance(output, tuple) else output
        if s.mode == "write" and s.gn_weight > self.weight:
            var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
            self.means.append(mean)
            self.variances.append(var)
            self.fidelities.append(s.fidelity)
            return output
        if s.mode != "read" or not self.means:
            return output
        fidelity = sum(self.fidelities) / len(self.fidelities)
        xf = x.float()
        var, mean = torch.var_mean(xf, dim=(2, 3), keepdim=True, correction=0)
        target_mean = sum(self.means) / len(self.means)
        target_std = (sum(self.variances) / len(self.variances)).clamp(min=_EPS) ** 0.5
        steered = (xf - mean) / var.clamp(min=_EPS) ** 0.5 * target_std + target_mean
        n = s.n_uncond
        if n and fidelity > 1e-5:
            steered[:n] = fidelity * xf[:n] + (1.0 - fidelity) * steered[:n]
        self.clear()
        steered = steered.to(x.dtype)
        return (steered, *output[1:]) if isinstance(output, tuple) else steered


@dataclass
class ReferenceUnit(UNetControl):
    image: np.ndarray                       # the reference picture, HxWx3 uint8
    module: str = REFERENCE[0]
    resize_mode: str = RESIZE_MODES[1]
    passes: frozenset[str] = frozenset({"first", "hires"})
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    control_mode: str = CONTROL_MODES[0]
    style_fidelity: float = 0.5             # threshold_a
    seed: int = 0                           # the noise the reference is given at each step comes from it
    for_unet: Any = None
    hooks: ReferenceHooks = field(default_factory=ReferenceHooks)   # the job's reference units share one
    _latents: dict = field(default_factory=dict, repr=False)
    eager = True        # its hooks are Python inside the UNet: a compiled UNet runs eagerly for the pass

    def fitted(self, height: int, width: int) -> np.ndarray:
        return fit(self.image, width, height, self.resize_mode)

    def _fidelity(self, call: UNetCall) -> float:
        if self.control_mode == CONTROL_MODES[2]:
            return 1.0
        if self.control_mode == CONTROL_MODES[1] or call.pass_name == "hires":
            return 0.0
        fidelity = max(0.0, min(1.0, float(self.style_fidelity)))
        return fidelity ** 3 if getattr(call.model, "is_sdxl", False) else fidelity

    def before_unet(self, call: UNetCall) -> None:
        if self.weight <= 0 or not acts_in(call, self.passes, self.for_unet) \
                or not in_window(call, self.guidance_start, self.guidance_end):
            return
        steering = self.hooks.on(call.model.unet)
        scale = getattr(call.model, "vae_scale_factor", 8)
        key = (call.x.shape[-2] * scale, call.x.shape[-1] * scale, call.x.device)
        if key not in self._latents:
            self._latents[key] = image_latents(call, self.fitted(key[0], key[1]))
        x0 = self._latents[key]
        # the same noise for every row of one image; another draw at each step, from the job's seed
        images = max(call.rows) + 1
        generator = torch.Generator().manual_seed((self.seed * 1000 + call.step) & 0xFFFFFFFF)
        noise = torch.randn((images, *x0.shape[1:]), generator=generator).to(x0)
        noise = noise.index_select(0, torch.tensor(list(call.rows), device=noise.device))
        a = call.alpha()
        noised = (a ** 0.5 * x0 + (1.0 - a) ** 0.5 * noise).to(call.x.dtype)
        image_cond = None
        if call.image_cond is not None:         # an inpainting UNet: nothing masked, the reference as the image
            image_cond = torch.cat([torch.zeros_like(x0[:, :1]), x0], dim=1).expand(len(call.rows), -1, -1, -1)
        steering.fidelity = self._fidelity(call)
        steering.n_uncond = call.n_uncond
        steering.attn_weight = self.weight if self.module != "reference_adain" else -1.0
        steering.gn_weight = self.weight if self.module != "reference_only" else -1.0
        steering.mode = "write"
        try:
            call.unet(noised, image_cond=image_cond)
        finally:
            steering.mode = "read"

    def after_unet(self, call: UNetCall, out: torch.Tensor) -> torch.Tensor:
        self.hooks.clear(call.model.unet)
        return out

    def end_pass(self) -> None:
        self.hooks.remove()
