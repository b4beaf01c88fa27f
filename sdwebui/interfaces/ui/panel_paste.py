"""Pasting parameters into a generation panel (generation.Panel): one update per field, and the
scripts' controls that declare `infotext_fields`. Used by the panel's ↙ button (generation.py),
the gallery's send-to buttons (app.py) and the extensions' send-to bindings (paste_bindings.py)."""
from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)


def field_updates(panel: Any, values: dict[str, Any]) -> list:
    """One update per field component: the pasted value where there is one, else unchanged."""
    known_styles = set(shared.prompt_styles.styles) if shared.prompt_styles else set()
    out = []
    for key, comp in panel.fields.items():
        value = values.get(key)
        if key == "override_settings":       # each paste sets it: what the text pins, or nothing
            out.append(override_settings_update(value or {}))
            continue
        if key == "styles" and value is not None:
            value = [s for s in value if s in known_styles]
        out.append(gr.update(value=value) if value is not None else gr.skip())
    return out



def override_settings_update(settings: dict[str, Any]) -> dict:
    """The Override settings dropdown showing `settings` (option key -> value) as A1111 does: one
    "Clip skip: 2" text per setting, by the option's infotext name; hidden when there are none."""
    labels = shared.opts.data_labels if shared.opts is not None else {}
    texts = []
    for key, value in settings.items():
        info = labels.get(key)
        texts.append(f"{(info.infotext if info is not None else None) or key}: {value}")
    return gr.update(value=texts, choices=texts, visible=bool(texts))


def script_infotext_fields(runner: Any) -> list[tuple]:
    """(component, infotext key) of the scripts' controls that declare `infotext_fields`."""
    fields = []
    for script in runner.scripts:
        for item in script.infotext_fields or []:
            try:
                component, key = item
            except (TypeError, ValueError):
                continue
            if isinstance(component, gr.components.Component):
                fields.append((component, key))
    return fields


def script_value(component: Any, key: Any, params: dict) -> Any:
    """One script control's pasted value: `key` names an infotext key, or is fn(params) -> value."""
    try:
        value = key(params) if callable(key) else params.get(key)
    except Exception:
        logger.exception("infotext_fields function of a script failed")
        return gr.skip()
    if value is None:
        return gr.skip()
    if isinstance(value, dict) and "__type__" in value:
        return value      # the function made the update itself (gr.Dropdown.update(value=...) in gradio 3 style)
    if isinstance(component, gr.Checkbox) and isinstance(value, str):
        value = value.strip().lower() in ("true", "1", "yes", "on")
    elif isinstance(component, (gr.Slider, gr.Number)) and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return gr.skip()
    return gr.update(value=value)
