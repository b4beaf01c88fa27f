"""ControlNet files as users have them, loaded offline onto the loaded checkpoint's UNet shape.

Users keep lllyasviel's ldm-format files (`control_v11p_sd15_canny.pth`, keys `control_model.*`, or
unprefixed `.safetensors`) and diffusers-keyed single files (`diffusers_xl_canny_*.safetensors`).
Neither carries a config, and the hub is never asked: the config is the loaded base UNet's (head
counts and norm groups are not in the weights), with what the file's shapes say on top (its input
width, its hint encoder's channels). Whether the file fits the checkpoint is decided by the
cross-attention width and SDXL's `label_emb`, not by counting blocks, so tiny test files and
every real size take the same path.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Mapping

import torch

from sdwebui.engine.models.building import build_empty, quiet_diffusers

logger = logging.getLogger(__name__)

LDM_PREFIX = "control_model."
_HINT = "input_hint_block."


class ControlModelError(ValueError):
    """A control model file that cannot serve the loaded checkpoint; the message says why."""


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path), device="cpu")
    # weights only: a pickle from the internet never runs code here
    loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise ControlModelError(f"{path.name} holds no state dict")
    return loaded


def kind_of(state_dict: Mapping[str, torch.Tensor]) -> str:
    """'ldm' (lllyasviel's layout), 'diffusers' (ControlNetModel keys), or raise."""
    if "controlnet_cond_embedding.conv_in.weight" in state_dict:
        return "diffusers"
    if any(k.endswith(_HINT + "0.weight") for k in state_dict):
        return "ldm"
    raise ControlModelError("Cannot recognize the ControlModel: no ControlNet hint encoder "
                            "(input_hint_block / controlnet_cond_embedding) in the file")


def ldm_control_part(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ControlNet's own tensors: v1.0 files carry a whole SD model beside `control_model.*`."""
    if any(k.startswith(LDM_PREFIX) for k in state_dict):
        return {k[len(LDM_PREFIX):]: v for k, v in state_dict.items() if k.startswith(LDM_PREFIX)}
    return dict(state_dict)


def _cross_attention_width(state_dict: Mapping[str, torch.Tensor]) -> int | None:
    for key, value in state_dict.items():
        if key.endswith("attn2.to_k.weight"):
            return int(value.shape[1])
    return None


def check_fits(name: str, state_dict: Mapping[str, torch.Tensor], unet_config: Mapping, family: str) -> None:
    """Refuse a ControlNet made for another model family, naming both."""
    if family in ("sd3", "flux"):
        raise ControlModelError(f"ControlNet {name}: ControlNet units work with SD1.x, SD2.x and SDXL checkpoints; "
                                f"the loaded checkpoint is {'SD3' if family == 'sd3' else 'FLUX.1'}, whose "
                                "ControlNets are not supported yet")
    width = _cross_attention_width(state_dict)
    is_xl = any(k.startswith(("label_emb.", "add_embedding.")) for k in state_dict)
    base_xl = unet_config.get("addition_embed_type") == "text_time"
    base_width = unet_config.get("cross_attention_dim")
    if isinstance(base_width, (list, tuple)):
        base_width = base_width[0]
    made_for = {768: "SD1.x", 1024: "SD2.x", 2048: "SDXL"}.get(width or 0, f"text width {width}")
    if is_xl != base_xl or (width is not None and width != base_width):
        raise ControlModelError(f"ControlNet {name} ({'SDXL' if is_xl else made_for}, cross-attention width "
                                f"{width}) is not compatible with the loaded checkpoint ({family}, width "
                                f"{base_width})")


def _hint_channels(state_dict: Mapping[str, torch.Tensor], kind: str) -> tuple[int, tuple[int, ...]]:
    """(conditioning_channels, conditioning_embedding_out_channels) from the hint encoder's shapes."""
    if kind == "diffusers":
        first = state_dict["controlnet_cond_embedding.conv_in.weight"]
        blocks = sorted({int(m[1]) for k in state_dict
                         if (m := re.match(r"controlnet_cond_embedding\.blocks\.(\d+)\.weight", k))})
        outs = [int(first.shape[0])] + [int(state_dict[f"controlnet_cond_embedding.blocks.{b}.weight"].shape[0])
                                        for b in blocks if b % 2 == 1]
        return int(first.shape[1]), tuple(outs)
    # ldm: convs at 0, 2, ..., 14 (SiLU between); 0 is conv_in, then pairs (same width, then stride 2
    # to the next width), 14 the zero conv to the model width
    first = state_dict[_HINT + "0.weight"]
    convs = sorted(int(m[1]) for k in state_dict if (m := re.fullmatch(r"input_hint_block\.(\d+)\.weight", k)))
    inner = convs[1:-1]
    outs = [int(first.shape[0])] + [int(state_dict[f"{_HINT}{i}.weight"].shape[0]) for i in inner[1::2]]
    return int(first.shape[1]), tuple(outs)


_FROM_UNET = ("addition_embed_type", "addition_time_embed_dim", "transformer_layers_per_block", "flip_sin_to_cos",
              "freq_shift", "down_block_types", "only_cross_attention", "block_out_channels", "layers_per_block",
              "downsample_padding", "mid_block_scale_factor", "act_fn", "norm_num_groups", "norm_eps",
              "cross_attention_dim", "attention_head_dim", "num_attention_heads", "use_linear_projection",
              "class_embed_type", "num_class_embeds", "upcast_attention", "resnet_time_scale_shift",
              "projection_class_embeddings_input_dim", "mid_block_type", "encoder_hid_dim", "encoder_hid_dim_type")


def controlnet_config(state_dict: Mapping[str, torch.Tensor], unet_config: Mapping, kind: str, *,
                      global_pool: bool = False) -> dict:
    """The base UNet's config with the file's own input width and hint encoder."""
    config = {k: unet_config[k] for k in _FROM_UNET if k in unet_config}
    conv_in = state_dict["conv_in.weight" if kind == "diffusers" else "input_blocks.0.0.weight"]
    channels, embedding = _hint_channels(state_dict, kind)
    config.update(in_channels=int(conv_in.shape[1]), conditioning_channels=channels,
                  conditioning_embedding_out_channels=embedding, global_pool_conditions=global_pool)
    return config


def to_diffusers(state_dict: Mapping[str, torch.Tensor], config: Mapping) -> dict[str, torch.Tensor]:
    """lllyasviel's key names -> ControlNetModel's (diffusers' converter, plus SDXL's class
    embedding it leaves out: `label_emb.0.0/0.2` -> `add_embedding.linear_1/2`)."""
    from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint

    converted = convert_controlnet_checkpoint(dict(state_dict), dict(config))
    for ldm, ours in (("label_emb.0.0", "add_embedding.linear_1"), ("label_emb.0.2", "add_embedding.linear_2")):
        for param in ("weight", "bias"):
            if f"{ldm}.{param}" in state_dict:
                converted[f"{ours}.{param}"] = state_dict[f"{ldm}.{param}"]
    return converted


def control_lora_to_full(state_dict: Mapping[str, torch.Tensor], base_unet) -> dict[str, torch.Tensor]:
    """A control-LoRA (`lora_controlnet` marker; SAI's `control-lora-*`, lllyasviel's
    `control_lora_rank128_*`) as a whole ldm ControlNet: the loaded UNet's encoder weights, the
    file's full tensors over them, and `up @ down` added to each weight the file pairs."""
    from sdwebui.engine.models.ldm_export import unet_to_ldm

    base = {k: v for k, v in unet_to_ldm(base_unet.state_dict(), dict(base_unet.config)).items()
            if k.startswith(("input_blocks.", "middle_block.", "time_embed.", "label_emb."))}
    out = {k: v.detach().to("cpu", torch.float32) for k, v in base.items()}
    pairs = {k[: -len(".up")] for k in state_dict if k.endswith(".up")}
    for key, value in state_dict.items():
        if key == "lora_controlnet" or key.endswith((".up", ".down")):
            continue
        out[key] = value.float()
    for layer in pairs:
        up, down = state_dict[f"{layer}.up"].float(), state_dict[f"{layer}.down"].float()
        weight = out.get(f"{layer}.weight")
        if weight is None:
            raise ControlModelError(f"control-LoRA layer {layer} has no weight in the loaded checkpoint to add to")
        out[f"{layer}.weight"] = weight + (up.flatten(1) @ down.flatten(1)).reshape(weight.shape)
    return out


def load_controlnet(path: Path, unet_config: Mapping, family: str, *, device: torch.device,
                    dtype: torch.dtype, state_dict: Mapping[str, torch.Tensor] | None = None, base_unet=None):
    """A ControlNetModel from a user's file (or its tensors, read already), shaped for the loaded
    checkpoint, on its device and dtype. A control-LoRA needs the loaded UNet (`base_unet`)."""
    from diffusers import ControlNetModel

    raw = read_state_dict(path) if state_dict is None else state_dict
    if "lora_controlnet" in raw:
        if base_unet is None:
            raise ControlModelError(f"{path.name} is a control-LoRA: it needs the loaded checkpoint's UNet")
        check_fits(path.name, raw, unet_config, family)
        raw = control_lora_to_full(raw, base_unet)
    kind = kind_of(raw)
    state_dict = ldm_control_part(raw) if kind == "ldm" else raw
    check_fits(path.name, state_dict, unet_config, family)
    config = controlnet_config(state_dict, unet_config, kind, global_pool="shuffle" in path.name.lower())
    weights = to_diffusers(state_dict, config) if kind == "ldm" else state_dict
    # built on the meta device, as the checkpoint loader builds (its lock keeps another thread's
    # meta building from catching this one), then given the file's tensors
    net = build_empty(ControlNetModel, config)
    try:
        result = net.load_state_dict(weights, strict=False, assign=True)
    except RuntimeError as e:     # a tensor of another size: made for another model shape
        raise ControlModelError(f"ControlNet {path.name} does not fit the loaded checkpoint ({family}): "
                                f"{str(e).splitlines()[-1].strip()}") from None
    if result.missing_keys or result.unexpected_keys:
        raise ControlModelError(f"ControlNet {path.name} does not fit the loaded checkpoint ({family}): "
                                f"missing {result.missing_keys[:4]}, unexpected {result.unexpected_keys[:4]}")
    try:
        net.set_attn_processor(_sdpa())
    except Exception:   # noqa: BLE001 - the default processor is SDPA already on torch 2
        pass
    logger.info("loaded ControlNet %s (%s format)", path.name, kind)
    with quiet_diffusers():    # its note about modules kept in float32: a ControlNet has none
        return net.to(device=device, dtype=dtype).eval().requires_grad_(False)


def _sdpa():
    from diffusers.models.attention_processor import AttnProcessor2_0
    return AttnProcessor2_0()
