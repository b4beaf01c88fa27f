"""The styles editor of a generation tab (A1111's `modules.ui_prompt_styles`): the styles dropdown
with its 🖌️ button, which opens a dialog to create, edit, delete and apply styles, and the prompt
row's 🗑️ clear button. Element ids and labels are A1111 1.10's.

The styles live in the one StyleDatabase the API lists (`runtime.prompt_styles`), so a save shows in
`/sdapi/v1/prompt-styles` at once; after a save or delete every tab's style dropdowns are refreshed,
not only the editing tab's."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator

import gradio as gr
from gradio.context import Context

from sdwebui.interfaces.ui.common import refresh_symbol
from sdwebui.interfaces.ui.components import ToolButton
from sdwebui.services import runtime as shared
from sdwebui.services.styles import StyleError

logger = logging.getLogger(__name__)

styles_edit_symbol = '\U0001f58c\uFE0F'    # 🖌️
styles_materialize_symbol = '\U0001f4cb'   # 📋
styles_copy_symbol = '\U0001f4dd'          # 📝
clear_prompt_symbol = '\U0001f5d1\ufe0f'   # 🗑️ (A1111's modules.ui has it; ui_helpers takes it from here)

STYLES_INFO = ("Styles allow you to add custom text to prompt. Use the {prompt} token in style text, and it will be "
               "replaced with user's prompt when applying style. Otherwise, style's text will be added to the end of "
               "the prompt.")
# the page's functions (javascript/prompt_row.js, a1111_menus.js) are looked up when the event runs
CLOSE_POPUP_JS = "() => { if (typeof closePopup === 'function') closePopup(); }"
CONFIRM_DELETE_JS = "(name) => webuiConfirmDeleteStyle(name)"
CONFIRM_CLEAR_JS = "(prompt, negative) => confirm_clear_prompt(prompt, negative)"


def _styles() -> dict:
    return shared.prompt_styles.styles if shared.prompt_styles is not None else {}


def style_names() -> list[str]:
    return list(_styles())


@contextmanager
def _shown_to_user(done: str, name: str) -> Iterator[None]:
    """A refused name or a failed write becomes the message the page shows (nothing was changed)."""
    try:
        yield
    except StyleError as e:
        raise gr.Error(str(e)) from None
    except OSError as e:
        logger.error("style %r could not be %s: %s", name, done, e)
        raise gr.Error(f"The style could not be {done} ({e}); the styles file was left as it was.") from None


def select_style(name: str) -> tuple:
    """(prompt, negative prompt, Delete button, Save button) for the name in the dialog's box: an
    existing style's text is loaded; a new name keeps what is typed, and can only be saved."""
    style = _styles().get(name)
    return (style.prompt if style else gr.update(), style.negative_prompt if style else gr.update(),
            gr.update(visible=style is not None), gr.update(visible=bool((name or "").strip())))


def save_style(name: str, prompt: str, negative_prompt: str) -> Any:
    """Save the style (to its own file; a new one to the default file). Bad input or a failed write is
    shown to the user and changes nothing. Returns the Delete button's update (visible: it exists now)."""
    if shared.prompt_styles is None:
        raise gr.Error("Styles are not loaded.")
    with _shown_to_user("saved", name):
        style = shared.prompt_styles.save_style(name, prompt, negative_prompt)
    logger.info("saved style %r to %s", style.name, style.path)
    return gr.update(visible=True)


def delete_style(name: str) -> tuple:
    """Delete the style (the page asked for confirmation: an empty name means "cancelled"); the
    dialog's name and prompts are emptied."""
    if not name or shared.prompt_styles is None:
        return gr.skip(), gr.skip(), gr.skip()
    with _shown_to_user("deleted", name):
        style = shared.prompt_styles.delete_style(name)
    logger.info("deleted style %r from %s", style.name, style.path)
    return "", "", ""


