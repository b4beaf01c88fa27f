"""Load a Stable Diffusion 3 / 3.5 single file (Medium, Large, Large Turbo), offline.

The files people download hold the MMDiT under `model.diffusion_model.` (ComfyUI's and some
fine-tunes' files have no prefix) and the 16-channel VAE under `first_stage_model.` (or `vae.`).
The text encoders are bundled in some files and separate in others (SD3.5): part_files finds them.
As A1111, T5 is loaded only when asked (`sd3_enable_t5`); without it the model runs on CLIP-L/G
alone and the T5 part of the conditioning is zeros.

The transformer's shape (layers, width, SD3.5's qk-norm and second attention) is read from the
tensors, so one shipped config (configs/sd3) serves every variant; tiny test files carry theirs in the
`sd_webui_config` metadata like the project's other tiny files.
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch

from sdwebui.engine.models.building import assign_weights, build_empty, quiet_diffusers
from sdwebui.engine.models.configs import load_family_config
from sdwebui.engine.models.gguf_files import is_quantized, logical_shape, quantized_model
from sdwebui.engine.models.loaded_model import SDModel
from sdwebui.engine.models.part_files import (VAE_PREFIXES, PartSources, build_clip, build_t5,
                                              keep_t5_feed_forward_in_fp32, load_errors, part_weights, strip)
from sdwebui.engine.models.t5_tokenizer import t5_tokenizer
from sdwebui.engine.models.transformer_denoiser import TransformerDenoiser

logger = logging.getLogger(__name__)

DIT_PREFIXES = ("model.diffusion_model.", "")
META_T5_TOKENIZER = "sd_webui_t5_tokenizer"     # a tiny file's own T5 vocabulary (tokenizer.json text)


def is_sd3(sd: dict[str, torch.Tensor]) -> bool:
    """The MMDiT's first joint block, with or without the checkpoint prefix (any size)."""
    return any(k.startswith(p + "joint_blocks.0.") for k in sd for p in DIT_PREFIXES)


def dit_prefix(sd: dict[str, torch.Tensor]) -> str:
    return DIT_PREFIXES[0] if any(k.startswith(DIT_PREFIXES[0] + "joint_blocks.") for k in sd) else ""


def variant_name(config: dict) -> str:
    """What users call the model: SD3.5 Medium has a second attention in its first blocks, SD3.5 Large
    has 38 layers; both normalise queries and keys (SD3 Medium does not)."""
    if config.get("dual_attention_layers"):
        return "SD3.5 Medium"
    if config.get("qk_norm"):
        return "SD3.5 Large" if config.get("num_layers", 0) >= 38 else "SD3.5"
    return "SD3 Medium"


def transformer_config(dit: dict[str, torch.Tensor], base: dict) -> dict:
    """The MMDiT's architecture from its tensors (un-prefixed original names); `base` gives what the
    tensors do not show (the head width: 64 in every released SD3)."""
    cfg = copy.deepcopy(base)
    proj = dit["x_embedder.proj.weight"]            # (hidden, in_channels, patch, patch)
    hidden = int(logical_shape(proj)[0])
    head_dim = int(cfg.get("attention_head_dim", 64))
    cfg.update(
        in_channels=int(proj.shape[1]), patch_size=int(proj.shape[-1]),
        num_attention_heads=hidden // head_dim, caption_projection_dim=hidden,
        num_layers=1 + max(int(k.split(".")[1]) for k in dit if k.startswith("joint_blocks.")),
        joint_attention_dim=int(logical_shape(dit["context_embedder.weight"])[1]),
        pooled_projection_dim=int(logical_shape(dit["y_embedder.mlp.0.weight"])[1]),
        out_channels=int(dit["final_layer.linear.weight"].shape[0]) // int(proj.shape[-1]) ** 2,
        pos_embed_max_size=round(int(dit["pos_embed"].shape[1]) ** 0.5),
        qk_norm="rms_norm" if any(".attn.ln_q." in k for k in dit) else None,
        dual_attention_layers=sorted({int(k.split(".")[1]) for k in dit if ".x_block.attn2." in k}),
    )
    return cfg


