"""A1111's smaller UI modules that build or serve one tab: `modules.ui_prompt_styles` (the styles
dropdown's helpers) and `modules.ui_postprocessing` (the Extras tab). `modules.ui_checkpoint_merger`
is checkpoint_merger.py."""
from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)

styles_edit_symbol = '\U0001f58c\uFE0F'    # 🖌️
styles_materialize_symbol = '\U0001f4cb'   # 📋
styles_copy_symbol = '\U0001f4dd'          # 📝

STYLES_READ_ONLY = ("prompt styles are read from styles.csv here; the UI has no style editor, so saving or deleting "
                    "a style from an extension is not supported (edit styles.csv and reload)")


def _styles() -> dict:
    return shared.prompt_styles.styles if shared.prompt_styles is not None else {}


def select_style(name: str) -> tuple:
    """(prompt, negative prompt, delete button, save button) updates for a style picked by name."""
    style = _styles().get(name)
    return (style.prompt if style else gr.update(), style.negative_prompt if style else gr.update(),
            gr.update(visible=style is not None), gr.update(visible=bool(name)))


def save_style(name: str, prompt: str, negative_prompt: str) -> Any:
    raise NotImplementedError(STYLES_READ_ONLY)


def delete_style(name: str) -> Any:
    raise NotImplementedError(STYLES_READ_ONLY)


def materialize_styles(prompt: str, negative_prompt: str, styles: list[str]) -> list:
    """The styles written into the prompts, and the styles selection emptied."""
    known = [s for s in styles or [] if s in _styles()]
    if known:
        prompt, negative_prompt = shared.prompt_styles.apply(prompt, negative_prompt, known)
    return [gr.update(value=prompt), gr.update(value=negative_prompt), gr.update(value=[])]


def refresh_styles() -> tuple:
    if shared.prompt_styles is not None:
        shared.prompt_styles.reload()
    names = list(_styles())
    return gr.update(choices=names), gr.update(choices=names)


class UiPromptStyles:
    """The styles dropdown of a tab with a 📋 button that writes the selected styles into the prompts."""

    def __init__(self, tabname: str, main_ui_prompt: Any, main_ui_negative_prompt: Any):
        self.tabname = tabname
        self.main_ui_prompt = main_ui_prompt
        self.main_ui_negative_prompt = main_ui_negative_prompt
        from sdwebui.interfaces.ui.components import ToolButton

        with gr.Row(elem_id=f"{tabname}_styles_row"):
            self.dropdown = gr.Dropdown(label="Styles", show_label=False, elem_id=f"{tabname}_styles",
                                        choices=list(_styles()), value=[], multiselect=True)
            self.materialize = ToolButton(value=styles_materialize_symbol, elem_id=f"{tabname}_style_apply",
                                          tooltip="Apply all selected styles to prompts.")
        self.materialize.click(fn=materialize_styles, inputs=[main_ui_prompt, main_ui_negative_prompt, self.dropdown],
                               outputs=[main_ui_prompt, main_ui_negative_prompt, self.dropdown], show_progress="hidden")

    def setup_apply_button(self, button: Any) -> None:
        button.click(fn=materialize_styles, inputs=[self.main_ui_prompt, self.main_ui_negative_prompt, self.dropdown],
                     outputs=[self.main_ui_prompt, self.main_ui_negative_prompt, self.dropdown], show_progress="hidden")


# --- modules.ui_postprocessing -------------------------------------------------------------------------
def create_ui() -> dict:
    """The Extras tab's body (call inside a gr.Tab)."""
    from sdwebui.interfaces.ui.extras import create_extras_tab

    return create_extras_tab()


__all__ = ["styles_edit_symbol", "styles_materialize_symbol", "styles_copy_symbol", "select_style", "save_style",
           "delete_style", "materialize_styles", "refresh_styles", "UiPromptStyles", "create_ui", "STYLES_READ_ONLY"]