def materialize_styles(prompt: str, negative_prompt: str, styles: list[str]) -> list:
    """The selected styles written into the prompts (A1111's rule, `{prompt}` included), and the
    selection emptied, so that generating does not apply them a second time."""
    db = shared.prompt_styles
    if db is not None:
        prompt = db.apply_styles_to_prompt(prompt or "", styles or [])
        negative_prompt = db.apply_negative_styles_to_prompt(negative_prompt or "", styles or [])
    return [gr.update(value=prompt), gr.update(value=negative_prompt), gr.update(value=[])]


def refresh_styles() -> tuple:
    names = style_names()
    return gr.update(choices=names), gr.update(choices=names)


def _editors() -> list[UiPromptStyles]:
    """The editors built so far in the Blocks being built (the txt2img and img2img tabs', an
    extension's Toprow's)."""
    root = Context.root_block
    return root.__dict__.setdefault("_webui_styles_editors", []) if root is not None else []


def _remember_choices(root: Any, components: list[gr.Dropdown], names: list[str]) -> None:
    """A page opened later lists the styles as they are now: gradio 6 serves every page the config
    it computed at mount time, so the new choices go there too, not only on the components."""
    choices = [(n, n) for n in names]
    for component in components:
        component.choices = choices
    config = getattr(root, "config", None)
    if not isinstance(config, dict):
        return
    ids = {c._id for c in components}
    for entry in config.get("components", []):
        if entry.get("id") in ids and isinstance(entry.get("props"), dict):
            entry["props"]["choices"] = choices


