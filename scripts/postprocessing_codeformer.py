"""The Extras tab's CodeFormer face restoration (A1111's scripts/postprocessing_codeformer.py). The
model is the user's file in models/Codeformer (modules.codeformer_model); nothing is downloaded."""
import gradio as gr
import numpy as np

from modules import codeformer_model, scripts_postprocessing, ui_components
from sdwebui.services.face_restorers import blend_restored


class ScriptPostprocessingCodeFormer(scripts_postprocessing.ScriptPostprocessing):
    name = "CodeFormer"
    order = 3000

    def ui(self):
        with ui_components.InputAccordion(False, label="CodeFormer") as enable:
            with gr.Row():
                codeformer_visibility = gr.Slider(minimum=0.0, maximum=1.0, step=0.001, label="Visibility", value=1.0,
                                                  elem_id="extras_codeformer_visibility")
                codeformer_weight = gr.Slider(minimum=0.0, maximum=1.0, step=0.001, value=0,
                                              label="Weight (0 = maximum effect, 1 = minimum effect)",
                                              elem_id="extras_codeformer_weight")
        return {"enable": enable, "codeformer_visibility": codeformer_visibility, "codeformer_weight": codeformer_weight}

    def process(self, pp, enable, codeformer_visibility, codeformer_weight):
        if not enable or not codeformer_visibility:
            return
        codeformer_model.setup_model(None)   # registered at start; this only makes sure
        restored = codeformer_model.codeformer.restore(np.array(pp.image.convert("RGB"), dtype=np.uint8),
                                                       w=codeformer_weight)
        pp.image = blend_restored(pp.image, restored, codeformer_visibility)
        pp.info["CodeFormer visibility"] = round(codeformer_visibility, 3)
        pp.info["CodeFormer weight"] = round(codeformer_weight, 3)
