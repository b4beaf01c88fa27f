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

_PAIRS = (      # original name -> diffusers name, whole modules (weight and bias)
    ("t_embedder.mlp.0", "time_text_embed.timestep_embedder.linear_1"),
    ("t_embedder.mlp.2", "time_text_embed.timestep_embedder.linear_2"),
    ("y_embedder.mlp.0", "time_text_embed.text_embedder.linear_1"),
    ("y_embedder.mlp.2", "time_text_embed.text_embedder.linear_2"),
    ("context_embedder", "context_embedder"),
    ("x_embedder.proj", "pos_embed.proj"),
    ("final_layer.linear", "proj_out"),
)
_BLOCK_PAIRS = (    # within joint block i / transformer block i
    ("x_block.attn.proj", "attn.to_out.0"),
    ("x_block.adaLN_modulation.1", "norm1.linear"),
    ("x_block.mlp.fc1", "ff.net.0.proj"),
    ("x_block.mlp.fc2", "ff.net.2"),
    ("x_block.attn2.proj", "attn2.to_out.0"),
)
_CONTEXT_PAIRS = (  # all but the last block
    ("context_block.attn.proj", "attn.to_add_out"),
    ("context_block.mlp.fc1", "ff_context.net.0.proj"),
    ("context_block.mlp.fc2", "ff_context.net.2"),
)
_NORMS = (          # query/key norms (SD3.5): weight only
    ("x_block.attn.ln_q", "attn.norm_q"), ("x_block.attn.ln_k", "attn.norm_k"),
    ("context_block.attn.ln_q", "attn.norm_added_q"), ("context_block.attn.ln_k", "attn.norm_added_k"),
    ("x_block.attn2.ln_q", "attn2.norm_q"), ("x_block.attn2.ln_k", "attn2.norm_k"),
)


def swap_halves(w: torch.Tensor) -> torch.Tensor:
    """(shift, scale) <-> (scale, shift): the two halves of a modulation, exchanged (its own inverse)."""
    first, second = w.chunk(2, dim=0)
    return torch.cat([second, first], dim=0)


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

    def qkv(orig: str, diff: str, names: tuple[str, str, str]) -> None:
        rename.stack(orig, [f"{diff}.{n}" for n in names])

    for orig, diff in _PAIRS:
        copy(orig, diff)
    copy("final_layer.adaLN_modulation.1", "norm_out.linear", swap_halves)
    layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("transformer_blocks."))
    for i in range(layers):
        o, d = f"joint_blocks.{i}.", f"transformer_blocks.{i}."
        last = i == layers - 1
        for orig, diff in _BLOCK_PAIRS + (() if last else _CONTEXT_PAIRS):
            copy(o + orig, d + diff)
        for orig, diff in _NORMS:
            if f"{d}{diff}.weight" in state:
                out[f"{o}{orig}.weight"] = state[f"{d}{diff}.weight"]
        qkv(o + "x_block.attn.qkv", d + "attn", ("to_q", "to_k", "to_v"))
        qkv(o + "x_block.attn2.qkv", d + "attn2", ("to_q", "to_k", "to_v"))
        qkv(o + "context_block.attn.qkv", d + "attn", ("add_q_proj", "add_k_proj", "add_v_proj"))
        copy(o + "context_block.adaLN_modulation.1", d + "norm1_context.linear", swap_halves if last else (lambda t: t))
    return out


_FLUX_TOP = (   # original module -> diffusers module
    ("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"),
    ("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"),
    ("vector_in.in_layer", "time_text_embed.text_embedder.linear_1"),
    ("vector_in.out_layer", "time_text_embed.text_embedder.linear_2"),
    ("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"),
    ("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"),
    ("txt_in", "context_embedder"), ("img_in", "x_embedder"), ("final_layer.linear", "proj_out"),
)
_FLUX_DOUBLE = (
    ("img_mod.lin", "norm1.linear"), ("txt_mod.lin", "norm1_context.linear"),
    ("img_attn.proj", "attn.to_out.0"), ("txt_attn.proj", "attn.to_add_out"),
    ("img_mlp.0", "ff.net.0.proj"), ("img_mlp.2", "ff.net.2"),
    ("txt_mlp.0", "ff_context.net.0.proj"), ("txt_mlp.2", "ff_context.net.2"),
)
_FLUX_DOUBLE_NORMS = (
    ("img_attn.norm.query_norm", "attn.norm_q"), ("img_attn.norm.key_norm", "attn.norm_k"),
    ("txt_attn.norm.query_norm", "attn.norm_added_q"), ("txt_attn.norm.key_norm", "attn.norm_added_k"),
)


def flux_to_original(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A FluxTransformer2DModel state dict -> Black Forest Labs' names (flux1-dev.safetensors' layout):
    q/k/v in one `qkv` per stream, a single block's q/k/v and MLP input in one `linear1`, the query/key
    norms' weights as `scale`, the output modulation as (shift, scale)."""
    out: dict[str, torch.Tensor] = {}
    rename = _Renamer(state, out)
    copy, stacked = rename.copy, rename.stack

    for orig, diff in _FLUX_TOP:
        copy(orig, diff)
    copy("final_layer.adaLN_modulation.1", "norm_out.linear", swap_halves)
    for i in sorted({int(k.split(".")[1]) for k in state if k.startswith("transformer_blocks.")}):
        o, d = f"double_blocks.{i}.", f"transformer_blocks.{i}."
        for orig, diff in _FLUX_DOUBLE:
            copy(o + orig, d + diff)
        for orig, diff in _FLUX_DOUBLE_NORMS:
            out[f"{o}{orig}.scale"] = state[f"{d}{diff}.weight"]
        stacked(o + "img_attn.qkv", [d + "attn.to_q", d + "attn.to_k", d + "attn.to_v"])
        stacked(o + "txt_attn.qkv", [d + "attn.add_q_proj", d + "attn.add_k_proj", d + "attn.add_v_proj"])
    for i in sorted({int(k.split(".")[1]) for k in state if k.startswith("single_transformer_blocks.")}):
        o, d = f"single_blocks.{i}.", f"single_transformer_blocks.{i}."
        copy(o + "modulation.lin", d + "norm.linear")
        copy(o + "linear2", d + "proj_out")
        out[o + "norm.query_norm.scale"] = state[d + "attn.norm_q.weight"]
        out[o + "norm.key_norm.scale"] = state[d + "attn.norm_k.weight"]
        stacked(o + "linear1", [d + "attn.to_q", d + "attn.to_k", d + "attn.to_v", d + "proj_mlp"])
    return out
