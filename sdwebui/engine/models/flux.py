"""Load a FLUX.1 (dev, schnell, and fine-tunes in their layout) checkpoint, offline, as Forge does.

Black Forest Labs' files hold the transformer alone in its original names (`double_blocks.*`,
`single_blocks.*`, no prefix); the VAE (`ae.safetensors`), CLIP-L and T5-XXL come from their own
files (part_files: models/VAE, models/text_encoder, or the files chosen in `forge_additional_modules`).
ComfyUI's and Forge's all-in-one files keep the transformer under `model.diffusion_model.`, the VAE
under `vae.` and the encoders under `text_encoders.*`. dev has a guidance embedder (distilled CFG,
`distilled_cfg_scale`); schnell has none.

fp8 files (e4m3fn, and ComfyUI's "scaled fp8" with a scale per weight) keep their transformer weights
in fp8: each layer is cast up to the compute dtype when it runs (diffusers' layerwise casting), so the
model takes half the memory of fp16.
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch

from sdwebui.engine.models.building import assign_weights, build_empty, quiet_diffusers
from sdwebui.engine.models.configs import load_family_config
from sdwebui.engine.models.dit_names import (FLUX_DOUBLE, FLUX_DOUBLE_NORMS, FLUX_LINEAR1, FLUX_QKV, FLUX_SINGLE,
                                             FLUX_SINGLE_NORMS, FLUX_TOP, swap_halves)
from sdwebui.engine.models.gguf_files import is_quantized, logical_shape, quantized_model
from sdwebui.engine.models.loaded_model import SDModel
from sdwebui.engine.models.part_files import (BUNDLED, VAE_PREFIXES, PartSources, build_clip, build_t5,
                                              dequantize_scaled_fp8, keep_t5_feed_forward_in_fp32, load_errors, part_weights, strip)
from sdwebui.engine.models.t5_tokenizer import t5_tokenizer
from sdwebui.engine.models.transformer_denoiser import FluxDenoiser

logger = logging.getLogger(__name__)

_DOUBLE = {**FLUX_DOUBLE, **FLUX_DOUBLE_NORMS}      # a norm's `scale` is read as `weight` below
_SINGLE = {**FLUX_SINGLE, **FLUX_SINGLE_NORMS}

DIT_PREFIX = "model.diffusion_model."
SCHNELL_MU = 1.0        # Forge's schnell model sampling (dev: configs/flux/scheduler.json, 1.15)
_FP8 = (torch.float8_e4m3fn, torch.float8_e5m2)

def is_flux(sd: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith(p + "double_blocks.0.") for k in sd for p in (DIT_PREFIX, ""))


def flux_to_diffusers(dit: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original (un-prefixed) names -> FluxTransformer2DModel's. The widths come from the tensors (diffusers'
    own converter assumes the full-size 3072), so fine-tunes and tiny test files convert alike."""
    inner = int(dit["img_in.weight"].shape[0])
    out: dict[str, torch.Tensor] = {}
    for key, value in dit.items():
        module, _, param = key.rpartition(".")
        param = "weight" if param == "scale" else param
        if module in FLUX_TOP:
            out[f"{FLUX_TOP[module]}.{param}"] = value
        elif module == "final_layer.adaLN_modulation.1":       # (shift, scale) -> (scale, shift)
            out[f"norm_out.linear.{param}"] = swap_halves(value)
        elif key.startswith("double_blocks."):
            _, i, rest = module.split(".", 2)
            block = f"transformer_blocks.{i}."
            if rest in FLUX_QKV:
                for name, part in zip(FLUX_QKV[rest], value.chunk(3, dim=0)):
                    out[f"{block}{name}.{param}"] = part
            else:
                out[f"{block}{_DOUBLE[rest]}.{param}"] = value
        elif key.startswith("single_blocks."):
            _, i, rest = module.split(".", 2)
            block = f"single_transformer_blocks.{i}."
            if rest == "linear1":       # q | k | v | the MLP's input, stacked
                parts = torch.split(value, (inner, inner, inner, value.shape[0] - 3 * inner), dim=0)
                out.update({f"{block}{name}.{param}": part for name, part in zip(FLUX_LINEAR1, parts)})
            else:
                out[f"{block}{_SINGLE[rest]}.{param}"] = value
        else:
            raise KeyError(f"unexpected Flux transformer weight {key}")
    return out


def transformer_config(dit: dict[str, torch.Tensor], base: dict) -> dict:
    """The transformer's architecture from its tensors; `base` gives the head width and rotary axes (the
    same in every FLUX.1)."""
    cfg = copy.deepcopy(base)
    hidden, in_channels = (int(n) for n in logical_shape(dit["img_in.weight"]))
    cfg.update(in_channels=in_channels, num_attention_heads=hidden // int(cfg["attention_head_dim"]),
               num_layers=1 + max(int(k.split(".")[1]) for k in dit if k.startswith("double_blocks.")),
               num_single_layers=1 + max(int(k.split(".")[1]) for k in dit if k.startswith("single_blocks.")),
               joint_attention_dim=int(logical_shape(dit["txt_in.weight"])[1]),
               pooled_projection_dim=int(logical_shape(dit["vector_in.in_layer.weight"])[1]),
               guidance_embeds="guidance_in.in_layer.weight" in dit)
    return cfg


