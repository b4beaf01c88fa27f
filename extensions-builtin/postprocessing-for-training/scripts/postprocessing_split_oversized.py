"""Extras: split an image much longer than the target aspect into overlapping target-sized tiles
(A1111's "Split oversized images"). The target is the Upscale operation's size."""
import gradio as gr

from modules import scripts_postprocessing, ui_components
from sdwebui.engine.images.postprocess_ops import split_image, split_ratio


class ScriptPostprocessingSplitOversized(scripts_postprocessing.ScriptPostprocessing):
    name = "Split oversized images"
    order = 4000

    def ui(self):
        with ui_components.InputAccordion(False, label="Split oversized images") as enable:
            with gr.Row():
                split_threshold = gr.Slider(label="Threshold", value=0.5, minimum=0.0, maximum=1.0, step=0.05,
                                            elem_id="postprocess_split_threshold")
                overlap_ratio = gr.Slider(label="Overlap ratio", value=0.2, minimum=0.0, maximum=0.9, step=0.05,
                                          elem_id="postprocess_overlap_ratio")
        return {"enable": enable, "split_threshold": split_threshold, "overlap_ratio": overlap_ratio}

    def process(self, pp, enable, split_threshold, overlap_ratio):
        width, height = pp.shared.target_width, pp.shared.target_height
        if not enable or not width or not height:
            return
        ratio, across_width = split_ratio(pp.image.width, pp.image.height, int(width), int(height))
        if ratio >= 1.0 or ratio > split_threshold:
            return
        first, *rest = split_image(pp.image, across_width, int(width), int(height), float(overlap_ratio))
        pp.image = first
        pp.extra_images = [pp.create_copy(tile) for tile in rest]
