"""GGUF-quantised transformers (city96's Flux and SD3.5 `.gguf` files, the layout Forge and ComfyUI load).

A GGUF file holds the transformer alone in its original names (as Black Forest Labs' and Stability's
files), its large weights quantised in blocks (Q8_0, Q5_K, Q4_K ...), the rest in F32/F16. The
quantised weights stay quantised in memory: diffusers' GGUF support (the `gguf` package) swaps each
linear layer for one that dequantises its weight when it runs. Our converters rename and split those
weights by rows (q | k | v), which keeps whole quantisation blocks, so they work on them unchanged.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch


class GGUFUnavailable(Exception):
    """The `gguf` package (a core dependency) is missing or too old."""


def read_gguf(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a .gguf file: quantised ones as diffusers' GGUFParameter (raw blocks), F32/F16 ones
    as plain tensors."""
    try:
        from diffusers.models.model_loading_utils import load_gguf_checkpoint
    except ImportError as e:      # pragma: no cover - diffusers is a core dependency
        raise GGUFUnavailable(str(e)) from e
    try:
        return load_gguf_checkpoint(str(path))
    except ImportError as e:
        raise GGUFUnavailable("reading .gguf files needs the gguf package (>= 0.10): pip install gguf") from e


def gguf_text_metadata(path: str | Path, prefix: str = "sd_webui_") -> dict[str, str]:
    """The file's string key-value entries whose key starts with `prefix` (the project's own tiny files keep
    their architecture there, as its safetensors files do in their metadata)."""
    from gguf import GGUFReader, GGUFValueType

    out = {}
    for key, entry in GGUFReader(str(path)).fields.items():
        if key.startswith(prefix) and entry.types == [GGUFValueType.STRING]:
            out[key] = bytes(entry.parts[entry.data[0]]).decode("utf-8")
    return out


def gguf_tensor_names(path: str | Path) -> list[str]:
    """The tensor names of a .gguf file, from its header (no weights read)."""
    from gguf import GGUFReader

    return [t.name for t in GGUFReader(str(path)).tensors]


def logical_shape(tensor: torch.Tensor) -> torch.Size:
    """A weight's shape as the model sees it: a quantised GGUF tensor's own shape counts bytes per row."""
    return getattr(tensor, "quant_shape", None) or tensor.shape


def is_quantized(tensors: dict[str, Any]) -> bool:
    from diffusers.quantizers.gguf.utils import GGUFParameter

    return any(isinstance(v, GGUFParameter) for v in tensors.values())


def quantized_model(cls: Any, converted: dict[str, torch.Tensor], config: dict, compute_dtype: torch.dtype
                    ) -> torch.nn.Module:
    """`cls` (a diffusers transformer) with GGUF linear layers holding `converted`'s quantised weights.
    diffusers builds such a model only through from_single_file, which reads the architecture from a
    folder: the config goes into a temporary one."""
    from diffusers import GGUFQuantizationConfig

    with tempfile.TemporaryDirectory(prefix="sdwebui-gguf-") as folder:
        sub = Path(folder) / "transformer"
        sub.mkdir()
        (sub / "config.json").write_text(json.dumps({"_class_name": cls.__name__, **config}), encoding="utf-8")
        return cls.from_single_file(converted, config=folder, subfolder="transformer", local_files_only=True,
                                    quantization_config=GGUFQuantizationConfig(compute_dtype=compute_dtype),
                                    torch_dtype=compute_dtype)
