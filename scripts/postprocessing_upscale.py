"""The Extras tab's Upscale operation (A1111's scripts/postprocessing_upscale.py): scale by a factor
or to a size, with one upscaler or two blended. The upscaling itself is the engine's
(sdwebui/engine/processing/extras.py), the same as the API's upscale always was."""
import re

import gradio as gr

from modules import scripts_postprocessing, shared
from modules.ui import switch_values_symbol
from modules.ui_components import FormRow, InputAccordion, ToolButton
from sdwebui.engine.processing.extras import ExtrasParams, UpscaleCache, fit_longer_side, upscale_image
from sdwebui.services import runtime   # the upscaler registry (A1111 has no name for it)

upscale_cache = UpscaleCache()


def _names() -> list:
    return [x.name for x in shared.sd_upscalers] or ["None"]


def _params(upscale_mode, upscale_by, max_side_length, upscale_to_width, upscale_to_height, upscale_crop,
            upscaler_1_name, upscaler_2_name, upscaler_2_visibility) -> ExtrasParams:
    # gradio sliders and numbers give floats; the engine wants whole pixels
    return ExtrasParams(resize_mode=int(upscale_mode or 0), upscaling_resize=float(upscale_by),
                        upscaling_resize_w=int(upscale_to_width or 0), upscaling_resize_h=int(upscale_to_height or 0),
                        upscaling_crop=bool(upscale_crop), upscaler_1=upscaler_1_name or "None",
                        upscaler_2=upscaler_2_name or "None",
                        extras_upscaler_2_visibility=float(upscaler_2_visibility or 0.0),
                        max_side_length=int(max_side_length or 0))


