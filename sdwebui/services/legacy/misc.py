"""Smaller A1111 modules whose names extensions import: `rng` (seeded noise), `masking` (crop
regions), `safe` (loading pickles), `lowvram`, `patches`, `sd_models_config`, `infotext_versions`,
`torch_utils`, `rng_philox`. Each over this project's own implementation where it has one."""
from __future__ import annotations

import logging
import os
import pickle
import re
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from sdwebui.engine.processing import img2img_prep
from sdwebui.engine.sampling import philox
from sdwebui.engine.sampling import rng as engine_rng
from sdwebui.services import runtime
from sdwebui.services.paths import SCRIPT_PATH
from sdwebui.services.legacy import unsupported, unsupported_class

logger = logging.getLogger(__name__)

__all__ = ["ImageRNG", "create_generator", "manual_seed", "randn", "randn_local", "randn_like", "randn_without_seed",
           "slerp", "get_crop_region", "get_crop_region_v2", "expand_crop_region", "fill", "load", "load_with_extra",
           "unsafe_torch_load", "Extra", "RestrictedUnpickler", "global_extra_handler", "send_everything_to_cpu",
           "is_needed", "is_enabled", "apply", "setup_for_low_vram", "module_in_gpu", "patch", "undo", "original",
           "PatchError", "config_default", "config_sd2", "config_sd2v", "config_sd2_inpainting", "config_sdxl",
           "config_sdxl_refiner", "config_inpainting", "config_instruct_pix2pix", "config_alt_diffusion",
           "config_alt_diffusion_m18", "config_depth_model", "config_unclip", "config_unopenclip", "config_sd3",
           "config_sdxl_inpainting", "find_checkpoint_config", "find_checkpoint_config_near_filename", "guess_model_config_from_state_dict",
           "v160", "v170_tsnr", "v180", "v180_hr_styles", "parse_version", "backcompat", "get_param", "float64",
           "Generator", "philox4_32", "box_muller"]

# --- modules.rng ------------------------------------------------------------------------------

slerp = engine_rng.slerp


def _device() -> torch.device:
    return runtime.device or torch.device("cpu")


def _randn_source() -> str:
    return getattr(runtime.opts, "randn_source", "GPU") if runtime.opts is not None else "GPU"


def create_generator(seed: int) -> torch.Generator:
    return torch.Generator(device=engine_rng.noise_device(_device(), _randn_source())).manual_seed(int(seed))


