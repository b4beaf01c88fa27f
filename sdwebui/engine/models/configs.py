"""Shipped architecture configs for the supported Stable Diffusion families.

Single-file (A1111 layout) checkpoints carry weights only. diffusers would
normally fetch the matching architecture configs from the Hugging Face hub,
which is not reachable offline, so the web UI ships hand-written configs under
``configs/<family>/`` (repository root):

* ``unet.json`` / ``vae.json``: dicts for ``UNet2DConditionModel.from_config``
  / ``AutoencoderKL.from_config``; SD3 has ``transformer.json`` (``SD3Transformer2DModel``)
  in place of the UNet's, read into the same field (the family's denoising network);
* ``text_encoder.json`` / ``text_encoder_2.json``: ``transformers.CLIPTextConfig``
  dicts (``text_encoder_2`` only for SDXL; the SDXL refiner has *only*
  ``text_encoder_2``); ``text_encoder_3.json`` (SD3's T5, a ``T5Config`` dict);
* ``scheduler.json``: a scheduler config dict usable with any diffusers
  scheduler's ``from_config`` (no class name);
* ``family.json``: prediction type, default size, text encoder classes, pad
  tokens and VAE scaling factor.

The returned dicts are shared by the cache: treat them as read-only and copy
before changing anything (``from_config`` itself does not mutate them).
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CONFIG_ROOT: Path = Path(__file__).resolve().parents[3] / "configs"

FAMILIES: tuple[str, ...] = ("sd1", "sd1-inpaint", "sd2", "sd2-v", "sdxl", "sdxl-refiner", "sd3", "flux")


@dataclass(frozen=True)
class FamilyConfig:
    """Parsed configs of one model family (see module docstring)."""

    family: str
    prediction_type: str  # "epsilon" | "v_prediction" | "flow" (rectified flow: SD3)
    default_size: int  # 512 | 768 | 1024
    text_encoder_class: str | None  # "CLIPTextModel"; None for the SDXL refiner
    text_encoder_2_class: str | None  # "CLIPTextModelWithProjection" for SDXL / refiner
    pad_token: str | None  # "<|endoftext|>" (SD1, SDXL) or "!" (SD2); None without text_encoder
    pad_token_2: str | None  # "!" for SDXL / refiner
    vae_scaling_factor: float
    unet: dict[str, Any]  # the denoising network: a UNet, or SD3's transformer (transformer.json)
    vae: dict[str, Any]
    text_encoder: dict[str, Any] | None
    text_encoder_2: dict[str, Any] | None
    scheduler: dict[str, Any]
    path: Path
    text_encoder_3: dict[str, Any] | None = None  # SD3's T5

    @property
    def is_sdxl(self) -> bool:
        """True for families with the SDXL text_time conditioning (base and refiner)."""
        return self.family.startswith("sdxl")


def _read_json(path: Path) -> dict[str, Any]:
    with path.open("r", encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _read_optional(path: Path) -> dict[str, Any] | None:
    return _read_json(path) if path.is_file() else None


@functools.lru_cache(maxsize=None)
def load_family_config(family: str) -> FamilyConfig:
    """Load the shipped configs of ``family`` (one of :data:`FAMILIES`); cached.

    Raises ``ValueError`` for an unknown family.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; valid families: {', '.join(FAMILIES)}")
    folder = CONFIG_ROOT / family
    meta = _read_json(folder / "family.json")
    if meta.get("family") != family:
        raise ValueError(f"{folder / 'family.json'} names family {meta.get('family')!r}, expected {family!r}")
    text_encoder = _read_optional(folder / "text_encoder.json")
    text_encoder_2 = _read_optional(folder / "text_encoder_2.json")
    if (text_encoder is None) != (meta["text_encoder_class"] is None):
        raise ValueError(f"{folder}: text_encoder.json and text_encoder_class disagree")
    if (text_encoder_2 is None) != (meta["text_encoder_2_class"] is None):
        raise ValueError(f"{folder}: text_encoder_2.json and text_encoder_2_class disagree")
    config = FamilyConfig(
        family=family,
        prediction_type=meta["prediction_type"],
        default_size=int(meta["default_size"]),
        text_encoder_class=meta["text_encoder_class"],
        text_encoder_2_class=meta["text_encoder_2_class"],
        pad_token=meta["pad_token"],
        pad_token_2=meta["pad_token_2"],
        vae_scaling_factor=float(meta["vae_scaling_factor"]),
        unet=_read_json(folder / "unet.json" if (folder / "unet.json").is_file() else folder / "transformer.json"),
        vae=_read_json(folder / "vae.json"),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        scheduler=_read_json(folder / "scheduler.json"),
        path=folder,
        text_encoder_3=_read_optional(folder / "text_encoder_3.json"),
    )
    logger.debug("loaded shipped config for family %s from %s", family, folder)
    return config
