"""diffusers components -> A1111/LDM single-file checkpoint layout.

diffusers ships only the LDM -> diffusers direction
(``diffusers.loaders.single_file_utils.convert_ldm_*``). The reverse scripts in
the diffusers repository are not installed with the package, hard-code the
full-size block counts and use pre-0.2x VAE attention names, so this module
is a config-driven inverse of the *installed* converters. It is exact: every
tensor survives export -> diffusers' converter unchanged (see
``tests/test_ldm_export.py``), which is the path the app's loader reads files
through.

Layout written (A1111 / original LDM names):

* unet           -> ``model.diffusion_model.*``
* vae            -> ``first_stage_model.*``
* sd1 text enc.  -> ``cond_stage_model.transformer.text_model.*``   (HF CLIP layout)
* sd2 text enc.  -> ``cond_stage_model.model.*``                    (OpenCLIP layout)
* sdxl te 1      -> ``conditioner.embedders.0.transformer.text_model.*``
* sdxl te 2      -> ``conditioner.embedders.1.model.*``             (OpenCLIP, with text_projection)
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)

FAMILIES: tuple[str, ...] = ("sd1", "sd2", "sdxl", "sdxl-refiner")

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
SD1_CLIP_PREFIX = "cond_stage_model.transformer."
SD2_OPEN_CLIP_PREFIX = "cond_stage_model.model."
SDXL_CLIP_PREFIX = "conditioner.embedders.0.transformer."
SDXL_OPEN_CLIP_PREFIX = "conditioner.embedders.1.model."
SDXL_REFINER_OPEN_CLIP_PREFIX = "conditioner.embedders.0.model."   # the refiner's only encoder

# ---------------------------------------------------------------------------
# UNet
# ---------------------------------------------------------------------------

# diffusers ResnetBlock2D child -> LDM ResBlock child (inverse of
# single_file_utils.update_unet_resnet_ldm_to_diffusers).
_UNET_RESNET_NAMES: tuple[tuple[str, str], ...] = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)

# Top-level modules (inverse of DIFFUSERS_TO_LDM_MAPPING["unet"]). class_embedding
# and add_embedding both live at label_emb.0 in LDM; a UNet has at most one.
_UNET_TOP_LEVEL: dict[str, str] = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "class_embedding.linear_1": "label_emb.0.0",
    "class_embedding.linear_2": "label_emb.0.2",
}

_RE_DOWN = re.compile(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)")
_RE_DOWNSAMPLE = re.compile(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)")
_RE_UP = re.compile(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)")
_RE_UPSAMPLE = re.compile(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)")
_RE_MID_RESNET = re.compile(r"mid_block\.resnets\.(\d+)\.(.+)")
_RE_MID_ATTN = re.compile(r"mid_block\.attentions\.0\.(.+)")


def _unet_resnet_child(rest: str) -> str:
    for diffusers_name, ldm_name in _UNET_RESNET_NAMES:
        if rest.startswith(diffusers_name + "."):
            return ldm_name + rest[len(diffusers_name) :]
    raise KeyError(rest)


def unet_to_ldm(state_dict: Mapping[str, torch.Tensor], config: Mapping) -> dict[str, torch.Tensor]:
    """Rename a ``UNet2DConditionModel`` state dict to LDM ``openaimodel`` names (no prefix).

    Index arithmetic mirrors ``convert_ldm_unet_checkpoint``: LDM numbers
    ``input_blocks`` / ``output_blocks`` consecutively, ``layers_per_block + 1``
    per level (the extra slot holds the down-sampler on the way down and the
    extra resnet on the way up). Transformer internals keep their names.
    """
    per_level = config["layers_per_block"]
    if not isinstance(per_level, int):
        # The diffusers converter reads layers_per_block as one int as well.
        raise ValueError(f"per-level layers_per_block {per_level!r} cannot be expressed in LDM layout")
    slots = per_level + 1
    # LDM puts an up-sampler after the attention (slot 2) when the level has one.
    up_has_attention = {int(m[1]) for k in state_dict if (m := re.match(r"up_blocks\.(\d+)\.attentions\.", k))}

    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state_dict.items():
        new: str | None = None
        if m := _RE_DOWN.fullmatch(key):
            index = 1 + slots * int(m[1]) + int(m[3])
            new = (
                f"input_blocks.{index}.0.{_unet_resnet_child(m[4])}"
                if m[2] == "resnets"
                else f"input_blocks.{index}.1.{m[4]}"
            )
        elif m := _RE_DOWNSAMPLE.fullmatch(key):
            new = f"input_blocks.{slots * (int(m[1]) + 1)}.0.op.{m[2]}"
        elif m := _RE_UP.fullmatch(key):
            index = slots * int(m[1]) + int(m[3])
            new = (
                f"output_blocks.{index}.0.{_unet_resnet_child(m[4])}"
                if m[2] == "resnets"
                else f"output_blocks.{index}.1.{m[4]}"
            )
        elif m := _RE_UPSAMPLE.fullmatch(key):
            level = int(m[1])
            slot = 2 if level in up_has_attention else 1
            new = f"output_blocks.{slots * level + per_level}.{slot}.conv.{m[2]}"
        elif m := _RE_MID_RESNET.fullmatch(key):
            new = f"middle_block.{2 * int(m[1])}.{_unet_resnet_child(m[2])}"
        elif m := _RE_MID_ATTN.fullmatch(key):
            new = f"middle_block.1.{m[1]}"
        else:
            module, _, param = key.rpartition(".")
            if module in _UNET_TOP_LEVEL:
                new = f"{_UNET_TOP_LEVEL[module]}.{param}"
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        # Silently dropping weights would produce a file that loads with
        # random/missing tensors; refuse instead.
        raise ValueError(f"UNet keys with no LDM equivalent: {unknown[:8]}{' ...' if len(unknown) > 8 else ''}")
    return out


def controlnet_to_ldm(state_dict: Mapping[str, torch.Tensor], config: Mapping) -> dict[str, torch.Tensor]:
    """A ``ControlNetModel`` state dict in lllyasviel's layout (no ``control_model.`` prefix): the
    UNet half as ``unet_to_ldm`` names it, the hint encoder as ``input_hint_block.{0,2,...,14}``, the
    zero convs as ``zero_convs.i.0`` and ``middle_block_out.0``."""
    own: dict[str, torch.Tensor] = {}
    unet_part: dict[str, torch.Tensor] = {}
    blocks = 1 + max((int(m[1]) for k in state_dict
                      if (m := re.match(r"controlnet_cond_embedding\.blocks\.(\d+)\.", k))), default=-1)
    for key, value in state_dict.items():
        module, _, param = key.rpartition(".")
        if module == "controlnet_cond_embedding.conv_in":
            own[f"input_hint_block.0.{param}"] = value
        elif m := re.fullmatch(r"controlnet_cond_embedding\.blocks\.(\d+)", module):
            own[f"input_hint_block.{2 * int(m[1]) + 2}.{param}"] = value
        elif module == "controlnet_cond_embedding.conv_out":
            own[f"input_hint_block.{2 * blocks + 2}.{param}"] = value
        elif m := re.fullmatch(r"controlnet_down_blocks\.(\d+)", module):
            own[f"zero_convs.{m[1]}.0.{param}"] = value
        elif module == "controlnet_mid_block":
            own[f"middle_block_out.0.{param}"] = value
        else:
            unet_part[key] = value
    return {**unet_to_ldm(unet_part, config), **own}


# ---------------------------------------------------------------------------
# VAE
# ---------------------------------------------------------------------------

# diffusers Attention child -> LDM AttnBlock child (inverse of
# single_file_utils.update_vae_attentions_ldm_to_diffusers).
_VAE_ATTN_NAMES: dict[str, str] = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}

_RE_VAE_DOWN = re.compile(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)")
_RE_VAE_DOWNSAMPLE = re.compile(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)")
_RE_VAE_UP = re.compile(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)")
_RE_VAE_UPSAMPLE = re.compile(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)")
_RE_VAE_MID_RESNET = re.compile(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)")
_RE_VAE_MID_ATTN = re.compile(
    r"(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(.+)"
)
_RE_VAE_NORM_OUT = re.compile(r"(encoder|decoder)\.conv_norm_out\.(.+)")
_RE_VAE_SAME = re.compile(r"(encoder|decoder)\.conv_(in|out)\..+|(post_)?quant_conv\..+")


def vae_to_ldm(state_dict: Mapping[str, torch.Tensor], config: Mapping) -> dict[str, torch.Tensor]:
    """Rename an ``AutoencoderKL`` state dict to LDM ``first_stage_model`` names (no prefix).

    LDM numbers decoder levels from the *lowest* resolution up, diffusers
    from the top down, hence the reversed index. The mid-block attention
    projections are 1x1 convolutions in LDM and Linear layers in diffusers.
    """
    levels = len(config["block_out_channels"])

    def resnet(rest: str) -> str:
        return rest.replace("conv_shortcut", "nin_shortcut")

    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state_dict.items():
        new: str | None = None
        if m := _RE_VAE_DOWN.fullmatch(key):
            new = f"encoder.down.{m[1]}.block.{m[2]}.{resnet(m[3])}"
        elif m := _RE_VAE_DOWNSAMPLE.fullmatch(key):
            new = f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
        elif m := _RE_VAE_UP.fullmatch(key):
            new = f"decoder.up.{levels - 1 - int(m[1])}.block.{m[2]}.{resnet(m[3])}"
        elif m := _RE_VAE_UPSAMPLE.fullmatch(key):
            new = f"decoder.up.{levels - 1 - int(m[1])}.upsample.conv.{m[2]}"
        elif m := _RE_VAE_MID_RESNET.fullmatch(key):
            new = f"{m[1]}.mid.block_{int(m[2]) + 1}.{resnet(m[3])}"
        elif m := _RE_VAE_MID_ATTN.fullmatch(key):
            new = f"{m[1]}.mid.attn_1.{_VAE_ATTN_NAMES[m[2]]}.{m[3]}"
            if value.ndim == 2:  # Linear [out, in] -> Conv2d 1x1 [out, in, 1, 1]
                value = value.reshape(*value.shape, 1, 1)
        elif m := _RE_VAE_NORM_OUT.fullmatch(key):
            new = f"{m[1]}.norm_out.{m[2]}"
        elif _RE_VAE_SAME.fullmatch(key):
            new = key
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise ValueError(f"VAE keys with no LDM equivalent: {unknown[:8]}{' ...' if len(unknown) > 8 else ''}")
    return out


# ---------------------------------------------------------------------------
# Text encoders
# ---------------------------------------------------------------------------


def _hf_text_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """State dict of a CLIP text model with keys normalised to ``text_model.*``.

    transformers >= 5.6 flattened ``CLIPTextModel`` (keys ``embeddings.*``,
    ``encoder.*``, ``final_layer_norm.*``) while ``CLIPTextModelWithProjection``
    still nests them under ``text_model.`` next to ``text_projection.weight``.
    Older transformers nested both; accept every variant.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if key.endswith("position_ids"):
            # A buffer (persistent in older transformers), not a weight; the
            # converters and A1111 do not need it.
            continue
        if key.startswith("text_model.") or key.startswith("text_projection."):
            out[key] = value
        else:
            out["text_model." + key] = value
    return out


