"""Extras: add mirrored copies of each image (A1111's "Create flipped copies")."""
import gradio as gr

from modules import scripts_postprocessing, ui_components
from sdwebui.engine.images.postprocess_ops import FLIP_CHOICES, flipped_copies


class ScriptPostprocessingCreateFlippedCopies(scripts_postprocessing.ScriptPostprocessing):
    name = "Create flipped copies"
    order = 4030

    def ui(self):
        with ui_components.InputAccordion(False, label="Create flipped copies") as enable:
            with gr.Row():
                option = gr.CheckboxGroup(value=["Horizontal"], choices=list(FLIP_CHOICES), show_label=False)
        return {"enable": enable, "option": option}

    def process(self, pp, enable, option):
        if not enable:
            return
        pp.extra_images.extend(flipped_copies(pp.image, list(option or [])))
