"""A1111's settings category "User Interface": the page: quicksettings, infotext, live previews, prompt editing, gallery, UI alternatives."""
from __future__ import annotations

from typing import Callable

from sdwebui.services.options.info import OptionHTML, OptionInfo, options_section

# keys kept, saved and shown, that nothing here acts on -> why (docs/compatibility.md lists them)
INERT: dict[str, str] = {
    "keyedit_precision_attention": "Ctrl+up/down prompt weight editing is not in the page script",
    "keyedit_precision_extra": "Ctrl+up/down prompt weight editing is not in the page script",
    "keyedit_delimiters": "Ctrl+up/down prompt weight editing is not in the page script",
    "keyedit_delimiters_whitespace": "Ctrl+up/down prompt weight editing is not in the page script",
    "keyedit_move": "Alt+left/right prompt editing is not in the page script",
    "disable_token_counters": "the token counters are always shown",
    "do_not_show_images": "the gallery always shows the results",
    "js_modal_lightbox": "the gallery uses gradio's own full-page preview",
    "js_modal_lightbox_initially_zoomed": "the gallery uses gradio's own full-page preview",
    "js_modal_lightbox_gamepad": "the gallery uses gradio's own full-page preview",
    "js_modal_lightbox_gamepad_repeat": "the gallery uses gradio's own full-page preview",
    "sd_webui_modal_lightbox_icon_opacity": "the gallery uses gradio's own full-page preview",
    "sd_webui_modal_lightbox_toolbar_opacity": "the gallery uses gradio's own full-page preview",
    "compact_prompt_box": "the prompt layout is fixed",
    "samplers_in_dropdown": "the sampler is always a dropdown",
    "dimensions_and_batch_together": "the layout of the size and batch sliders is fixed",
    "sd_checkpoint_dropdown_use_short": "the checkpoint dropdown shows A1111's titles (path and hash)",
    "txt2img_settings_accordion": "the layout of the txt2img tab is fixed",
    "img2img_settings_accordion": "the layout of the img2img tab is fixed",
    "interrupt_after_current": "Interrupt stops at the next sampling step",
    "ui_tab_order": "the tab order is fixed",
    "hidden_tabs": "every tab is shown",
    "gradio_theme": "the page uses gradio's default theme",
    "gradio_themes_cache": "the page uses gradio's default theme",
    "send_seed": "the send-to buttons always send the seed",
    "send_size": "the send-to buttons always send the size",
    "enable_reloading_ui_scripts": "Reload UI does not re-read the page scripts",
    "add_user_name_to_info": "the user name is not written to the infotext",
    "js_live_preview_in_modal_lightbox": "the gallery uses gradio's own full-page preview",
    "extra_options_txt2img": "settings are not added to the txt2img tab (use quicksettings)",
    "extra_options_img2img": "settings are not added to the img2img tab (use quicksettings)",
    "extra_options_cols": "settings are not added to the generation tabs (use quicksettings)",
    "extra_options_accordion": "settings are not added to the generation tabs (use quicksettings)",
}

INFOTEXT_EXPLANATION = """
The infotext is the text that holds an image's generation parameters; it can make the same picture
again. It is shown below the image: paste it into the prompt and press the paste button to fill the
fields in from it.
"""

SETTINGS_IN_UI_EXPLANATION = """
The settings chosen here also appear in the txt2img and img2img tabs.
"""


