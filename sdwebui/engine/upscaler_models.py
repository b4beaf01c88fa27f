"""Upscaler model files, read with the `spandrel` library: its lazy import, reading a file's tensors
safely, and what kind of model a file holds.

spandrel declares torchvision as a dependency, but only two of its architectures use it (LaMa, an
inpainting model, and RestoreFormer, a face restorer; neither is an upscaler). torchvision is not
installed here (docs/dependencies.md: the build the index offers does not import next to a CPU torch,
and a newer one drags in a second, CUDA, torch), so when it is missing or does not import, spandrel
is imported with a placeholder torchvision in `sys.modules` for the duration of the import only;
calling one of those two architectures then fails with a clear message instead of the whole
library being unusable.
"""
from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

# spandrel is imported lazily: it costs about a second and is only needed once a model file exists
_spandrel_lock = threading.Lock()
_spandrel_module: types.ModuleType | None = None
_spandrel_error: str | None = None
_TORCHVISION_STUB_NAMES = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")


def _torchvision_stub() -> dict[str, types.ModuleType]:
    """Modules standing in for the three torchvision names spandrel imports at import time
    (`InterpolationMode`, `rotate`, `normalize`). Calling the functions raises."""

    def missing(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("this model architecture needs torchvision, which is not installed")

    class InterpolationMode:  # only the attribute names are read at import time
        NEAREST = "nearest"
        BILINEAR = "bilinear"
        BICUBIC = "bicubic"

    root, transforms, functional = (types.ModuleType(n) for n in _TORCHVISION_STUB_NAMES)
    functional.rotate = missing  # type: ignore[attr-defined]
    functional.normalize = missing  # type: ignore[attr-defined]
    functional.InterpolationMode = InterpolationMode  # type: ignore[attr-defined]
    transforms.functional = functional  # type: ignore[attr-defined]
    root.transforms = transforms  # type: ignore[attr-defined]
    return dict(zip(_TORCHVISION_STUB_NAMES, (root, transforms, functional)))


def _torchvision_imports() -> bool:
    """Whether an installed torchvision imports. One built for another torch (PyPI's CUDA build next to
    a CPU torch: "operator torchvision::nms does not exist") fails at import, which would take every
    spandrel architecture down with it; its half-imported modules are dropped and the stand-in used."""
    try:
        import torchvision.transforms.functional  # noqa: F401, PLC0415
        return True
    except Exception as e:  # noqa: BLE001 - any failure means: not usable
        logger.warning("torchvision is installed but does not import (%s: %s); upscalers use spandrel without it",
                       type(e).__name__, _first_line(e))
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        return False


def import_spandrel() -> types.ModuleType:
    """Import spandrel once, without torchvision if need be; raise RuntimeError with the reason
    when it cannot be used at all."""
    global _spandrel_module, _spandrel_error
    with _spandrel_lock:
        if _spandrel_module is not None:
            return _spandrel_module
        if _spandrel_error is not None:
            raise RuntimeError(_spandrel_error)
        stubbed: list[str] = []
        try:
            if importlib.util.find_spec("spandrel") is None:
                raise ImportError("the 'spandrel' package is not installed")
            if importlib.util.find_spec("torchvision") is None or not _torchvision_imports():
                # The placeholder is visible only while spandrel imports: other libraries probing
                # for torchvision afterwards (transformers, diffusers) must still see it missing.
                for name, module in _torchvision_stub().items():
                    if name not in sys.modules:
                        sys.modules[name] = module
                        stubbed.append(name)
            import spandrel  # noqa: PLC0415 (lazy on purpose)
            _spandrel_module = spandrel
            logger.info("spandrel %s loaded%s", getattr(spandrel, "__version__", "?"),
                        " (without torchvision: LaMa and RestoreFormer unavailable)" if stubbed else "")
            return spandrel
        except Exception as e:  # any failure makes model files unusable, never the server
            _spandrel_error = f"upscaler models are unavailable: cannot import spandrel ({type(e).__name__}: {e})"
            logger.warning(_spandrel_error)
            raise RuntimeError(_spandrel_error) from e
        finally:
            for name in stubbed:
                sys.modules.pop(name, None)


@dataclass(frozen=True)
class ModelMeta:
    """What detection found out about a model file (cached per path, size and mtime)."""
    architecture: str
    purpose: str
    scale: int
    input_channels: int
    output_channels: int


def read_state_dict(path: Path) -> dict[str, Any]:
    """The tensors of a model file. Pickles are read with weights_only=True: a downloaded model file
    must not be able to run code."""
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file  # noqa: PLC0415
        return load_file(str(path), device="cpu")
    try:
        # mmap avoids reading big files twice into memory; legacy (non-zip) pickles do not support it.
        sd = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as e:
        if "mmap" not in str(e):
            raise
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(sd, dict):
        raise ValueError(f"expected a state dict, found {type(sd).__name__}")
    return sd


def load_descriptor(path: Path) -> Any:
    """Read a model file and build the spandrel model on the CPU. Raises with a readable reason."""
    spandrel = import_spandrel()
    try:
        sd = read_state_dict(path)
    except Exception as e:
        if "Weights only load failed" in str(e):
            # torch's own message suggests weights_only=False, which would let the file run code.
            raise ValueError("cannot read the file: it holds pickled objects other than tensors, "
                             "which are not loaded for safety") from e
        raise ValueError(f"cannot read the file: not a readable PyTorch or safetensors model "
                         f"({type(e).__name__}: {_first_line(e)})") from e
    sd = spandrel.canonicalize_state_dict(sd)
    try:
        with warnings.catch_warnings():
            # Some architectures warn about torch internals (meshgrid indexing) on construction.
            warnings.simplefilter("ignore", UserWarning)
            descriptor = spandrel.ModelLoader(device="cpu").load_from_state_dict(sd)
    except spandrel.UnsupportedModelError as e:
        raise ValueError("unsupported model architecture (spandrel does not recognise it)") from e
    except Exception as e:
        raise ValueError(f"cannot load the model ({type(e).__name__}: {_first_line(e)})") from e
    return descriptor


def describe(descriptor: Any) -> ModelMeta:
    """Metadata of a loaded model; raises ValueError for models that are not image-to-image upscalers."""
    purpose = str(getattr(descriptor, "purpose", "?"))
    arch = getattr(getattr(descriptor, "architecture", None), "name", type(descriptor).__name__)
    if purpose not in ("SR", "Restoration"):
        # FaceSR (GFPGAN, RestoreFormer...) and Inpainting (LaMa) take other inputs or only faces.
        raise ValueError(f"{arch} is a {purpose} model, not an upscaler")
    meta = ModelMeta(architecture=str(arch), purpose=purpose, scale=int(descriptor.scale),
                      input_channels=int(descriptor.input_channels),
                      output_channels=int(descriptor.output_channels))
    if meta.scale < 1:
        raise ValueError(f"unsupported scale {meta.scale}")
    if meta.input_channels not in (1, 3, 4) or meta.output_channels not in (1, 3, 4):
        raise ValueError(f"unsupported channels {meta.input_channels}->{meta.output_channels}")
    return meta


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else ""