class UiPromptStyles:
    """The styles dropdown of tab `tabname` (`self.dropdown`, multiselect) with its edit button, and
    the editor dialog (hidden in the page; the button shows it in the page's popup)."""

    def __init__(self, tabname: str, main_ui_prompt: Any, main_ui_negative_prompt: Any):
        self.tabname = tabname
        self.main_ui_prompt = main_ui_prompt
        self.main_ui_negative_prompt = main_ui_negative_prompt
        self._root = Context.root_block
        names = style_names()

        with gr.Row(elem_id=f"{tabname}_styles_row"):
            # narrow enough to keep the edit button beside it in the tab's 180 px actions column
            self.dropdown = gr.Dropdown(label="Styles", show_label=False, elem_id=f"{tabname}_styles",
                                        choices=names, value=[], multiselect=True, min_width=100)
            self.edit_button = ToolButton(value=styles_edit_symbol, elem_id=f"{tabname}_styles_edit_button",
                                          tooltip="Edit styles")

        # A1111's gr.Box. Always in the page (gradio 6 would leave a hidden column's children out until
        # shown), kept out of sight by style.css until the page's popup holds it
        with gr.Column(elem_id=f"{tabname}_styles_dialog", elem_classes=["popup-dialog", "webui-styles-dialog"]) \
                as self.dialog:
            with gr.Row():
                self.selection = gr.Dropdown(label="Styles", elem_id=f"{tabname}_styles_edit_select", choices=names,
                                             value=None, allow_custom_value=True, info=STYLES_INFO)
                self.refresh = ToolButton(value=refresh_symbol, elem_id=f"refresh_{tabname}_styles",
                                          tooltip="Styles: refresh")
                self.materialize = ToolButton(value=styles_materialize_symbol, elem_id=f"{tabname}_style_apply_dialog",
                                              tooltip="Apply all selected styles from the style selection dropdown "
                                                      "in main UI to the prompt.")
                self.copy = ToolButton(value=styles_copy_symbol, elem_id=f"{tabname}_style_copy",
                                       tooltip="Copy main UI prompt to style.")
            with gr.Row():
                self.prompt = gr.Textbox(label="Prompt", show_label=True, elem_id=f"{tabname}_edit_style_prompt",
                                         lines=3, elem_classes=["prompt"])
            with gr.Row():
                self.neg_prompt = gr.Textbox(label="Negative prompt", show_label=True,
                                             elem_id=f"{tabname}_edit_style_neg_prompt", lines=3,
                                             elem_classes=["prompt"])
            with gr.Row():
                self.save = gr.Button("Save", variant="primary", elem_id=f"{tabname}_edit_style_save", visible=False)
                self.delete = gr.Button("Delete", variant="primary", elem_id=f"{tabname}_edit_style_delete",
                                        visible=False)
                self.close = gr.Button("Close", variant="secondary", elem_id=f"{tabname}_edit_style_close")

        self.edit_button.click(fn=None, js=f"() => webuiOpenStylesDialog('{tabname}')")
        self.close.click(fn=None, js=CLOSE_POPUP_JS)
        self.selection.change(fn=select_style, inputs=[self.selection],
                              outputs=[self.prompt, self.neg_prompt, self.delete, self.save],
                              show_progress="hidden", queue=False)
        # on the queue: gradio shows a gr.Error (bad name, failed write) only for a queued event
        saved = self.save.click(fn=save_style, inputs=[self.selection, self.prompt, self.neg_prompt],
                                outputs=[self.delete], show_progress="hidden")
        deleted = self.delete.click(fn=delete_style, js=CONFIRM_DELETE_JS, inputs=[self.selection],
                                    outputs=[self.selection, self.prompt, self.neg_prompt], show_progress="hidden")
        reloaded = self.refresh.click(fn=self._reload, show_progress="hidden", queue=False)
        self.copy.click(fn=None, js="(prompt, negative) => [prompt, negative]",
                        inputs=[main_ui_prompt, main_ui_negative_prompt], outputs=[self.prompt, self.neg_prompt])
        self.setup_apply_button(self.materialize)

        # every editor's dropdowns follow a change made in any of them
        self._changes = [saved, deleted, reloaded]
        earlier = _editors()
        earlier.append(self)
        for dep in self._changes:
            self._refresh_after(dep, earlier)
        for editor in earlier[:-1]:
            for dep in editor._changes:
                self._refresh_after(dep, [self])

    @staticmethod
    def _reload() -> None:
        if shared.prompt_styles is not None:
            shared.prompt_styles.reload()

    def _refresh_after(self, dependency: Any, editors: list[UiPromptStyles]) -> None:
        """After `dependency`, the editors' style lists are the database's; a style that is gone also
        leaves the selection of the main dropdowns (gradio would refuse a value not in the choices)."""
        mains = [e.dropdown for e in editors]
        selections = [e.selection for e in editors]
        root = self._root

        def refresh(*selected: list[str] | None) -> list:
            names = style_names()
            _remember_choices(root, mains + selections, names)
            known = set(names)
            return ([gr.update(choices=names, value=[s for s in (value or []) if s in known]) for value in selected]
                    + [gr.update(choices=names) for _ in selections])

        dependency.then(fn=refresh, inputs=mains, outputs=mains + selections, show_progress="hidden", queue=False)

    def setup_apply_button(self, button: Any) -> None:
        """`button` applies the selected styles to the prompts (and closes the dialog, as in A1111)."""
        button.click(fn=materialize_styles, inputs=[self.main_ui_prompt, self.main_ui_negative_prompt, self.dropdown],
                     outputs=[self.main_ui_prompt, self.main_ui_negative_prompt, self.dropdown],
                     show_progress="hidden", queue=False).then(fn=None, js=CLOSE_POPUP_JS)


def setup_clear_prompt_button(button: Any, prompt: Any, negative_prompt: Any) -> None:
    """🗑️ empties both prompts once the user confirms (A1111's `confirm_clear_prompt`), in the page."""
    button.click(fn=None, js=CONFIRM_CLEAR_JS, inputs=[prompt, negative_prompt], outputs=[prompt, negative_prompt])


def clear_prompt_button(tabname: str) -> ToolButton:
    return ToolButton(value=clear_prompt_symbol, elem_id=f"{tabname}_clear_prompt", tooltip="Clear prompt")


__all__ = ["styles_edit_symbol", "styles_materialize_symbol", "styles_copy_symbol", "select_style", "save_style",
           "delete_style", "materialize_styles", "refresh_styles", "UiPromptStyles", "setup_clear_prompt_button",
           "clear_prompt_button", "style_names"]
