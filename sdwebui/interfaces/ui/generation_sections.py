"""The hires fix and refiner sections of the generation tabs, laid out with A1111 1.10's element ids,
labels and defaults. Their fields are request fields (`hr_*`, `refiner_checkpoint`,
`refiner_switch_at`), so the UI's request is the one an API client sends for the same settings."""
from __future__ import annotations

from typing import Any

import gradio as gr

from sdwebui.engine.processing.hires import target_size
from sdwebui.engine.processing.latent_upscale import LATENT_UPSCALE_MODES
from sdwebui.engine.sampling import samplers
from sdwebui.interfaces.ui.common import create_refresh_button
from sdwebui.services import runtime as shared

SAME_CHECKPOINT, SAME_SAMPLER, SAME_SCHEDULER = "Use same checkpoint", "Use same sampler", "Use same scheduler"


def checkpoint_titles() -> list[str]:
    return [info.title for info in shared.registry.list()] if shared.registry is not None else []


def _opt(key: str, default: Any) -> Any:
    opts = shared.opts
    return getattr(opts, key) if opts is not None and key in opts.data_labels else default


def _refresh_checkpoints() -> None:
    if shared.registry is not None:
        shared.registry.refresh()


def final_resolution(enable: bool, width: int, height: int, scale: float, resize_x: int, resize_y: int) -> str:
    """A1111's "from 512x512 to 1024x1024" line beside the hires fix checkbox ("" when it is off)."""
    if not enable:
        return ""
    w, h, _, _ = target_size(int(width), int(height), float(scale), int(resize_x), int(resize_y))
    shown_w, shown_h = int(resize_x) or w, int(resize_y) or h
    return (f"from <span class='resolution'>{int(width)}x{int(height)}</span> "
            f"to <span class='resolution'>{shown_w}x{shown_h}</span>")


def build_hires(panel: Any) -> None:
    """txt2img's "Hires. fix": upscaler, steps, denoising, scale or target size, and (shown per the
    options hires_fix_show_sampler / hires_fix_show_prompts, as in A1111) the second pass's checkpoint,
    sampler, schedule type and prompts."""
    f = panel.fields
    with gr.Accordion("Hires. fix", open=False, elem_id="txt2img_hr"):
        with gr.Row(elem_id="txt2img_hires_fix_row0"):
            f["enable_hr"] = gr.Checkbox(label="Enable", value=False, elem_id="txt2img_enable_hr", scale=1)
            panel.ui["hr_final_resolution"] = gr.HTML("", elem_id="txtimg_hr_finalres", elem_classes=["hr-finalres"])
        upscalers = [*LATENT_UPSCALE_MODES, *(shared.upscalers.names() if shared.upscalers else [])]
        with gr.Row(elem_id="txt2img_hires_fix_row1"):
            f["hr_upscaler"] = gr.Dropdown(label="Upscaler", choices=upscalers,
                                           value=_opt("latent_upscale_default_mode", "Latent"),
                                           elem_id="txt2img_hr_upscaler")
            f["hr_second_pass_steps"] = gr.Slider(0, 150, value=0, step=1, label="Hires steps",
                                                  elem_id="txt2img_hires_steps")
            f["denoising_strength"] = gr.Slider(0, 1, value=0.7, step=0.01, label="Denoising strength",
                                                elem_id="txt2img_denoising_strength")
        with gr.Row(elem_id="txt2img_hires_fix_row2"):
            f["hr_scale"] = gr.Slider(1, 4, value=2, step=0.05, label="Upscale by", elem_id="txt2img_hr_scale")
            f["hr_resize_x"] = gr.Slider(0, 2048, value=0, step=8, label="Resize width to",
                                         elem_id="txt2img_hr_resize_x")
            f["hr_resize_y"] = gr.Slider(0, 2048, value=0, step=8, label="Resize height to",
                                         elem_id="txt2img_hr_resize_y")
            # not in A1111 1.10 (Forge's control and infotext key): 0 keeps the first pass's CFG scale
            f["hr_cfg"] = gr.Slider(0, 30, value=0, step=0.5, label="Hires CFG Scale", elem_id="txt2img_hr_cfg",
                                    info="0: same as CFG Scale")
            f["hr_distilled_cfg"] = gr.Slider(0, 30, value=3.5, step=0.5, label="Hires Distilled CFG Scale",
                                              elem_id="txt2img_hr_distilled_cfg", info="FLUX.1 dev only")
        with gr.Row(elem_id="txt2img_hires_fix_row3", visible=bool(_opt("hires_fix_show_sampler", False))):
            f["hr_checkpoint_name"] = gr.Dropdown(label="Checkpoint", choices=[SAME_CHECKPOINT, *checkpoint_titles()],
                                                  value=SAME_CHECKPOINT, elem_id="hr_checkpoint")
            create_refresh_button(f["hr_checkpoint_name"], _refresh_checkpoints,
                                  lambda: {"choices": [SAME_CHECKPOINT, *checkpoint_titles()]}, "hr_checkpoint_refresh")
            f["hr_sampler_name"] = gr.Dropdown(label="Hires sampling method", elem_id="hr_sampler", value=SAME_SAMPLER,
                                               choices=[SAME_SAMPLER, *(s.name for s in samplers.SAMPLERS)])
            f["hr_scheduler"] = gr.Dropdown(label="Hires schedule type", elem_id="hr_scheduler", value=SAME_SCHEDULER,
                                            choices=[SAME_SCHEDULER, *(s.label for s in samplers.SCHEDULERS)])
        with gr.Row(elem_id="txt2img_hires_fix_row4", visible=bool(_opt("hires_fix_show_prompts", False))):
            f["hr_prompt"] = gr.Textbox(label="Hires prompt", elem_id="hires_prompt", lines=3,
                                        placeholder="Prompt for hires fix pass.\nLeave empty to use the same prompt "
                                                    "as in first pass.", elem_classes=["prompt"])
            f["hr_negative_prompt"] = gr.Textbox(label="Hires negative prompt", elem_id="hires_neg_prompt", lines=3,
                                                 placeholder="Negative prompt for hires fix pass.\nLeave empty to use "
                                                             "the same negative prompt as in first pass.",
                                                 elem_classes=["prompt"])


