"""A1111's `modules.ui` names that extensions use: the button symbols, `gr_show`, the refresh
button and output panel (from common.py), the hires-fix size text, the order of the generation
panel's sections, applying one setting, and the versions line."""
from __future__ import annotations

import logging
from typing import Any, Iterator

import gradio as gr

from sdwebui.interfaces.ui.common import create_output_panel as _create_output_panel
from sdwebui.interfaces.ui.common import create_refresh_button, image_from_gallery_item, plaintext_to_html
from sdwebui.interfaces.ui.footer import versions_html
from sdwebui.interfaces.ui.styles_editor import clear_prompt_symbol
from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)

# the same characters as A1111's (script.js matches its tooltips on them)
random_symbol = '\U0001f3b2\ufe0f'        # 🎲️
reuse_symbol = '\u267b\ufe0f'             # ♻️
paste_symbol = '\u2199\ufe0f'             # ↙
refresh_symbol = '\U0001f504'             # 🔄
save_style_symbol = '\U0001f4be'          # 💾
apply_style_symbol = '\U0001f4cb'         # 📋
extra_networks_symbol = '\U0001F3B4'      # 🎴
switch_values_symbol = '\U000021C5'       # ⇅
restore_progress_symbol = '\U0001F300'    # 🌀
detect_image_size_symbol = '\U0001F4D0'   # 📐

sample_img2img = None   # A1111's sample image path when its assets are present; none ship here


def gr_show(visible: bool = True) -> dict:
    """A gradio update that shows or hides a component (the dict form gradio 6 still accepts)."""
    return {"visible": visible, "__type__": "update"}


def send_gradio_gallery_to_image(x: list) -> Any:
    return image_from_gallery_item(x[0]) if x else None


def create_output_panel(tabname: str, outdir: str | None, toprow: Any = None) -> Any:
    return _create_output_panel(tabname, outdir, toprow)


def calc_resolution_hires(enable: bool, width: int, height: int, hr_scale: float, hr_resize_x: int,
                          hr_resize_y: int) -> str:
    """The "from WxH to WxH" text under hires fix."""
    from sdwebui.engine.processing.hires import target_size

    if not enable:
        return ""
    to_w, to_h, _, _ = target_size(int(width), int(height), float(hr_scale), int(hr_resize_x), int(hr_resize_y))
    return (f"from <span class='resolution'>{width}x{height}</span> to <span class='resolution'>"
            f"{hr_resize_x or to_w}x{hr_resize_y or to_h}</span>")


def resize_from_to_html(width: int, height: int, scale_by: float) -> str:
    target_width, target_height = int(width * scale_by), int(height * scale_by)
    if not target_width or not target_height:
        return "no image selected"
    return (f"resize: from <span class='resolution'>{width}x{height}</span> to <span class='resolution'>"
            f"{target_width}x{target_height}</span>")


def connect_clear_prompt(button: Any) -> None:
    """The button runs A1111's JavaScript `clear_prompt` (when the page defines it)."""
    button.click(fn=None, js="() => { if (typeof clear_prompt === 'function') clear_prompt(); }", inputs=[],
                 outputs=[])


def update_token_counter(text: str, steps: int, styles: list[str] | None = None, *, is_positive: bool = True) -> str:
    """The "used/limit" tokens HTML of a prompt (with the styles applied when the option asks)."""
    from sdwebui.interfaces.ui.generation import token_counter

    if styles and shared.prompt_styles is not None and shared.opts is not None \
            and "include_styles_into_token_counters" in shared.opts and shared.opts.include_styles_into_token_counters:
        known = [s for s in styles if s in shared.prompt_styles.styles]
        positive, negative = shared.prompt_styles.apply(text if is_positive else "", "" if is_positive else text, known)
        text = positive if is_positive else negative
    return token_counter(text)


def update_negative_prompt_token_counter(*args: Any) -> str:
    return update_token_counter(*args, is_positive=False)


def setup_progressbar(*args: Any, **kwargs: Any) -> None:
    """Nothing to set up (as in A1111 since 1.0: the progress bar is JavaScript)."""


def apply_setting(key: str, value: Any) -> Any:
    """Set option `key` to `value` and save the settings (A1111's paste of "Override settings");
    returns the option's value, or an empty update when nothing may change."""
    opts = shared.opts
    if value is None or opts is None or key not in opts.data_labels:
        return gr.update()
    from sdwebui.services.options.apply import read_only_reason

    if read_only_reason(key) is not None:   # the flags' rules are the Settings tab's and the API's
        return gr.update()
    if key == "sd_model_checkpoint":
        if getattr(opts, "disable_weights_auto_swap", False) or shared.registry is None:
            return gr.update()
        info = shared.registry.match(value)
        if info is None:
            return gr.update()
        value = info.title
    opts.set(key, value)
    opts.save()
    return getattr(opts, key)


def ordered_ui_categories() -> Iterator[str]:
    """The generation panel's sections in the order of the option ui_reorder_list."""
    from sdwebui.services.shared_items import ui_reorder_categories

    chosen = shared.opts.ui_reorder_list if shared.opts is not None and "ui_reorder_list" in shared.opts else []
    user_order = {x.strip(): i * 2 + 1 for i, x in enumerate(chosen or [])}
    ordered = sorted(enumerate(ui_reorder_categories()), key=lambda x: user_order.get(x[1], x[0] * 2))
    for _, category in ordered:
        yield category


def create_override_settings_dropdown(tabname: str, row: Any) -> gr.Dropdown:
    from sdwebui.interfaces.ui.generation import override_settings_dropdown

    return override_settings_dropdown(tabname)


def create_ui() -> gr.Blocks:
    """The whole UI (this app's; an extension calling it gets a new gr.Blocks)."""
    from sdwebui.interfaces.ui.app import create_ui as build

    return build()


def _no_interrogator(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("interrogate: this web UI has no CLIP or DeepBooru interrogator")


interrogate = interrogate_deepbooru = process_interrogate = _no_interrogator

__all__ = ["random_symbol", "reuse_symbol", "paste_symbol", "refresh_symbol", "save_style_symbol",
           "apply_style_symbol", "clear_prompt_symbol", "extra_networks_symbol", "switch_values_symbol",
           "restore_progress_symbol", "detect_image_size_symbol", "sample_img2img", "gr_show", "plaintext_to_html",
           "create_refresh_button", "send_gradio_gallery_to_image", "create_output_panel", "calc_resolution_hires",
           "resize_from_to_html", "connect_clear_prompt", "update_token_counter",
           "update_negative_prompt_token_counter", "setup_progressbar", "apply_setting", "ordered_ui_categories",
           "create_override_settings_dropdown", "versions_html", "create_ui", "interrogate", "interrogate_deepbooru",
           "process_interrogate"]
