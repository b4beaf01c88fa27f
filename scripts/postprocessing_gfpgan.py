"""The Extras tab's GFPGAN face restoration (A1111's scripts/postprocessing_gfpgan.py). The model
is the user's file in models/GFPGAN (modules.gfpgan_model); nothing is downloaded."""
import gradio as gr
import numpy as np

from modules import gfpgan_model, scripts_postprocessing, ui_components
from sdwebui.services.face_restorers import blend_restored


class ScriptPostprocessingGfpGan(scripts_postprocessing.ScriptPostprocessing):
    name = "GFPGAN"
    order = 2000

    def ui(self):
        with ui_components.InputAccordion(False, label="GFPGAN") as enable:
            gfpgan_visibility = gr.Slider(minimum=0.0, maximum=1.0, step=0.001, label="Visibility", value=1.0,
                                          elem_id="extras_gfpgan_visibility")
        return {"enable": enable, "gfpgan_visibility": gfpgan_visibility}

    def process(self, pp, enable, gfpgan_visibility):
        if not enable or not gfpgan_visibility:
            return
        restored = gfpgan_model.gfpgan_fix_faces(np.array(pp.image.convert("RGB"), dtype=np.uint8))
        pp.image = blend_restored(pp.image, restored, gfpgan_visibility)
        pp.info["GFPGAN visibility"] = round(gfpgan_visibility, 3)