def clip_to_ldm(model: nn.Module) -> dict[str, torch.Tensor]:
    """HF CLIP-L text encoder -> ``text_model.*`` keys (SD1 / SDXL te1 layout, no prefix).

    A1111 files store CLIP-L in HF naming already, nested under ``text_model.``.
    """
    out = _hf_text_state_dict(model)
    if out.pop("text_projection.weight", None) is not None:
        # SD1 / SDXL-te1 files carry no projection; diffusers' CLIPTextModel has none.
        logger.warning("dropping text_projection of a CLIP-L text encoder: the LDM layout has no slot for it")
    return out


_RE_CLIP_LAYER = re.compile(r"text_model\.encoder\.layers\.(\d+)\.(.+)")
_RE_CLIP_QKV = re.compile(r"self_attn\.([qkv])_proj\.(weight|bias)")
# HF CLIPEncoderLayer child -> OpenCLIP ResidualAttentionBlock child (inverse of
# DIFFUSERS_TO_LDM_MAPPING["openclip"]["transformer"]).
_OPEN_CLIP_LAYER_NAMES: tuple[tuple[str, str], ...] = (
    ("layer_norm1.", "ln_1."),
    ("layer_norm2.", "ln_2."),
    ("mlp.fc1.", "mlp.c_fc."),
    ("mlp.fc2.", "mlp.c_proj."),
    ("self_attn.out_proj.", "attn.out_proj."),
)


