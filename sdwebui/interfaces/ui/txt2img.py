"""The txt2img tab."""
from __future__ import annotations

import gradio as gr

from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.interfaces.api.models import StableDiffusionTxt2ImgProcessingAPI
from sdwebui.engine.processing.txt2img import StableDiffusionProcessingTxt2Img
from sdwebui.interfaces.ui import extra_networks_panel, generation as g, generation_sections as sections


def create_txt2img_tab() -> g.Panel:
    panel = g.Panel("txt2img")
    g.build_prompt_row("txt2img", panel)
    # A1111's layout: the settings and the output under a "Generation" tab, the Extra Networks pages beside it
    with gr.Tabs(elem_id="txt2img_extra_tabs", elem_classes=["extra-networks"]):
        with gr.Tab("Generation", id="txt2img_generation", elem_id="txt2img_generation") as generation_tab:
            with gr.Row():
                with gr.Column(elem_id="txt2img_settings"):
                    g.build_sampling("txt2img", panel)
                    g.build_size_and_batch("txt2img", panel)
                    g.build_seed("txt2img", panel)
                    sections.build_hires(panel)
                    sections.wire_final_resolution(panel)
                    sections.build_refiner("txt2img", panel)
                    g.build_override_settings("txt2img", panel)
                    scripts_mod.scripts_txt2img.setup_ui()
                g.build_output("txt2img", panel)      # its column is #txt2img_results
        panel.ui["extra_networks"] = extra_networks_panel.build("txt2img", generation_tab, panel.ui["gallery"])

    def run(values: dict, extra: dict, task_id: str | None, user: str | None = None):
        sections.apply_refiner(values, extra)
        return g.submit(lambda _req, args: StableDiffusionProcessingTxt2Img(**args),
                        StableDiffusionTxt2ImgProcessingAPI, values, "txt2img", task_id, user)

    g.wire_generate(panel, "txt2img", run)
    g.wire_paste(panel)
    return panel