def options(localization_choices: Callable[[], list[str]] | None = None) -> dict[str, OptionInfo]:
    """`localization_choices` lists the localization files (the runtime's folders) when it exists."""
    t: dict[str, OptionInfo] = {}

    t.update(options_section(("ui_prompt_editing", "Prompt editing", "ui"), {
        "keyedit_precision_attention": OptionInfo(0.1, "Precision for (attention:1.1) when editing the prompt with Ctrl+up/down", "slider", component_args={"minimum": 0.01, "maximum": 0.2, "step": 0.001}),
        "keyedit_precision_extra": OptionInfo(0.05, "Precision for <extra networks:0.9> when editing the prompt with Ctrl+up/down", "slider", component_args={"minimum": 0.01, "maximum": 0.2, "step": 0.001}),
        "keyedit_delimiters": OptionInfo('.,\\/!?%^*;:{}=`~() ', "Word delimiters when editing the prompt with Ctrl+up/down", "textbox"),
        "keyedit_delimiters_whitespace": OptionInfo(["Tab", "Carriage Return", "Line Feed"], "Ctrl+up/down whitespace delimiters", "checkboxgroup", choices=("Tab", "Carriage Return", "Line Feed")),
        "keyedit_move": OptionInfo(True, "Alt+left/right moves prompt elements", "checkbox"),
        "disable_token_counters": OptionInfo(False, "Disable prompt token counters", "checkbox"),
        "include_styles_into_token_counters": OptionInfo(True, "Count tokens of enabled styles", "checkbox"),
    }))

    t.update(options_section(("ui_gallery", "Gallery", "ui"), {
        "return_grid": OptionInfo(True, "Show grid in gallery", "checkbox"),
        "do_not_show_images": OptionInfo(False, "Do not show any images in gallery", "checkbox"),
        "js_modal_lightbox": OptionInfo(True, "Full page image viewer: enable", "checkbox"),
        "js_modal_lightbox_initially_zoomed": OptionInfo(True, "Full page image viewer: show images zoomed in by default", "checkbox"),
        "js_modal_lightbox_gamepad": OptionInfo(False, "Full page image viewer: navigate with gamepad", "checkbox"),
        "js_modal_lightbox_gamepad_repeat": OptionInfo(250, "Full page image viewer: gamepad repeat period", "number"),
        "sd_webui_modal_lightbox_icon_opacity": OptionInfo(1, "Full page image viewer: control icon unfocused opacity", "slider", component_args={"minimum": 0.0, "maximum": 1, "step": 0.01}).needs_reload_ui(),
        "sd_webui_modal_lightbox_toolbar_opacity": OptionInfo(0.9, "Full page image viewer: tool bar opacity", "slider", component_args={"minimum": 0.0, "maximum": 1, "step": 0.01}).needs_reload_ui(),
        "gallery_height": OptionInfo("", "Gallery height", "textbox").needs_reload_ui(),
        "open_dir_button_choice": OptionInfo("Subdirectory", "What directory the [📂] button opens", "radio", choices=("Output Root", "Subdirectory", "Subdirectory (even temp dir)")),
    }))

    t.update(options_section(("ui_alternatives", "UI alternatives", "ui"), {
        "compact_prompt_box": OptionInfo(False, "Compact prompt layout", "checkbox").needs_reload_ui(),
        "samplers_in_dropdown": OptionInfo(True, "Use dropdown for sampler selection instead of radio group", "checkbox").needs_reload_ui(),
        "dimensions_and_batch_together": OptionInfo(True, "Show Width/Height and Batch sliders in same row", "checkbox").needs_reload_ui(),
        "sd_checkpoint_dropdown_use_short": OptionInfo(False, "Checkpoint dropdown: use filenames without paths", "checkbox"),
        "hires_fix_show_sampler": OptionInfo(False, "Hires fix: show hires checkpoint and sampler selection", "checkbox").needs_reload_ui(),
        "hires_fix_show_prompts": OptionInfo(False, "Hires fix: show hires prompt and negative prompt", "checkbox").needs_reload_ui(),
        "txt2img_settings_accordion": OptionInfo(False, "Settings in txt2img hidden under Accordion", "checkbox").needs_reload_ui(),
        "img2img_settings_accordion": OptionInfo(False, "Settings in img2img hidden under Accordion", "checkbox").needs_reload_ui(),
        "interrupt_after_current": OptionInfo(True, "Don't Interrupt in the middle", "checkbox"),
    }))

    t.update(options_section(("ui", "User interface", "ui"), {
        # choices and refresh list the files again (A1111 rescans on the refresh button)
        "localization": OptionInfo("None", "Localization", "dropdown", choices=localization_choices,
                                   refresh=localization_choices).needs_reload_ui(),
        "quicksettings_list": OptionInfo(["sd_model_checkpoint"], "Quicksettings list", "dropdown").needs_reload_ui(),
        "ui_tab_order": OptionInfo([], "UI tab order", "dropdown").needs_reload_ui(),
        "hidden_tabs": OptionInfo([], "Hidden UI tabs", "dropdown").needs_reload_ui(),
        "ui_reorder_list": OptionInfo([], "UI item order for txt2img/img2img tabs", "dropdown").needs_reload_ui(),
        "gradio_theme": OptionInfo("Default", "Gradio theme", "dropdown").needs_reload_ui(),
        "gradio_themes_cache": OptionInfo(True, "Cache gradio themes locally", "checkbox"),
        "show_progress_in_title": OptionInfo(True, "Show generation progress in window title.", "checkbox"),
        "send_seed": OptionInfo(True, "Send seed when sending prompt or image to other interface", "checkbox"),
        "send_size": OptionInfo(True, "Send size when sending prompt or image to another interface", "checkbox"),
        "enable_reloading_ui_scripts": OptionInfo(False, "Reload UI scripts when using Reload UI option", "checkbox"),
    }))

    t.update(options_section(("infotext", "Infotext", "ui"), {
        "infotext_explanation": OptionHTML(INFOTEXT_EXPLANATION),
        "enable_pnginfo": OptionInfo(True, "Write infotext to metadata of the generated image", "checkbox"),
        "save_txt": OptionInfo(False, "Create a text file with infotext next to every generated image", "checkbox"),
        "add_model_name_to_info": OptionInfo(True, "Add model name to infotext", "checkbox"),
        "add_model_hash_to_info": OptionInfo(True, "Add model hash to infotext", "checkbox"),
        "add_vae_name_to_info": OptionInfo(True, "Add VAE name to infotext", "checkbox"),
        "add_vae_hash_to_info": OptionInfo(True, "Add VAE hash to infotext", "checkbox"),
        "add_user_name_to_info": OptionInfo(False, "Add user name to infotext when authenticated", "checkbox"),
        "add_version_to_infotext": OptionInfo(True, "Add program version to infotext", "checkbox"),
        "disable_weights_auto_swap": OptionInfo(True, "Disregard checkpoint information from pasted infotext", "checkbox"),
        "infotext_skip_pasting": OptionInfo([], "Disregard fields from pasted infotext", "dropdown"),
        "infotext_styles": OptionInfo("Apply if any", "Infer styles from prompts of pasted infotext", "radio", choices=("Ignore", "Apply", "Discard", "Apply if any")),
    }))

    t.update(options_section(("ui", "Live previews", "ui"), {
        "show_progressbar": OptionInfo(True, "Show progressbar", "checkbox"),
        "live_previews_enable": OptionInfo(True, "Show live previews of the created image", "checkbox"),
        "live_previews_image_format": OptionInfo("png", "Live preview file format", "radio", choices=("jpeg", "png", "webp")),
        "show_progress_grid": OptionInfo(True, "Show previews of all images generated in a batch as a grid", "checkbox"),
        "show_progress_every_n_steps": OptionInfo(10, "Live preview display period", "slider", component_args={"minimum": -1, "maximum": 32, "step": 1}),
        "show_progress_type": OptionInfo("Approx NN", "Live preview method", "radio", choices=("Full", "Approx NN", "Approx cheap", "TAESD")),
        "live_preview_allow_lowvram_full": OptionInfo(False, "Allow Full live preview method with lowvram/medvram", "checkbox"),
        "live_preview_content": OptionInfo("Prompt", "Live preview subject", "radio", choices=("Combined", "Prompt", "Negative prompt")),
        "live_preview_refresh_period": OptionInfo(1000, "Progressbar and preview update period", "number"),
        "live_preview_fast_interrupt": OptionInfo(False, "Return image with chosen live preview method on interrupt", "checkbox"),
        "js_live_preview_in_modal_lightbox": OptionInfo(False, "Show Live preview in full page image viewer", "checkbox"),
        "prevent_screen_sleep_during_generation": OptionInfo(True, "Prevent screen sleep during generation", "checkbox"),
    }))

    t.update(options_section(("settings_in_ui", "Settings in UI", "ui"), {
        "settings_in_ui": OptionHTML(SETTINGS_IN_UI_EXPLANATION),
        "extra_options_txt2img": OptionInfo([], "Settings for txt2img", "dropdown").needs_reload_ui(),
        "extra_options_img2img": OptionInfo([], "Settings for img2img", "dropdown").needs_reload_ui(),
        "extra_options_cols": OptionInfo(1, "Number of columns for added settings", "slider", component_args={"step": 1, "minimum": 1, "maximum": 20}).needs_reload_ui(),
        "extra_options_accordion": OptionInfo(False, "Place added settings into an accordion", "checkbox").needs_reload_ui(),
    }))
    return t
