"""GFPGAN and CodeFormer face-restoration models read from the user's files through spandrel.

GFPGAN's architecture is in spandrel, CodeFormer's in spandrel-extra-arches (as A1111 1.10 loads
them). Both are recognised by spandrel's own key detection. spandrel builds GFPGAN at its one
published size (512, as GFPGANv1.3/1.4); a file with GFPGAN's layout at another size (another
out_size, width or style size) is built with those sizes read from its tensors, on the same
architecture class. Nothing is downloaded: a missing file is a FaceModelMissing error that names
the folder and the file names looked for.
"""
from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.upscaler_models import import_spandrel, read_state_dict

logger = logging.getLogger(__name__)

MODEL_EXTENSIONS = (".pth", ".safetensors")
# the file A1111 downloads for each (its download_name); any file of the architecture is used
DEFAULT_FILES = {"GFPGAN": "GFPGANv1.4.pth", "CodeFormer": "codeformer-v0.1.0.pth"}


class FaceModelMissing(ProcessingError):
    """No usable weights file for a face restorer: a 4xx naming the folder and the file wanted."""


@dataclass
class FaceModel:
    architecture: str          # "GFPGAN" or "CodeFormer"
    net: torch.nn.Module
    face_size: int             # the aligned face crop the model takes (512 for the published ones)
    path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, face: torch.Tensor, weight: float | None = None) -> torch.Tensor:
        """The restored face for a 1x3xSxS face in [-1, 1] (same range), as A1111 calls each."""
        if self.architecture == "CodeFormer":
            return self.net(face, weight=0.5 if weight is None else float(weight), adain=True)[0]
        return self.net(face, return_rgb=False)[0]


_extra_registry: Any = None
_registry_lock = threading.Lock()


def _registry() -> Any:
    """spandrel's registry limited to the two face architectures (the upscaler list must not start
    offering the extra architectures)."""
    global _extra_registry
    spandrel = import_spandrel()
    with _registry_lock:
        if _extra_registry is None:
            reg = spandrel.ArchRegistry()
            reg.add(spandrel.MAIN_REGISTRY["GFPGAN"])
            try:
                from spandrel_extra_arches import EXTRA_REGISTRY  # noqa: PLC0415

                reg.add(EXTRA_REGISTRY["CodeFormer"])
            except ImportError:
                logger.warning("spandrel-extra-arches is not installed: CodeFormer models cannot be loaded")
            _extra_registry = reg
        return _extra_registry


def _count(sd: dict[str, Any], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    return len({m.group(1) for k in sd for m in [pattern.match(k)] if m})


def gfpgan_hyperparameters(sd: dict[str, Any]) -> dict[str, Any]:
    """GFPGANv1Clean's constructor arguments as the tensors of `sd` show them."""
    log_size = _count(sd, "conv_body_down.") + 2
    narrow = sd["stylegan_decoder.constant_input.weight"].shape[1] / 512
    num_style_feat = int(sd["stylegan_decoder.style_mlp.1.weight"].shape[0])
    multiplier = 2
    if log_size >= 6:   # the 64-pixel level is the first whose width depends on the multiplier
        multiplier = round(sd["toRGB.3.weight"].shape[1] / (128 * narrow))
    scale_out = sd["condition_scale.0.2.weight"].shape[0]
    return {"out_size": 2 ** log_size, "num_style_feat": num_style_feat, "channel_multiplier": multiplier,
            "decoder_load_path": None, "fix_decoder": False, "num_mlp": _count(sd, "stylegan_decoder.style_mlp."),
            "input_is_latent": True,
            "different_w": sd["final_linear.weight"].shape[0] == (log_size * 2 - 2) * num_style_feat,
            "narrow": narrow, "sft_half": scale_out == sd["condition_scale.0.0.weight"].shape[0]}


_SPANDREL_GFPGAN = {"out_size": 512, "num_style_feat": 512, "channel_multiplier": 2, "num_mlp": 8,
                    "different_w": True, "narrow": 1, "sft_half": True}


def _build(sd: dict[str, Any], architecture: str) -> tuple[torch.nn.Module, int]:
    spandrel = import_spandrel()
    if architecture == "GFPGAN":
        hp = gfpgan_hyperparameters(sd)
        if any(hp[k] != v for k, v in _SPANDREL_GFPGAN.items()):
            from spandrel.architectures.GFPGAN import GFPGAN  # noqa: PLC0415

            net = GFPGAN(**hp)
            net.load_state_dict(sd, strict=True)
            return net, hp["out_size"]
    descriptor = _registry().load(sd)
    # CodeFormer's transformer reads a 16x16 latent of a 512 crop; GFPGAN's published size is 512
    return descriptor.model, 512


def find_model_file(folder: Path, architecture: str) -> Path | None:
    """A1111's choice: the model files in `folder` (GFPGAN: those with "GFPGAN" in the name),
    the default download name first, then by name."""
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MODEL_EXTENSIONS)
    if architecture == "GFPGAN":
        files = [p for p in files if "gfpgan" in p.name.lower()]
    files.sort(key=lambda p: p.name != DEFAULT_FILES[architecture])
    return files[0] if files else None


def load_face_model(folder: Path, architecture: str, field_name: str) -> FaceModel:
    """The face model of `architecture` from `folder`; FaceModelMissing (4xx, naming `field_name`,
    the folder and the file) when there is none, ProcessingError when the file is not that model."""
    path = find_model_file(folder, architecture)
    if path is None:
        wanted = DEFAULT_FILES[architecture]
        also = " (or another file with GFPGAN in its name)" if architecture == "GFPGAN" else ""
        raise FaceModelMissing(field_name, f"{architecture} needs its model file {wanted}{also} in the folder "
                                           f"{folder}; put the file there (nothing is downloaded)")
    try:
        sd = import_spandrel().canonicalize_state_dict(read_state_dict(path))
        found = _registry().get(architecture)
        if found is None:
            raise ProcessingError(field_name, f"{architecture} models cannot be read here: the "
                                              "spandrel-extra-arches package (the upscalers extra) is not installed")
        if not found.architecture.detect(sd):
            raise ValueError(f"it is not a {architecture} model")
        net, size = _build(sd, architecture)
    except (RuntimeError, ValueError, KeyError) as e:
        raise ProcessingError(field_name, f"{path} cannot be used for {architecture}: {e}") from e
    if size < 16 or size & (size - 1) or int(math.log2(size)) != math.log2(size):
        raise ProcessingError(field_name, f"{path}: unsupported face size {size}")
    logger.info("%s face restoration model loaded from %s (face size %d)", architecture, path, size)
    return FaceModel(architecture, net.eval().requires_grad_(False), size, path)