def wire_final_resolution(panel: Any) -> None:
    """Once width and height exist: the target size line follows every value it depends on."""
    f = panel.fields
    inputs = [f["enable_hr"], f["width"], f["height"], f["hr_scale"], f["hr_resize_x"], f["hr_resize_y"]]
    gr.on([c.change for c in inputs], final_resolution, inputs, [panel.ui["hr_final_resolution"]],
          show_progress="hidden", queue=False, api_visibility="undocumented")


def build_refiner(tab: str, panel: Any) -> None:
    """A1111's "Refiner" section (its built-in refiner script's ids): the checkpoint to switch to and the
    fraction of the steps after which it takes over. Choosing a checkpoint (or pasting an infotext with
    one) ticks Enable; with Enable off the request has no refiner."""
    with gr.Accordion("Refiner", open=False, elem_id=f"script_{tab}_refiner"):
        enable = gr.Checkbox(label="Enable", value=False, elem_id=f"script_{tab}_refiner_enable")
        panel.ui["refiner_enable"] = enable
        enable._panel_input = True          # an input of Generate, by its panel name
        with gr.Row():
            panel.fields["refiner_checkpoint"] = gr.Dropdown(label="Checkpoint", choices=["", *checkpoint_titles()],
                                                             value="", elem_id=f"script_{tab}_refiner_checkpoint")
            create_refresh_button(panel.fields["refiner_checkpoint"], _refresh_checkpoints,
                                  lambda: {"choices": ["", *checkpoint_titles()]},
                                  f"script_{tab}_refiner_checkpoint_refresh")
            panel.fields["refiner_switch_at"] = gr.Slider(0.01, 1.0, value=0.8, step=0.01, label="Switch at",
                                                          elem_id=f"script_{tab}_refiner_switch_at")
    panel.fields["refiner_checkpoint"].change(lambda name: gr.update(value=True) if name else gr.skip(),
                                              [panel.fields["refiner_checkpoint"]], [enable],
                                              show_progress="hidden", queue=False, api_visibility="undocumented")


def apply_refiner(values: dict, extra: dict) -> None:
    """The request's refiner fields from the section: none unless Enable is ticked and a checkpoint chosen."""
    if not extra.get("refiner_enable") or not values.get("refiner_checkpoint"):
        values["refiner_checkpoint"] = None
        values.pop("refiner_switch_at", None)


__all__ = ["build_hires", "build_refiner", "wire_final_resolution", "apply_refiner", "final_resolution",
           "checkpoint_titles"]
