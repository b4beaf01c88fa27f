"""The parts a transformer-family checkpoint (SD3, Flux) may leave to other files: its text encoders
(CLIP-L, CLIP-G, T5-XXL) and its VAE, and building them.

A part comes, first found first, from: the checkpoint itself (an all-in-one file: the text encoders
under `text_encoders.<name>.transformer.` in transformers' names, the VAE under `first_stage_model.` or
`vae.`); a file the user chose (Forge's `forge_additional_modules`: each file is recognised by its
keys); a file found by its usual name (A1111 and Forge: `clip_l.safetensors`, `clip_g.safetensors`,
`t5xxl_fp16.safetensors` in models/text_encoder or models/CLIP, `ae.safetensors` in models/VAE). A part
found nowhere is a MissingPart naming the file and the folder to put it in.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import torch

from sdwebui.engine.models.building import assign_weights, empty_weights
from sdwebui.engine.models.loaded_model import CheckpointLoadError
from sdwebui.engine.models.t5_tokenizer import T5TokenizerMissing

logger = logging.getLogger(__name__)

BUNDLED = {     # where an all-in-one file keeps each text encoder
    "clip_l": "text_encoders.clip_l.transformer.",
    "clip_g": "text_encoders.clip_g.transformer.",
    "t5xxl": "text_encoders.t5xxl.transformer.",
}
VAE_PREFIXES = ("first_stage_model.", "vae.")
FILE_HINT = {"clip_l": "clip_l.safetensors", "clip_g": "clip_g.safetensors", "t5xxl": "t5xxl_fp16.safetensors",
             "vae": "ae.safetensors"}
# the two families' 16-channel VAEs have the same shapes: a loose VAE file is told by its name
VAE_NAMES = {"flux": ("ae.safetensors", ("flux", "ae")), "sd3": ("sd3_vae.safetensors", ("sd3", "sd35", "sd3.5"))}
SUFFIXES = (".safetensors", ".sft")
_FP8 = (torch.float8_e4m3fn, torch.float8_e5m2)


class MissingPart(Exception):
    """A part the model needs is neither in the checkpoint nor in the files it may come from."""


@dataclass
class PartSources:
    """Where a checkpoint's missing parts may come from: the folders searched by name, and the files
    the user chose (`forge_additional_modules`), which win."""

    text_encoder_dirs: Sequence[Path] = ()
    vae_dirs: Sequence[Path] = ()
    chosen: Sequence[Path] = ()
    _kinds: dict[Path, str | None] = field(default_factory=dict)

    def kind_of(self, path: Path) -> str | None:
        """"clip_l", "clip_g", "t5xxl" or "vae" from the file's keys (its header only); None for others."""
        if path not in self._kinds:
            self._kinds[path] = _file_kind(path)
        return self._kinds[path]


@contextmanager
def load_errors(path: Path, architecture: str) -> Iterator[None]:
    """Every failure while a transformer-family file is built, as a CheckpointLoadError that names the
    file: a missing part or vocabulary as it is, anything else as a file of another architecture."""
    try:
        yield
    except (MissingPart, T5TokenizerMissing, CheckpointLoadError) as e:
        raise CheckpointLoadError(f"{path.name}: {e}") from None
    except (KeyError, IndexError, RuntimeError, ValueError) as e:
        raise CheckpointLoadError(f"{path.name}: does not match the {architecture} architecture "
                                  f"({type(e).__name__}: {e})") from e


