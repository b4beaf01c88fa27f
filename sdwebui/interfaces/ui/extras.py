"""The "Extras" tab: upscale one image or a batch with one or two upscalers (A1111's extras tab).

The lead builds the tab (``with gr.Tab("Extras", id="extras", elem_id="tab_extras"):``) and calls
:func:`create_extras_tab` inside it. Generate runs :func:`modules.postprocessing.run_extras` as a job
on the shared queue, like the API's /sdapi/v1/extra-* routes, and then saves every result to the extras
output folder, which A1111's UI always does (the API never saves).
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any, Iterable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from sdwebui.engine.images import writing as images_mod  # noqa: E402
from sdwebui.services import runtime as shared  # noqa: E402
from sdwebui.services.extensions import callbacks  # noqa: E402
from sdwebui.engine.atomic_write import atomic_write_text  # noqa: E402
from sdwebui.engine.processing.extras import ExtrasParams, run_extras  # noqa: E402
from sdwebui.engine.upscalers import MAX_OUTPUT_SIDE  # noqa: E402

logger = logging.getLogger(__name__)

TAB_SINGLE, TAB_BATCH = 0, 1
RESIZE_SCALE_BY, RESIZE_SCALE_TO = 0, 1


def _opt(name: str, default: Any) -> Any:
    """An option's value, or `default` where this project has no such option (A1111 options the
    extras tab reads that are not declared here, e.g. use_original_name_batch)."""
    opts = shared.opts
    if opts is None or name not in opts:
        return default
    return getattr(opts, name)


def _upscaler_names() -> list[str]:
    return shared.upscalers.names() if shared.upscalers is not None else ["None"]


# ------------------------------------------------------------------------------------------------
# Saving
# ------------------------------------------------------------------------------------------------
def extras_output_dir() -> Path:
    """Where extras results go: outdir_samples when set (it overrides every tab's folder, as in
    A1111), else outdir_extras_samples; relative paths are under the data dir."""
    opts = shared.opts
    return shared.paths.resolve_output(opts.outdir_samples or opts.outdir_extras_samples)


def save_extras_image(image: Image.Image, original_name: str | None = None) -> Path:
    """Save one extras result as A1111 does and return its path.

    * Folder: the extras folder itself, no date sub folder (A1111 saves extras with no_prompt, which
      turns save_to_dirs off).
    * Name: `NNNNN.<fmt>` (short_filename: extras have no seed or prompt), or the source file's own
      name for batch files when use_original_name_batch is on (A1111's default), replacing a file of
      that name per save_images_replace_action.
    * Metadata: PNG keeps the source's text chunks (its `parameters`) plus `postprocessing`, and
      A1111's `extras` section with the same text; other formats get the postprocessing text as the
      EXIF comment, as A1111 writes them.
    """
    opts = shared.opts
    fmt = opts.samples_format
    texts = {k: v for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
    pp_text = texts.get("postprocessing")
    infotext: str | None = None
    existing: dict[str, Any] | None = None
    if opts.enable_pnginfo:
        if fmt.lower() == "png":
            infotext = texts.pop("parameters", None)  # save_image writes it as the `parameters` chunk
            existing = texts | ({"extras": pp_text} if pp_text is not None else {})
        else:
            infotext = pp_text
    forced = None
    if original_name and _opt("use_original_name_batch", True):
        forced = Path(original_name).stem
    path = images_mod.write_image(
        image, extras_output_dir(), values={}, infotext=infotext, fmt=fmt, save_to_dirs=False,
        short_filename=True, forced_filename=forced, replace_action=opts.save_images_replace_action,
        existing_pnginfo=existing, jpeg_quality=opts.jpeg_quality, webp_lossless=opts.webp_lossless,
        max_length=int(getattr(shared.cmd_opts, "filenames_max_length", 128)),
        unix_only=bool(getattr(shared.cmd_opts, "unix_filenames_sanitization", False)), hooks=callbacks)
    # save_image's save_txt would write the source `parameters`; A1111 writes the text it saved
    # the image with, i.e. the postprocessing text.
    if opts.save_txt and pp_text:
        atomic_write_text(path.with_suffix(".txt"), f"{pp_text}\n")
    return path


# ------------------------------------------------------------------------------------------------
# Generate
# ------------------------------------------------------------------------------------------------
def _file_path(item: Any) -> str:
    # gr.File(type="filepath") gives paths; older payloads are objects with `.name` / `.path`
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    return str(getattr(item, "path", None) or getattr(item, "name"))


def _load_batch(files: Iterable[Any]) -> list[tuple[Image.Image, str]]:
    out = []
    for item in files:
        path = _file_path(item)
        try:
            with Image.open(path) as im:
                im.load()  # read now, so the file is closed before the job runs
        except Exception as e:
            raise gr.Error(f"{Path(path).name} is not a readable image: {e}") from None
        out.append((im, path))
    return out


def build_params(resize_mode: Any, upscaling_resize: Any, resize_w: Any, resize_h: Any, crop: Any,
                 upscaler_1: Any, upscaler_2: Any, upscaler_2_visibility: Any) -> ExtrasParams:
    """ExtrasParams from the component values (sliders give floats; the sizes must be ints)."""
    return ExtrasParams(
        resize_mode=int(resize_mode or 0), upscaling_resize=float(upscaling_resize),
        upscaling_resize_w=int(resize_w), upscaling_resize_h=int(resize_h), upscaling_crop=bool(crop),
        upscaler_1=str(upscaler_1 or "None"), upscaler_2=str(upscaler_2 or "None"),
        extras_upscaler_2_visibility=float(upscaler_2_visibility or 0.0))


def _process(images: list[Image.Image], names: list[str | None],
             params: ExtrasParams) -> tuple[list[Image.Image], str]:
    """The queue job: upscale, then save. Saving is in the job too so file I/O never blocks the
    event loop, and a failed save is reported without losing the results."""
    out, html_info = run_extras(images, params, shared.upscalers)
    problems = []
    for image, name in zip(out, names):
        try:
            path = save_extras_image(image, name)
            logger.info("extras: saved %s", path)
        except OSError as e:
            logger.error("extras: could not save image: %s", e)
            problems.append(f"image not saved: {e}")
    if problems:
        from sdwebui.engine.processing.extras import plaintext_to_html

        html_info += plaintext_to_html("\n".join(problems))
    return out, html_info


async def run_extras_ui(tab_index: Any, image: Image.Image | None, batch_files: list[Any] | None,
                        resize_mode: Any, upscaling_resize: Any, resize_w: Any, resize_h: Any, crop: Any,
                        upscaler_1: Any, upscaler_2: Any, upscaler_2_visibility: Any
                        ) -> tuple[list[tuple[Image.Image, str | None]], str]:
    """Generate: (gallery value, html_info). Bad input and failed jobs raise gr.Error with the reason."""
    if int(tab_index or 0) == TAB_BATCH:
        if not batch_files:
            raise gr.Error("No images to process: add files in Batch Process first.")
        loaded = _load_batch(batch_files)
        images: list[Image.Image] = [im for im, _ in loaded]
        names: list[str | None] = [name for _, name in loaded]
    else:
        if image is None:
            raise gr.Error("No image selected: upload an image in Single Image first.")
        images, names = [image], [None]
    try:
        params = build_params(resize_mode, upscaling_resize, resize_w, resize_h, crop, upscaler_1, upscaler_2,
                              upscaler_2_visibility)
    except (TypeError, ValueError) as e:
        raise gr.Error(f"invalid extras settings: {e}") from None

    job = shared.queue.submit(lambda: _process(images, names, params), name="extras")
    try:
        out, html_info = await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        # the browser went away: do not leave the job in the queue
        shared.queue.cancel(job.task_id)
        raise
    except Exception as e:  # UpscalerError and anything else from the job: show its message
        logger.info("extras failed: %s", e)
        raise gr.Error(str(e)) from None
    return [(im, None) for im in out], html_info


# ------------------------------------------------------------------------------------------------
# UI
# ------------------------------------------------------------------------------------------------
def create_extras_tab() -> dict[str, Any]:
    """Build the tab's components (call inside the open gr.Tab) and wire Generate.

    Returned keys: image, image_batch, input_tabs (the Single Image / Batch Process Tabs), tab_index
    (State: 0 single, 1 batch), tab_single, tab_batch, resize_mode (State: 0 scale by, 1 scale to),
    tab_scale_by, tab_scale_to, upscaling_resize, upscaling_resize_w, upscaling_resize_h, upscaling_crop, upscaler_1,
    upscaler_2, upscaler_2_visibility, generate, gallery, html_info.
    """
    names = _upscaler_names()
    # Which input sub-tab and which resize tab are open: the handler needs to know, and a Tab's
    # select event is the only signal (A1111 does the same with hidden state).
    tab_index = gr.State(TAB_SINGLE)
    resize_mode = gr.State(RESIZE_SCALE_BY)
    with gr.Row(equal_height=False):
        with gr.Column(variant="compact"):
            with gr.Tabs(elem_id="mode_extras") as input_tabs:
                with gr.Tab("Single Image", id="single_image", elem_id="extras_single_tab") as tab_single:
                    # image_mode=None keeps alpha and grey images as they are; the upscalers handle modes
                    image = gr.Image(label="Source", sources=["upload", "clipboard"], type="pil", image_mode=None,
                                     elem_id="extras_image", height=400)
                with gr.Tab("Batch Process", id="batch_process", elem_id="extras_batch_process_tab") as tab_batch:
                    image_batch = gr.File(label="Batch Process", file_count="multiple", file_types=["image"],
                                          type="filepath", elem_id="extras_image_batch")
            with gr.Tabs(elem_id="extras_resize_mode"):
                with gr.Tab("Scale by", id="scale_by", elem_id="extras_scale_by_tab") as tab_scale_by:
                    upscaling_resize = gr.Slider(1.0, 8.0, value=2.0, step=0.05, label="Resize",
                                                 elem_id="extras_upscaling_resize")
                with gr.Tab("Scale to", id="scale_to", elem_id="extras_scale_to_tab") as tab_scale_to:
                    with gr.Row():
                        upscaling_resize_w = gr.Slider(64, MAX_OUTPUT_SIDE, value=512, step=8, label="Width",
                                                       elem_id="extras_upscaling_resize_w")
                        upscaling_resize_h = gr.Slider(64, MAX_OUTPUT_SIDE, value=512, step=8, label="Height",
                                                       elem_id="extras_upscaling_resize_h")
                        upscaling_crop = gr.Checkbox(label="Crop to fit", value=True,
                                                     elem_id="extras_upscaling_crop")
            with gr.Row():
                upscaler_1 = gr.Dropdown(label="Upscaler 1", choices=names, value=names[0],
                                         elem_id="extras_upscaler_1")
            with gr.Row():
                upscaler_2 = gr.Dropdown(label="Upscaler 2", choices=names, value=names[0],
                                         elem_id="extras_upscaler_2")
                upscaler_2_visibility = gr.Slider(0.0, 1.0, value=0.0, step=0.001, label="Upscaler 2 visibility",
                                                  elem_id="extras_upscaler_2_visibility")
        with gr.Column():
            generate = gr.Button("Generate", variant="primary", elem_id="extras_generate")
            gallery = gr.Gallery(label="Result", format="png", columns=2, elem_id="extras_gallery",
                                 buttons=["download", "fullscreen"])
            html_info = gr.HTML(elem_id="html_info_extras")

    # queue=False: these only record which tab is open and must not wait behind a running job
    for tab, value, state in ((tab_single, TAB_SINGLE, tab_index), (tab_batch, TAB_BATCH, tab_index),
                              (tab_scale_by, RESIZE_SCALE_BY, resize_mode),
                              (tab_scale_to, RESIZE_SCALE_TO, resize_mode)):
        tab.select(lambda v=value: v, [], [state], show_progress="hidden", queue=False, api_visibility="private")
    generate.click(run_extras_ui,
                   [tab_index, image, image_batch, resize_mode, upscaling_resize, upscaling_resize_w,
                    upscaling_resize_h, upscaling_crop, upscaler_1, upscaler_2, upscaler_2_visibility],
                   [gallery, html_info], api_name="extras", concurrency_limit=None)
    return {"image": image, "image_batch": image_batch, "input_tabs": input_tabs, "tab_index": tab_index,
            "tab_single": tab_single, "tab_batch": tab_batch, "resize_mode": resize_mode,
            "tab_scale_by": tab_scale_by, "tab_scale_to": tab_scale_to, "upscaling_resize": upscaling_resize,
            "upscaling_resize_w": upscaling_resize_w, "upscaling_resize_h": upscaling_resize_h,
            "upscaling_crop": upscaling_crop, "upscaler_1": upscaler_1, "upscaler_2": upscaler_2,
            "upscaler_2_visibility": upscaler_2_visibility, "generate": generate, "gallery": gallery,
            "html_info": html_info}
