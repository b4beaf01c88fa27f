"""Deterministic tiny random-weight SD3 / SD3.5 and FLUX.1 models, written in the layouts of the files
people download, for tests (tiny.py does the same for SD1/SD2/SDXL).

A file holds the MMDiT under `model.diffusion_model.` in its original names (dit_export), the
16-channel VAE under `first_stage_model.`, and, as the all-in-one releases do, CLIP-L / CLIP-G / T5
under `text_encoders.*.transformer.` in transformers' names; `with_clip=False` / `with_t5=False` leave
them out (as the SD3.5 releases and `sd3_medium.safetensors` do), and `write_text_encoder` writes one
as the separate file users put into models/text_encoder. The architecture travels in the
`sd_webui_config` metadata and a small T5 vocabulary in `sd_webui_t5_tokenizer`, because neither can
be told from tiny tensors.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sdwebui.engine.models.dit_export import flux_to_original, sd3_to_original
from sdwebui.engine.models.ldm_export import save_checkpoint, vae_to_ldm
from sdwebui.engine.models.part_files import BUNDLED
from sdwebui.engine.models.sd3 import META_T5_TOKENIZER
from sdwebui.engine.models.tiny import _diffusers_config, _seeded, _transformers_config

logger = logging.getLogger(__name__)

SD3_VARIANTS: dict[str, dict[str, Any]] = {
    "sd3": {},                                                              # SD3 Medium
    "sd35-medium": {"qk_norm": "rms_norm", "dual_attention_layers": (0,)},  # SD3.5 Medium
    "sd35-large": {"qk_norm": "rms_norm"},                                  # SD3.5 Large / Turbo
}
_CLIP_L, _CLIP_G, _T5 = 32, 48, 96      # widths: L and G must differ (loaders tell them apart by it)


@functools.lru_cache(maxsize=1)
def tiny_t5_tokenizer_json() -> str:
    """A small SentencePiece-style unigram vocabulary with T5's special tokens and 100 extra ids."""
    from transformers import T5Tokenizer

    words = ("a photo of cat dog the and in on with red blue green house tree sky man woman city night "
             "forest painting portrait landscape").split()
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("\u2581" + w, -5.0) for w in words] + [("\u2581", -6.0)]
    pieces += [(c, -10.0) for c in string.ascii_letters + string.digits + string.punctuation]
    return T5Tokenizer(vocab=pieces, extra_ids=100, model_max_length=512).backend_tokenizer.to_str()


@dataclass
class TinySD3:
    transformer: torch.nn.Module
    vae: torch.nn.Module
    clip_l: torch.nn.Module
    clip_g: torch.nn.Module
    t5: torch.nn.Module
    configs: dict[str, dict]


