"""The whole Gradio UI: quicksettings bar and the tabs, mounted on the same FastAPI app as the API."""
from __future__ import annotations

import contextlib
import json
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.services.extensions import callbacks as script_callbacks, scripts
from sdwebui.services import runtime as shared  # noqa: E402


logger = logging.getLogger(__name__)


def create_ui() -> gr.Blocks:
    from sdwebui.interfaces.ui.checkpoint_merger import create_checkpoint_merger_tab
    from sdwebui.interfaces.ui.extras import create_extras_tab
    from sdwebui.interfaces.ui.img2img import create_img2img_tab
    from sdwebui.interfaces.ui.pnginfo import create_pnginfo_tab
    from sdwebui.interfaces.ui.settings import create_quicksettings, create_settings_tab
    from sdwebui.interfaces.ui.txt2img import create_txt2img_tab

    from sdwebui.interfaces.ui.extensions_tab import create_extensions_tab
    from sdwebui.interfaces.ui.footer import create_footer

    from sdwebui.interfaces.ui import extra_networks, extra_networks_default_pages, gradio_compat, paste_bindings, tempdir
    from sdwebui.interfaces.ui.loadsave import UiLoadsave

    # A1111's order: its own Extra Networks pages, then the extensions' (registered in on_before_ui)
    paste_bindings.reset()      # the extensions register their send-to buttons again as their tabs are built
    extra_networks.initialize()
    extra_networks_default_pages.register_default_pages()
    script_callbacks.before_ui_callback()
    extension_tabs = _extension_tabs()
    # A1111's ui-config.json (--ui-config-file): the tabs' fields take the default values saved
    # there; Settings > Defaults writes the current ones
    loadsave = UiLoadsave(shared.cmd_opts.ui_config_file or shared.paths.data / "ui-config.json")
    from_file = dict(loadsave.ui_settings)
    with gr.Blocks(title="Stable Diffusion", analytics_enabled=False) as demo:
        # quicksettings first: the Settings tab leaves out the keys shown here (one element id each)
        with gr.Row(elem_id="quicksettings"):
            create_quicksettings()
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("txt2img", id="txt2img", elem_id="tab_txt2img") as tab:
                with _current_runner(scripts.scripts_txt2img):
                    txt2img = create_txt2img_tab()
            loadsave.add_block(tab, "txt2img")
            # drawn at load (eager_render.js), as gradio 3 did: extensions' scripts look up
            # #img2img_prompt and the other img2img elements when the UI starts
            with gr.Tab("img2img", id="img2img", elem_id="tab_img2img", elem_classes=[gradio_compat.EAGER_CLASS]) as tab:
                with _current_runner(scripts.scripts_img2img):
                    img2img = create_img2img_tab()
            loadsave.add_block(tab, "img2img")
            with gr.Tab("Extras", id="extras", elem_id="tab_extras") as tab:
                ext = create_extras_tab()
            loadsave.add_block(tab, "extras")
            with gr.Tab("PNG Info", id="pnginfo", elem_id="tab_pnginfo") as tab:
                png = create_pnginfo_tab()
            loadsave.add_block(tab, "pnginfo")
            with gr.Tab("Checkpoint Merger", id="modelmerger", elem_id="tab_modelmerger") as tab:
                create_checkpoint_merger_tab()
            loadsave.add_block(tab, "modelmerger")
            for blocks, title, elem_id in extension_tabs:
                # rendered at load, as gradio 3 did: the extension's JavaScript expects its elements
                with gr.Tab(title, id=elem_id, elem_id=f"tab_{elem_id}", elem_classes=[gradio_compat.EAGER_CLASS]):
                    blocks.render()
                loadsave.add_block(blocks, elem_id)
            with gr.Tab("Settings", id="settings", elem_id="tab_settings", elem_classes=[gradio_compat.EAGER_CLASS]):
                create_settings_tab()
                with gr.Accordion("Defaults", open=False, elem_id="settings_tab_defaults"):
                    loadsave.create_ui()
            create_extensions_tab()
            loadsave.setup_ui()
        # the options, for extensions' JavaScript (the global `opts`, as in A1111)
        settings_json = gr.Textbox(value=_options_json, visible="hidden", elem_id="settings_json")
        # A1111's JavaScript re-reads `opts` when this box changes; the page's script presses the
        # button after a settings change (the Apply button, a quicksetting)
        gr.Button(visible="hidden", elem_id="settings_json_refresh").click(
            _options_json, [], [settings_json], queue=False, api_visibility="undocumented")
        _wire_send_to(png)
        for panel in (txt2img, img2img):
            _wire_gallery_send_to(panel, tabs, img2img, ext)
        paste_bindings.connect_app_tabs(tabs, txt2img, img2img, ext)   # the extensions' send-to buttons
        create_footer()
    if from_file != loadsave.ui_settings:     # new fields: written, as A1111 does at each start
        try:
            loadsave.dump_defaults()
        except OSError as e:
            logger.error("could not write the UI defaults to %s: %s", loadsave.filename, e)
    demo.ui_loadsave = loadsave
    tempdir.demo = demo     # A1111's shared.demo, for registering files the page may serve
    return demo


