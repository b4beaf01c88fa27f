"""sd-webui-controlnet's `external_code`: how other extensions (ADetailer, Regional Prompter, sd-webui
-animatediff ...) drive ControlNet. They import it by path, e.g.
`importlib.import_module("extensions-builtin.sd-webui-controlnet.scripts.external_code")`, build
`ControlNetUnit`s and put them in a job's script arguments with `update_cn_script_in_processing(p, units)`.

A unit made here is checked as an API unit is (a bad value raises ProcessingError naming the field);
its picture may also be a numpy array, as the extension allows.
"""
from __future__ import annotations

import sys
from copy import copy
from enum import Enum
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parents[1]) not in sys.path:    # imported by path before the scripts loaded
    sys.path.append(str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import controlnet_registry as registry  # noqa: E402
from controlnet_types import module_list  # noqa: E402
from controlnet_units import (HR_OPTIONS, UnitArgs, parse_unit, pixel_perfect_resolution,  # noqa: E402,F401
                              to_image)
from modules import shared  # noqa: E402
from sdwebui.engine.control.controlnet_unit import CONTROL_MODES  # noqa: E402
from sdwebui.engine.control.preprocess import RESIZE_MODES  # noqa: E402


class ControlMode(Enum):
    BALANCED = CONTROL_MODES[0]
    PROMPT = CONTROL_MODES[1]
    CONTROL = CONTROL_MODES[2]


class ResizeMode(Enum):
    RESIZE = RESIZE_MODES[0]
    INNER_FIT = RESIZE_MODES[1]
    OUTER_FIT = RESIZE_MODES[2]


class HiResFixOption(Enum):
    BOTH = HR_OPTIONS[0]
    LOW_RES_ONLY = HR_OPTIONS[1]
    HIGH_RES_ONLY = HR_OPTIONS[2]


class ControlNetUnit(UnitArgs):
    """A unit, from keyword arguments with the extension's field names (unknown ones are ignored)."""

    def __init__(self, **fields: Any) -> None:
        parsed = parse_unit(fields, ("ControlNetUnit",))
        super().__init__(**{name: getattr(parsed, name) for name in UnitArgs.__dataclass_fields__})

    @classmethod
    def from_dict(cls, values: dict) -> "ControlNetUnit":
        return cls(**values)


def get_api_version() -> int:
    return 3


def get_max_models_num() -> int:
    return registry.unit_count()


def get_models(update: bool = False) -> list[str]:
    """The names a unit's `model` takes (as /controlnet/model_list lists them)."""
    return registry.refresh() if update else registry.names()


def get_modules(alias_names: bool = False) -> list[str]:
    return module_list(alias_names)["module_list"]


def get_modules_detail(alias_names: bool = False) -> dict[str, Any]:
    return module_list(alias_names)["module_detail"]


def resize_mode_from_value(value: str | int | ResizeMode) -> ResizeMode:
    if isinstance(value, ResizeMode):
        return value
    if isinstance(value, int):
        return list(ResizeMode)[value] if 0 <= value < len(ResizeMode) else ResizeMode.RESIZE
    return ResizeMode(parse_unit({"resize_mode": value}, ("resize_mode",)).resize_mode)


def to_base64_nparray(encoding: str) -> np.ndarray:
    return np.asarray(to_image(encoding, "image").convert("RGB"), dtype=np.uint8)


def is_cn_script(script) -> bool:
    return script.title().lower() == "controlnet"


def find_cn_script(script_runner) -> Any:
    """The ControlNet script of a tab's ScriptRunner, or None."""
    if script_runner is None:
        return None
    return next((s for s in script_runner.alwayson_scripts if is_cn_script(s)), None)


def to_processing_unit(unit: dict | UnitArgs) -> UnitArgs:
    return ControlNetUnit.from_dict(unit) if isinstance(unit, dict) else unit


def get_all_units_from(script_args: list[Any]) -> list[UnitArgs]:
    """The units among ControlNet's own arguments: dicts become units, and a unit left off (None
    here; the extension's UI default) a disabled one."""
    return [ControlNetUnit(enabled=False) if a is None else to_processing_unit(a) for a in script_args
            if a is None or isinstance(a, (dict, UnitArgs))]


def get_single_unit_from(script_args: list[Any], index: int = 0) -> UnitArgs | None:
    present = [a for a in script_args if a is not None]
    return to_processing_unit(present[index]) if 0 <= index < len(present) else None


def get_all_units(script_runner, script_args: list[Any]) -> list[UnitArgs]:
    script = find_cn_script(script_runner)
    return get_all_units_from(list(script_args[script.args_from:script.args_to])) if script else []


def get_all_units_in_processing(p) -> list[UnitArgs]:
    return get_all_units(p.scripts, p.script_args)


def update_cn_script(script_runner, script_args, cn_units: list) -> Any:
    """`script_args` (a list or tuple, of the same type back) with `cn_units` as ControlNet's
    arguments, padded with disabled units to control_net_unit_count. Unchanged when the runner has
    no ControlNet or the arguments stop before its place. With more units than that count, the
    scripts after ControlNet move along (their args_from / args_to), as the extension does."""
    kind = type(script_args)
    script = find_cn_script(script_runner)
    if script is None or len(script_args) < script.args_from:
        return script_args
    units = list(cn_units) + [ControlNetUnit(enabled=False)] * max(0, get_max_models_num() - len(cn_units))
    updated = list(copy(script_args))
    shift = len(units) - (script.args_to - script.args_from)
    seen = False
    for other in script_runner.alwayson_scripts:
        if other is script:
            updated[script.args_from:script.args_to] = units
            script.args_to = script.args_from + len(units)
            seen = True
        elif seen and shift:
            other.args_from += shift
            other.args_to += shift
    return kind(updated)


def update_cn_script_in_processing(p, cn_units: list, **_kwargs: Any) -> None:
    p.script_args = update_cn_script(p.scripts, p.script_args_value, cn_units)


def update_cn_script_in_place(script_runner, script_args: list, cn_units: list, **_kwargs: Any) -> None:
    if not isinstance(script_args, list):
        raise TypeError(f"script_args must be a list to be updated in place; got {type(script_args).__name__}")
    script_args[:] = update_cn_script(script_runner, script_args, cn_units)


