"""Load a Stable Diffusion 3 / 3.5 single file (Medium, Large, Large Turbo), offline.

The files people download hold the MMDiT under `model.diffusion_model.` (ComfyUI's and some
fine-tunes' files have no prefix) and the 16-channel VAE under `first_stage_model.` (or `vae.`).
The text encoders are bundled in some files (`text_encoders.clip_l|clip_g|t5xxl.transformer.`, in
transformers' own layout) and separate in others (SD3.5): those are looked up by A1111's and
Forge's names (`clip_l*`, `clip_g*`, `t5xxl*`) in the folders the caller passes (models/text_encoder,
models/CLIP). As A1111, T5 is loaded only when asked (`sd3_enable_t5`); without it the model runs on
CLIP-L/G alone and the T5 part of the conditioning is zeros.

The transformer's shape (layers, width, SD3.5's qk-norm and second attention) is read from the
tensors, so one shipped config (configs/sd3) serves every variant; tiny test files carry theirs in the
`sd_webui_config` metadata like the project's other tiny files.
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any, Sequence

import torch

from sdwebui.engine.models.building import assign_weights, build_empty, quiet_diffusers, empty_weights
from sdwebui.engine.models.configs import load_family_config
from sdwebui.engine.models.loaded_model import CheckpointLoadError, SDModel
from sdwebui.engine.models.t5_tokenizer import T5TokenizerMissing, t5_tokenizer
from sdwebui.engine.models.transformer_denoiser import TransformerDenoiser

logger = logging.getLogger(__name__)

DIT_PREFIXES = ("model.diffusion_model.", "")
VAE_PREFIXES = ("first_stage_model.", "vae.")
BUNDLED = {     # where an all-in-one file keeps each text encoder
    "clip_l": "text_encoders.clip_l.transformer.",
    "clip_g": "text_encoders.clip_g.transformer.",
    "t5xxl": "text_encoders.t5xxl.transformer.",
}
# what a separate text encoder file is called (A1111 downloads clip_l / clip_g / t5xxl_fp16.safetensors
# into models/CLIP; Forge users keep them in models/text_encoder), and what the error tells a user to add
FILE_HINT = {"clip_l": "clip_l.safetensors", "clip_g": "clip_g.safetensors", "t5xxl": "t5xxl_fp16.safetensors"}
TEXT_ENCODER_SUFFIXES = (".safetensors", ".sft")
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
    hidden = int(proj.shape[0])
    head_dim = int(cfg.get("attention_head_dim", 64))
    cfg.update(
        in_channels=int(proj.shape[1]), patch_size=int(proj.shape[-1]),
        num_attention_heads=hidden // head_dim, caption_projection_dim=hidden,
        num_layers=1 + max(int(k.split(".")[1]) for k in dit if k.startswith("joint_blocks.")),
        joint_attention_dim=int(dit["context_embedder.weight"].shape[1]),
        pooled_projection_dim=int(dit["y_embedder.mlp.0.weight"].shape[1]),
        out_channels=int(dit["final_layer.linear.weight"].shape[0]) // int(proj.shape[-1]) ** 2,
        pos_embed_max_size=round(int(dit["pos_embed"].shape[1]) ** 0.5),
        qk_norm="rms_norm" if any(".attn.ln_q." in k for k in dit) else None,
        dual_attention_layers=sorted({int(k.split(".")[1]) for k in dit if ".x_block.attn2." in k}),
    )
    return cfg


def _strip(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def find_text_encoder_file(which: str, dirs: Sequence[Path]) -> Path | None:
    """A separate text encoder file by its usual name: `clip_l.safetensors` first, then any
    `clip_l*` (such as t5xxl_fp8_e4m3fn), in the order the folders are given."""
    for folder in dirs:
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in TEXT_ENCODER_SUFFIXES and p.is_file())
        exact = [p for p in files if p.stem.lower() == Path(FILE_HINT[which]).stem]
        loose = [p for p in files if p.stem.lower().startswith(which)]
        if exact or loose:
            return (exact or loose)[0]
    return None


class MissingPart(Exception):
    """A text encoder the model needs is neither in the file nor in the text encoder folders."""


def text_encoder_weights(which: str, sd: dict[str, torch.Tensor], dirs: Sequence[Path]
                         ) -> tuple[dict[str, torch.Tensor], str]:
    """(transformers-layout tensors, where they came from) of one text encoder."""
    bundled = _strip(sd, BUNDLED[which])
    if bundled:
        return bundled, "checkpoint"
    path = find_text_encoder_file(which, dirs)
    if path is None:
        where = " or ".join(str(d) for d in dirs) or "models/text_encoder"
        raise MissingPart(f"the {which} text encoder is not in the checkpoint; put {FILE_HINT[which]} "
                          f"into {where}")
    from safetensors.torch import load_file

    weights = load_file(str(path))
    for prefix in (BUNDLED[which], "transformer."):      # files cut out of a bundle keep its prefix
        if any(k.startswith(prefix) for k in weights):
            weights = _strip(weights, prefix)
    return weights, path.name


def _clip(config: dict, weights: dict[str, torch.Tensor], what: str) -> torch.nn.Module:
    """CLIP-L or CLIP-G with its projection; SD3's CLIP-L files carry none, its projection is the
    identity (the pooled output unprojected, as A1111 takes it)."""
    import transformers


    cfg = transformers.CLIPTextConfig.from_dict(config)
    with empty_weights():
        model = transformers.CLIPTextModelWithProjection(cfg)
    weights = {("text_model." + k if not k.startswith(("text_model.", "text_projection.")) else k): v
               for k, v in weights.items() if not k.endswith("position_ids")}
    if "text_projection.weight" not in weights:
        weights["text_projection.weight"] = torch.eye(cfg.hidden_size, cfg.projection_dim).T.contiguous()
    if not hasattr(model, "text_model"):
        weights = {k.removeprefix("text_model."): v for k, v in weights.items()}
    assign_weights(model, {k: v.float() if v.dtype == torch.float8_e4m3fn else v for k, v in weights.items()}, what)
    return model.eval()


def _t5(config: dict, weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    """T5-XXL's encoder. Files name its token embedding `shared` or `encoder.embed_tokens` (the model
    ties the two): either fills both."""
    import transformers


    with empty_weights():
        model = transformers.T5EncoderModel(transformers.T5Config.from_dict(config))
    embed = weights.get("shared.weight", weights.get("encoder.embed_tokens.weight"))
    if embed is not None:
        weights = dict(weights, **{"shared.weight": embed, "encoder.embed_tokens.weight": embed})
    assign_weights(model, {k: v.float() if v.dtype == torch.float8_e4m3fn else v for k, v in weights.items()}, "T5 text encoder")
    model.tie_weights()
    return model.eval()


def load_sd3(path: Path, sd: dict[str, torch.Tensor], metadata: dict[str, str], embedded: dict | None, *,
             device: torch.device, dtype: torch.dtype, vae_dtype: torch.dtype,
             vae_upcast_dtype: torch.dtype = torch.float32, text_encoder_dirs: Sequence[Path] = (), enable_t5: bool = False) -> Any:
    """Build the SDModel of an SD3 / SD3.5 file (see the module docstring). Raises CheckpointLoadError."""
    from diffusers import AutoencoderKL, SD3Transformer2DModel
    from diffusers.loaders.single_file_utils import (convert_ldm_vae_checkpoint,
                                                      convert_sd3_transformer_checkpoint_to_diffusers)

    from sdwebui.engine.models.tokenizer import get_tokenizer

    fam = load_family_config("sd3")
    prefix = dit_prefix(sd)
    dit = _strip(sd, prefix) if prefix else {k: v for k, v in sd.items() if not k.startswith(("text_encoders.",) + VAE_PREFIXES)}
    try:
        tcfg = copy.deepcopy(embedded["unet"]) if embedded else transformer_config(dit, fam.unet)
        vae_cfg = copy.deepcopy(embedded["vae"] if embedded else fam.vae)
        te_cfgs = {"clip_l": embedded.get("text_encoder") if embedded else fam.text_encoder,
                   "clip_g": embedded.get("text_encoder_2") if embedded else fam.text_encoder_2,
                   "t5xxl": embedded.get("text_encoder_3") if embedded else fam.text_encoder_3}
        vae_sd = next((_strip(sd, p) for p in VAE_PREFIXES if any(k.startswith(p) for k in sd)), None)
        if vae_sd is None:
            raise MissingPart("the checkpoint has no VAE (first_stage_model.*); SD3 files include theirs")
        encoders = {which: text_encoder_weights(which, sd, text_encoder_dirs) for which in ("clip_l", "clip_g")}
        if enable_t5 and te_cfgs["t5xxl"]:
            encoders["t5xxl"] = text_encoder_weights("t5xxl", sd, text_encoder_dirs)
        with quiet_diffusers():
            transformer = build_empty(SD3Transformer2DModel, tcfg)
            # the converter renames in place: give it its own dict (fp8 files are upcast here)
            converted = convert_sd3_transformer_checkpoint_to_diffusers(
                {k: v.float() if v.dtype == torch.float8_e4m3fn else v for k, v in dit.items()})
            assign_weights(transformer, converted, "transformer")
            vae = build_empty(AutoencoderKL, vae_cfg)
            assign_weights(vae, convert_ldm_vae_checkpoint(vae_sd, vae_cfg), "VAE")
        te = _clip(te_cfgs["clip_l"], encoders["clip_l"][0], "CLIP-L text encoder")
        te2 = _clip(te_cfgs["clip_g"], encoders["clip_g"][0], "CLIP-G text encoder")
        te3 = _t5(te_cfgs["t5xxl"], encoders["t5xxl"][0]) if "t5xxl" in encoders else None
        tokenizer_3 = t5_tokenizer(metadata.get(META_T5_TOKENIZER), text_encoder_dirs) if te3 is not None else None
        sources = ", ".join(f"{which} from {src}" for which, (_, src) in encoders.items())
    except (MissingPart, T5TokenizerMissing) as e:
        raise CheckpointLoadError(f"{path.name}: {e}") from None
    except CheckpointLoadError as e:
        raise CheckpointLoadError(f"{path.name}: {e}") from None
    except (KeyError, IndexError, RuntimeError, ValueError) as e:
        raise CheckpointLoadError(f"{path.name}: does not match the SD3 architecture ({type(e).__name__}: {e})") from e
    del sd, dit, converted, encoders

    if vae_dtype == torch.float16:      # the SD3 VAE overflows in fp16, as SDXL's (force_upcast)
        vae_dtype = vae_upcast_dtype
    with quiet_diffusers():
        transformer.to(device=device, dtype=dtype).eval()
        vae.to(device=device, dtype=vae_dtype).eval()
    for m in (te, te2, te3):
        if m is not None:
            m.to(device=device, dtype=dtype)
    if te3 is not None and dtype == torch.float16:
        # T5's feed-forward output overflows in fp16 (transformers keeps `wo` in fp32 for the same reason)
        for name, module in te3.named_modules():
            if name.endswith(".wo"):
                module.float()
    logger.info("%s: %s; text encoders: %s%s", path.name, variant_name(tcfg), sources,
                "" if te3 is not None else " (T5 off: sd3_enable_t5)")
    return SDModel(
        family="sd3", prediction_type=fam.prediction_type,
        unet=TransformerDenoiser(transformer), vae=vae, text_encoder=te, text_encoder_2=te2,
        tokenizer=get_tokenizer(fam.pad_token), tokenizer_2=get_tokenizer(fam.pad_token_2),
        text_encoder_3=te3, tokenizer_3=tokenizer_3,
        scheduler_config=dict(fam.scheduler), device=device, dtype=dtype,
        vae_dtype=vae_dtype,
        default_size=int(embedded.get("default_size", fam.default_size)) if embedded else fam.default_size,
        filename=str(path), metadata=metadata, variant=variant_name(tcfg),
    )
