"""IP-Adapter units: a picture as a prompt, through diffusers' IP-Adapter attention processors, from
the files users keep for sd-webui-controlnet (offline):

- the adapter (`models/ControlNet/ip-adapter_sd15.pth`, `ip-adapter-plus_sdxl_vit-h.safetensors` ...):
  `image_proj` (the picture's CLIP embedding to extra text tokens) and `ip_adapter` (a key/value
  projection per cross-attention), nested in a pickle or flat in a safetensors file;
- the CLIP vision encoder the module names (`clip_vision/clip_h.pth`, `clip_g.pth` under the annotator
  folder): transformers' CLIPVisionModelWithProjection weights, its shape read from the file.

Plain adapters take the projected image embedding (the negative rows a zero embedding); "plus" and
full-face adapters take the encoder's penultimate hidden states (the negative rows those of an
all-zero input, as IP-Adapter's own code makes them). The processors are put on the UNet for the pass and taken off after it, as reference units'
hooks are; outside a unit's window or pass its scale is 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from sdwebui.engine.control.controlnet_unit import acts_in, in_window
from sdwebui.engine.control.residuals import UNetCall, UNetControl

# the extension's IP-Adapter preprocessors and the CLIP vision file each needs (annotator folder)
CLIP_FILES = {"ip-adapter_clip_sd15": "clip_vision/clip_h.pth", "ip-adapter_clip_sdxl": "clip_vision/clip_g.pth",
              "ip-adapter_clip_sdxl_plus_vith": "clip_vision/clip_h.pth"}
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class IPAdapterError(ValueError):
    pass


def is_ip_adapter(state_dict: Mapping[str, Any]) -> bool:
    return "image_proj" in state_dict or any(str(k).startswith("image_proj.") for k in state_dict)


@dataclass
class IPAdapterWeights:
    """An adapter file's two parts, in the layout diffusers' loader reads."""
    name: str
    image_proj: dict[str, torch.Tensor]
    ip_adapter: dict[str, torch.Tensor]

    @classmethod
    def from_state_dict(cls, name: str, state_dict: Mapping[str, Any]) -> "IPAdapterWeights":
        if "image_proj" in state_dict:          # .bin / .pth: {"image_proj": {...}, "ip_adapter": {...}}
            return cls(name, dict(state_dict["image_proj"]), dict(state_dict["ip_adapter"]))
        parts: dict[str, dict[str, torch.Tensor]] = {"image_proj": {}, "ip_adapter": {}}
        for key, value in state_dict.items():
            head, _, rest = str(key).partition(".")
            if head in parts:
                parts[head][rest] = value
        return cls(name, parts["image_proj"], parts["ip_adapter"])

    @property
    def kind(self) -> str:
        keys = self.image_proj
        if "proj.weight" in keys:
            return "plain"
        if "proj.3.weight" in keys:
            return "full_face"
        if "perceiver_resampler.proj_in.weight" in keys or "norm.weight" in keys:
            return "face_id"
        return "plus"

    def embedding_width(self) -> int:
        """The width of the CLIP output the adapter takes (projected embedding or hidden states)."""
        for key in ("proj.weight", "proj_in.weight", "proj.0.weight"):
            if key in self.image_proj:
                return int(self.image_proj[key].shape[1])
        raise IPAdapterError(f"{self.name}: no image projection input in the file")

    def clip_file(self) -> str:
        """ip-adapter-auto: ViT-bigG's file for an adapter made on its outputs (1280-wide embeddings,
        1664-wide hidden states), ViT-H's otherwise."""
        big = self.embedding_width() == (1664 if self.takes_hidden_states else 1280)
        return "clip_vision/clip_g.pth" if big else "clip_vision/clip_h.pth"

    @property
    def takes_hidden_states(self) -> bool:
        return self.kind in ("plus", "full_face")

    def check_fits(self, unet) -> None:
        """Refuse, naming both, an adapter made for another UNet (family or width)."""
        if self.kind == "face_id":
            raise IPAdapterError(f"{self.name} is an IP-Adapter FaceID model: it needs insightface face "
                                 "embeddings, which are not built in")
        cross = unet.config.cross_attention_dim
        key = self.ip_adapter.get("1.to_k_ip.weight")
        layers = sum(1 for name in unet.attn_processors if name.endswith("attn2.processor"))
        if key is None or key.shape[1] != cross or len(self.ip_adapter) != 2 * layers:
            width = None if key is None else key.shape[1]
            raise IPAdapterError(f"{self.name} does not fit the loaded checkpoint: it is made for a UNet with "
                                 f"{len(self.ip_adapter) // 2} cross-attentions of text width {width}; this one has "
                                 f"{layers} of width {cross}")