def build_tiny_sd3(variant: str = "sd3", *, seed: int = 0) -> TinySD3:
    """The tiny `variant` (SD3_VARIANTS) with seeded random weights; CLIP-L's projection is the
    identity, as the released files have none."""
    if variant not in SD3_VARIANTS:
        raise ValueError(f"unknown SD3 variant {variant!r}; expected one of {', '.join(SD3_VARIANTS)}")
    from diffusers import AutoencoderKL, SD3Transformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel

    transformer = _seeded(seed, lambda: SD3Transformer2DModel(
        sample_size=32, patch_size=2, in_channels=16, out_channels=16, num_layers=2, attention_head_dim=8,
        num_attention_heads=4, joint_attention_dim=_T5, caption_projection_dim=32,
        pooled_projection_dim=_CLIP_L + _CLIP_G, pos_embed_max_size=32, **SD3_VARIANTS[variant]))
    vae = _seeded(seed + 1, lambda: AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=16, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(32,) * 4, layers_per_block=1,
        norm_num_groups=32, sample_size=64, scaling_factor=1.5305, shift_factor=0.0609, use_quant_conv=False,
        use_post_quant_conv=False, force_upcast=True))

    def clip(width: int, act: str, pad: int) -> Any:
        return CLIPTextModelWithProjection(CLIPTextConfig(
            vocab_size=49408, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=77, hidden_act=act, projection_dim=width,
            bos_token_id=49406, eos_token_id=49407, pad_token_id=pad))
    clip_l = _seeded(seed + 2, lambda: clip(_CLIP_L, "quick_gelu", 49407))
    with torch.no_grad():
        clip_l.text_projection.weight.copy_(torch.eye(_CLIP_L))
    clip_g = _seeded(seed + 3, lambda: clip(_CLIP_G, "gelu", 0))
    t5 = _seeded(seed + 4, lambda: T5EncoderModel(T5Config(
        vocab_size=256, d_model=_T5, d_kv=8, d_ff=64, num_layers=2, num_heads=4, relative_attention_num_buckets=32,
        relative_attention_max_distance=128, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new",
        is_gated_act=True, tie_word_embeddings=False, layer_norm_epsilon=1e-6, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0)))
    configs = {"unet": _diffusers_config(transformer), "vae": _diffusers_config(vae),
               "text_encoder": _transformers_config(clip_l), "text_encoder_2": _transformers_config(clip_g),
               "text_encoder_3": _transformers_config(t5), "default_size": 64}
    return TinySD3(transformer, vae, clip_l, clip_g, t5, configs)


def text_encoder_state(tiny: TinySD3, which: str) -> dict[str, torch.Tensor]:
    """One text encoder's tensors as the released files name them (CLIP-L without its projection)."""
    model = {"clip_l": tiny.clip_l, "clip_g": tiny.clip_g, "t5xxl": tiny.t5}[which]
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    if which == "clip_l":
        state.pop("text_projection.weight")
    if which == "t5xxl":
        state.pop("encoder.embed_tokens.weight")        # tied to `shared`
    return state


def write_tiny_sd3(path: str | os.PathLike[str], variant: str = "sd3", *, seed: int = 0, with_clip: bool = True,
                   with_t5: bool = True, half: bool = True, fp8: bool = False) -> Path:
    """Write the tiny `variant` as a single file (see the module docstring). Returns the path. `fp8`: the
    transformer's and T5's linear weights in float8_e4m3fn (as `sd3_medium_incl_clips_t5xxlfp8` has T5)."""
    tiny = build_tiny_sd3(variant, seed=seed)
    state = {"model.diffusion_model." + k: v for k, v in sd3_to_original(tiny.transformer.state_dict()).items()}
    state.update({"first_stage_model." + k: v for k, v in vae_to_ldm(tiny.vae.state_dict(), tiny.configs["vae"]).items()})
    for which in (("clip_l", "clip_g") if with_clip else ()) + (("t5xxl",) if with_t5 else ()):
        state.update({BUNDLED[which] + k: v for k, v in text_encoder_state(tiny, which).items()})
    metadata = {"sd_webui_family": "sd3", "sd_webui_config": json.dumps(tiny.configs, sort_keys=True),
                META_T5_TOKENIZER: tiny_t5_tokenizer_json()}
    if fp8:
        state = {k: v.to(torch.float8_e4m3fn) if v.ndim == 2 and k.endswith(".weight") and "embed" not in k
                 and k.startswith(("model.diffusion_model.", BUNDLED["t5xxl"])) else v.half()
                 for k, v in state.items()}
    path = Path(path)
    save_checkpoint(state, path, metadata=metadata, half=half and not fp8)
    logger.info("wrote tiny %s checkpoint (seed %d) to %s", variant, seed, path)
    return path


