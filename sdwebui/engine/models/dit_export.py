"""diffusers' SD3 and Flux transformers -> the original layouts of the single files people download.

diffusers only converts the other way. The project needs this direction to write its tiny test
files (and merged or fine-tuned models) in the layout a user's file has, so they load through the
same code. SD3's two layouts are one-to-one apart from three things: the original keeps each
attention's q, k and v in one `qkv` tensor; its modulations are ordered (shift, scale) where
diffusers' final norms are (scale, shift) (the last context block's and the output layer's); and the
last context block has no attention output or MLP (it only feeds the image stream).
"""
from __future__ import annotations

from typing import Mapping

import torch

from sdwebui.engine.models.dit_names import (FLUX_DOUBLE, FLUX_DOUBLE_NORMS, FLUX_LINEAR1, FLUX_QKV, FLUX_SINGLE,
                                             FLUX_SINGLE_NORMS, FLUX_TOP, SD3_BLOCK, SD3_CONTEXT, SD3_NORMS, SD3_QKV,
                                             SD3_TOP, swap_halves)

class _Renamer:
    """Writes the original names of a diffusers state dict: a layer's weight and bias under its original
    name (`copy`), or several layers stacked by rows into one (`stack`); absent layers are skipped."""

    def __init__(self, state: Mapping[str, torch.Tensor], out: dict[str, torch.Tensor]) -> None:
        self.state, self.out = state, out

    def copy(self, orig: str, diff: str, convert=lambda t: t) -> None:
        for p in ("weight", "bias"):
            if f"{diff}.{p}" in self.state:
                self.out[f"{orig}.{p}"] = convert(self.state[f"{diff}.{p}"])

    def stack(self, orig: str, parts: list[str]) -> None:
        for p in ("weight", "bias"):
            if f"{parts[0]}.{p}" in self.state:
                self.out[f"{orig}.{p}"] = torch.cat([self.state[f"{name}.{p}"] for name in parts])


def sd3_to_original(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An SD3Transformer2DModel state dict -> the MMDiT's original names (no `model.diffusion_model.`)."""
    out: dict[str, torch.Tensor] = {"pos_embed": state["pos_embed.pos_embed"]}
    rename = _Renamer(state, out)
    copy = rename.copy

    for orig, diff in SD3_TOP:
        copy(orig, diff)
    copy("final_layer.adaLN_modulation.1", "norm_out.linear", swap_halves)
    layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("transformer_blocks."))
    for i in range(layers):
        o, d = f"joint_blocks.{i}.", f"transformer_blocks.{i}."
        last = i == layers - 1
        for orig, diff in SD3_BLOCK + (() if last else SD3_CONTEXT):
            copy(o + orig, d + diff)
        for orig, diff in SD3_NORMS:
            if f"{d}{diff}.weight" in state:
                out[f"{o}{orig}.weight"] = state[f"{d}{diff}.weight"]
        for orig, parts in SD3_QKV.items():
            rename.stack(o + orig, [d + part for part in parts])
        copy(o + "context_block.adaLN_modulation.1", d + "norm1_context.linear", swap_halves if last else (lambda t: t))
    return out


def flux_to_original(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A FluxTransformer2DModel state dict -> Black Forest Labs' names (flux1-dev.safetensors' layout):
    q/k/v in one `qkv` per stream, a single block's q/k/v and MLP input in one `linear1`, the query/key
    norms' weights as `scale`, the output modulation as (shift, scale)."""
    out: dict[str, torch.Tensor] = {}
    rename = _Renamer(state, out)
    copy, stacked = rename.copy, rename.stack

    for orig, diff in FLUX_TOP.items():
        copy(orig, diff)
    copy("final_layer.adaLN_modulation.1", "norm_out.linear", swap_halves)
    for i in sorted({int(k.split(".")[1]) for k in state if k.startswith("transformer_blocks.")}):
        o, d = f"double_blocks.{i}.", f"transformer_blocks.{i}."
        for orig, diff in FLUX_DOUBLE.items():
            copy(o + orig, d + diff)
        for orig, diff in FLUX_DOUBLE_NORMS.items():
            out[f"{o}{orig}.scale"] = state[f"{d}{diff}.weight"]
        for orig, parts in FLUX_QKV.items():
            stacked(o + orig, [d + part for part in parts])
    for i in sorted({int(k.split(".")[1]) for k in state if k.startswith("single_transformer_blocks.")}):
        o, d = f"single_blocks.{i}.", f"single_transformer_blocks.{i}."
        for orig, diff in FLUX_SINGLE.items():
            copy(o + orig, d + diff)
        for orig, diff in FLUX_SINGLE_NORMS.items():
            out[f"{o}{orig}.scale"] = state[f"{d}{diff}.weight"]
        stacked(o + "linear1", [d + part for part in FLUX_LINEAR1])
    return out
