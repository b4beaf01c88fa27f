"""/sdapi/v1/embeddings until textual inversion is applied at generation time: every embedding
file is reported under `skipped` with its vector count, so clients see them and nobody is led
to believe a name in the prompt is applied."""
from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

EMBEDDING_EXTENSIONS = (".pt", ".safetensors", ".bin")


def _vectors(path: Path) -> tuple[int, int]:
    """(vector count, width) of an A1111 / diffusers embedding file, (0, 0) if unreadable."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                tensors = [f.get_tensor(k) for k in f.keys()]
        else:
            data = torch.load(str(path), map_location="cpu", weights_only=True)
            if isinstance(data, dict) and "string_to_param" in data:
                tensors = list(data["string_to_param"].values())
            elif isinstance(data, dict):
                tensors = [v for v in data.values() if isinstance(v, torch.Tensor)]
            else:
                tensors = [data] if isinstance(data, torch.Tensor) else []
    except Exception as e:
        logger.warning("unreadable embedding %s: %s", path.name, e)
        return 0, 0
    if not tensors:
        return 0, 0
    t = tensors[0]
    return (t.shape[0] if t.ndim > 1 else 1), t.shape[-1]


def list_embeddings(folder: Path) -> dict:
    skipped = {}
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in EMBEDDING_EXTENSIONS:
                vectors, width = _vectors(path)
                skipped[path.stem] = {"step": None, "sd_checkpoint": None, "sd_checkpoint_name": None,
                                      "shape": width, "vectors": vectors}
    return {"loaded": {}, "skipped": skipped}