def write_sd3_part(path: str | os.PathLike[str], which: str, variant: str = "sd3", *, seed: int = 0,
                   half: bool = True) -> Path:
    """One of the tiny model's parts as a separate file: a text encoder (clip_l / clip_g / t5xxl) in
    transformers' names, or its VAE ("vae") in LDM names, unprefixed."""
    path = Path(path)
    tiny = build_tiny_sd3(variant, seed=seed)
    state = (vae_to_ldm(tiny.vae.state_dict(), tiny.configs["vae"]) if which == "vae"
             else text_encoder_state(tiny, which))
    save_checkpoint(state, path, half=half)
    return path


FLUX_VARIANTS = ("dev", "schnell")


@dataclass
class TinyFlux:
    transformer: torch.nn.Module
    vae: torch.nn.Module
    clip_l: torch.nn.Module
    t5: torch.nn.Module
    configs: dict[str, Any]


def build_tiny_flux(variant: str = "dev", *, seed: int = 0) -> TinyFlux:
    """A tiny FLUX.1 `variant` ("dev": with the guidance embedder, "schnell": without) with seeded
    random weights; its T5 is the tiny SD3's (same vocabulary)."""
    if variant not in FLUX_VARIANTS:
        raise ValueError(f"unknown Flux variant {variant!r}; expected one of {', '.join(FLUX_VARIANTS)}")
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel

    transformer = _seeded(seed, lambda: FluxTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=2, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=_T5, pooled_projection_dim=_CLIP_L, guidance_embeds=variant == "dev", axes_dims_rope=(4, 6, 6)))
    vae = _seeded(seed + 1, lambda: AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=16, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(32,) * 4, layers_per_block=1,
        norm_num_groups=32, sample_size=64, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
        use_post_quant_conv=False, force_upcast=True))
    clip_l = _seeded(seed + 2, lambda: CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, hidden_size=_CLIP_L, intermediate_size=2 * _CLIP_L, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, hidden_act="quick_gelu", bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)))
    t5 = build_tiny_sd3("sd3", seed=seed).t5
    configs = {"unet": _diffusers_config(transformer), "vae": _diffusers_config(vae),
               "text_encoder": _transformers_config(clip_l), "text_encoder_3": _transformers_config(t5),
               "default_size": 64}
    return TinyFlux(transformer, vae, clip_l, t5, configs)


def _flux_parts(tiny: TinyFlux) -> dict[str, dict[str, torch.Tensor]]:
    """The VAE (LDM names) and text encoders (transformers' names) as their own files name them."""
    clip = {("text_model." + k if not k.startswith("text_model.") else k): v for k, v in tiny.clip_l.state_dict().items()
            if not k.endswith("position_ids")}
    t5 = {k: v for k, v in tiny.t5.state_dict().items() if k != "encoder.embed_tokens.weight"}
    return {"vae": vae_to_ldm(tiny.vae.state_dict(), tiny.configs["vae"]), "clip_l": clip, "t5xxl": t5}


