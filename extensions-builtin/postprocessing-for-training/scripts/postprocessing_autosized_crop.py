"""Extras: centre-crop each image to an automatically chosen size (A1111's "Auto-sized crop")."""
import logging

import gradio as gr

from modules import scripts_postprocessing, ui_components
from sdwebui.engine.images.postprocess_ops import CROP_OBJECTIVES, autosized_crop

logger = logging.getLogger(__name__)


class ScriptPostprocessingAutosizedCrop(scripts_postprocessing.ScriptPostprocessing):
    name = "Auto-sized crop"
    order = 4020

    def ui(self):
        with ui_components.InputAccordion(False, label="Auto-sized crop") as enable:
            gr.Markdown("Each image is center-cropped with an automatically chosen width and height.")
            with gr.Row():
                mindim = gr.Slider(minimum=64, maximum=2048, step=8, label="Dimension lower bound", value=384,
                                   elem_id="postprocess_multicrop_mindim")
                maxdim = gr.Slider(minimum=64, maximum=2048, step=8, label="Dimension upper bound", value=768,
                                   elem_id="postprocess_multicrop_maxdim")
            with gr.Row():
                minarea = gr.Slider(minimum=64 * 64, maximum=2048 * 2048, step=1, label="Area lower bound",
                                    value=64 * 64, elem_id="postprocess_multicrop_minarea")
                maxarea = gr.Slider(minimum=64 * 64, maximum=2048 * 2048, step=1, label="Area upper bound",
                                    value=640 * 640, elem_id="postprocess_multicrop_maxarea")
            with gr.Row():
                objective = gr.Radio(list(CROP_OBJECTIVES), value="Maximize area", label="Resizing objective",
                                     elem_id="postprocess_multicrop_objective")
                threshold = gr.Slider(minimum=0, maximum=1, step=0.01, label="Error threshold", value=0.1,
                                      elem_id="postprocess_multicrop_threshold")
        return {"enable": enable, "mindim": mindim, "maxdim": maxdim, "minarea": minarea, "maxarea": maxarea,
                "objective": objective, "threshold": threshold}

    def process(self, pp, enable, mindim, maxdim, minarea, maxarea, objective, threshold):
        if not enable:
            return
        cropped = autosized_crop(pp.image, int(mindim), int(maxdim), int(minarea), int(maxarea), objective,
                                 float(threshold))
        if cropped is None:
            logger.info("auto-sized crop: %dx%d left as it is (no size within the error threshold)",
                        pp.image.width, pp.image.height)
            return
        pp.image = cropped
