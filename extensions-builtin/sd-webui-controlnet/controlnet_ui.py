"""The ControlNet panel of txt2img and img2img: sd-webui-controlnet's accordion, unit tabs, controls
and element ids (`{tab}_controlnet_ControlNet-{i}_controlnet_<control>`), so its users and its page
tests find everything where it was.

Each unit is one Script argument, a unit object, as API clients send it: the unit's controls write
it into a gr.State through one event (any control changed -> the whole unit again).
"""
from __future__ import annotations

import gradio as gr
from PIL import Image

import controlnet_registry as registry
from controlnet_types import CONTROL_TAGS, control_types
from controlnet_units import HR_OPTIONS, UnitArgs, detect_map, prepare_module
from sdwebui.engine.control.controlnet_unit import CONTROL_MODES
from sdwebui.engine.control.preprocess import RESIZE_MODES, find, ordered

VERSION = "v1.1.455"
FIELDS = ("enabled", "low_vram", "pixel_perfect", "module", "model", "weight", "guidance_start", "guidance_end",
          "processor_res", "threshold_a", "threshold_b", "control_mode", "resize_mode", "hr_option")


def _labels() -> list[str]:
    return [p.label for p in ordered()]


def _slider_updates(module: str) -> list:
    """The three sliders as the module names them (hidden where it has none)."""
    try:
        pre = find(module)
    except ValueError:
        return [gr.update()] * 3
    out = []
    for which in ("res", "a", "b"):
        slider = pre.slider(which)
        shown = (which == "res" and pre.has_resolution) or (which != "res" and bool(slider.name))
        out.append(gr.update(visible=shown, label=slider.name or "", minimum=slider.min, maximum=slider.max,
                             step=slider.step, value=slider.value))
    return out


def build_unit_ui(tab: str, index: int, is_img2img: bool):
    """One unit's controls; returns (state, components by field, input image)."""
    prefix = f"{tab}_controlnet_ControlNet-{index}"
    cid = f"{prefix}_controlnet_"
    with gr.Row():
        image = gr.Image(label="Image", type="pil", sources=["upload", "clipboard"], height=240,
                         elem_id=f"{prefix}_input_image", elem_classes=["cnet-image"])
        preview = gr.Image(label="Preprocessor Preview", type="pil", interactive=False, height=240,
                           elem_id=f"{prefix}_generated_image")
    with gr.Row():
        enabled = gr.Checkbox(label="Enable", value=False, elem_id=f"{cid}enable_checkbox")
        low_vram = gr.Checkbox(label="Low VRAM", value=False, elem_id=f"{cid}low_vram_checkbox")
        pixel_perfect = gr.Checkbox(label="Pixel Perfect", value=False, elem_id=f"{cid}pixel_perfect_checkbox")
    type_filter = gr.Radio(["All", *CONTROL_TAGS], value="All", label="Control Type",
                           elem_id=f"{cid}type_filter_radio")
    with gr.Row():
        module = gr.Dropdown(_labels(), value="none", label="Preprocessor", elem_id=f"{cid}preprocessor_dropdown")
        trigger = gr.Button("\U0001f4a5", elem_id=f"{cid}trigger_preprocessor", scale=0, min_width=40)
        model = gr.Dropdown(registry.names(), value="None", label="Model", elem_id=f"{cid}model_dropdown")
        refresh = gr.Button("\U0001f504", elem_id=f"{cid}refresh_models", scale=0, min_width=40)
    weight = gr.Slider(0, 2, value=1.0, step=0.05, label="Control Weight", elem_id=f"{cid}control_weight_slider")
    with gr.Row():
        start = gr.Slider(0, 1, value=0.0, step=0.01, label="Starting Control Step",
                          elem_id=f"{cid}start_control_step_slider")
        end = gr.Slider(0, 1, value=1.0, step=0.01, label="Ending Control Step",
                        elem_id=f"{cid}ending_control_step_slider")
    with gr.Row():
        res = gr.Slider(64, 2048, value=512, step=8, label="Resolution", visible=False,
                        elem_id=f"{cid}preprocessor_resolution_slider")
        a = gr.Slider(0, 1, value=0.5, step=0.01, label="", visible=False, elem_id=f"{cid}threshold_A_slider")
        b = gr.Slider(0, 1, value=0.5, step=0.01, label="", visible=False, elem_id=f"{cid}threshold_B_slider")
    control_mode = gr.Radio(list(CONTROL_MODES), value=CONTROL_MODES[0], label="Control Mode",
                            elem_id=f"{cid}control_mode_radio")
    resize_mode = gr.Radio(list(RESIZE_MODES), value=RESIZE_MODES[1], label="Resize Mode",
                           elem_id=f"{cid}resize_mode_radio")
    hr_option = gr.Radio(list(HR_OPTIONS), value=HR_OPTIONS[0], label="Hires-Fix Option", visible=not is_img2img,
                         elem_id=f"{cid}hr_option_radio")
    fields = dict(zip(FIELDS, (enabled, low_vram, pixel_perfect, module, model, weight, start, end, res, a, b,
                               control_mode, resize_mode, hr_option)))
    state = gr.State(None)

    def build(img, *values):
        raw = dict(zip(FIELDS, values))
        if not raw["enabled"]:
            return None
        unit = UnitArgs(image=img)
        for name, value in raw.items():
            setattr(unit, name, value)
        unit.module = find(unit.module).name
        unit.processor_res = int(unit.processor_res)
        return unit

    controls = [image, *fields.values()]
    gr.on([c.change for c in controls], build, inputs=controls, outputs=state, show_progress="hidden", queue=False)
    module.change(_slider_updates, inputs=module, outputs=[res, a, b], show_progress="hidden", queue=False)

    def on_type(tag):
        entry = control_types()["control_types"].get(tag) or control_types()["control_types"]["All"]
        return (gr.update(choices=entry["module_list"], value=entry["default_option"]),
                gr.update(choices=entry["model_list"], value=entry["default_model"]))

    type_filter.change(on_type, inputs=type_filter, outputs=[module, model], show_progress="hidden", queue=False)
    refresh.click(lambda: gr.update(choices=registry.refresh()), outputs=model, show_progress="hidden", queue=False)

    def run_preview(img, name, resolution, ta, tb):
        if img is None:
            raise gr.Error("Upload an image first")
        unit = UnitArgs(module=find(name).name, processor_res=int(resolution), threshold_a=ta, threshold_b=tb)
        try:
            pre = prepare_module(unit)
            return Image.fromarray(detect_map(pre, unit, img))
        except ValueError as e:
            raise gr.Error(str(e)) from None

    trigger.click(run_preview, inputs=[image, module, res, a, b], outputs=preview, show_progress="minimal")
    return state, fields, image


