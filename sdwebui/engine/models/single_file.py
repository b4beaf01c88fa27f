"""Load an A1111 single-file checkpoint (SD1.x, SD2.x, SDXL; SD3 through sd3.py) into diffusers
components, offline.

The architecture comes from configs shipped in the repository (or, for the project's own
tiny files, from the file's metadata), never from the hub. Models are built on the meta
device and the converted tensors are assigned in place, so a checkpoint is never held
twice in memory; every parameter must come from the file, so a truncated or foreign file
fails loudly instead of running with random weights.
"""
from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path
from typing import Sequence

import torch

from sdwebui.engine.models.building import assign_weights, build_empty, empty_weights, quiet_diffusers
from sdwebui.engine.models.configs import FamilyConfig, load_family_config
from sdwebui.engine.models.loaded_model import CheckpointLoadError, SDModel  # noqa: F401 (their old home)
from sdwebui.engine.models.flux import is_flux, load_flux
from sdwebui.engine.models.gguf_files import gguf_tensor_names, gguf_text_metadata, read_gguf
from sdwebui.engine.models.part_files import PartSources
from sdwebui.engine.models.sd3 import is_sd3, load_sd3
from sdwebui.engine.models.tokenizer import get_tokenizer
from sdwebui.engine.models.unet_sizes import upsample_like_a1111

logger = logging.getLogger(__name__)

META_FAMILY = "sd_webui_family"
META_PREDICTION = "sd_webui_prediction_type"
META_CONFIG = "sd_webui_config"


META_MODELSPEC_RESOLUTION = "modelspec.resolution"    # the Stability model spec's key: "512x512"


def _header_metadata(path: str | Path) -> dict[str, str]:
    """A safetensors file's metadata from its header (no weights read); {} for anything else."""
    if not str(path).lower().endswith(".safetensors"):
        return {}
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (OSError, ValueError, TypeError):    # missing, truncated or not a safetensors file
        return {}


def embedded_default_size(path: str | Path) -> int | None:
    """The native size a checkpoint of the project's own architecture (such as the embedded
    default) declares in its `sd_webui_config` metadata."""
    meta = _header_metadata(path)
    try:
        size = json.loads(meta[META_CONFIG]).get("default_size") if META_CONFIG in meta else None
        return int(size) if size else None
    except (ValueError, TypeError, AttributeError):
        return None


def declared_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) a checkpoint declares as its native size: the project's own `default_size`,
    else the model spec's `modelspec.resolution` ("1024x1024"); None when it declares neither."""
    size = embedded_default_size(path)
    if size:
        return size, size
    text = _header_metadata(path).get(META_MODELSPEC_RESOLUTION) or ""
    try:
        width, height = (int(v) for v in text.lower().replace(" ", "").split("x"))
    except ValueError:
        return None
    return (width, height) if width > 0 and height > 0 else None


def family_of_file(path: str | Path) -> str | None:
    """The model family of a .safetensors checkpoint from its header alone (no weights read):
    sd1, sd2, sdxl, sdxl-refiner, sd3, flux; None when it cannot be told (a .ckpt pickle, another file)."""
    if str(path).lower().endswith(".gguf"):
        try:
            return detect_family(dict.fromkeys(gguf_tensor_names(path)))
        except Exception:       # not a readable GGUF, or not a model we know
            return None
    if not str(path).lower().endswith(".safetensors"):
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            keys = dict.fromkeys(f.keys())
        return meta.get(META_FAMILY) or detect_family(keys)
    except Exception:       # truncated or foreign (safetensors' own error types included): not known
        return None


# --- reading the file --------------------------------------------------------------------

