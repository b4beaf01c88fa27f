"""The original checkpoint names of SD3's and FLUX.1's transformers beside diffusers' names for the same
layers: one table per family, read by the loaders (original -> diffusers), the exporter (diffusers ->
original: dit_export.py) and the LoRA name map (lora_dit.py).

Layers that are one tensor in the original and several in diffusers (q | k | v, Flux's single-block
`linear1`) are listed with the diffusers layers in row order. A modulation the two layouts order
differently ((shift, scale) vs (scale, shift)) is exchanged by swap_halves.
"""
from __future__ import annotations

import torch

# --- SD3 / SD3.5 (MMDiT): original `joint_blocks.i.` <-> diffusers `transformer_blocks.i.` ---------------
SD3_TOP = (     # whole modules outside the blocks (weight and bias)
    ("t_embedder.mlp.0", "time_text_embed.timestep_embedder.linear_1"),
    ("t_embedder.mlp.2", "time_text_embed.timestep_embedder.linear_2"),
    ("y_embedder.mlp.0", "time_text_embed.text_embedder.linear_1"),
    ("y_embedder.mlp.2", "time_text_embed.text_embedder.linear_2"),
    ("context_embedder", "context_embedder"),
    ("x_embedder.proj", "pos_embed.proj"),
    ("final_layer.linear", "proj_out"),
)
SD3_BLOCK = (   # within every block
    ("x_block.attn.proj", "attn.to_out.0"),
    ("x_block.adaLN_modulation.1", "norm1.linear"),
    ("x_block.mlp.fc1", "ff.net.0.proj"),
    ("x_block.mlp.fc2", "ff.net.2"),
    ("x_block.attn2.proj", "attn2.to_out.0"),
)
SD3_CONTEXT = (     # all but the last block (which only feeds the image stream)
    ("context_block.attn.proj", "attn.to_add_out"),
    ("context_block.mlp.fc1", "ff_context.net.0.proj"),
    ("context_block.mlp.fc2", "ff_context.net.2"),
)
SD3_NORMS = (       # query/key norms (SD3.5): weight only
    ("x_block.attn.ln_q", "attn.norm_q"), ("x_block.attn.ln_k", "attn.norm_k"),
    ("context_block.attn.ln_q", "attn.norm_added_q"), ("context_block.attn.ln_k", "attn.norm_added_k"),
    ("x_block.attn2.ln_q", "attn2.norm_q"), ("x_block.attn2.ln_k", "attn2.norm_k"),
)
SD3_QKV = {         # one original layer -> its diffusers layers, by rows
    "x_block.attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "x_block.attn2.qkv": ("attn2.to_q", "attn2.to_k", "attn2.to_v"),
    "context_block.attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
}

# --- FLUX.1: original `double_blocks.i.` / `single_blocks.i.` <-> `transformer_blocks.i.` /
# `single_transformer_blocks.i.` -----------------------------------------------------------------------------
FLUX_TOP = {
    "time_in.in_layer": "time_text_embed.timestep_embedder.linear_1",
    "time_in.out_layer": "time_text_embed.timestep_embedder.linear_2",
    "vector_in.in_layer": "time_text_embed.text_embedder.linear_1",
    "vector_in.out_layer": "time_text_embed.text_embedder.linear_2",
    "guidance_in.in_layer": "time_text_embed.guidance_embedder.linear_1",
    "guidance_in.out_layer": "time_text_embed.guidance_embedder.linear_2",
    "txt_in": "context_embedder", "img_in": "x_embedder", "final_layer.linear": "proj_out",
}
FLUX_DOUBLE = {     # weight and bias
    "img_mod.lin": "norm1.linear", "txt_mod.lin": "norm1_context.linear",
    "img_attn.proj": "attn.to_out.0", "txt_attn.proj": "attn.to_add_out",
    "img_mlp.0": "ff.net.0.proj", "img_mlp.2": "ff.net.2", "txt_mlp.0": "ff_context.net.0.proj",
    "txt_mlp.2": "ff_context.net.2",
}
FLUX_DOUBLE_NORMS = {   # the original's `scale` is diffusers' `weight`
    "img_attn.norm.query_norm": "attn.norm_q", "img_attn.norm.key_norm": "attn.norm_k",
    "txt_attn.norm.query_norm": "attn.norm_added_q", "txt_attn.norm.key_norm": "attn.norm_added_k",
}
FLUX_QKV = {"img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
            "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj")}
FLUX_SINGLE = {"modulation.lin": "norm.linear", "linear2": "proj_out"}
FLUX_SINGLE_NORMS = {"norm.query_norm": "attn.norm_q", "norm.key_norm": "attn.norm_k"}
FLUX_LINEAR1 = ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")    # a single block's `linear1`, by rows


def swap_halves(w: torch.Tensor) -> torch.Tensor:
    """(shift, scale) <-> (scale, shift): the two halves of a modulation, exchanged (its own inverse)."""
    first, second = w.chunk(2, dim=0)
    return torch.cat([second, first], dim=0)