def _wire_gallery_send_to(panel, tabs, img2img, ext: dict) -> None:
    """The buttons under a gallery: the selected image (and its parameters) to img2img, inpaint or extras."""
    from sdwebui.interfaces.ui.generation import field_updates, selected_image
    from sdwebui.interfaces.ui.pnginfo import paste_fields

    source = [panel.ui["gallery"], panel.ui["selected_index"], panel.ui["generation_info"]]

    def params(text: str) -> list:
        values = {k: v for k, v in paste_fields(text).items() if not k.startswith("hr_") and k != "enable_hr"}
        return field_updates(img2img, values)

    def to_img2img(gallery, index, info):
        image, text = selected_image(gallery, index, info)
        return [*params(text), image, gr.Tabs(selected="img2img_img2img_tab"), "img2img", gr.Tabs(selected="img2img")]

    def to_inpaint(gallery, index, info):
        image, text = selected_image(gallery, index, info)
        return [*params(text), {"background": image, "layers": [], "composite": image},
                gr.Tabs(selected="img2img_inpaint_tab"), "inpaint", gr.Tabs(selected="img2img")]

    mode_tabs = img2img.ui["mode_tabs"]
    panel.ui["send_to_img2img"].click(to_img2img, source, [*img2img.fields.values(), img2img.ui["image"], mode_tabs,
                                                           img2img.ui["mode"], tabs], queue=False)
    panel.ui["send_to_inpaint"].click(to_inpaint, source, [*img2img.fields.values(), img2img.ui["inpaint"], mode_tabs,
                                                           img2img.ui["mode"], tabs], queue=False)
    panel.ui["send_to_extras"].click(
        lambda gallery, index, info: (selected_image(gallery, index, info)[0], 0, gr.Tabs(selected="single_image"),
                                      gr.Tabs(selected="extras")),
        source, [ext["image"], ext["tab_index"], ext["input_tabs"], tabs], queue=False)


def _wire_send_to(png: dict) -> None:
    """PNG Info's "Send to" buttons, registered as A1111 registers them (ParamBinding: the infotext and
    the image), and connected with the extensions' ones by paste_bindings.connect_app_tabs."""
    from sdwebui.interfaces.ui.paste_bindings import ParamBinding, register_paste_params_button

    for tab, button in png["buttons"].items():
        register_paste_params_button(ParamBinding(button, tab, source_text_component=png["generation_info"],
                                                  source_image_component=png["image"]))


@contextlib.contextmanager
def _current_runner(runner):
    """While a tab is built, its ScriptRunner sees every component created (A1111's scripts_current)."""
    scripts.scripts_current = runner
    try:
        yield
    finally:
        scripts.scripts_current = None


def _extension_tabs() -> list[tuple]:
    """The tabs extensions add with on_ui_tabs: [(gr.Blocks, title, elem_id)]; a broken one is left out."""
    from sdwebui.interfaces.ui import gradio_compat

    with gradio_compat.extension_ui():
        found = script_callbacks.ui_tabs_callback()
    tabs = []
    for item in found:
        try:
            blocks, title, elem_id = item[0], str(item[1]), str(item[2])
        except (TypeError, IndexError):
            logger.error("an on_ui_tabs callback returned %r, not (blocks, title, elem_id)", item)
            continue
        tabs.append((blocks, title, elem_id))
    return tabs


def _options_json() -> str:
    from sdwebui.services.extensions import scripts as scripts_mod

    return json.dumps(scripts_mod.json_safe(shared.opts.as_dict()))


def head_html() -> str:
    """Into the page's <head>: the UI's own scripts and style, then the extensions' assets from /file=
    (sdwebui/interfaces/ui/page_assets.py)."""
    from sdwebui.interfaces.ui.page_assets import head_html as assets

    return assets()