def scaled_fp8(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """ComfyUI's "scaled fp8" form of a state dict: each 2-D weight divided by a scale of its own
    (`<layer>.scale_weight`, its largest value over fp8's range) and stored in float8_e4m3fn, plus the
    `scaled_fp8` marker tensor; everything else in fp16."""
    out = {"scaled_fp8": torch.zeros(0, dtype=torch.float8_e4m3fn)}
    for key, value in state.items():
        if key.endswith(".weight") and value.ndim == 2 and "embed" not in key and key != "shared.weight":
            scale = value.abs().max().float() / 448.0
            out[key] = (value.float() / scale).to(torch.float8_e4m3fn)
            out[key.removesuffix(".weight") + ".scale_weight"] = scale.reshape(())
        else:
            out[key] = value.half()
    return out


def write_tiny_flux(path: str | os.PathLike[str], variant: str = "dev", *, seed: int = 0, all_in_one: bool = False,
                    fp8: bool | str = False, half: bool = True) -> Path:
    """The tiny FLUX.1 `variant` as Black Forest Labs ship it (the transformer alone, no prefix: its VAE and
    text encoders go into their own files, write_flux_parts), or `all_in_one` as ComfyUI / Forge do
    (`model.diffusion_model.`, `vae.`, `text_encoders.*`). `fp8`: the transformer's weights in float8_e4m3fn;
    "scaled": ComfyUI's scaled fp8 (the transformer's and, all in one, T5's)."""
    tiny = build_tiny_flux(variant, seed=seed)
    dit = flux_to_original(tiny.transformer.state_dict())
    if fp8 == "scaled":
        dit = scaled_fp8(dit)
    elif fp8:
        dit = {k: v.to(torch.float8_e4m3fn) if k.endswith(".weight") and v.ndim == 2 else v.half() for k, v in dit.items()}
    state = dict(dit)
    if all_in_one:
        parts = _flux_parts(tiny)
        state = {"model.diffusion_model." + k: v for k, v in dit.items()}
        state.update({"vae." + k: v for k, v in parts["vae"].items()})
        if fp8 == "scaled":
            parts["t5xxl"] = scaled_fp8(parts["t5xxl"])
        for which in ("clip_l", "t5xxl"):
            state.update({BUNDLED[which] + k: v for k, v in parts[which].items()})
    metadata = {"sd_webui_family": "flux", "sd_webui_config": json.dumps(tiny.configs, sort_keys=True),
                META_T5_TOKENIZER: tiny_t5_tokenizer_json()}
    path = Path(path)
    save_checkpoint(state, path, metadata=metadata, half=half and not fp8)
    return path


def write_flux_parts(folder_vae: str | os.PathLike[str], folder_text: str | os.PathLike[str], variant: str = "dev", *,
                     seed: int = 0, half: bool = True) -> dict[str, Path]:
    """The tiny model's `ae.safetensors` (into the VAE folder), `clip_l.safetensors` and
    `t5xxl_fp16.safetensors` (into the text encoder folder), as BFL and the Flux guides name them."""
    parts = _flux_parts(build_tiny_flux(variant, seed=seed))
    paths = {"vae": Path(folder_vae) / "ae.safetensors", "clip_l": Path(folder_text) / "clip_l.safetensors",
             "t5xxl": Path(folder_text) / "t5xxl_fp16.safetensors"}
    for which, path in paths.items():
        save_checkpoint(parts[which], path, half=half)
    return paths


def write_tiny_flux_gguf(path: str | os.PathLike[str], variant: str = "dev", *, seed: int = 0) -> Path:
    """The tiny FLUX.1 transformer as city96's GGUF files have it (Black Forest Labs' names): every 2-D
    weight whose rows split into 32-wide blocks in Q8_0, the rest in F32; the architecture and T5
    vocabulary as string entries (its VAE and text encoders: write_flux_parts)."""
    tiny = build_tiny_flux(variant, seed=seed)
    return _write_gguf(path, "flux", tiny.configs, flux_to_original(tiny.transformer.state_dict()))


def write_tiny_sd3_gguf(path: str | os.PathLike[str], variant: str = "sd35-large", *, seed: int = 0) -> Path:
    """The tiny SD3 `variant`'s MMDiT alone as a GGUF file (city96's SD3.5 layout: original names, no
    prefix); its VAE and text encoders are not in it, as in those files."""
    tiny = build_tiny_sd3(variant, seed=seed)
    return _write_gguf(path, "sd3", tiny.configs, sd3_to_original(tiny.transformer.state_dict()))


def _write_gguf(path: str | os.PathLike[str], family: str, configs: dict, tensors: dict[str, torch.Tensor]) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch=family)
    writer.add_string("sd_webui_family", family)
    writer.add_string("sd_webui_config", json.dumps(configs, sort_keys=True))
    writer.add_string(META_T5_TOKENIZER, tiny_t5_tokenizer_json())
    for key, value in sorted(tensors.items()):
        array = value.detach().float().numpy()
        if array.ndim == 2 and array.shape[1] % 32 == 0:
            writer.add_tensor(key, gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0),
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(key, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)
