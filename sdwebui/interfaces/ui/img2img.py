"""The img2img tab: sub-tabs img2img, Inpaint (draw the mask), Inpaint upload and Batch."""
from __future__ import annotations

import base64
import io
import logging
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.interfaces.api.models import StableDiffusionImg2ImgProcessingAPI
from sdwebui.services import img2img_batch
from sdwebui.services.generation_requests import img2img_processing
from sdwebui.interfaces.ui import extra_networks_panel, generation as g, generation_sections as sections
from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)

MODES = ("img2img", "sketch", "inpaint", "inpaint sketch", "inpaint upload", "batch")     # A1111's order


def _b64(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def mode_name(mode: Any) -> str:
    """The img2img mode by this UI's name, or by A1111's number (its `mode` argument: the mode tab's index)."""
    if isinstance(mode, (int, float)) and not isinstance(mode, bool):
        if not 0 <= int(mode) < len(MODES):
            raise gr.Error(f"mode: {mode} is not an img2img mode; 0-{len(MODES) - 1} are {', '.join(MODES)}")
        return MODES[int(mode)]
    if mode and mode not in MODES:
        raise gr.Error(f"mode: {mode!r} is not an img2img mode; the modes are {', '.join(MODES)}")
    return mode or "img2img"


def mask_from_editor(value: dict | None) -> tuple[Image.Image | None, Image.Image | None]:
    """(background image, mask) from gradio's ImageMask value: white where the user painted."""
    if not value or value.get("background") is None:
        return None, None
    background = value["background"]
    mask = Image.new("L", background.size, 0)
    for layer in value.get("layers") or []:
        if layer is not None:
            alpha = layer.convert("RGBA").getchannel("A").point(lambda a: 255 if a > 0 else 0)
            mask.paste(255, mask=alpha)
    return background.convert("RGB"), mask


def _brush(option: str) -> gr.Brush:
    """A sketch editor's brush, starting with the option's colour (A1111's *_brush_color settings)."""
    color = getattr(shared.opts, option, None) if shared.opts is not None else None
    color = color or "#ffffff"
    return gr.Brush(colors=[color, "#000000", "#ff0000", "#00ff00", "#0000ff"], default_color=color,
                    color_mode="defaults")


def image_from_sketch(value: dict | None) -> Image.Image | None:
    """Sketch: the picture as drawn (the strokes over the uploaded image) is the init image."""
    if not value or value.get("composite") is None:
        return None
    return value["composite"].convert("RGB")


def inpaint_from_sketch(value: dict | None, mask_alpha: float, mask_blur: int
                        ) -> tuple[Image.Image | None, Image.Image | None]:
    """Inpaint sketch, as A1111 does it: where the user painted is the mask (weakened by "Mask
    transparency"), and the painted colours, blurred by the mask blur, become part of the init image."""
    original, mask = mask_from_editor(value)
    sketch = image_from_sketch(value)
    if original is None or sketch is None:
        return None, None
    mask = ImageEnhance.Brightness(mask).enhance(1 - float(mask_alpha or 0) / 100)
    blur = ImageFilter.GaussianBlur(int(mask_blur or 0))
    return Image.composite(sketch.filter(blur), original, mask.filter(blur)), mask


def _build_batch(panel: g.Panel, shown: bool) -> None:
    """A1111's Batch tab: input, output and mask folders, and the parameters taken from PNG info."""
    def box(key: str, label: str, elem_id: str, **kw) -> None:
        panel.ui[key] = g.panel_input(gr.Textbox(label=label, visible=shown, elem_id=elem_id, **kw))

    box("batch_input", "Input directory", "img2img_batch_input_dir")
    box("batch_output", "Output directory", "img2img_batch_output_dir",
        placeholder="Leave blank to save images to the default path.")
    box("batch_mask", "Inpaint batch mask directory (required for inpaint batch processing only)",
        "img2img_batch_inpaint_mask_dir")
    with gr.Accordion("PNG info", open=False, visible=shown):
        panel.ui["batch_use_png_info"] = g.panel_input(gr.Checkbox(label="Append png info to prompts",
                                                                   elem_id="img2img_batch_use_png_info"))
        box("batch_png_info_dir", "PNG info directory", "img2img_batch_png_info_dir",
            placeholder="Leave empty to use input directory")
        panel.ui["batch_png_info_props"] = g.panel_input(gr.CheckboxGroup(
            list(img2img_batch.PNG_INFO_PROPS), label="Parameters to take from png info",
            info="Prompts from png info will be appended to prompts set in ui.",
            elem_id="img2img_batch_png_info_props"))


def build_settings(panel: g.Panel) -> None:
    """The left column: the source image tabs, sizes, sampling, denoising, inpainting and the scripts."""
    mode = g.panel_input(gr.State("img2img"))
    panel.ui["mode"] = mode
    copy_rows: list[tuple[str, dict]] = []
    with gr.Tabs(elem_id="mode_img2img") as mode_tabs:
        with gr.Tab("img2img", id="img2img_img2img_tab", elem_id="img2img_img2img_tab") as t0:
            panel.ui["image"] = g.panel_input(gr.Image(label="Image for img2img", type="pil",
                                                       sources=["upload", "clipboard"],
                                                       elem_id="img2img_image", height=360))
            copy_rows.append(("image", _copy_row("img2img")))
        with gr.Tab("Sketch", id="img2img_sketch", elem_id="img2img_img2img_sketch_tab") as t1:
            panel.ui["sketch"] = g.panel_input(gr.ImageEditor(label="Image for img2img", type="pil",
                                                              elem_id="img2img_sketch", height=360,
                                                              sources=["upload", "clipboard"], layers=False,
                                                              brush=_brush("img2img_sketch_default_brush_color")))
            copy_rows.append(("sketch", _copy_row("sketch")))
        with gr.Tab("Inpaint", id="img2img_inpaint_tab", elem_id="img2img_inpaint_tab") as t2:
            panel.ui["inpaint"] = g.panel_input(gr.ImageMask(label="Image for inpainting with mask",
                                                             type="pil", elem_id="img2maskimg", height=360,
                                                             brush=gr.Brush(colors=[_brush(
                                                                 "img2img_inpaint_mask_brush_color").default_color],
                                                                 color_mode="fixed")))
            copy_rows.append(("inpaint", _copy_row("inpaint")))
        with gr.Tab("Inpaint sketch", id="inpaint_sketch", elem_id="img2img_inpaint_sketch_tab") as t3:
            panel.ui["inpaint_sketch"] = g.panel_input(gr.ImageEditor(
                label="Color sketch inpainting", type="pil", elem_id="inpaint_sketch", height=360, layers=False,
                sources=["upload", "clipboard"], brush=_brush("img2img_inpaint_sketch_default_brush_color")))
            copy_rows.append(("inpaint_sketch", _copy_row("inpaint sketch")))
        with gr.Tab("Inpaint upload", id="img2img_inpaint_upload_tab",
                    elem_id="img2img_inpaint_upload_tab") as t4:
            panel.ui["inpaint_base"] = g.panel_input(gr.Image(label="Image", type="pil",
                                                              elem_id="img_inpaint_base", height=300))
            panel.ui["inpaint_mask"] = g.panel_input(gr.Image(label="Mask", type="pil",
                                                              elem_id="img_inpaint_mask", height=300))
        with gr.Tab("Batch", id="img2img_batch_tab", elem_id="img2img_batch_tab") as t5:
            # the server's folders: not offered with --hide-ui-dir-config (A1111's shared.hide_dirs)
            dirs_shown = not _dirs_hidden()
            if not dirs_shown:
                gr.HTML("<p>Disabled when launched with --hide-ui-dir-config.</p>")
            _build_batch(panel, dirs_shown)
    panel.ui["mode_tabs"] = mode_tabs
    panel.fields["resize_mode"] = gr.Radio(["Just resize", "Crop and resize", "Resize and fill",
                                            "Just resize (latent upscale)"], value="Just resize",
                                           type="index", label="Resize mode", elem_id="resize_mode")
    g.build_sampling("img2img", panel)
    g.build_size_and_batch("img2img", panel)
    panel.fields["denoising_strength"] = gr.Slider(0, 1, value=0.75, step=0.01, label="Denoising strength",
                                                   elem_id="img2img_denoising_strength")
    with gr.Accordion("Inpainting", open=True, elem_id="img2img_inpaint_controls"):
        panel.fields["mask_blur"] = gr.Slider(0, 64, value=4, step=1, label="Mask blur",
                                              elem_id="img2img_mask_blur")
        panel.fields["inpainting_mask_invert"] = gr.Radio(["Inpaint masked", "Inpaint not masked"],
                                                          value="Inpaint masked", type="index",
                                                          label="Mask mode", elem_id="img2img_mask_mode")
        panel.fields["inpainting_fill"] = gr.Radio(["fill", "original", "latent noise", "latent nothing"],
                                                   value="original", type="index", label="Masked content",
                                                   elem_id="img2img_inpainting_fill")
        panel.fields["inpaint_full_res"] = gr.Radio(["Whole picture", "Only masked"], value="Whole picture",
                                                    type="index", label="Inpaint area",
                                                    elem_id="img2img_inpaint_full_res")
        panel.fields["inpaint_full_res_padding"] = gr.Slider(0, 256, value=32, step=4,
                                                             label="Only masked padding, pixels",
                                                             elem_id="img2img_inpaint_full_res_padding")
        # Inpaint sketch only: how much of the painted colour shows through
        panel.ui["mask_alpha"] = g.panel_input(gr.Slider(0, 100, value=0, step=1, label="Mask transparency",
                                                         visible=False, elem_id="img2img_mask_alpha"))
    # as A1111: always-on scripts of the "inpaint" section (Soft inpainting) follow the inpainting controls
    scripts_mod.scripts_img2img.setup_ui_for_section("inpaint")
    for tab, name in zip((t0, t1, t2, t3, t4, t5), MODES):
        tab.select(lambda n=name: (n, gr.update(visible=n == "inpaint sketch")), [], [mode, panel.ui["mask_alpha"]],
                   show_progress="hidden", queue=False)
    _wire_source_size(panel)
    _wire_copy_rows(panel, copy_rows, mode_tabs)
    g.build_seed("img2img", panel)
    sections.build_refiner("img2img", panel)
    g.build_override_settings("img2img", panel)
    scripts_mod.scripts_img2img.setup_ui()


_SOURCES = ("image", "sketch", "inpaint", "inpaint_sketch", "inpaint_base")
# "Copy image to:" targets: panel name, A1111's button id part and label, the mode tab's id
_COPY_TARGETS = (("image", "img2img", "img2img", "img2img_img2img_tab"),
                 ("sketch", "sketch", "sketch", "img2img_sketch"),
                 ("inpaint", "inpaint", "inpaint", "img2img_inpaint_tab"),
                 ("inpaint_sketch", "inpaint_sketch", "inpaint sketch", "inpaint_sketch"))


def _copy_row(this_mode: str) -> dict:
    """A1111's "Copy image to:" row under a mode's picture: one button per other mode."""
    buttons = {}
    with gr.Row(elem_classes=["img2img-copy-row"]):
        gr.HTML("<span>Copy image to: </span>", elem_classes=["img2img-copy-label"], padding=False)
        for key, id_part, label, _tab in _COPY_TARGETS:
            if label != this_mode:
                buttons[key] = gr.Button(label, elem_id=f"img2img_copy_to_{id_part}", size="sm", min_width=60,
                                         scale=0)
    return buttons


def _picture(value: Any) -> Image.Image | None:
    """An image component's picture, or an editor's (what is drawn on it included)."""
    if isinstance(value, dict):
        value = value.get("composite") or value.get("background")
    return value.convert("RGB") if isinstance(value, Image.Image) else None


def _wire_copy_rows(panel: g.Panel, rows: list[tuple[str, dict]], mode_tabs: Any) -> None:
    modes = dict(zip(("image", "sketch", "inpaint", "inpaint_sketch"), MODES))
    for source, buttons in rows:
        for target, button in buttons.items():
            tab_id = next(t for k, _i, _l, t in _COPY_TARGETS if k == target)

            def copy(value: Any, target: str = target, tab_id: str = tab_id):
                picture = _picture(value)
                if picture is None:
                    raise gr.Error("No image to copy: upload one first")
                return (picture, gr.Tabs(selected=tab_id), modes[target],
                        gr.update(visible=target == "inpaint_sketch"))

            button.click(copy, [panel.ui[source]],
                         [panel.ui[target], mode_tabs, panel.ui["mode"], panel.ui["mask_alpha"]],
                         show_progress="hidden", queue=False)


def source_image(mode: str, *values: Any) -> Image.Image | None:
    """The picture of the current mode's tab (`values` in _SOURCES order): what "Resize by" scales and
    📐 measures (the editors' background layer)."""
    value = dict(zip(_SOURCES, values)).get({"img2img": "image", "inpaint sketch": "inpaint_sketch",
                                             "inpaint upload": "inpaint_base"}.get(mode, mode))
    if isinstance(value, dict):
        value = value.get("background")
    return value if isinstance(value, Image.Image) else None


def scaled_size(image: Image.Image, scale_by: float) -> tuple[int, int]:
    """A1111's "Resize by": the image's size times the scale, here to the nearest multiple of 8 (the
    request takes only those), at least 64."""
    return tuple(max(64, round(side * float(scale_by) / 8) * 8) for side in image.size)


def _wire_source_size(panel: g.Panel) -> None:
    sources = [panel.ui["mode"], *(panel.ui[name] for name in _SOURCES)]
    size = [panel.fields["width"], panel.fields["height"]]

    def detect(mode: str, *values: Any):
        image = source_image(mode, *values)
        if image is None:
            return gr.update(), gr.update()
        return tuple(max(64, round(side / 8) * 8) for side in image.size)

    def preview(mode: str, *values: Any) -> str:
        *images, scale = values
        image = source_image(mode, *images)
        if image is None:
            return "no image selected"
        w, h = scaled_size(image, scale)
        return (f"resize: from <span class='resolution'>{image.width}x{image.height}</span> to "
                f"<span class='resolution'>{w}x{h}</span>")

    panel.ui["detect_size"].click(detect, sources, size, show_progress="hidden", queue=False)
    scale = panel.ui["scale_by"]
    for event in (scale.release, scale.input, panel.ui["resize_by_tab"].select):
        event(preview, [*sources, scale], [panel.ui["scale_preview"]], show_progress="hidden", queue=False)


def create_img2img_tab() -> g.Panel:
    panel = g.Panel("img2img")
    g.build_prompt_row("img2img", panel)
    # A1111's layout: the settings and the output under a "Generation" tab, the Extra Networks pages beside it
    with gr.Tabs(elem_id="img2img_extra_tabs", elem_classes=["extra-networks"]):
        with gr.Tab("Generation", id="img2img_generation", elem_id="img2img_generation") as generation_tab:
            with gr.Row():
                with gr.Column(elem_id="img2img_settings"):
                    build_settings(panel)
                g.build_output("img2img", panel)      # its column is #img2img_results
        panel.ui["extra_networks"] = extra_networks_panel.build("img2img", generation_tab, panel.ui["gallery"])

    async def run(values: dict, extra: dict, task_id: str | None, user: str | None = None):
        values["inpaint_full_res"] = bool(values.get("inpaint_full_res"))
        sections.apply_refiner(values, extra)
        current = mode_name(extra.get("mode"))
        if current == "batch":
            async for out in run_batch(values, extra, task_id, user):
                yield out
            return
        if current == "img2img":
            image, mask = extra.get("image"), None
        elif current == "sketch":
            image, mask = image_from_sketch(extra.get("sketch")), None
        elif current == "inpaint":
            image, mask = mask_from_editor(extra.get("inpaint"))
        elif current == "inpaint sketch":
            image, mask = inpaint_from_sketch(extra.get("inpaint_sketch"), extra.get("mask_alpha"),
                                              values.get("mask_blur"))
        else:
            image, mask = extra.get("inpaint_base"), extra.get("inpaint_mask")
        if image is None:
            raise gr.Error(f"Upload an image in the {current} tab first")
        if extra.get("selected_scale_tab") == 1:
            values["width"], values["height"] = scaled_size(image, extra.get("scale_by") or 1.0)
        values["init_images"] = [_b64(image)]
        if mask is not None:
            values["mask"] = _b64(mask)
        # as the API does it: the images go in the request as base64 and are decoded the same way
        async for out in g.submit(img2img_processing, StableDiffusionImg2ImgProcessingAPI, values, "img2img", task_id,
                                  user):
            yield out

    g.wire_generate(panel, "img2img", run)
    g.wire_paste(panel)
    return panel


def _dirs_hidden() -> bool:
    return bool(getattr(shared.cmd_opts, "hide_ui_dir_config", False))


async def run_batch(values: dict, extra: dict, task_id: str | None, user: str | None = None):
    """Batch: one queued job per image of the input folder (services/img2img_batch.py plans them as
    A1111 does), each under the page's task id in turn, so that its progress bar follows the batch."""
    from sdwebui.engine.images.metadata import read_infotext
    from sdwebui.interfaces.ui.pnginfo import parse_for_paste

    if _dirs_hidden():   # a request made by hand must not read the server's folders either
        raise gr.Error("Launched with --hide-ui-dir-config, batch img2img disabled")
    input_dir = (extra.get("batch_input") or "").strip()
    if not input_dir or not Path(input_dir).is_dir():
        raise gr.Error("Batch: enter an existing input directory")
    settings = img2img_batch.BatchSettings(
        input_dir=input_dir, output_dir=(extra.get("batch_output") or "").strip(),
        mask_dir=(extra.get("batch_mask") or "").strip(), use_png_info=bool(extra.get("batch_use_png_info")),
        png_info_props=list(extra.get("batch_png_info_props") or []),
        png_info_dir=(extra.get("batch_png_info_dir") or "").strip())

    def read_info(path: Path) -> str | None:
        with Image.open(path) as im:
            return read_infotext(im)

    def match_checkpoint(name: str) -> str | None:
        info = shared.registry.match(name) if shared.registry is not None else None
        return info.title if info is not None else None

    gallery: list = []
    for item in img2img_batch.plan(values, settings, read_infotext=read_info, parse=parse_for_paste,
                                   match_checkpoint=match_checkpoint):
        try:
            image = ImageOps.exif_transpose(Image.open(item.image))     # phone photos stand upright
        except OSError as e:
            logger.warning("img2img batch: %s is not a readable image (%s); skipped", item.image, e)
            continue
        request = dict(item.values, init_images=[_b64(image)])
        if extra.get("selected_scale_tab") == 1:   # "Resize by": each image scaled from its own size
            request["width"], request["height"] = scaled_size(image, extra.get("scale_by") or 1.0)
        if item.mask is not None:
            request["mask"] = _b64(Image.open(item.mask))
        async for images, info, html in g.submit(img2img_processing, StableDiffusionImg2ImgProcessingAPI, request,
                                                 "img2img", task_id, user):
            gallery += images
            yield gallery, info, html
