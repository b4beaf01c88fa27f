"""The names SD3 and Flux LoRA files give the transformer's layers, and the diffusers layers they mean.

Three layouts are common: diffusers / PEFT (`transformer.transformer_blocks.0.attn.to_q.lora_A.weight`:
diffusers' own names), kohya's sd-scripts (`lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight`:
the original checkpoint's module names, underscored) and XLabs' for Flux
(`double_blocks.0.processor.qkv_lora1.down.weight`). The original names put q, k and v (and a Flux
single block's MLP input) in one layer, which diffusers splits: such a name maps to several diffusers
layers, and the LoRA's difference is split by rows over them (FusedLayers).
"""
from __future__ import annotations

import torch

from sdwebui.engine.models.dit_names import FLUX_DOUBLE, FLUX_LINEAR1, FLUX_QKV, FLUX_SINGLE, FLUX_TOP, SD3_BLOCK, \
    SD3_CONTEXT, SD3_QKV

_FLUX_XLABS = {     # XLabs' attention-processor LoRAs: 1 the image stream, 2 the text stream
    "processor.qkv_lora1": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "processor.qkv_lora2": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
    "processor.proj_lora1": ("attn.to_out.0",), "processor.proj_lora2": ("attn.to_add_out",),
}
class FusedLayers:
    """Several diffusers layers that one original layer stacks by rows (q | k | v ...): a LoRA's
    difference for the stack is split over them."""

    def __init__(self, layers: list[torch.nn.Module]) -> None:
        self.layers = layers
        self.bias = None

    @property
    def weight(self) -> torch.Tensor:
        return torch.cat([layer.weight.float() for layer in self.layers])

    def split(self, delta: torch.Tensor) -> list[tuple[torch.nn.Module, torch.Tensor]]:
        return list(zip(self.layers, delta.split([layer.weight.shape[0] for layer in self.layers])))


def _blocks(names: set[str], prefix: str) -> list[int]:
    return sorted({int(n.split(".")[1]) for n in names if n.startswith(prefix) and n.count(".") >= 1
                   and n.split(".")[1].isdigit()})


def dit_lora_targets(transformer: torch.nn.Module, family: str) -> dict[str, list[torch.nn.Module]]:
    """Every original-layout name (dotted, as XLabs and some trainers write it, and kohya's
    `lora_unet_` underscored form) -> the diffusers layers it covers, for an SD3 or Flux transformer."""
    modules = dict(transformer.named_modules())
    pairs: dict[str, tuple[str, ...]] = {}
    if family == "sd3":
        for i in _blocks(set(modules), "transformer_blocks."):
            for orig, diff in SD3_QKV.items():
                pairs[f"joint_blocks.{i}.{orig}"] = tuple(f"transformer_blocks.{i}.{d}" for d in diff)
            for orig, diff in SD3_BLOCK + SD3_CONTEXT:      # the last block has no context layers: skipped below
                pairs[f"joint_blocks.{i}.{orig}"] = (f"transformer_blocks.{i}.{diff}",)
    elif family == "flux":
        pairs.update({orig: (diff,) for orig, diff in FLUX_TOP.items()})
        for i in _blocks(set(modules), "transformer_blocks."):
            for orig, diff in {**FLUX_QKV, **_FLUX_XLABS}.items():
                pairs[f"double_blocks.{i}.{orig}"] = tuple(f"transformer_blocks.{i}.{d}" for d in diff)
            for orig, diff in FLUX_DOUBLE.items():
                pairs[f"double_blocks.{i}.{orig}"] = (f"transformer_blocks.{i}.{diff}",)
        for i in _blocks(set(modules), "single_transformer_blocks."):
            block = f"single_transformer_blocks.{i}."
            pairs[f"single_blocks.{i}.linear1"] = tuple(block + d for d in FLUX_LINEAR1)
            for orig, diff in FLUX_SINGLE.items():
                pairs[f"single_blocks.{i}.{orig}"] = (block + diff,)
    out: dict[str, list[torch.nn.Module]] = {}
    for orig, diffs in pairs.items():
        if all(d in modules for d in diffs):
            layers = [modules[d] for d in diffs]
            for key in (orig, "diffusion_model." + orig, "lora_unet_" + orig.replace(".", "_")):
                out[key] = layers
    # kohya-style names of diffusers' own layers (some trainers for diffusers-format models write these)
    for name, module in modules.items():
        if isinstance(module, torch.nn.Linear):
            for key in ("lora_transformer_" + name.replace(".", "_"), "transformer." + name):
                out.setdefault(key, [module])
    return out
