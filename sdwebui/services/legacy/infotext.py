"""A1111's `modules.infotext_utils` functions that are not UI: reading a pasted infotext with the
running app's settings and styles, and turning "Key: value" pairs (the UI's override-settings
dropdown, agent-scheduler's stored tasks) into `override_settings`."""
from __future__ import annotations

import logging
from typing import Any

from sdwebui.engine.images.infotext import quote, unquote  # noqa: F401 (A1111 names)
from sdwebui.services import infotext_paste, runtime

logger = logging.getLogger(__name__)

__all__ = ["create_override_settings_dict", "infotext_to_setting_name_mapping", "parse_generation_parameters",
           "quote", "unquote"]

# A1111 keeps this for old extensions; options declare their infotext key now (OptionInfo(infotext=...))
infotext_to_setting_name_mapping: list[tuple[str, str]] = []


def parse_generation_parameters(x: str, skip_fields: list[str] | None = None) -> dict[str, Any]:
    return infotext_paste.parse_pasted(x, runtime.opts, runtime.prompt_styles, skip_fields)


def create_override_settings_dict(text_pairs: list[str]) -> dict[str, Any]:
    """["Clip skip: 2", "ENSD: 31337"] -> {"CLIP_stop_at_last_layers": 2, "eta_noise_seed_delta": 31337}:
    each pair whose key is an option's infotext name, cast to the option's type."""
    params: dict[str, str] = {}
    for pair in text_pairs or []:
        key, sep, value = str(pair).partition(":")
        if not sep:
            raise ValueError(f"override setting {pair!r} is not 'Name: value'")
        params[key] = value.strip()
    opts = runtime.opts
    if opts is None:
        return {}
    mapping = [(info.infotext, key) for key, info in opts.data_labels.items() if info.infotext]
    result: dict[str, Any] = {}
    for name, key in mapping + infotext_to_setting_name_mapping:
        if name in params:
            result[key] = opts.cast_value(key, params[name])
    return result
