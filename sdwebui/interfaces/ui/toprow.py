"""A1111's `modules.ui_toprow.Toprow`: the prompt row of a generation tab (prompt and negative
prompt with token counters, Generate / Interrupt / Skip, the tools row, the styles dropdown and
its editor), with A1111's element ids, for an extension that builds a generation tab of its own."""
from __future__ import annotations

import logging

import gradio as gr

from sdwebui.interfaces.ui import styles_editor
from sdwebui.interfaces.ui.components import ToolButton
from sdwebui.interfaces.ui.ui_helpers import paste_symbol, restore_progress_symbol, update_token_counter
from sdwebui.services import dispatch

logger = logging.getLogger(__name__)


class Toprow:
    """Builds the row when constructed; with `is_compact` only the buttons, and the prompts where
    the caller calls `create_inline_toprow_prompts()` (as in A1111)."""

    def __init__(self, is_img2img: bool, is_compact: bool = False, id_part: str | None = None):
        self.id_part = id_part or ("img2img" if is_img2img else "txt2img")
        self.is_img2img = is_img2img
        self.is_compact = is_compact
        self.prompt = self.negative_prompt = self.submit = self.interrupt = self.skip = None
        self.paste = self.clear_prompt_button = self.apply_styles = self.restore_progress_button = None
        self.token_counter = self.negative_token_counter = self.token_button = self.negative_token_button = None
        self.ui_styles = None
        self.prompt_img = None
        if not is_compact:
            with gr.Row(elem_id=f"{self.id_part}_toprow", variant="compact"):
                self.create_classic_toprow()
        else:
            self.create_submit_box()

    def create_classic_toprow(self) -> None:
        self.create_prompts()
        with gr.Column(scale=1, elem_id=f"{self.id_part}_actions_column"):
            self.create_submit_box()
            self.create_tools_row()
            self.create_styles_ui()

    def create_inline_toprow_prompts(self) -> None:
        if self.is_compact:
            self.create_prompts()
            with gr.Row(elem_classes=["toprow-compact-stylerow"]):
                self.create_tools_row()
                self.create_styles_ui()

    def create_inline_toprow_image(self) -> None:
        """A1111 puts the img2img image beside compact prompts; nothing is placed there here."""

    def create_prompts(self) -> None:
        with gr.Column(elem_id=f"{self.id_part}_prompt_container", scale=6):
            self.prompt = gr.Textbox(label="Prompt", elem_id=f"{self.id_part}_prompt", show_label=False, lines=3,
                                     placeholder="Prompt\n(Press Ctrl+Enter to generate, Alt+Enter to skip, "
                                                 "Esc to interrupt)")
            self.negative_prompt = gr.Textbox(label="Negative prompt", elem_id=f"{self.id_part}_neg_prompt",
                                              show_label=False, lines=3, placeholder="Negative prompt")
            self.token_counter = gr.HTML(value="<span>0/75</span>", elem_id=f"{self.id_part}_token_counter",
                                         elem_classes=["token-counter"])
            self.negative_token_counter = gr.HTML(value="<span>0/75</span>",
                                                  elem_id=f"{self.id_part}_negative_token_counter",
                                                  elem_classes=["token-counter"])
        self.prompt.change(lambda text: update_token_counter(text, 20), [self.prompt], [self.token_counter],
                           show_progress="hidden", queue=False)
        self.negative_prompt.change(lambda text: update_token_counter(text, 20, is_positive=False),
                                    [self.negative_prompt], [self.negative_token_counter], show_progress="hidden",
                                    queue=False)

    def create_submit_box(self) -> None:
        with gr.Row(elem_id=f"{self.id_part}_generate_box", elem_classes=["generate-box"]):
            self.interrupt = gr.Button("Interrupt", elem_id=f"{self.id_part}_interrupt",
                                       elem_classes="generate-box-interrupt")
            self.skip = gr.Button("Skip", elem_id=f"{self.id_part}_skip", elem_classes="generate-box-skip")
            self.submit = gr.Button("Generate", elem_id=f"{self.id_part}_generate", variant="primary")
        self.interrupt.click(fn=dispatch.interrupt, inputs=[], outputs=[])
        self.skip.click(fn=dispatch.skip, inputs=[], outputs=[])

    def create_tools_row(self) -> None:
        with gr.Row(elem_id=f"{self.id_part}_tools"):
            self.paste = ToolButton(value=paste_symbol, elem_id="paste", tooltip="Read generation parameters from "
                                    "prompt or last generation if prompt is empty into user interface.")
            self.clear_prompt_button = styles_editor.clear_prompt_button(self.id_part)
            self.apply_styles = ToolButton(value=styles_editor.styles_materialize_symbol,
                                           elem_id=f"{self.id_part}_style_apply",
                                           tooltip="Apply all selected styles to prompts.")
            self.restore_progress_button = ToolButton(value=restore_progress_symbol,
                                                      elem_id=f"{self.id_part}_restore_progress", visible=False,
                                                      tooltip="Restore progress")
        styles_editor.setup_clear_prompt_button(self.clear_prompt_button, self.prompt, self.negative_prompt)

    def create_styles_ui(self) -> None:
        """A1111's: `ui_styles` is the UiPromptStyles (its `dropdown` the styles selection)."""
        self.ui_styles = styles_editor.UiPromptStyles(self.id_part, self.prompt, self.negative_prompt)
        self.ui_styles.setup_apply_button(self.apply_styles)


__all__ = ["Toprow"]