def keep_fp8_weights(transformer: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> None:
    """Every linear layer whose weight came as fp8 keeps it in fp8 and is cast to `dtype` only while it
    runs (diffusers' layerwise-casting hook); everything else (norms, fp16 layers) is moved to `dtype`."""
    from diffusers.hooks.layerwise_casting import apply_layerwise_casting_hook

    transformer.to(device=device)
    stored = [m for m in transformer.modules() if isinstance(m, torch.nn.Linear) and m.weight.dtype in _FP8]
    for param in transformer.parameters():
        if param.dtype not in _FP8:
            param.data = param.data.to(dtype)
    for module in stored:
        apply_layerwise_casting_hook(module, module.weight.dtype, dtype, non_blocking=False)


def load_flux(path: Path, sd: dict[str, torch.Tensor], metadata: dict[str, str], embedded: dict | None, *,
              device: torch.device, dtype: torch.dtype, vae_dtype: torch.dtype,
              vae_upcast_dtype: torch.dtype = torch.float32, sources: PartSources = PartSources(),
              enable_t5: bool = True) -> SDModel:     # enable_t5: Flux always needs its T5
    """Build the SDModel of a FLUX.1 file (see the module docstring). Raises CheckpointLoadError; a
    transformer-only file whose VAE or text encoders are nowhere names the file and the folder."""
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    from sdwebui.engine.models.tokenizer import get_tokenizer

    fam = load_family_config("flux")
    has_prefix = any(k.startswith(DIT_PREFIX + "double_blocks.") for k in sd)
    dit = strip(sd, DIT_PREFIX) if has_prefix else {
        k: v for k, v in sd.items() if not k.startswith(tuple(BUNDLED.values()) + VAE_PREFIXES)}
    with load_errors(path, "Flux"):
        dit, was_scaled = dequantize_scaled_fp8(dit)
        quantized = is_quantized(dit)
        fp8 = not quantized and any(v.dtype in _FP8 for k, v in dit.items() if k.endswith(".weight"))
        tcfg = copy.deepcopy(embedded["unet"]) if embedded else transformer_config(dit, fam.unet)
        vae_cfg = copy.deepcopy(embedded["vae"] if embedded else fam.vae)
        te_cfg = embedded.get("text_encoder") if embedded else fam.text_encoder
        t5_cfg = embedded.get("text_encoder_3") if embedded else fam.text_encoder_3
        parts = {which: part_weights(which, sd, sources, "flux") for which in ("vae", "clip_l", "t5xxl")}
        with quiet_diffusers():
            converted = flux_to_diffusers(dit)
            if quantized:       # GGUF: the weights stay quantised (gguf_files.py)
                transformer = quantized_model(FluxTransformer2DModel, converted, tcfg, dtype)
            else:
                transformer = build_empty(FluxTransformer2DModel, tcfg)
                if not fp8:
                    converted = {k: v.to(dtype) if v.is_floating_point() else v for k, v in converted.items()}
                assign_weights(transformer, converted, "transformer")
            vae = build_empty(AutoencoderKL, vae_cfg)
            assign_weights(vae, convert_ldm_vae_checkpoint(parts["vae"][0], vae_cfg), "VAE")
        te = build_clip(te_cfg, parts["clip_l"][0], "CLIP-L text encoder", projection=False)
        t5 = build_t5(t5_cfg, parts["t5xxl"][0])
        tokenizer_3 = t5_tokenizer(metadata.get("sd_webui_t5_tokenizer"), sources.text_encoder_dirs)
        origin = ", ".join(f"{which} from {src}" for which, (_, src) in parts.items())
    del sd, dit, converted, parts

    with quiet_diffusers():
        if fp8:
            keep_fp8_weights(transformer, device, dtype)
        elif quantized:
            transformer.to(device=device)
        else:
            transformer.to(device=device, dtype=dtype)
        transformer.eval()
        if vae_dtype == torch.float16:
            vae_dtype = vae_upcast_dtype
        vae.to(device=device, dtype=vae_dtype).eval()
    te.to(device=device, dtype=dtype)
    t5.to(device=device, dtype=dtype)
    if dtype == torch.float16:
        keep_t5_feed_forward_in_fp32(t5)
    dev = bool(tcfg.get("guidance_embeds"))
    scheduler = dict(fam.scheduler, flux_mu=fam.scheduler["flux_mu"] if dev else SCHNELL_MU)
    variant = "FLUX.1 dev" if dev else "FLUX.1 schnell"
    storage = " (fp8 weights)" if fp8 else " (GGUF-quantised weights)" if quantized else ""
    logger.info("%s: %s%s; %s", path.name, variant, storage, origin)
    return SDModel(
        family="flux", prediction_type=fam.prediction_type, unet=FluxDenoiser(transformer), vae=vae,
        text_encoder=te, text_encoder_2=None, tokenizer=get_tokenizer(fam.pad_token), tokenizer_2=None,
        text_encoder_3=t5, tokenizer_3=tokenizer_3, scheduler_config=scheduler, device=device, dtype=dtype,
        vae_dtype=vae_dtype,
        default_size=int(embedded.get("default_size", fam.default_size)) if embedded else fam.default_size,
        filename=str(path), metadata=metadata,
        variant=variant + (" (scaled fp8)" if was_scaled else " (GGUF)" if quantized else ""),
    )