def load_clip_vision(path: Path, *, device: torch.device, dtype: torch.dtype):
    """transformers' CLIPVisionModelWithProjection from a state dict, its config read from the shapes
    (16 attention heads, as ViT-H/14 and ViT-bigG/14 have)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "vision_model.embeddings.patch_embedding.weight" not in state:
        raise IPAdapterError(f"{path.name} is not a CLIP vision model (transformers' CLIPVisionModelWithProjection keys)")
    patch = state["vision_model.embeddings.patch_embedding.weight"]
    positions = state["vision_model.embeddings.position_embedding.weight"].shape[0]
    layers = 1 + max(int(k.split(".")[3]) for k in state if k.startswith("vision_model.encoder.layers."))
    config = CLIPVisionConfig(
        hidden_size=patch.shape[0], patch_size=patch.shape[-1], image_size=int(round((positions - 1) ** 0.5)) * patch.shape[-1],
        num_hidden_layers=layers, num_attention_heads=16, hidden_act="gelu",
        intermediate_size=state["vision_model.encoder.layers.0.mlp.fc1.weight"].shape[0],
        projection_dim=state["visual_projection.weight"].shape[0])
    model = CLIPVisionModelWithProjection(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if [k for k in missing if "position_ids" not in k]:
        raise IPAdapterError(f"{path.name} lacks weights of a CLIP vision model: {missing[:3]}")
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)


@torch.inference_mode()
def clip_embeddings(clip, picture: np.ndarray) -> dict[str, torch.Tensor]:
    """A HxWx3 uint8 picture through the encoder (resized to its input size, CLIP's normalisation):
    the projected embedding and the penultimate hidden states, each with those of an all-zero input
    beside it (row 0: the picture, row 1: zeros, the negative prompt's for "plus" adapters)."""
    import cv2

    size = clip.config.image_size
    resized = cv2.resize(np.ascontiguousarray(picture[:, :, :3]), (size, size), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(resized).permute(2, 0, 1).float()[None] / 255.0
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    normalised = (x - mean) / std
    pixels = torch.cat([normalised, torch.zeros_like(normalised)]).to(device=clip.device, dtype=clip.dtype)
    out = clip(pixel_values=pixels, output_hidden_states=True)
    return {"image_embeds": out.image_embeds, "penultimate": out.hidden_states[-2]}


class IPAdapterHooks:
    """The job's IP-Adapters on one UNet: diffusers' processors for all of them at once (one scale
    each), put on at the first step that needs them and taken off at the end of the pass."""

    def __init__(self) -> None:
        self.units: list["IPAdapterUnit"] = []
        self._unet = None
        self._saved: tuple | None = None

    def install(self, unet) -> None:
        if self._unet is unet:
            return
        self.remove()
        self._saved = (dict(unet.attn_processors), unet.encoder_hid_proj, unet.config.encoder_hid_dim_type)
        self._unet = unet
        from sdwebui.engine.models.building import quiet_diffusers

        with quiet_diffusers():
            unet._load_ip_adapter_weights([{"image_proj": u.weights.image_proj, "ip_adapter": u.weights.ip_adapter}
                                           for u in self.units], low_cpu_mem_usage=False)

    def set_scales(self, call: UNetCall) -> None:
        scales = [u.scale_at(call) for u in self.units]
        for processor in self._unet.attn_processors.values():
            if hasattr(processor, "scale") and isinstance(processor.scale, list):
                processor.scale = scales

    def remove(self) -> None:
        if self._unet is not None and self._saved is not None:
            processors, projection, kind = self._saved
            # the projection first: a "plus" one has attention layers of its own, counted by attn_processors
            self._unet.encoder_hid_proj = projection
            self._unet.register_to_config(encoder_hid_dim_type=kind)
            self._unet.set_attn_processor(processors)
        self._unet, self._saved = None, None


@dataclass
class IPAdapterUnit(UNetControl):
    weights: IPAdapterWeights
    embeddings: dict[str, torch.Tensor]     # clip_embeddings(): row 0 the picture, row 1 an all-zero input
    passes: frozenset[str] = frozenset({"first", "hires"})
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    for_unet: Any = None
    hooks: IPAdapterHooks = field(default_factory=IPAdapterHooks)   # the job's IP-Adapter units share one
    _rows: dict = field(default_factory=dict, repr=False)
    eager = True        # the processors are swapped on the UNet for the pass: a compiled UNet runs eagerly
    order = 0           # its embeddings are in the call before a reference unit runs the UNet

    def __post_init__(self) -> None:
        self.hooks.units.append(self)

    def scale_at(self, call: UNetCall) -> float:
        active = acts_in(call, self.passes, self.for_unet) and in_window(call, self.guidance_start, self.guidance_end)
        return float(self.weight) if active else 0.0

    def _embeds_for(self, call: UNetCall) -> torch.Tensor:
        """One embedding row per UNet row (negative rows first); built once per row layout, not per step."""
        key = (call.n_uncond, len(call.rows), call.x.device, call.model.unet.dtype)
        if key not in self._rows:
            source = self.embeddings["penultimate" if self.weights.takes_hidden_states else "image_embeds"]
            cond = source[:1]
            uncond = source[1:2] if self.weights.takes_hidden_states else torch.zeros_like(cond)
            rows = [uncond] * call.n_uncond + [cond] * (len(call.rows) - call.n_uncond)
            self._rows[key] = torch.cat(rows).unsqueeze(1).to(device=key[2], dtype=key[3])
        return self._rows[key]

    def before_unet(self, call: UNetCall) -> None:
        """The first unit of the job speaks for all: processors on, scales for this step, and every
        unit's embeddings in the call's added conditioning (a new dict: the loop's stays as it is)."""
        if self is not self.hooks.units[0]:
            return
        if self.for_unet is not None and getattr(call.model, "unet", None) is not self.for_unet:
            return
        self.hooks.install(call.model.unet)
        self.hooks.set_scales(call)
        call.added = {**(call.added or {}), "image_embeds": [u._embeds_for(call) for u in self.hooks.units]}

    def end_pass(self) -> None:
        self.hooks.remove()
