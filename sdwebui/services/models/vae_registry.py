"""Separate VAE files (`models/VAE`, `--vae-dir`, `<checkpoint>.vae.*` beside a checkpoint) and
A1111's `sd_vae` option: "Automatic" (a VAE named like the checkpoint if there is one, else the
checkpoint's own), "None" (the checkpoint's own) or a file name."""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from sdwebui.engine.models.hashes import HashCache
from sdwebui.engine.models.building import empty_weights
from sdwebui.engine.models.single_file import CheckpointLoadError, SDModel, read_state_dict

logger = logging.getLogger(__name__)

VAE_EXTENSIONS = (".safetensors", ".pt", ".ckpt")
AUTOMATIC, NONE = "Automatic", "None"


@dataclass
class VaeInfo:
    filename: Path

    @property
    def model_name(self) -> str:        # A1111 lists VAEs by base name, extension included
        return self.filename.name

    @property
    def stem(self) -> str:
        name = self.filename.name
        for ext in VAE_EXTENSIONS:
            name = name.removesuffix(ext)
        return name.removesuffix(".vae")

    def api_dict(self) -> dict:
        return {"model_name": self.model_name, "filename": str(self.filename)}


class VaeRegistry:
    def __init__(self, vae_dirs: list[Path], checkpoint_dirs: list[Path], hash_cache: HashCache):
        self.vae_dirs = [Path(d) for d in vae_dirs]
        self.checkpoint_dirs = [Path(d) for d in checkpoint_dirs]
        self.cache = hash_cache
        self._list: list[VaeInfo] = []

    def refresh(self) -> list[VaeInfo]:
        found: dict[Path, VaeInfo] = {}
        for d in self.vae_dirs:
            if d.is_dir():
                for p in sorted(d.rglob("*")):
                    if p.is_file() and p.suffix.lower() in VAE_EXTENSIONS:
                        found.setdefault(p.resolve(), VaeInfo(p.resolve()))
        for d in self.checkpoint_dirs:
            if d.is_dir():
                for p in sorted(d.rglob("*.vae.*")):
                    if p.is_file() and p.suffix.lower() in VAE_EXTENSIONS:
                        found.setdefault(p.resolve(), VaeInfo(p.resolve()))
        self._list = list(found.values())
        return self._list

    def list(self) -> list[VaeInfo]:
        return list(self._list)

    def choices(self) -> list[str]:
        return [AUTOMATIC, NONE, *(v.model_name for v in self._list)]

    def match(self, name: str) -> VaeInfo | None:
        for v in self._list:
            if name in (v.model_name, v.stem, str(v.filename)):
                return v
        return None

    def for_checkpoint(self, checkpoint: Path) -> VaeInfo | None:
        """A1111's Automatic rule: `<checkpoint stem>.vae.*` beside it, or a VAE file of the same stem."""
        stem = Path(checkpoint).stem
        for v in self._list:
            if v.filename.parent == Path(checkpoint).resolve().parent and v.filename.name.startswith(stem + ".vae."):
                return v
        for v in self._list:
            if v.stem == stem:
                return v
        return None

    def shorthash(self, info: VaeInfo) -> str:
        return self.cache.sha256(info.filename, f"vae/{info.model_name}")[:10]


def resolve_choice(registry: VaeRegistry, choice: str | None, checkpoint: Path | None) -> VaeInfo | None:
    """The VAE file a setting means for this checkpoint, or None for the checkpoint's own."""
    if not choice or choice == NONE:
        return None
    if choice == AUTOMATIC:
        return registry.for_checkpoint(checkpoint) if checkpoint else None
    info = registry.match(choice)
    if info is None:
        raise ValueError(f"VAE {choice!r} not found; available: {registry.choices()}")
    return info


def load_vae_weights(model: SDModel, info: VaeInfo) -> torch.nn.Module:
    """A VAE module of the model's architecture with the file's weights, on the model's device."""
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    sd, _ = read_state_dict(info.filename)
    config = copy.deepcopy(dict(model.vae.config))
    with empty_weights():
        vae = AutoencoderKL.from_config(config)
    converted = convert_ldm_vae_checkpoint(sd, config)
    expected = vae.state_dict()
    missing = [k for k in expected if k not in converted]
    if missing:
        raise CheckpointLoadError(f"{info.model_name}: not a VAE for this model ({len(missing)} weights missing, "
                                  f"first: {missing[0]})")
    bad = [k for k in expected if converted[k].shape != expected[k].shape]
    if bad:
        raise CheckpointLoadError(f"{info.model_name}: weight {bad[0]} has shape {tuple(converted[bad[0]].shape)}, "
                                  f"this model's VAE expects {tuple(expected[bad[0]].shape)} (another model family?)")
    vae.load_state_dict({k: converted[k] for k in expected}, strict=True, assign=True)
    return vae.to(device=model.device, dtype=model.vae_dtype).eval()