def strip(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _file_kind(path: Path) -> str | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            keys = list(f.keys())
            key = next((k for k in keys if k.endswith("decoder.conv_in.weight")), None)
            if key is not None:
                return "vae" if f.get_slice(key).get_shape()[1] == 16 else None
            if any("encoder.block.0.layer.0.SelfAttention.q.weight" in k for k in keys):
                return "t5xxl"
            pos = next((k for k in keys if k.endswith("embeddings.position_embedding.weight")), None)
            if pos is not None:
                return "clip_l" if f.get_slice(pos).get_shape()[1] < 1024 else "clip_g"
    except Exception as e:      # unreadable: not a part
        logger.debug("%s: not a model part (%s)", path, e)
    return None


def _by_name(which: str, dirs: Sequence[Path], family: str) -> Path | None:
    """`clip_l.safetensors` first, then any `clip_l*` (such as t5xxl_fp8_e4m3fn), folder by folder;
    a VAE by its family's names (Flux: `ae`, then `*flux*` / `ae*`; SD3: `sd3_vae`, then `*sd3*`),
    and only if it is a 16-channel one."""
    stem = Path(_hint(which, family)).stem
    for folder in dirs:
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
        exact = [p for p in files if p.stem.lower() == stem]
        if which == "vae":
            marks = VAE_NAMES.get(family, VAE_NAMES["flux"])[1]
            loose = [p for p in files if any(p.stem.lower().startswith(m) or f"{m}_" in p.stem.lower()
                                             or f"-{m}" in p.stem.lower() for m in marks)]
            found = [p for p in exact + loose if _file_kind(p) == "vae"]
        else:
            found = exact + [p for p in files if p.stem.lower().startswith(which)]
        if found:
            return found[0]
    return None


def _hint(which: str, family: str) -> str:
    return VAE_NAMES.get(family, VAE_NAMES["flux"])[0] if which == "vae" else FILE_HINT[which]


def part_weights(which: str, sd: dict[str, torch.Tensor], sources: PartSources, family: str = "flux"
                 ) -> tuple[dict[str, torch.Tensor], str]:
    """(tensors in transformers' names, or the VAE's LDM names; where they came from) of one part of a
    `family` ("sd3", "flux") model."""
    if which == "vae":
        prefix = next((p for p in VAE_PREFIXES if any(k.startswith(p) for k in sd)), None)
        if prefix is not None:
            return strip(sd, prefix), "checkpoint"
    else:
        bundled = strip(sd, BUNDLED[which])
        if bundled:
            return bundled, "checkpoint"
    path = next((p for p in sources.chosen if sources.kind_of(p) == which), None)
    dirs = sources.vae_dirs if which == "vae" else sources.text_encoder_dirs
    path = path or _by_name(which, dirs, family)
    if path is None:
        what = "VAE" if which == "vae" else f"{which} text encoder"
        where = " or ".join(str(d) for d in dirs) or ("models/VAE" if which == "vae" else "models/text_encoder")
        raise MissingPart(f"the {what} is not in the checkpoint; put {_hint(which, family)} into {where} "
                          "(or choose the file in forge_additional_modules)")
    from safetensors.torch import load_file

    weights = load_file(str(path))
    prefixes = VAE_PREFIXES if which == "vae" else (BUNDLED[which], "transformer.")
    for prefix in prefixes:      # files cut out of a bundle keep its prefix
        if any(k.startswith(prefix) for k in weights):
            weights = strip(weights, prefix)
    return weights, path.name


def dequantize_scaled_fp8(dit: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], bool]:
    """ComfyUI's "scaled fp8" files (a `scaled_fp8` marker, `<layer>.scale_weight` per weight): the weights
    as plain fp8 times their scale, in bf16 (True when the file was one)."""
    if "scaled_fp8" not in dit:
        return dit, False
    out = {}
    for key, value in dit.items():
        if key == "scaled_fp8" or key.endswith((".scale_weight", ".scale_input")):
            continue
        scale = dit.get(key.removesuffix(".weight") + ".scale_weight") if key.endswith(".weight") else None
        out[key] = (value.float() * scale.float()).to(torch.bfloat16) if scale is not None else value
    return out, True


def _upcast_fp8(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A text encoder's fp8 weights in float (ComfyUI's scaled fp8 files, such as t5xxl_fp8_e4m3fn_scaled,
    times their scales first)."""
    weights, _ = dequantize_scaled_fp8(weights)
    return {k: v.float() if v.dtype in _FP8 else v for k, v in weights.items()}


def build_clip(config: dict, weights: dict[str, torch.Tensor], what: str, *, projection: bool) -> torch.nn.Module:
    """CLIP-L / CLIP-G. With `projection` (SD3) a CLIPTextModelWithProjection; SD3's CLIP-L files carry no
    projection: it is the identity there (the pooled output unprojected, as A1111 takes it)."""
    import transformers

    cfg = transformers.CLIPTextConfig.from_dict(config)
    with empty_weights():
        model = (transformers.CLIPTextModelWithProjection if projection else transformers.CLIPTextModel)(cfg)
    weights = {("text_model." + k if not k.startswith(("text_model.", "text_projection.")) else k): v
               for k, v in weights.items() if not k.endswith("position_ids")}
    if projection and "text_projection.weight" not in weights:
        weights["text_projection.weight"] = torch.eye(cfg.hidden_size, cfg.projection_dim).T.contiguous()
    if not projection:
        weights.pop("text_projection.weight", None)
    if not hasattr(model, "text_model"):    # transformers >= 5.6 flattened CLIPTextModel
        weights = {k.removeprefix("text_model."): v for k, v in weights.items()}
    assign_weights(model, _upcast_fp8(weights), what)
    return model.eval()


def build_t5(config: dict, weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    """T5-XXL's encoder. Files name its token embedding `shared` or `encoder.embed_tokens` (the model
    ties the two): either fills both."""
    import transformers

    with empty_weights():
        model = transformers.T5EncoderModel(transformers.T5Config.from_dict(config))
    embed = weights.get("shared.weight", weights.get("encoder.embed_tokens.weight"))
    if embed is not None:
        weights = dict(weights, **{"shared.weight": embed, "encoder.embed_tokens.weight": embed})
    assign_weights(model, _upcast_fp8(weights), "T5 text encoder")
    model.tie_weights()
    return model.eval()


def keep_t5_feed_forward_in_fp32(t5: torch.nn.Module) -> None:
    """T5's feed-forward output overflows in fp16 (transformers keeps `wo` in fp32 for the same reason)."""
    for name, module in t5.named_modules():
        if name.endswith(".wo"):
            module.float()