def randn(seed: int, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    """Noise of `shape` from `seed` (or `generator`), on the device the settings draw noise on,
    returned on the model's device."""
    gen = generator or create_generator(seed)
    return torch.randn(shape, generator=gen, device=gen.device).to(_device())


def randn_local(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    """randn() that leaves torch's global generator alone (it never touches it here anyway)."""
    return randn(seed, shape)


def randn_like(x: torch.Tensor) -> torch.Tensor:
    device = engine_rng.noise_device(_device(), _randn_source())
    return torch.randn(x.shape, dtype=x.dtype, device=device).to(x.device)


def randn_without_seed(shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    device = generator.device if generator is not None else engine_rng.noise_device(_device(), _randn_source())
    return torch.randn(shape, generator=generator, device=device).to(_device())


def manual_seed(seed: int) -> None:
    torch.manual_seed(int(seed))


class ImageRNG(engine_rng.ImageRNG):
    """A1111's ImageRNG(shape, seeds, subseeds=None, subseed_strength=0.0, seed_resize_from_h=0,
    seed_resize_from_w=0): the engine's, on the running app's device and noise source."""

    def __init__(self, shape: tuple[int, ...], seeds: list[int], subseeds: list[int] | None = None,
                 subseed_strength: float = 0.0, seed_resize_from_h: int = 0, seed_resize_from_w: int = 0,
                 **kwargs: Any) -> None:
        kwargs.setdefault("device", _device())
        kwargs.setdefault("randn_source", _randn_source())
        super().__init__(shape, seeds, subseeds=subseeds, subseed_strength=subseed_strength,
                         seed_resize_from_w=seed_resize_from_w or -1, seed_resize_from_h=seed_resize_from_h or -1,
                         **kwargs)


# --- rng_philox: A1111's "NV" noise source ------------------------------------------------------

Generator = philox.PhiloxGenerator
box_muller = philox.box_muller


def philox4_32(counter: Any, key: Any, rounds: int = 10) -> Any:
    """A1111's signature: `counter` (4xN uint32) is overwritten with the random words and returned."""
    counter[...] = philox.philox4x32(counter, key, rounds)
    return counter


# --- modules.masking ----------------------------------------------------------------------------


def _as_image(mask: Any) -> Image.Image:
    return mask if isinstance(mask, Image.Image) else Image.fromarray(np.asarray(mask))


def get_crop_region_v2(mask: Any, pad: int = 0) -> tuple[int, int, int, int] | None:
    """The box around the mask's non-zero pixels grown by `pad` (clipped), or None for an empty mask."""
    return img2img_prep.mask_crop_region(_as_image(mask), pad)


def get_crop_region(mask: Any, pad: int = 0) -> tuple[int, int, int, int]:
    """get_crop_region_v2, except that an empty mask gives A1111's inverted box instead of None."""
    image = _as_image(mask)
    box = get_crop_region_v2(image, pad)
    if box is not None:
        return box
    w, h = image.size
    return max(w - pad, 0), max(h - pad, 0), min(pad, w), min(pad, h)


expand_crop_region = img2img_prep.expand_crop_region
fill = img2img_prep.fill_masked

# --- modules.safe -------------------------------------------------------------------------------


class Extra:
    """A1111's context manager that lets extra classes through its restricted unpickler. Loading
    here uses torch's weights_only unpickler, which takes its allowed globals from
    torch.serialization.add_safe_globals; `handler(module, name)` answers which to allow."""

    def __init__(self, handler: Callable[[str, str], Any]) -> None:
        self.handler = handler

    def __enter__(self) -> "Extra":
        global global_extra_handler
        if global_extra_handler is not None:
            raise RuntimeError("safe.Extra is already active")
        global_extra_handler = self.handler
        return self

    def __exit__(self, *exc: Any) -> None:
        global global_extra_handler
        global_extra_handler = None


global_extra_handler: Callable[[str, str], Any] | None = None
unsafe_torch_load = torch.load      # A1111 keeps the unrestricted torch.load under this name


class RestrictedUnpickler(pickle.Unpickler):
    """Refuses every global except torch's tensor rebuilding and plain containers."""

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("torch") or module in ("collections", "numpy.core.multiarray", "numpy", "_codecs"):
            return super().find_class(module, name)
        if global_extra_handler is not None:
            found = global_extra_handler(module, name)
            if found is not None:
                return found
        raise pickle.UnpicklingError(f"global '{module}/{name}' is forbidden")


def load(filename: str, *args: Any, **kwargs: Any) -> Any:
    """torch.load that runs no code from the file (weights_only=True), as A1111's safe.load intends."""
    return load_with_extra(filename, None, *args, **kwargs)


def load_with_extra(filename: str, extra_handler: Callable[[str, str], Any] | None = None, *args: Any,
                    **kwargs: Any) -> Any:
    kwargs["weights_only"] = True
    return torch.load(filename, *args, **kwargs)


# --- modules.lowvram ----------------------------------------------------------------------------

module_in_gpu = None


def send_everything_to_cpu() -> None:
    """A1111 moves the UNet, text encoders and VAE to the CPU before an extension uses the GPU;
    here the model manager's offloading does that: the resident model's parts go to the CPU."""
    model = runtime.model_manager.sd_model if runtime.model_manager is not None else None
    for part in (model.components() if model is not None else []):
        part.to("cpu")


def is_needed(sd_model: Any) -> bool:
    flags = runtime.cmd_opts
    return bool(flags is not None and (flags.lowvram or flags.medvram
                                       or (flags.medvram_sdxl and getattr(sd_model, "is_sdxl", False))))


def is_enabled(sd_model: Any) -> bool:
    return is_needed(sd_model)


def apply(sd_model: Any) -> None:
    """Offloading is chosen by the model manager at load (--medvram/--lowvram); nothing to add."""


setup_for_low_vram = unsupported("lowvram.setup_for_low_vram",
                                 "--medvram / --lowvram offload diffusers components at load (services/models/offload.py)")

# --- modules.patches ----------------------------------------------------------------------------

_originals: dict[tuple[str, Any, str], Any] = {}


class PatchError(RuntimeError):
    pass


def patch(key: str, obj: Any, field: str, replacement: Any) -> Any:
    """Replace obj.field with `replacement`, remembering the original under `key`; returns it."""
    patch_key = (key, obj, field)
    if patch_key in _originals:
        raise PatchError(f"{key}: {obj}.{field} is already patched")
    original_value = getattr(obj, field)
    _originals[patch_key] = original_value
    setattr(obj, field, replacement)
    return original_value


def undo(key: str, obj: Any, field: str) -> Any:
    """Put the original obj.field back; None when it was not patched."""
    patch_key = (key, obj, field)
    if patch_key not in _originals:
        return None
    original_value = _originals.pop(patch_key)
    setattr(obj, field, original_value)
    return original_value


def original(key: str, obj: Any, field: str) -> Any:
    return _originals.get((key, obj, field))


# --- modules.sd_models_config: A1111's LDM config files -----------------------------------------
# This backend reads a checkpoint's architecture from its tensors and ships diffusers configs; the
# names stay, as the paths A1111 would use (under configs/), for extensions that compare them.

_CONFIGS = os.path.join(str(SCRIPT_PATH), "configs")
config_default = os.path.join(_CONFIGS, "v1-inference.yaml")
config_sd2 = os.path.join(_CONFIGS, "v2-inference.yaml")
config_sd2v = os.path.join(_CONFIGS, "v2-inference-v.yaml")
config_sd2_inpainting = os.path.join(_CONFIGS, "v2-inpainting-inference.yaml")
config_sdxl = os.path.join(_CONFIGS, "sd_xl_base.yaml")
config_sdxl_refiner = os.path.join(_CONFIGS, "sd_xl_refiner.yaml")
config_sdxl_inpainting = os.path.join(_CONFIGS, "sd_xl_inpaint.yaml")
config_depth_model = os.path.join(_CONFIGS, "v2-midas-inference.yaml")
config_unclip = os.path.join(_CONFIGS, "v2-1-stable-unclip-l-inference.yaml")
config_unopenclip = os.path.join(_CONFIGS, "v2-1-stable-unclip-h-inference.yaml")
config_inpainting = os.path.join(_CONFIGS, "v1-inpainting-inference.yaml")
config_instruct_pix2pix = os.path.join(_CONFIGS, "instruct-pix2pix.yaml")
config_alt_diffusion = os.path.join(_CONFIGS, "alt-diffusion-inference.yaml")
config_alt_diffusion_m18 = os.path.join(_CONFIGS, "alt-diffusion-m18-inference.yaml")
config_sd3 = os.path.join(_CONFIGS, "sd3-inference.yaml")


def find_checkpoint_config_near_filename(info: Any) -> str | None:
    """The .yaml next to the checkpoint, if there is one (A1111 lets it override the architecture)."""
    if info is None:
        return None
    config = os.path.splitext(str(info.filename))[0] + ".yaml"
    return config if os.path.exists(config) else None


def find_checkpoint_config(state_dict: Any, info: Any) -> str:
    return find_checkpoint_config_near_filename(info) or guess_model_config_from_state_dict(state_dict, "")


def guess_model_config_from_state_dict(sd: dict[str, Any], filename: str) -> str:
    """A1111's guess of the LDM config by key names (SDXL, SD2-v, inpainting, SD1)."""
    keys = sd.keys() if sd is not None else ()
    if "conditioner.embedders.1.model.ln_final.weight" in keys:
        return config_sdxl
    if "conditioner.embedders.0.model.ln_final.weight" in keys:
        return config_sdxl_refiner
    if "cond_stage_model.model.ln_final.weight" in keys:
        return config_sd2
    weight = sd.get("model.diffusion_model.input_blocks.0.0.weight") if sd is not None else None
    if weight is not None and weight.shape[1] == 9:
        return config_inpainting
    return config_default


# --- modules.infotext_versions ------------------------------------------------------------------

v160, v170_tsnr, v180, v180_hr_styles = "1.6.0", "v1.7.0-225", "1.8.0", "1.8.0-139"
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-(\d+))?")


def parse_version(text: str) -> tuple[int, ...] | None:
    m = _VERSION.match(text or "")
    return tuple(int(g or 0) for g in m.groups()) if m else None


def backcompat(d: dict[str, Any]) -> None:
    """A1111 sets the compatibility options an old image's infotext implies; the infotext parser
    here does that itself (engine/images/infotext.py)."""
    from sdwebui.engine.images import infotext

    infotext._backcompat(d)


# --- modules.torch_utils ------------------------------------------------------------------------

def get_param(model: Any) -> torch.nn.Parameter:
    """The first parameter of a module (to read its device and dtype)."""
    if hasattr(model, "model") and hasattr(model.model, "parameters"):
        model = model.model
    return next(model.parameters())


def float64(t: torch.Tensor) -> torch.dtype:
    """float64, or float32 on devices without it (MPS, XPU)."""
    return torch.float32 if t.device.type in ("mps", "xpu") else torch.float64