def read_state_dict(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a .safetensors or .ckpt/.pt file. Pickles are opened with
    weights_only=True, so a checkpoint can never run code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointLoadError(f"checkpoint file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".gguf":
            return read_gguf(path), gguf_text_metadata(path)
        if suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt", device="cpu") as f:
                metadata = dict(f.metadata() or {})
                sd = {k: f.get_tensor(k) for k in f.keys()}
            return sd, metadata
        obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except CheckpointLoadError:
        raise
    except Exception as e:  # safetensors / pickle errors have many types
        raise CheckpointLoadError(f"could not read {path.name}: {type(e).__name__}: {e}".strip()) from e
    while isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointLoadError(f"{path.name} does not contain a state dict")
    sd = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    return sd, {}


# --- working out what it is --------------------------------------------------------------

_SD1_TE = "cond_stage_model.transformer."
_SD2_TE = "cond_stage_model.model."
_XL_TE1 = "conditioner.embedders.0.transformer."
_XL_TE2 = "conditioner.embedders.1.model."
_XL_REFINER_TE = "conditioner.embedders.0.model."
_UNET = "model.diffusion_model."


def _fix_legacy_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Old SD1 files keep CLIP keys without `text_model.`; A1111 rewrites them, so do we."""
    if any(k.startswith(_SD1_TE + "text_model.") for k in sd):
        return sd
    out = {}
    for k, v in sd.items():
        if k.startswith(_SD1_TE) and not k.startswith(_SD1_TE + "text_model."):
            k = _SD1_TE + "text_model." + k[len(_SD1_TE):]
        out[k] = v
    return out


def detect_family(sd: dict[str, torch.Tensor]) -> str:
    """The base family from the key layout (tiny and full-size files alike)."""
    keys = sd.keys()
    has = lambda prefix: any(k.startswith(prefix) for k in keys)  # noqa: E731
    if is_sd3(sd):
        return "sd3"
    if is_flux(sd):
        return "flux"
    if not any(k.startswith(_UNET) for k in keys):
        raise CheckpointLoadError("not a Stable Diffusion checkpoint: it has no UNet weights "
                                  "(model.diffusion_model.*); is it a LoRA, VAE or embedding?")
    if has(_XL_TE2):
        return "sdxl"
    if has(_XL_REFINER_TE):
        return "sdxl-refiner"
    if has(_SD2_TE):
        return "sd2"
    if has(_SD1_TE):
        return "sd1"
    raise CheckpointLoadError("unknown checkpoint architecture: no SD1 (CLIP-L), SD2 (OpenCLIP) or "
                              "SDXL text encoder keys were found")


def _yaml_prediction_type(path: Path) -> str | None:
    """A1111 lets users put `<checkpoint>.yaml` beside a file; `parameterization: v` marks v-models."""
    yaml_path = path.with_suffix(".yaml")
    if not yaml_path.is_file():
        return None
    try:
        import yaml

        cfg = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
        param = (cfg.get("model", {}).get("params", {}) or {}).get("parameterization", "eps")
    except Exception as e:
        logger.warning("ignoring unreadable %s: %s", yaml_path.name, e)
        return None
    return "v_prediction" if param == "v" else "epsilon"


@torch.no_grad()
def _looks_like_v_prediction(unet: torch.nn.Module, context_dim: int, dtype: torch.dtype) -> bool:
    """Tell SD2 768-v from 512-base with one tiny forward pass (A1111 does the same kind of test):
    at the last timestep the input is almost pure noise, so an epsilon model predicts
    something close to its input while a v model predicts roughly -x0, unrelated to it."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn((1, unet.config.in_channels, 8, 8), generator=g).to(unet.device, dtype)
    ctx = torch.zeros((1, 77, context_dim), device=unet.device, dtype=dtype)
    out = unet(x, torch.tensor([999], device=unet.device), encoder_hidden_states=ctx).sample.float()
    sim = torch.nn.functional.cosine_similarity(out.flatten(), x[:, :out.shape[1]].float().flatten(), dim=0)
    return bool(sim < 0.5)


# --- building components -----------------------------------------------------------------

def _text_encoder(class_name: str, config: dict, sd: dict, family: str, which: int) -> torch.nn.Module:
    import transformers
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint, convert_open_clip_checkpoint

    cls = getattr(transformers, class_name)
    cfg = transformers.CLIPTextConfig.from_dict(config)
    with empty_weights():
        model = cls(cfg)
    if family in ("sd1", "sd1-inpaint") or (family == "sdxl" and which == 1):
        converted = convert_ldm_clip_checkpoint(sd)
    else:
        prefix = {"sd2": _SD2_TE, "sd2-v": _SD2_TE, "sdxl": _XL_TE2, "sdxl-refiner": _XL_REFINER_TE}[family]
        converted = convert_open_clip_checkpoint(model, sd, prefix=prefix)
    # transformers >= 5.6 flattened CLIPTextModel (no `text_model.` level); the projection model kept it
    if not hasattr(model, "text_model"):
        converted = {k.removeprefix("text_model."): v for k, v in converted.items()}
    assign_weights(model, converted, f"text encoder {which}")
    return model.eval()


def load_checkpoint(path: str | os.PathLike, *, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32, vae_dtype: torch.dtype | None = None,
                    family: str | None = None, prediction_type: str | None = None,
                    configs: dict[str, dict] | None = None, vae_upcast_dtype: torch.dtype = torch.float32,
                    text_encoder_dirs: Sequence[Path] = (), vae_dirs: Sequence[Path] = (),
                    additional_modules: Sequence[str | Path] = (), enable_t5: bool = False) -> SDModel:
    """Build an SDModel from a single-file checkpoint. Raises CheckpointLoadError with a
    clear message on anything it cannot load. `configs` (unet/vae/text_encoder[_2] dicts)
    overrides the architecture, as the metadata of the project's own files does. A VAE that
    overflows in fp16 (SDXL's) runs in `vae_upcast_dtype` instead: fp32, or bf16 where the GPU
    has it (fp32's range, so no overflow, at half the memory and time)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint

    path = Path(path)
    device = torch.device(device)
    vae_dtype = vae_dtype or dtype
    sd, metadata = read_state_dict(path)
    sd = _fix_legacy_keys(sd)

    base = family or metadata.get(META_FAMILY) or detect_family(sd)
    embedded = configs
    if embedded is None and META_CONFIG in metadata:
        try:
            embedded = json.loads(metadata[META_CONFIG])
        except json.JSONDecodeError as e:
            raise CheckpointLoadError(f"{path.name}: unreadable architecture metadata: {e}") from e

    if base in ("sd3", "flux"):
        # transformer families: text encoders and VAE may be in other files (engine/models/part_files.py)
        sources = PartSources([Path(d) for d in text_encoder_dirs], [Path(d) for d in vae_dirs],
                              [Path(m) for m in additional_modules])
        load = load_sd3 if base == "sd3" else load_flux
        return load(path, sd, metadata, embedded, device=device, dtype=dtype, vae_dtype=vae_dtype,
                    vae_upcast_dtype=vae_upcast_dtype, sources=sources, enable_t5=enable_t5)
    prediction = prediction_type or metadata.get(META_PREDICTION) or _yaml_prediction_type(path)
    shipped_family = base
    if base == "sd2" and prediction == "v_prediction":
        shipped_family = "sd2-v"
    try:
        fam: FamilyConfig = load_family_config(shipped_family)
    except ValueError as e:
        raise CheckpointLoadError(f"{path.name}: {e}") from None

    unet_cfg = copy.deepcopy(embedded["unet"] if embedded else fam.unet)
    vae_cfg = copy.deepcopy(embedded["vae"] if embedded else fam.vae)
    te_cfg = embedded.get("text_encoder") if embedded else fam.text_encoder
    te2_cfg = embedded.get("text_encoder_2") if embedded else fam.text_encoder_2

    conv_in = sd.get(_UNET + "input_blocks.0.0.weight")
    if conv_in is None:
        raise CheckpointLoadError(f"{path.name}: the UNet input convolution is missing; the file is truncated")
    if conv_in.shape[1] != unet_cfg.get("in_channels", 4):
        unet_cfg["in_channels"] = int(conv_in.shape[1])  # inpainting (9) / instruct-pix2pix (8) UNets

    try:
        with quiet_diffusers():
            unet = upsample_like_a1111(build_empty(UNet2DConditionModel, unet_cfg))
            assign_weights(unet, convert_ldm_unet_checkpoint(sd, unet_cfg), "UNet")
            vae = build_empty(AutoencoderKL, vae_cfg)
            assign_weights(vae, convert_ldm_vae_checkpoint(sd, vae_cfg), "VAE")
            te = _text_encoder(fam.text_encoder_class or "CLIPTextModel", te_cfg, sd, base, 1) if te_cfg else None
            te2 = (_text_encoder(fam.text_encoder_2_class or "CLIPTextModelWithProjection", te2_cfg, sd, base, 2)
                   if te2_cfg else None)
    except CheckpointLoadError as e:
        raise CheckpointLoadError(f"{path.name}: {e}") from None
    except (KeyError, IndexError, RuntimeError, ValueError) as e:
        raise CheckpointLoadError(f"{path.name}: does not match the {base} architecture "
                                  f"({type(e).__name__}: {e})") from e
    del sd

    if vae_dtype == torch.float16 and te2_cfg and vae_cfg.get("force_upcast", False):
        # the SDXL VAE overflows in fp16 (black images): fp32 as diffusers and A1111 do, or bf16
        vae_dtype = vae_upcast_dtype
    with quiet_diffusers():
        unet.to(device=device, dtype=dtype).eval()
        vae.to(device=device, dtype=vae_dtype).eval()
    for m in (te, te2):
        if m is not None:
            m.to(device=device, dtype=dtype)

    if prediction is None and base == "sd2":
        prediction = "v_prediction" if _looks_like_v_prediction(unet, unet_cfg["cross_attention_dim"], dtype) else "epsilon"
        if prediction == "v_prediction":
            fam = load_family_config("sd2-v")
        logger.info("%s: detected %s (put a .yaml beside the file to override)", path.name, prediction)
    prediction = prediction or fam.prediction_type

    scheduler_config = dict(fam.scheduler)
    scheduler_config["prediction_type"] = prediction
    return SDModel(
        family=shipped_family if base != "sd2" else ("sd2-v" if prediction == "v_prediction" else "sd2"),
        prediction_type=prediction,
        unet=unet, vae=vae, text_encoder=te, text_encoder_2=te2,
        tokenizer=get_tokenizer(fam.pad_token) if te is not None else None,
        tokenizer_2=get_tokenizer(fam.pad_token_2) if te2 is not None else None,
        scheduler_config=scheduler_config,
        device=device, dtype=dtype, vae_dtype=vae_dtype,
        default_size=int(embedded.get("default_size", fam.default_size)) if embedded else fam.default_size,
        filename=str(path), metadata=metadata,
    )
