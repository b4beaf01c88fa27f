"""A ControlNet unit as API clients send it: every field, default and old spelling that
sd-webui-controlnet accepts, checked with a 422 that names the field (the extension answers 500).

Unknown keys are ignored, as there. `resize_mode` and `control_mode` take the text or the number
(API v2 clients send numbers). `image` is base64, `{"image", "mask"}`, `[image, mask]`, or "" for none.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

import numpy as np
from PIL import Image

import controlnet_registry as registry
from sdwebui.engine.control.controlnet_unit import CONTROL_MODES
from sdwebui.engine.control.preprocess import INPAINT, RESIZE_MODES, PreprocessorError, check_weights, detect, find
from sdwebui.engine.errors import ProcessingError
from sdwebui.services.generation_requests import decode_base64_image

logger = logging.getLogger(__name__)

HR_OPTIONS = ("Both", "Low res only", "High res only")
_RESIZE_ALIASES = {"Inner Fit (Scale to Fit)": RESIZE_MODES[1], "Scale to Fit (Inner Fit)": RESIZE_MODES[1],
                   "Outer Fit (Shrink to Fit)": RESIZE_MODES[2], "Envelope (Outer Fit)": RESIZE_MODES[2]}
_ALIASES = {"input_image": "image", "mask_image": "mask", "lowvram": "low_vram", "guidance": "guidance_end"}


@dataclass
class UnitArgs:
    enabled: bool = False
    module: str = "none"
    model: str = "None"
    weight: float = 1.0
    image: Any = None
    mask: Any = None
    resize_mode: str = RESIZE_MODES[1]
    low_vram: bool = False
    processor_res: int = -1
    threshold_a: float = -1
    threshold_b: float = -1
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    pixel_perfect: bool = False
    control_mode: str = CONTROL_MODES[0]
    hr_option: str = HR_OPTIONS[0]
    save_detected_map: bool = True
    advanced_weighting: list[float] | None = None
    effective_region_mask: Any = None       # where the unit acts: a picture (base64, PIL, numpy), white = all
    extra: dict = field(default_factory=dict)       # accepted, unused here (UI-only fields)

    INFOTEXT = (("module", "Module"), ("model", "Model"), ("weight", "Weight"), ("resize_mode", "Resize Mode"),
                ("processor_res", "Processor Res"), ("threshold_a", "Threshold A"), ("threshold_b", "Threshold B"),
                ("guidance_start", "Guidance Start"), ("guidance_end", "Guidance End"),
                ("pixel_perfect", "Pixel Perfect"), ("control_mode", "Control Mode"))

    def model_dump(self) -> dict:
        """The unit as an API client sends it (the payload display shows a UI generation's units so)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}

    def infotext(self) -> str:
        return ", ".join(f"{label}: {getattr(self, name)}" for name, label in self.INFOTEXT)


_NAMES = {f.name for f in fields(UnitArgs)} - {"extra"}


def _choice(value: Any, choices: tuple[str, ...], aliases: dict[str, str], where: tuple, numbers_past_end: str | None):
    if isinstance(value, Enum):       # external_code's ControlMode / ResizeMode / HiResFixOption
        value = value.value
    if isinstance(value, bool):
        raise ProcessingError(where, f"{where[-1]} must be one of {list(choices)} (or 0-{len(choices) - 1})")
    if isinstance(value, int):
        if 0 <= value < len(choices):
            return choices[value]
        if numbers_past_end is not None:
            return numbers_past_end
    if isinstance(value, str):
        value = aliases.get(value, value)
        if value in choices:
            return value
    raise ProcessingError(where, f"{where[-1]} must be one of {list(choices)} (or 0-{len(choices) - 1}); got {value!r}")


def _number(value: Any, where: tuple, kind=float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ProcessingError(where, f"{where[-1]} must be a number; got {value!r}") from None
    return kind(value) if kind is int else value


def parse_unit(raw: Any, where: tuple) -> UnitArgs | None:
    """A unit from its JSON object; None for what is not one (the old flat positional form)."""
    if isinstance(raw, UnitArgs):
        return raw
    if not isinstance(raw, dict):
        logger.warning("ControlNet: ignoring an argument that is not a unit object (%s)", type(raw).__name__)
        return None
    given: dict[str, Any] = {}
    for key, value in raw.items():
        name = _ALIASES.get(key, key)
        if name in given and key in _ALIASES:
            raise ProcessingError((*where, key), f"{key} and {name} both given; send one")
        given[name] = value
    unit = UnitArgs(extra={k: v for k, v in given.items() if k not in _NAMES})
    for name, value in given.items():
        if name not in _NAMES or value is None:
            continue
        at = (*where, name)
        if name in ("enabled", "low_vram", "pixel_perfect", "save_detected_map"):
            value = bool(value)
        elif name in ("weight", "threshold_a", "threshold_b", "guidance_start", "guidance_end"):
            value = _number(value, at)
        elif name == "processor_res":
            value = _number(value, at, int)
        elif name == "resize_mode":
            value = _choice(value, RESIZE_MODES, _RESIZE_ALIASES, at, RESIZE_MODES[0])
        elif name == "control_mode":
            value = _choice(value, CONTROL_MODES, {}, at, None)
        elif name == "hr_option":
            value = _choice(value, HR_OPTIONS, {}, at, None)
        elif name == "advanced_weighting":
            if not isinstance(value, list) or not all(isinstance(w, (int, float)) for w in value):
                raise ProcessingError(at, "advanced_weighting must be a list of numbers")
            value = [float(w) for w in value]
        elif name in ("module", "model"):
            value = str(value)
        setattr(unit, name, value)
    if not 0 <= unit.weight <= 2:
        raise ProcessingError((*where, "weight"), f"weight must be between 0 and 2; got {unit.weight}")
    for name in ("guidance_start", "guidance_end"):
        if not 0 <= getattr(unit, name) <= 1:
            raise ProcessingError((*where, name), f"{name} must be between 0 and 1; got {getattr(unit, name)}")
    if unit.guidance_start > unit.guidance_end:
        raise ProcessingError((*where, "guidance_start"), f"guidance_start ({unit.guidance_start}) is after "
                                                          f"guidance_end ({unit.guidance_end})")
    try:
        unit.module = find(unit.module).name
    except PreprocessorError as e:
        raise ProcessingError((*where, "module"), str(e)) from None
    _split_image(unit, where)
    return unit


def _split_image(unit: UnitArgs, where: tuple) -> None:
    image = unit.image
    if isinstance(image, (str, list)) and not image:
        image = None
    if isinstance(image, list):
        if len(image) != 2:
            raise ProcessingError((*where, "image"), "image as a list must be [image, mask]")
        image, mask = image
        unit.mask = unit.mask if unit.mask is not None else mask
    if isinstance(image, dict):
        if "image" not in image:
            raise ProcessingError((*where, "image"), "image as an object needs its 'image' key")
        unit.mask = unit.mask if unit.mask is not None else image.get("mask")
        image = image["image"]
    unit.image = None if image is None or (isinstance(image, str) and not image) else image
    if unit.mask is None or (isinstance(unit.mask, str) and not unit.mask):
        unit.mask = None
    elif unit.image is None:
        raise ProcessingError((*where, "mask"), "a mask was given without an image")


def clamp_sliders(unit: UnitArgs) -> None:
    """Values outside the module's sliders become the slider's default, with the extension's log line
    (-1 means "the default" and is replaced silently)."""
    pre = find(unit.module)
    for name, which in (("processor_res", "res"), ("threshold_a", "a"), ("threshold_b", "b")):
        if name == "processor_res" and not pre.has_resolution:
            continue
        slider = pre.slider(which)
        value = getattr(unit, name)
        if not slider.min <= value <= slider.max:
            if value != -1:
                logger.info("[%s.%s] Invalid value(%s), using default value %s.", unit.module, name, value, slider.value)
            setattr(unit, name, slider.value)


def to_rgb_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def prepare_module(unit: UnitArgs):
    """The unit's preprocessor, refused (PreprocessorError naming what it needs) when it cannot run
    here; the unit's slider values are brought into the module's ranges on the way."""
    pre = find(unit.module)
    check_weights(pre, registry.annotator_dir())
    clamp_sliders(unit)
    return pre


def detect_map(pre, unit: UnitArgs, image: Image.Image, mask: np.ndarray | None = None,
               resolution: int | None = None, seed: int | None = None) -> np.ndarray:
    """The control map of `image` (with `mask` as alpha for the inpaint modules) at `resolution`
    (default: the unit's); a random module (shuffle) draws from `seed`."""
    source = to_rgb_array(image)
    if pre.name in INPAINT:
        source = np.dstack([source, mask])
    return detect(pre, source, unit.processor_res if resolution is None else resolution,
                  unit.threshold_a, unit.threshold_b, seed)


def pixel_perfect_resolution(image_size: tuple[int, int], target: tuple[int, int], resize_mode: str) -> int:
    """The preprocessor resolution at which the map needs no rescaling for the target (w, h)."""
    (w, h), (tw, th) = image_size, target
    k = (min if resize_mode == RESIZE_MODES[2] else max)(th / h, tw / w)
    return int(round(min(h, w) * k))


def to_image(value: Any, where: str) -> Image.Image:
    """A unit's picture as clients give it: base64 text, a PIL image, or (extensions driving units
    through external_code) a numpy array."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, np.ndarray):
        array = value if value.dtype == np.uint8 else np.clip(value, 0, 255).astype(np.uint8)
        return Image.fromarray(array)
    return decode_base64_image(value, where)