def load_sd3(path: Path, sd: dict[str, torch.Tensor], metadata: dict[str, str], embedded: dict | None, *,
             device: torch.device, dtype: torch.dtype, vae_dtype: torch.dtype,
             vae_upcast_dtype: torch.dtype = torch.float32, sources: PartSources = PartSources(),
             enable_t5: bool = False) -> SDModel:
    """Build the SDModel of an SD3 / SD3.5 file (see the module docstring). Raises CheckpointLoadError."""
    from diffusers import AutoencoderKL, SD3Transformer2DModel
    from diffusers.loaders.single_file_utils import (convert_ldm_vae_checkpoint,
                                                      convert_sd3_transformer_checkpoint_to_diffusers)

    from sdwebui.engine.models.tokenizer import get_tokenizer

    fam = load_family_config("sd3")
    prefix = dit_prefix(sd)
    dit = strip(sd, prefix) if prefix else {k: v for k, v in sd.items()
                                             if not k.startswith(("text_encoders.",) + VAE_PREFIXES)}
    with load_errors(path, "SD3"):
        tcfg = copy.deepcopy(embedded["unet"]) if embedded else transformer_config(dit, fam.unet)
        vae_cfg = copy.deepcopy(embedded["vae"] if embedded else fam.vae)
        te_cfgs = {"clip_l": embedded.get("text_encoder") if embedded else fam.text_encoder,
                   "clip_g": embedded.get("text_encoder_2") if embedded else fam.text_encoder_2,
                   "t5xxl": embedded.get("text_encoder_3") if embedded else fam.text_encoder_3}
        parts = {which: part_weights(which, sd, sources, "sd3") for which in ("vae", "clip_l", "clip_g")}
        if enable_t5 and te_cfgs["t5xxl"]:
            parts["t5xxl"] = part_weights("t5xxl", sd, sources, "sd3")
        quantized = is_quantized(dit)
        with quiet_diffusers():
            # the converter renames in place: give it its own dict (fp8 files are upcast here)
            converted = convert_sd3_transformer_checkpoint_to_diffusers(
                {k: v.float() if v.dtype == torch.float8_e4m3fn else v for k, v in dit.items()})
            if quantized:       # GGUF: the weights stay quantised (gguf_files.py)
                transformer = quantized_model(SD3Transformer2DModel, converted, tcfg, dtype)
            else:
                transformer = build_empty(SD3Transformer2DModel, tcfg)
                assign_weights(transformer, converted, "transformer")
            vae = build_empty(AutoencoderKL, vae_cfg)
            assign_weights(vae, convert_ldm_vae_checkpoint(parts["vae"][0], vae_cfg), "VAE")
        te = build_clip(te_cfgs["clip_l"], parts["clip_l"][0], "CLIP-L text encoder", projection=True)
        te2 = build_clip(te_cfgs["clip_g"], parts["clip_g"][0], "CLIP-G text encoder", projection=True)
        te3 = build_t5(te_cfgs["t5xxl"], parts["t5xxl"][0]) if "t5xxl" in parts else None
        tokenizer_3 = (t5_tokenizer(metadata.get(META_T5_TOKENIZER), sources.text_encoder_dirs)
                       if te3 is not None else None)
        origin = ", ".join(f"{which} from {src}" for which, (_, src) in parts.items())
    del sd, dit, converted, parts

    if vae_dtype == torch.float16:      # the SD3 VAE overflows in fp16, as SDXL's (force_upcast)
        vae_dtype = vae_upcast_dtype
    with quiet_diffusers():
        transformer.to(device=device, **({} if quantized else {"dtype": dtype})).eval()
        vae.to(device=device, dtype=vae_dtype).eval()
    for m in (te, te2, te3):
        if m is not None:
            m.to(device=device, dtype=dtype)
    if te3 is not None and dtype == torch.float16:
        keep_t5_feed_forward_in_fp32(te3)
    logger.info("%s: %s; %s%s", path.name, variant_name(tcfg), origin, "" if te3 is not None else " (T5 off: sd3_enable_t5)")
    return SDModel(
        family="sd3", prediction_type=fam.prediction_type,
        unet=TransformerDenoiser(transformer), vae=vae, text_encoder=te, text_encoder_2=te2,
        tokenizer=get_tokenizer(fam.pad_token), tokenizer_2=get_tokenizer(fam.pad_token_2),
        text_encoder_3=te3, tokenizer_3=tokenizer_3,
        scheduler_config=dict(fam.scheduler), device=device, dtype=dtype, vae_dtype=vae_dtype,
        default_size=int(embedded.get("default_size", fam.default_size)) if embedded else fam.default_size,
        filename=str(path), metadata=metadata, variant=variant_name(tcfg) + (" (GGUF)" if quantized else ""),
    )