def build_panel(is_img2img: bool):
    """The accordion with its unit tabs; returns [unit state per unit] and the paste fields."""
    tab = "img2img" if is_img2img else "txt2img"
    states, paste = [], []
    with gr.Accordion(f"ControlNet {VERSION}", open=False, elem_id=f"{tab}_controlnet"):
        with gr.Tabs(elem_id=f"{tab}_controlnet_tabs"):
            for index in range(registry.unit_count()):
                with gr.Tab(f"ControlNet Unit {index}", elem_id=f"{tab}_controlnet_ControlNet-{index}"):
                    state, fields, _image = build_unit_ui(tab, index, is_img2img)
                states.append(state)
                for name, component in fields.items():
                    paste.append((component, _paste_getter(index, name)))
    return states, paste


def parse_infotext_line(text: str) -> dict:
    """`Module: canny, Model: ..., Weight: 1.0, ...` -> field values (True/False, numbers, text)."""
    out = {}
    labels = {label: name for name, label in UnitArgs.INFOTEXT}
    for part in text.split(", "):
        label, sep, value = part.partition(": ")
        if not sep or label not in labels:
            continue
        if value in ("True", "False"):
            parsed: object = value == "True"
        else:
            try:
                parsed = int(value)
            except ValueError:
                try:
                    parsed = float(value)
                except ValueError:
                    parsed = value
        out[labels[label]] = parsed
    return out


def _paste_getter(index: int, name: str):
    def get(params: dict):
        text = params.get(f"ControlNet {index}")
        if not isinstance(text, str):
            return None
        values = {"enabled": True, **parse_infotext_line(text)}
        if name == "module" and "module" in values:
            try:
                return find(str(values["module"])).label
            except ValueError:
                return None
        return values.get(name)
    return get

