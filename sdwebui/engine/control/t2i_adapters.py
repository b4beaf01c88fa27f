"""T2I-Adapters as users have them: TencentARC's files (`t2iadapter_canny_sd15v2.pth`, keys
`conv_in`, `body.K.block1`) and diffusers-keyed ones (`adapter.body.L.resnets.R.*`), loaded offline.

An adapter turns the control image alone (no latent, no text) into one feature map per UNet down
level; the UNet adds them inside its down levels (`down_intrablock_additional_residuals`). The
config comes from the file's shapes: the input is pixel-unshuffled (8x8 blocks for SD1/SD2, 16x16
for SDXL's "full_adapter_xl"), so conv_in's input width is the image channels times 64 or 256.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import torch

from sdwebui.engine.control.controlnet_models import ControlModelError, read_state_dict
from sdwebui.engine.models.building import build_empty, quiet_diffusers

_TENCENT_BLOCK = re.compile(r"body\.(\d+)\.(block1|block2|in_conv)\.(weight|bias)")


def is_adapter(state_dict: Mapping[str, torch.Tensor]) -> bool:
    return "adapter.conv_in.weight" in state_dict or ("conv_in.weight" in state_dict and
                                                     any(k.startswith("body.0.block1") for k in state_dict))


def tencent_to_diffusers(state_dict: Mapping[str, torch.Tensor], res_blocks: int) -> dict[str, torch.Tensor]:
    """TencentARC's flat `body` list (block K = level K // n, block K % n) -> diffusers' levels."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("conv_in."):
            out[f"adapter.{key}"] = value
        elif m := _TENCENT_BLOCK.fullmatch(key):
            block, part, param = int(m[1]), m[2], m[3]
            level, index = divmod(block, res_blocks)
            if part == "in_conv":
                out[f"adapter.body.{level}.in_conv.{param}"] = value
            else:
                out[f"adapter.body.{level}.resnets.{index}.{part}.{param}"] = value
        else:
            raise ControlModelError(f"T2I-Adapter key {key!r} is not one of a full adapter (style and light "
                                    "adapters are not supported)")
    return out


def adapter_config(state_dict: Mapping[str, torch.Tensor], family: str) -> dict:
    conv_in = state_dict["adapter.conv_in.weight"]
    xl = family.startswith("sdxl")
    factor = 16 if xl else 8
    levels = sorted({int(m[1]) for k in state_dict if (m := re.match(r"adapter\.body\.(\d+)\.", k))})
    res_blocks = 1 + max(int(m[1]) for k in state_dict if (m := re.match(r"adapter\.body\.0\.resnets\.(\d+)\.", k)))
    channels = [int(state_dict[f"adapter.body.{level}.resnets.0.block1.weight"].shape[0]) for level in levels]
    image_channels, rest = divmod(int(conv_in.shape[1]), factor * factor)
    if rest or image_channels not in (1, 3):
        raise ControlModelError(f"T2I-Adapter input width {conv_in.shape[1]} does not fit a "
                                f"{'SDXL' if xl else 'SD1/SD2'} checkpoint")
    return {"in_channels": image_channels, "channels": channels, "num_res_blocks": res_blocks,
            "downscale_factor": factor, "adapter_type": "full_adapter_xl" if xl else "full_adapter"}


def load_t2i_adapter(path: Path, unet_config: Mapping, family: str, *, device: torch.device, dtype: torch.dtype,
                     state_dict: Mapping[str, torch.Tensor] | None = None):
    from diffusers import T2IAdapter

    raw = dict(read_state_dict(path) if state_dict is None else state_dict)
    if "adapter.conv_in.weight" not in raw:
        blocks = {int(m[1]) for k in raw if (m := _TENCENT_BLOCK.fullmatch(k))}
        in_convs = sorted(int(m[1]) for k in raw if (m := _TENCENT_BLOCK.fullmatch(k)) and m[2] == "in_conv")
        res_blocks = in_convs[0] if in_convs else max(blocks) + 1    # the first in_conv starts level 1
        raw = tencent_to_diffusers(raw, res_blocks)
    config = adapter_config(raw, family)
    widths = list(unet_config.get("block_out_channels", ()))
    if config["channels"] != widths[:len(config["channels"])]:
        raise ControlModelError(f"T2I-Adapter {path.name} (widths {config['channels']}) is not compatible with the "
                                f"loaded checkpoint ({family}, widths {widths})")
    adapter = build_empty(T2IAdapter, config)
    try:
        result = adapter.load_state_dict(raw, strict=False, assign=True)
    except RuntimeError as e:
        raise ControlModelError(f"T2I-Adapter {path.name} does not fit: {str(e).splitlines()[-1].strip()}") from None
    if result.missing_keys or result.unexpected_keys:
        raise ControlModelError(f"T2I-Adapter {path.name}: missing {result.missing_keys[:4]}, "
                                f"unexpected {result.unexpected_keys[:4]}")
    with quiet_diffusers():
        return adapter.to(device=device, dtype=dtype).eval().requires_grad_(False)


def load_control_model(path: Path, base_unet, family: str, *, device: torch.device, dtype: torch.dtype):
    """A ControlNet, control-LoRA, T2I-Adapter or IP-Adapter (its weights: the UNet takes them per
    pass), whichever the file holds (read once), for the loaded checkpoint's UNet."""
    from sdwebui.engine.control.controlnet_models import load_controlnet

    if path.is_dir():       # a diffusers folder: config.json + weights
        return _load_folder(path, base_unet, family, device=device, dtype=dtype)
    state_dict = read_state_dict(path)
    config = dict(base_unet.config)
    from sdwebui.engine.control.ip_adapter import IPAdapterError, IPAdapterWeights, is_ip_adapter
    if is_ip_adapter(state_dict):
        weights = IPAdapterWeights.from_state_dict(path.name, state_dict)
        try:
            weights.check_fits(base_unet)
        except IPAdapterError as e:
            raise ControlModelError(str(e)) from None
        return weights
    if is_adapter(state_dict):
        return load_t2i_adapter(path, config, family, device=device, dtype=dtype, state_dict=state_dict)
    return load_controlnet(path, config, family, device=device, dtype=dtype, state_dict=state_dict,
                           base_unet=base_unet)


def _load_folder(path: Path, base_unet, family: str, *, device: torch.device, dtype: torch.dtype):
    import json

    from diffusers import ControlNetModel, T2IAdapter

    from sdwebui.engine.control.controlnet_models import check_fits

    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    cls = T2IAdapter if config.get("_class_name") == "T2IAdapter" else ControlNetModel
    model = cls.from_pretrained(str(path), local_files_only=True)
    if cls is ControlNetModel:
        check_fits(path.name, model.state_dict(), dict(base_unet.config), family)
    with quiet_diffusers():
        return model.to(device=device, dtype=dtype).eval().requires_grad_(False)
