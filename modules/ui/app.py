"""The whole Gradio UI: quicksettings bar and the tabs, mounted on the same FastAPI app as the API."""
from __future__ import annotations

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from modules import shared  # noqa: E402

logger = logging.getLogger(__name__)


def _optional(module: str, func: str):
    """Tabs built in their own modules; a missing one is logged, the rest of the UI still loads."""
    try:
        mod = __import__(f"modules.ui.{module}", fromlist=[func])
        return getattr(mod, func)
    except (ImportError, AttributeError) as e:
        logger.warning("UI part %s unavailable: %s", module, e)
        return None


def create_ui() -> gr.Blocks:
    from modules.ui.img2img import create_img2img_tab
    from modules.ui.txt2img import create_txt2img_tab

    quicksettings = _optional("settings", "create_quicksettings")
    settings_tab = _optional("settings", "create_settings_tab")
    pnginfo_tab = _optional("pnginfo", "create_pnginfo_tab")
    extras_tab = _optional("extras", "create_extras_tab")

    with gr.Blocks(title="Stable Diffusion", analytics_enabled=False) as demo:
        with gr.Row(elem_id="quicksettings"):
            if quicksettings is not None:
                quicksettings()
            else:
                _checkpoint_quicksetting()
        ext = png = None
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("txt2img", id="txt2img", elem_id="tab_txt2img"):
                txt2img = create_txt2img_tab()
            with gr.Tab("img2img", id="img2img", elem_id="tab_img2img"):
                img2img = create_img2img_tab()
            if extras_tab is not None:
                with gr.Tab("Extras", id="extras", elem_id="tab_extras"):
                    ext = extras_tab()
            if pnginfo_tab is not None:
                with gr.Tab("PNG Info", id="pnginfo", elem_id="tab_pnginfo"):
                    png = pnginfo_tab()
            if settings_tab is not None:
                with gr.Tab("Settings", id="settings", elem_id="tab_settings"):
                    settings_tab()
        if png is not None:
            _wire_send_to(png, tabs, txt2img, img2img, ext)
    return demo


def _wire_send_to(png: dict, tabs, txt2img, img2img, ext: dict | None) -> None:
    """PNG Info's "Send to" buttons: the parameters into a tab's fields (and the image where it goes)."""
    from modules.ui.generation import field_updates
    from modules.ui.pnginfo import paste_fields

    def to_txt2img(info: str):
        return [*field_updates(txt2img, paste_fields(info or "")), gr.Tabs(selected="txt2img")]

    png["send_to_txt2img"].click(to_txt2img, [png["generation_info"]], [*txt2img.fields.values(), tabs], queue=False)

    def to_img2img(info: str, image):
        values = {k: v for k, v in paste_fields(info or "").items() if not k.startswith("hr_") and k != "enable_hr"}
        return [*field_updates(img2img, values), image, gr.Tabs(selected="img2img")]

    png["send_to_img2img"].click(to_img2img, [png["generation_info"], png["image"]],
                                 [*img2img.fields.values(), img2img.ui["image"], tabs], queue=False)
    if ext is not None:
        png["send_to_extras"].click(lambda image: (image, 0, gr.Tabs(selected="single_image"),
                                                   gr.Tabs(selected="extras")),
                                    [png["image"]], [ext["image"], ext["tab_index"], ext["input_tabs"], tabs],
                                    queue=False)


def _checkpoint_quicksetting() -> None:
    """Fallback quicksetting: the checkpoint dropdown, switching through the shared queue."""
    import asyncio

    titles = [c.title for c in shared.registry.list()]
    ckpt = gr.Dropdown(label="Stable Diffusion checkpoint", choices=titles, value=shared.opts.sd_model_checkpoint,
                       elem_id="setting_sd_model_checkpoint", allow_custom_value=True)

    async def switch(title: str):
        info = shared.registry.match(title)
        if info is None:
            raise gr.Error(f"checkpoint {title!r} not found")
        try:
            await asyncio.wrap_future(shared.queue.submit(lambda: shared.model_manager.load(info),
                                                          name="load-checkpoint").future)
        except Exception as e:
            raise gr.Error(f"could not load {title}: {e}") from None
        shared.opts.save()
        return gr.update(value=shared.opts.sd_model_checkpoint)

    ckpt.input(switch, [ckpt], [ckpt], concurrency_limit=None)
