"""The txt2img tab."""
from __future__ import annotations

import gradio as gr

from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.services import runtime as shared
from sdwebui.interfaces.api.models import StableDiffusionTxt2ImgProcessingAPI
from sdwebui.engine.processing.latent_upscale import LATENT_UPSCALE_MODES
from sdwebui.engine.processing.txt2img import StableDiffusionProcessingTxt2Img
from sdwebui.interfaces.ui import extra_networks_panel, generation as g


def build_hires(panel: g.Panel) -> None:
    """A1111's "Hires. fix" section of txt2img."""
    with gr.Accordion("Hires. fix", open=False, elem_id="txt2img_hr"):
        panel.fields["enable_hr"] = gr.Checkbox(label="Enable", value=False, elem_id="txt2img_enable_hr")
        upscalers = [*LATENT_UPSCALE_MODES, *(shared.upscalers.names() if shared.upscalers else [])]
        with gr.Row():
            panel.fields["hr_upscaler"] = gr.Dropdown(label="Upscaler", choices=upscalers, value="Latent",
                                                      elem_id="txt2img_hr_upscaler")
            panel.fields["hr_second_pass_steps"] = gr.Slider(0, 150, value=0, step=1, label="Hires steps",
                                                             elem_id="txt2img_hires_steps")
            panel.fields["denoising_strength"] = gr.Slider(0, 1, value=0.7, step=0.01,
                                                           label="Denoising strength",
                                                           elem_id="txt2img_denoising_strength")
        with gr.Row():
            panel.fields["hr_scale"] = gr.Slider(1, 4, value=2, step=0.05, label="Upscale by",
                                                 elem_id="txt2img_hr_scale")
            panel.fields["hr_resize_x"] = gr.Slider(0, 2048, value=0, step=8, label="Resize width to",
                                                    elem_id="txt2img_hr_resize_x")
            panel.fields["hr_resize_y"] = gr.Slider(0, 2048, value=0, step=8, label="Resize height to",
                                                    elem_id="txt2img_hr_resize_y")


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
                    build_hires(panel)
                    scripts_mod.scripts_txt2img.setup_ui()
                with gr.Column(elem_id="txt2img_results"):
                    g.build_output("txt2img", panel)
        panel.ui["extra_networks"] = extra_networks_panel.build("txt2img", generation_tab, panel.ui["gallery"])

    def run(values: dict, _extra: dict, task_id: str | None, user: str | None = None):
        return g.submit(lambda _req, args: StableDiffusionProcessingTxt2Img(**args),
                        StableDiffusionTxt2ImgProcessingAPI, values, "txt2img", task_id, user)

    g.wire_generate(panel, "txt2img", run)
    g.wire_paste(panel)
    return panel
