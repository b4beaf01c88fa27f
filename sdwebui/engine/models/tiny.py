"""Deterministic tiny random-weight Stable Diffusion models (SD1, SD2, SDXL).

Tests and CI need checkpoints that load through exactly the same code as a
user's full-size A1111 file, without a download. (The out-of-the-box default
is a trained model of the same kind, ``DEFAULT_MODEL_FILE``; this module's
random SD1 model is only its fallback.) These builders make architecturally
faithful miniatures (same block types, 4-level VAE so latents are 1/8 of the
image, the real 49,408 token vocabulary and 77 positions) and ``write_tiny_checkpoint`` exports them
to the A1111/LDM single-file layout. The architecture travels in the file's
safetensors metadata (``sd_webui_config``), because tiny files cannot be
matched to the shipped full-size configs by key shapes.

Each component is built right after ``torch.manual_seed(seed)`` inside a
forked RNG, so a call gives the same weights (and file bytes) in every
process, components do not depend on each other (an inpaint UNet leaves the
VAE/text encoders unchanged), and the caller's global RNG is left alone.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch
from torch import nn

from sdwebui.engine.models.ldm_export import FAMILIES, components_to_ldm, save_checkpoint

logger = logging.getLogger(__name__)

# The embedded default: a tiny SD1 of the same kind, *trained* on procedural shape scenes by
# tools/train_default_model.py (docs/default-model.md). modules.shared copies it into an empty
# models folder on first launch; the random builders below stay for tests and other families.
DEFAULT_MODEL_FILE: Path = Path(__file__).resolve().parent / "data" / "default-sd1.safetensors"

_M = TypeVar("_M", bound=nn.Module)

PREDICTION_TYPES: tuple[str, ...] = ("epsilon", "v_prediction")

# --- UNet -------------------------------------------------------------------

_UNET_SD1: dict[str, Any] = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "block_out_channels": (32, 64),
    "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
    "cross_attention_dim": 32,  # = text encoder hidden size
    "attention_head_dim": 8,
    "norm_num_groups": 32,
}

# SD2: linear transformer projections and per-level head settings, like the real model.
_UNET_SD2: dict[str, Any] = {
    **_UNET_SD1,
    "use_linear_projection": True,
    "attention_head_dim": (2, 4),
}

# SDXL: attention only on the lower level, 2 transformer layers there, and the
# text_time added embedding fed by te2's pooled projection (32) + 6 size/crop
# ids x 8 (addition_time_embed_dim). layers_per_block=2 as in the real model so
# the LDM block index arithmetic is exercised with 3 slots per level.
_UNET_SDXL: dict[str, Any] = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (32, 64),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
    "transformer_layers_per_block": (1, 2),
    "attention_head_dim": (2, 4),
    "use_linear_projection": True,
    "cross_attention_dim": 96,  # te1 hidden 32 + te2 hidden 64, concatenated
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 8,
    "projection_class_embeddings_input_dim": 32 + 6 * 8,
    "norm_num_groups": 32,
}

# The SDXL refiner: only the OpenCLIP-bigG encoder (its hidden states are the cross-attention
# context) and 5 time ids (original size, crop, aesthetic score) beside its pooled projection.
_UNET_SDXL_REFINER: dict[str, Any] = {
    **_UNET_SDXL,
    "cross_attention_dim": 64,
    "projection_class_embeddings_input_dim": 32 + 5 * 8,
}

# --- VAE --------------------------------------------------------------------

# 4 levels => 3 down-samplers => latents are 1/8 of the image, as in real SD.
_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (32, 32, 32, 32),
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "sample_size": 64,
    "scaling_factor": 0.18215,
}
_VAE_SDXL: dict[str, Any] = {**_VAE, "scaling_factor": 0.13025, "force_upcast": True}

# --- Text encoders ----------------------------------------------------------

# Real vocabulary/positions so the real CLIP tokenizer's ids index these
# embeddings. pad ids mirror the tokenizers: "<|endoftext|>" for CLIP-L,
# "!" (id 0) for the OpenCLIP encoders.
_CLIP_COMMON: dict[str, Any] = {
    "vocab_size": 49408,
    "max_position_embeddings": 77,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
}
_TE_CLIP_L: dict[str, Any] = {
    **_CLIP_COMMON,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "hidden_act": "quick_gelu",
    "projection_dim": 32,
    "pad_token_id": 49407,
}
_TE_OPEN_CLIP_H: dict[str, Any] = {**_TE_CLIP_L, "hidden_act": "gelu", "pad_token_id": 0}
# Hidden size must differ from te1: diffusers tells SDXL's two encoders apart
# by position-embedding width.
_TE_OPEN_CLIP_BIGG: dict[str, Any] = {
    **_CLIP_COMMON,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "hidden_act": "gelu",
    "projection_dim": 32,
    "pad_token_id": 0,
}

# family -> (unet, vae, text_encoder or None, text_encoder_2 or None)
_FAMILY_CONFIGS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]] = {
    "sd1": (_UNET_SD1, _VAE, _TE_CLIP_L, None),
    "sd2": (_UNET_SD2, _VAE, _TE_OPEN_CLIP_H, None),
    "sdxl": (_UNET_SDXL, _VAE_SDXL, _TE_CLIP_L, _TE_OPEN_CLIP_BIGG),
    "sdxl-refiner": (_UNET_SDXL_REFINER, _VAE_SDXL, None, _TE_OPEN_CLIP_BIGG),
}


@dataclass
class TinyComponents:
    """Freshly built tiny models plus their JSON-serialisable configs.

    ``configs`` has keys ``unet``, ``vae``, ``text_encoder`` and
    ``text_encoder_2`` (None unless SDXL): diffusers dicts for
    ``X.from_config`` (with ``_class_name``) and ``CLIPTextConfig`` dicts
    (with ``architectures`` naming the model class), the same shapes as the
    shipped ``configs/<family>/*.json``.
    """

    unet: nn.Module
    vae: nn.Module
    text_encoder: nn.Module | None      # None for the SDXL refiner
    text_encoder_2: nn.Module | None
    configs: dict[str, dict[str, Any] | None]
    family: str = ""
    inpaint: bool = False


def _seeded(seed: int, build: Callable[[], _M]) -> _M:
    # fork_rng: do not disturb the caller's global RNG stream. float32 default
    # dtype: initialisers draw in the default dtype, so a caller's
    # set_default_dtype(float16) would otherwise change the weights.
    previous_dtype = torch.get_default_dtype()
    from sdwebui.engine.models.building import real_weights

    with real_weights(), torch.random.fork_rng(devices=[]):
        torch.set_default_dtype(torch.float32)
        try:
            torch.manual_seed(seed)
            model = build()
        finally:
            torch.set_default_dtype(previous_dtype)
    return model.eval()


def _json_plain(data: dict[str, Any]) -> dict[str, Any]:
    """Tuples -> lists etc., so the dict equals its own JSON round trip."""
    return json.loads(json.dumps(data, sort_keys=True))


def _diffusers_config(model: nn.Module) -> dict[str, Any]:
    # Drop diffusers bookkeeping (_diffusers_version, _use_default_values)
    # so the metadata, and hence file bytes, depend on the architecture only.
    cfg = {k: v for k, v in model.config.items() if not k.startswith("_")}
    cfg["_class_name"] = type(model).__name__
    return _json_plain(cfg)


def _transformers_config(model: nn.Module) -> dict[str, Any]:
    from transformers import PretrainedConfig

    # Keep the model-specific keys only: the generic PretrainedConfig runtime
    # fields (return_dict, id2label with int keys, transformers_version, ...)
    # are not architecture and would make bytes depend on the library version.
    generic = set(PretrainedConfig().to_dict())
    cfg = {k: v for k, v in model.config.to_dict().items() if k not in generic and not k.startswith("_")}
    cfg["model_type"] = model.config.model_type
    cfg["architectures"] = [type(model).__name__]
    return _json_plain(cfg)


def build_tiny_components(family: str, *, seed: int = 0, inpaint: bool = False, edit: bool = False) -> TinyComponents:
    """Build the tiny ``family`` ("sd1", "sd2", "sdxl", "sdxl-refiner") models with seeded random weights.

    ``inpaint`` gives the UNet 9 input channels (latents + mask + masked-image
    latents), as in A1111's inpainting models; ``edit`` 8 (latents + the input picture's latents), as in
    instruct-pix2pix models.
    """
    if family not in _FAMILY_CONFIGS:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet_cfg, vae_cfg, te_cfg, te2_cfg = _FAMILY_CONFIGS[family]
    if inpaint or edit:
        unet_cfg = {**unet_cfg, "in_channels": 9 if inpaint else 8}

    unet = _seeded(seed, lambda: UNet2DConditionModel(**unet_cfg))
    vae = _seeded(seed, lambda: AutoencoderKL(**vae_cfg))
    text_encoder = _seeded(seed, lambda: CLIPTextModel(CLIPTextConfig(**te_cfg))) if te_cfg is not None else None
    text_encoder_2 = None
    if te2_cfg is not None:
        text_encoder_2 = _seeded(seed, lambda: CLIPTextModelWithProjection(CLIPTextConfig(**te2_cfg)))

    configs: dict[str, dict[str, Any] | None] = {
        "unet": _diffusers_config(unet),
        "vae": _diffusers_config(vae),
        "text_encoder": _transformers_config(text_encoder) if text_encoder is not None else None,
        "text_encoder_2": _transformers_config(text_encoder_2) if text_encoder_2 is not None else None,
    }
    return TinyComponents(unet, vae, text_encoder, text_encoder_2, configs, family=family, inpaint=inpaint)


def write_tiny_checkpoint(
    path: str | os.PathLike[str],
    family: str,
    *,
    seed: int = 0,
    prediction_type: str = "epsilon",
    inpaint: bool = False,
    edit: bool = False,
    half: bool = True,
) -> Path:
    """Build a tiny ``family`` model and save it as an A1111-layout safetensors file.

    Metadata: ``sd_webui_family``, ``sd_webui_prediction_type`` and
    ``sd_webui_config`` (JSON of ``TinyComponents.configs``), from which the
    app's loader takes the architecture. Returns the path written.
    """
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"unknown prediction_type {prediction_type!r}; expected one of {PREDICTION_TYPES}")
    tiny = build_tiny_components(family, seed=seed, inpaint=inpaint, edit=edit)
    state_dict = components_to_ldm(tiny.unet, tiny.vae, tiny.text_encoder, tiny.text_encoder_2, family=family)
    metadata = {
        "sd_webui_family": family,
        "sd_webui_prediction_type": prediction_type,
        "sd_webui_config": json.dumps(tiny.configs, sort_keys=True),
    }
    path = Path(path)
    save_checkpoint(state_dict, path, metadata=metadata, half=half)
    logger.info("wrote tiny %s%s checkpoint (seed %d) to %s", family, "-inpaint" if inpaint else "", seed, path)
    return path


def write_tiny_controlnet(path: str | os.PathLike[str], unet: nn.Module, *, seed: int = 0,
                          conditioning_channels: int = 3) -> Path:
    """A tiny ControlNet for ``unet`` (the UNet a server really serves) in lllyasviel's layout:
    ``control_model.``-prefixed ldm keys, ``torch.save``d as ``.pth`` (or unprefixed ``.safetensors``
    by the suffix), like the files users download. All weights, zero convs included, are drawn from
    a seeded normal (std 0.02, the output convs 0.2): zero convs left at zero would make every
    control a no-op, and tests of control pass vacuously."""
    from diffusers import ControlNetModel

    from sdwebui.engine.models.ldm_export import controlnet_to_ldm

    from sdwebui.engine.models.building import real_weights

    with real_weights():
        net = ControlNetModel.from_unet(unet, load_weights_from_unet=False, conditioning_channels=conditioning_channels)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        for name, tensor in sorted(net.state_dict().items()):
            # the output convs larger, so a tiny control visibly steers a tiny model
            std = 0.2 if name.startswith(("controlnet_down_blocks", "controlnet_mid_block")) else 0.02
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * std)
    in_channels = net.config.in_channels
    config = {**dict(unet.config), "in_channels": in_channels}
    state_dict = {k: v.detach().to(torch.float32).contiguous() for k, v in
                  controlnet_to_ldm(net.state_dict(), config).items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file
        save_file(state_dict, str(path))
    else:
        torch.save({f"control_model.{k}": v for k, v in state_dict.items()}, str(path))
    return path


def write_tiny_t2i_adapter(path: str | os.PathLike[str], unet: nn.Module, *, seed: int = 0, in_channels: int = 3) -> Path:
    """A tiny T2I-Adapter for ``unet`` in TencentARC's layout (`conv_in`, `body.K.block1|block2`,
    `body.K.in_conv` where the width grows), ``torch.save``d like `t2iadapter_*_sd15v2.pth`."""
    from diffusers import T2IAdapter

    from sdwebui.engine.models.building import real_weights

    channels = list(unet.config.block_out_channels)
    with real_weights():
        adapter = T2IAdapter(in_channels=in_channels, channels=channels, num_res_blocks=2, downscale_factor=8,
                             adapter_type="full_adapter")
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        for _, tensor in sorted(adapter.state_dict().items()):
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.05)
    flat: dict[str, torch.Tensor] = {}
    for key, value in adapter.state_dict().items():
        rest = key[len("adapter."):]
        parts = rest.split(".")
        if parts[0] == "body" and parts[2] == "resnets":
            rest = f"body.{int(parts[1]) * 2 + int(parts[3])}.{'.'.join(parts[4:])}"
        elif parts[0] == "body" and parts[2] == "in_conv":
            rest = f"body.{int(parts[1]) * 2}.in_conv.{'.'.join(parts[3:])}"
        flat[rest] = value.detach().clone()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(flat, str(path))
    return path


def write_tiny_control_lora(path: str | os.PathLike[str], unet: nn.Module, *, seed: int = 0, rank: int = 4) -> Path:
    """A tiny control-LoRA for ``unet`` in the users' layout: ldm keys, the UNet-shared weights as
    rank-``rank`` ``up``/``down`` pairs (added to the loaded UNet's own), the hint encoder, zero
    convs, norms and biases as full tensors, and the ``lora_controlnet`` marker."""
    from safetensors.torch import save_file

    full_path = Path(path).with_suffix(".full.pth")
    write_tiny_controlnet(full_path, unet, seed=seed)
    full = {k[len("control_model."):]: v for k, v in torch.load(str(full_path), weights_only=True).items()}
    full_path.unlink()
    generator = torch.Generator().manual_seed(seed + 1)
    out: dict[str, torch.Tensor] = {"lora_controlnet": torch.zeros(1)}
    shared = ("input_blocks.", "middle_block.", "time_embed.", "label_emb.")
    for key, value in full.items():
        if key.startswith(shared) and key.endswith(".weight") and value.ndim >= 2 and not key.startswith("input_blocks.0."):
            layer = key[: -len(".weight")]
            out[f"{layer}.up"] = torch.randn(value.shape[0], rank, *([1, 1] if value.ndim == 4 else []),
                                             generator=generator) * 0.05
            out[f"{layer}.down"] = torch.randn(rank, *value.shape[1:], generator=generator) * 0.05
        else:
            out[key] = value.contiguous()
    path = Path(path)
    save_file(out, str(path))
    return path


def write_tiny_clip_vision(path: str | os.PathLike[str], *, seed: int = 0, hidden: int = 32,
                           projection: int = 16) -> Path:
    """A tiny CLIP vision encoder with projection (transformers' CLIPVisionModelWithProjection keys,
    28 px input in 14 px patches), ``torch.save``d as the extension's `clip_vision/clip_h.pth`."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                              num_attention_heads=16, image_size=28, patch_size=14, projection_dim=projection)
    torch.manual_seed(seed)
    model = CLIPVisionModelWithProjection(config)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, str(path))
    return path


def write_tiny_ip_adapter(path: str | os.PathLike[str], unet: nn.Module, *, embed_dim: int = 16, seed: int = 0,
                          plus: bool = False) -> Path:
    """A tiny IP-Adapter for ``unet`` in the original layout (`image_proj.*`, and
    `ip_adapter.<k>.to_k_ip/to_v_ip` for the k-th attention, cross-attentions odd), as
    `ip-adapter_sd15.pth`. Plain: `proj`/`norm` over the projected embedding (``embed_dim`` wide);
    plus: the 4-layer resampler (64 wide, 4 queries) over hidden states ``embed_dim`` wide."""
    cross = unet.config.cross_attention_dim
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int, scale: float = 0.2) -> torch.Tensor:
        return torch.randn(shape, generator=generator) * scale

    if plus:
        d = 64
        image_proj = {"latents": rand(1, 4, d), "proj_in.weight": rand(d, embed_dim), "proj_in.bias": rand(d),
                      "proj_out.weight": rand(cross, d), "proj_out.bias": rand(cross),
                      "norm_out.weight": 1 + rand(cross, scale=0.05), "norm_out.bias": rand(cross, scale=0.05)}
        for i in range(4):
            layer = {"0.norm1.weight": 1 + rand(d, scale=0.05), "0.norm1.bias": rand(d, scale=0.05),
                     "0.norm2.weight": 1 + rand(d, scale=0.05), "0.norm2.bias": rand(d, scale=0.05),
                     "0.to_q.weight": rand(d, d), "0.to_kv.weight": rand(2 * d, d), "0.to_out.weight": rand(d, d),
                     "1.0.weight": 1 + rand(d, scale=0.05), "1.0.bias": rand(d, scale=0.05),
                     "1.1.weight": rand(4 * d, d), "1.3.weight": rand(d, 4 * d)}
            image_proj.update({f"layers.{i}.{k}": v for k, v in layer.items()})
    else:
        image_proj = {"proj.weight": rand(4 * cross, embed_dim), "proj.bias": rand(4 * cross),
                      "norm.weight": 1 + rand(cross, scale=0.05), "norm.bias": rand(cross, scale=0.05)}
    ip_adapter: dict[str, torch.Tensor] = {}
    key = 1
    for name, module in unet.named_modules():
        if name.endswith("attn2") and hasattr(module, "to_k"):
            width = module.to_q.out_features
            ip_adapter[f"{key}.to_k_ip.weight"] = rand(width, cross, scale=0.5)
            ip_adapter[f"{key}.to_v_ip.weight"] = rand(width, cross, scale=0.5)
            key += 2
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"image_proj": image_proj, "ip_adapter": ip_adapter}, str(path))
    return path