class ScriptPostprocessingUpscale(scripts_postprocessing.ScriptPostprocessing):
    name = "Upscale"
    order = 1000

    def ui(self):
        names = _names()
        selected_tab = gr.Number(value=0, visible=False)
        with InputAccordion(True, label="Upscale", elem_id="extras_upscale") as upscale_enabled:
            with FormRow():
                upscaler_1 = gr.Dropdown(label="Upscaler 1", elem_id="extras_upscaler_1", choices=names, value=names[0])
            with FormRow():
                upscaler_2 = gr.Dropdown(label="Upscaler 2", elem_id="extras_upscaler_2", choices=names, value=names[0])
                upscaler_2_visibility = gr.Slider(minimum=0.0, maximum=1.0, step=0.001, label="Upscaler 2 visibility",
                                                  value=0.0, elem_id="extras_upscaler_2_visibility")
            with FormRow():
                with gr.Tabs(elem_id="extras_resize_mode"):
                    with gr.TabItem("Scale by", elem_id="extras_scale_by_tab") as tab_scale_by:
                        with gr.Row():
                            with gr.Column(scale=4):
                                upscaling_resize = gr.Slider(minimum=1.0, maximum=8.0, step=0.05, label="Resize",
                                                             value=4, elem_id="extras_upscaling_resize")
                            with gr.Column(scale=1, min_width=160):
                                max_side_length = gr.Number(label="Max side length", value=0, step=8, minimum=0,
                                                            elem_id="extras_upscale_max_side_length", min_width=160)
                    with gr.TabItem("Scale to", elem_id="extras_scale_to_tab") as tab_scale_to:
                        with FormRow():
                            with gr.Column(elem_id="upscaling_column_size", scale=4):
                                resize_w = gr.Slider(minimum=64, maximum=8192, step=8, label="Width", value=512,
                                                     elem_id="extras_upscaling_resize_w")
                                resize_h = gr.Slider(minimum=64, maximum=8192, step=8, label="Height", value=512,
                                                     elem_id="extras_upscaling_resize_h")
                            with gr.Column(elem_id="upscaling_dimensions_row", scale=1, elem_classes="dimensions-tools"):
                                switch = ToolButton(value=switch_values_symbol, elem_id="upscaling_res_switch_btn",
                                                    tooltip="Switch width/height")
                                upscaling_crop = gr.Checkbox(label="Crop to fit", value=True,
                                                             elem_id="extras_upscaling_crop")

        def scale_from_name(name):
            # "4x-UltraSharp", "R-ESRGAN x2": the factor in the name becomes the Resize value
            if not getattr(shared.opts, "set_scale_by_when_changing_upscaler", False):
                return gr.update()
            match = re.search(r"(\d)[xX]|[xX](\d)", name or "")
            return gr.update(value=int(match.group(1) or match.group(2))) if match else gr.update()

        switch.click(lambda w, h: (h, w), inputs=[resize_w, resize_h], outputs=[resize_w, resize_h],
                     show_progress="hidden")
        tab_scale_by.select(fn=lambda: 0, inputs=[], outputs=[selected_tab])
        tab_scale_to.select(fn=lambda: 1, inputs=[], outputs=[selected_tab])
        upscaler_1.change(scale_from_name, inputs=[upscaler_1], outputs=[upscaling_resize], show_progress="hidden")

        return {
            "upscale_enabled": upscale_enabled,
            "upscale_mode": selected_tab,
            "upscale_by": upscaling_resize,
            "max_side_length": max_side_length,
            "upscale_to_width": resize_w,
            "upscale_to_height": resize_h,
            "upscale_crop": upscaling_crop,
            "upscaler_1_name": upscaler_1,
            "upscaler_2_name": upscaler_2,
            "upscaler_2_visibility": upscaler_2_visibility,
        }

    def process_firstpass(self, pp, upscale_enabled=True, upscale_mode=1, upscale_by=2.0, max_side_length=0,
                          upscale_to_width=None, upscale_to_height=None, upscale_crop=False, upscaler_1_name=None,
                          upscaler_2_name=None, upscaler_2_visibility=0.0):
        # the size the other operations (focal crop, split) aim at
        if upscale_mode == 1:
            pp.shared.target_width, pp.shared.target_height = upscale_to_width, upscale_to_height
        else:
            w, h = int(pp.image.width * (upscale_by or 1)), int(pp.image.height * (upscale_by or 1))
            if max_side_length:
                w, h = fit_longer_side(w, h, int(max_side_length))
            pp.shared.target_width, pp.shared.target_height = w, h

    def process(self, pp, upscale_enabled=True, upscale_mode=1, upscale_by=2.0, max_side_length=0,
                upscale_to_width=None, upscale_to_height=None, upscale_crop=False, upscaler_1_name=None,
                upscaler_2_name=None, upscaler_2_visibility=0.0):
        if not upscale_enabled:
            return
        params = _params(upscale_mode, upscale_by, max_side_length, upscale_to_width, upscale_to_height,
                         upscale_crop, upscaler_1_name, upscaler_2_name, upscaler_2_visibility)
        key = upscale_cache.key(pp.image, params)
        hit = upscale_cache.get(key)
        if hit is not None:
            image, info = hit
        else:
            info = {}
            image = upscale_image(pp.image, params, runtime.upscalers, info)
            upscale_cache.put(key, image, info, getattr(shared.opts, "upscaling_max_images_in_cache", 5))
        pp.image = image
        pp.info.update(info)

    def image_changed(self):
        upscale_cache.clear()


class ScriptPostprocessingUpscaleSimple(ScriptPostprocessingUpscale):
    """One upscaler and a factor (A1111 offers it for postprocessing in the main UI; the Extras
    tab leaves it out)."""
    name = "Simple Upscale"
    order = 900

    def ui(self):
        names = _names()
        with FormRow():
            upscaler_name = gr.Dropdown(label="Upscaler", choices=names, value=names[0])
            upscale_by = gr.Slider(minimum=0.05, maximum=8.0, step=0.05, label="Upscale by", value=2)
        return {"upscale_by": upscale_by, "upscaler_name": upscaler_name}

    def process_firstpass(self, pp, upscale_by=2.0, upscaler_name=None):
        pp.shared.target_width = int(pp.image.width * upscale_by)
        pp.shared.target_height = int(pp.image.height * upscale_by)

    def process(self, pp, upscale_by=2.0, upscaler_name=None):
        if upscaler_name in (None, "None"):
            return
        super().process(pp, True, 0, upscale_by, 0, 0, 0, False, upscaler_name, None, 0.0)