def open_clip_to_ldm(model: nn.Module, *, identity_projection: bool = False) -> dict[str, torch.Tensor]:
    """HF CLIP text encoder -> OpenCLIP names (SD2 / SDXL te2 layout, no prefix).

    OpenCLIP fuses q/k/v into ``attn.in_proj_{weight,bias}`` (concatenated
    q, k, v along dim 0) and stores ``text_projection`` as the transposed
    matrix (``x @ P``). When the model has no projection (SD2's
    ``CLIPTextModel``) and ``identity_projection`` is set, an identity matrix
    is written: real SD2 files carry a projection and diffusers'
    ``convert_open_clip_checkpoint`` reads the q/k/v split size from
    ``text_projection.shape[0]`` (it ignores the SD2 projection values).
    """
    hidden = int(model.config.hidden_size)
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    unknown: list[str] = []
    for key, value in _hf_text_state_dict(model).items():
        if key == "text_model.embeddings.token_embedding.weight":
            out["token_embedding.weight"] = value
        elif key == "text_model.embeddings.position_embedding.weight":
            out["positional_embedding"] = value
        elif key.startswith("text_model.final_layer_norm."):
            out["ln_final." + key.rsplit(".", 1)[1]] = value
        elif key == "text_projection.weight":
            out["text_projection"] = value.T.contiguous()
        elif m := _RE_CLIP_LAYER.fullmatch(key):
            layer, rest = int(m[1]), m[2]
            if q := _RE_CLIP_QKV.fullmatch(rest):
                qkv.setdefault((layer, q[2]), {})[q[1]] = value
                continue
            for hf_name, oc_name in _OPEN_CLIP_LAYER_NAMES:
                if rest.startswith(hf_name):
                    out[f"transformer.resblocks.{layer}.{oc_name}{rest[len(hf_name):]}"] = value
                    break
            else:
                unknown.append(key)
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"text encoder keys with no OpenCLIP equivalent: {unknown[:8]}")
    for (layer, kind), parts in sorted(qkv.items()):
        if set(parts) != {"q", "k", "v"}:
            raise ValueError(f"text encoder layer {layer} lacks some of q/k/v {kind}")
        out[f"transformer.resblocks.{layer}.attn.in_proj_{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]], 0)
    if identity_projection and "text_projection" not in out:
        ref = out["token_embedding.weight"]
        out["text_projection"] = torch.eye(hidden, dtype=ref.dtype, device=ref.device)
    return out


# ---------------------------------------------------------------------------
# Whole checkpoint
# ---------------------------------------------------------------------------


def _prefixed(prefix: str, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in state_dict.items()}


def components_to_ldm(
    unet: nn.Module,
    vae: nn.Module,
    text_encoder: nn.Module | None,
    text_encoder_2: nn.Module | None = None,
    *,
    family: str,
) -> dict[str, torch.Tensor]:
    """Build an A1111/LDM single-file state dict from diffusers/transformers components.

    ``family``: ``"sd1"`` (CLIP-L ``CLIPTextModel``), ``"sd2"`` (OpenCLIP-H as
    ``CLIPTextModel``; an identity ``text_projection`` is added) or ``"sdxl"``
    (``text_encoder`` CLIP-L ``CLIPTextModel``, ``text_encoder_2`` OpenCLIP-bigG
    ``CLIPTextModelWithProjection``) or ``"sdxl-refiner"`` (``text_encoder_2`` only).
    Tensors are detached and keep their
    dtype/device; most share storage with the models (no copies).
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    xl = family.startswith("sdxl")
    if xl != (text_encoder_2 is not None):
        raise ValueError(f"family {family!r} {'needs' if xl else 'takes no'} text_encoder_2")

    ckpt = _prefixed(UNET_PREFIX, unet_to_ldm(unet.state_dict(), unet.config))
    ckpt.update(_prefixed(VAE_PREFIX, vae_to_ldm(vae.state_dict(), vae.config)))
    if family == "sd1":
        ckpt.update(_prefixed(SD1_CLIP_PREFIX, clip_to_ldm(text_encoder)))
    elif family == "sd2":
        ckpt.update(_prefixed(SD2_OPEN_CLIP_PREFIX, open_clip_to_ldm(text_encoder, identity_projection=True)))
    elif family == "sdxl-refiner":
        ckpt.update(_prefixed(SDXL_REFINER_OPEN_CLIP_PREFIX, open_clip_to_ldm(text_encoder_2)))
    else:
        ckpt.update(_prefixed(SDXL_CLIP_PREFIX, clip_to_ldm(text_encoder)))
        ckpt.update(_prefixed(SDXL_OPEN_CLIP_PREFIX, open_clip_to_ldm(text_encoder_2)))
    logger.debug("exported %s components to %d LDM keys", family, len(ckpt))
    return {k: v.detach().contiguous() for k, v in ckpt.items()}


# ---------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------


def _canonicalise_header(path: Path) -> None:
    """Rewrite a safetensors header in place with sorted keys.

    safetensors (Rust) keeps ``__metadata__`` in a HashMap with a random
    hasher seed, so with more than one metadata entry the header byte order
    changes from call to call. Sorting makes equal inputs give equal bytes.
    The tensor data is untouched; the header keeps its length (padded with
    spaces, as the format allows), so data offsets and alignment stay valid.
    """
    with open(path, "r+b") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
        canonical: dict[str, object] = {}
        if "__metadata__" in header:
            canonical["__metadata__"] = dict(sorted(header.pop("__metadata__").items()))
        canonical.update(sorted(header.items()))
        blob = json.dumps(canonical, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(blob) > size:
            # Only reachable if serde_json escapes less than Python's json; keep
            # the (valid, merely unordered) file rather than move the data.
            logger.warning("could not canonicalise safetensors header of %s; bytes may differ per run", path)
            return
        fh.seek(8)
        fh.write(blob + b" " * (size - len(blob)))


def save_checkpoint(
    state_dict: Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    *,
    metadata: dict[str, str] | None = None,
    half: bool = True,
) -> None:
    """Write ``state_dict`` as a safetensors file, atomically, mode 0644.

    ``half`` converts floating-point tensors to fp16 (integer tensors are
    kept). ``{"format": "pt"}`` is added to the metadata unless given. The
    file is written next to ``path`` and moved into place with
    ``os.replace``, so readers never see a partial checkpoint. Equal inputs
    give byte-identical files.
    """
    from safetensors.torch import save_file  # local: keeps module import light

    path = Path(path)
    meta = {"format": "pt", **(metadata or {})}
    bad = [k for k, v in meta.items() if not (isinstance(k, str) and isinstance(v, str))]
    if bad:
        raise TypeError(f"safetensors metadata must be str -> str; offending keys: {bad}")

    tensors: dict[str, torch.Tensor] = {}
    seen_storage: set[tuple[torch.device, int]] = set()
    for key, value in state_dict.items():
        value = value.detach().cpu()
        if half and value.is_floating_point():
            value = value.to(torch.float16)
        value = value.contiguous()
        # safetensors refuses entries that share storage (tied weights,
        # views); give such entries their own copy.
        storage = (value.device, value.untyped_storage().data_ptr())
        if storage in seen_storage and value.numel():
            value = value.clone()
        seen_storage.add(storage)
        tensors[key] = value

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        save_file(tensors, str(tmp), metadata=meta)
        _canonicalise_header(tmp)
        # safetensors 0.8 creates files 0600; checkpoints are meant to be
        # readable by other users/processes (e.g. a separate web server user).
        os.chmod(tmp, 0o644)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.info("saved %d tensors to %s (%s)", len(tensors), path, "fp16" if half else "original dtypes")
