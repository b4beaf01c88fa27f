"""A1111's "send parameters to a tab" bindings (`modules.infotext_utils`, formerly
`generation_parameters_copypaste`): `ParamBinding`, `register_paste_params_button`,
`connect_paste_params_buttons`, `registered_param_bindings`, `paste_fields`, `add_paste_fields`,
`create_buttons`, `bind_buttons`.

Extensions register a button with a source (an infotext textbox, an image or gallery, another tab's
fields) and a target tab; once every tab exists, the UI connects them all. For the txt2img and img2img
tabs the paste goes through this UI's own rules (`pnginfo.paste_fields`: sampler and schedule
resolution, hires fix, override settings) and the scripts' `infotext_fields`, as the tabs' own paste
button does; for a tab an extension registers with `add_paste_fields`, A1111's rule applies (each
field gets the infotext value named by its key, converted to the component's value type).
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import gradio as gr

from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)

__all__ = ["ParamBinding", "PasteField", "add_paste_fields", "bind_buttons", "connect_paste_params_buttons",
           "create_buttons", "image_from_value", "paste_fields", "register_paste_params_button",
           "registered_param_bindings", "reset"]


class ParamBinding:
    """A button that sends parameters (and an image) to the tab `tabname` (A1111's fields)."""

    def __init__(self, paste_button: Any, tabname: str, source_text_component: Any = None,
                 source_image_component: Any = None, source_tabname: str | None = None,
                 override_settings_component: Any = None, paste_field_names: list[str] | None = None) -> None:
        self.paste_button = paste_button
        self.tabname = tabname
        self.source_text_component = source_text_component
        self.source_image_component = source_image_component
        self.source_tabname = source_tabname
        self.override_settings_component = override_settings_component
        self.paste_field_names = paste_field_names or []


class PasteField(tuple):
    """(component, infotext key or fn(params) -> value), with `api` naming the request field."""

    def __new__(cls, component: Any, target: Any, *, api: str | None = None) -> "PasteField":
        return super().__new__(cls, (component, target))

    def __init__(self, component: Any, target: Any, *, api: str | None = None) -> None:
        super().__init__()
        self.api = api
        self.component = component
        self.label = target if isinstance(target, str) else None
        self.function = target if callable(target) else None


# tab name -> {"init_img": component or None, "fields": [PasteField], "override_settings_component": ...}
paste_fields: dict[str, dict] = {}
registered_param_bindings: list[ParamBinding] = []
# this UI's txt2img/img2img panels and where a binding's paste lands (set by the app, see `register_tab`)
_panels: dict[str, Any] = {}
_targets: dict[str, dict[str, Any]] = {}

# request field -> A1111's infotext key, for the A1111-shaped `paste_fields` of this UI's panels
_INFOTEXT_KEYS = {"prompt": "Prompt", "negative_prompt": "Negative prompt", "steps": "Steps",
                  "sampler_name": "Sampler", "scheduler": "Schedule type", "cfg_scale": "CFG scale",
                  "seed": "Seed", "width": "Size-1", "height": "Size-2", "batch_size": "Batch size",
                  "subseed": "Variation seed", "subseed_strength": "Variation seed strength",
                  "denoising_strength": "Denoising strength", "hr_scale": "Hires upscale",
                  "hr_upscaler": "Hires upscaler", "hr_second_pass_steps": "Hires steps",
                  "hr_resize_x": "Hires resize-1", "hr_resize_y": "Hires resize-2", "hr_cfg": "Hires CFG Scale",
                  "distilled_cfg_scale": "Distilled CFG Scale", "hr_distilled_cfg": "Hires Distilled CFG Scale"}
# what A1111 copies between tabs (source_tabname), as infotext keys
_TAB_TO_TAB = ["Prompt", "Negative prompt", "Steps", "Face restoration"]


def reset() -> None:
    paste_fields.clear()
    registered_param_bindings.clear()
    _panels.clear()
    _targets.clear()


def add_paste_fields(tabname: str, init_img: Any, fields: list | None, override_settings_component: Any = None) -> None:
    """Make `tabname` a target: `fields` lists (component, infotext key or function)."""
    fields = [f if isinstance(f, PasteField) else PasteField(*f) for f in (fields or [])]
    paste_fields[tabname] = {"init_img": init_img, "fields": fields,
                             "override_settings_component": override_settings_component}


def register_tab(tabname: str, panel: Any, init_img: Any, switch: Callable[[], list], switch_outputs: list) -> None:
    """One of this UI's generation tabs as a target: `panel` (generation.Panel) takes the pasted
    fields, `init_img` the image, and `switch()` gives the updates of `switch_outputs` that bring the
    tab forward (the main tabs, img2img's mode tabs)."""
    if panel is not None:
        _panels[tabname] = panel
        add_paste_fields(tabname, init_img, [PasteField(c, _INFOTEXT_KEYS[k], api=k)
                                             for k, c in panel.fields.items() if k in _INFOTEXT_KEYS])
    else:
        add_paste_fields(tabname, init_img, [])
    _targets[tabname] = {"switch": switch, "outputs": switch_outputs}


def create_buttons(tabs_list: list[str]) -> dict[str, Any]:
    """A "Send to <tab>" button per tab, with A1111's element ids."""
    return {tab: gr.Button(f"Send to {tab}", elem_id=f"{tab}_tab") for tab in tabs_list}


def bind_buttons(buttons: dict[str, Any], send_image: Any, send_generate_info: Any) -> None:
    """A1111's older form of register_paste_params_button: `send_generate_info` is a component
    holding an infotext or the name of a tab to copy from."""
    for tabname, button in buttons.items():
        is_component = isinstance(send_generate_info, gr.components.Component)
        register_paste_params_button(ParamBinding(
            paste_button=button, tabname=tabname, source_image_component=send_image,
            source_text_component=send_generate_info if is_component else None,
            source_tabname=send_generate_info if isinstance(send_generate_info, str) else None))


def register_paste_params_button(binding: ParamBinding) -> None:
    registered_param_bindings.append(binding)


def connect_paste_params_buttons() -> None:
    """Wire every registered binding (called once the tabs exist, inside the app's Blocks)."""
    for binding in registered_param_bindings:
        if binding.tabname not in paste_fields:
            logger.warning("a send-to button targets the tab %r, which takes no pasted parameters; known: %s",
                           binding.tabname, ", ".join(paste_fields))
            continue
        try:
            _connect(binding)
        except Exception:
            logger.exception("could not connect the send-to button for the tab %r", binding.tabname)


def _connect(binding: ParamBinding) -> None:
    target = paste_fields[binding.tabname]
    image_out = target["init_img"]
    panel = _panels.get(binding.tabname)
    button = binding.paste_button
    if binding.source_image_component is not None and image_out is not None:
        size_out = _size_components(binding.tabname)
        button.click(lambda value: _image_and_size(value, bool(size_out)), [binding.source_image_component],
                     [image_out, *size_out], queue=False, show_progress="hidden")
    if binding.source_text_component is not None and (panel is not None or target["fields"]):
        outputs, fn = _text_paste(binding.tabname, panel, target)
        button.click(fn, [binding.source_text_component], outputs, queue=False, show_progress="hidden")
    if binding.source_tabname is not None and binding.source_tabname in paste_fields:
        names = _TAB_TO_TAB + (["Seed"] if getattr(shared.opts, "send_seed", True) else []) + binding.paste_field_names
        source = {f.label: f.component for f in paste_fields[binding.source_tabname]["fields"] if f.label in names}
        pairs = [(source[f.label], f.component) for f in target["fields"] if f.label in source]
        if pairs:
            button.click(lambda *values: list(values), [s for s, _ in pairs], [d for _, d in pairs], queue=False,
                         show_progress="hidden")
    switch = _targets.get(binding.tabname)
    if switch is not None:
        make, outputs = switch["switch"], switch["outputs"]
        # one output takes the value itself, several a list
        fn = (lambda: make()[0]) if len(outputs) == 1 else make
        button.click(fn, [], outputs, queue=False, show_progress="hidden")


def _size_components(tabname: str) -> list:
    if tabname == "inpaint" or not getattr(shared.opts, "send_size", True):
        return []
    fields = {f.label: f.component for f in paste_fields[tabname]["fields"]}
    width, height = fields.get("Size-1"), fields.get("Size-2")
    return [width, height] if width is not None and height is not None else []


def _image_and_size(value: Any, with_size: bool) -> Any:
    image = image_from_value(value)
    if not with_size:
        return image
    if image is None:
        return image, gr.skip(), gr.skip()
    return image, image.width, image.height


def image_from_value(value: Any) -> Any:
    """A PIL image from an Image component's value or a Gallery's (its first image)."""
    from PIL import Image

    if isinstance(value, (list, tuple)):
        if not value:
            return None
        value = value[0]
        if isinstance(value, (list, tuple)):       # (image, caption)
            value = value[0]
    if isinstance(value, dict):
        value = value.get("path") or value.get("name") or value.get("composite") or value.get("background")
    if isinstance(value, Image.Image) or value is None:
        return value
    return Image.open(value)


def _text_paste(tabname: str, panel: Any, target: dict) -> tuple[list, Callable[[str], list]]:
    """(outputs, fn(infotext) -> updates) pasting an infotext into the tab's fields."""
    if panel is not None:
        from sdwebui.interfaces.ui import panel_paste
        from sdwebui.interfaces.ui.pnginfo import paste_fields as request_fields, parse_for_paste
        from sdwebui.services.extensions import scripts as scripts_mod

        # the scripts' infotext_fields, as the tab's own paste button fills them
        script_fields = panel_paste.script_infotext_fields(scripts_mod.runner_for(panel.tab))

        def paste_panel(text: str) -> list:
            values = request_fields(text or "")
            if tabname != "txt2img":     # hires fix is txt2img's
                values = {k: v for k, v in values.items() if not k.startswith("hr_") and k != "enable_hr"}
            params = parse_for_paste(text or "") if script_fields else {}
            return [*panel_paste.field_updates(panel, values),
                    *(panel_paste.script_value(c, key, params) for c, key in script_fields)]
        return [*panel.fields.values(), *(c for c, _ in script_fields)], paste_panel

    fields = target["fields"]

    def paste_generic(text: str) -> list:
        from sdwebui.interfaces.ui.pnginfo import parse_for_paste

        params = parse_for_paste(text or "")
        return [_field_update(f, params) for f in fields]
    return [f.component for f in fields], paste_generic


def _field_update(field: PasteField, params: dict) -> Any:
    """A1111's rule for one field: the value its key names, as the component's value type."""
    try:
        value = field.function(params) if field.function is not None else params.get(field.label)
    except Exception:
        logger.exception("a paste field's function failed")
        return gr.skip()
    if value is None:
        return gr.skip()
    if isinstance(value, dict) and "__type__" in value:
        return value
    current = getattr(field.component, "value", None)
    try:
        if isinstance(current, bool):
            value = value if isinstance(value, bool) else str(value) not in ("False", "false", "0", "")
        elif isinstance(current, (int, float)) and not isinstance(value, (int, float)):
            value = float(value)
        elif isinstance(current, str):
            value = str(value)
    except (TypeError, ValueError):
        return gr.skip()
    return gr.update(value=value)


def connect_app_tabs(tabs: Any, txt2img: Any, img2img: Any, extras: dict) -> None:
    """Make this UI's tabs targets (txt2img, img2img, inpaint, extras) and connect every binding the
    extensions registered while their tabs were built (A1111 does this at the end of create_ui)."""
    mode_tabs, mode = img2img.ui["mode_tabs"], img2img.ui["mode"]
    register_tab("txt2img", txt2img, None, lambda: [gr.Tabs(selected="txt2img")], [tabs])
    for name, image in (("img2img", img2img.ui["image"]), ("inpaint", img2img.ui["inpaint"])):
        register_tab(name, img2img, image,
                     lambda name=name: [gr.Tabs(selected=f"img2img_{name}_tab"), name, gr.Tabs(selected="img2img")],
                     [mode_tabs, mode, tabs])
    register_tab("extras", None, extras["image"],
                 lambda: [0, gr.Tabs(selected="single_image"), gr.Tabs(selected="extras")],
                 [extras["tab_index"], extras["input_tabs"], tabs])
    connect_paste_params_buttons()
