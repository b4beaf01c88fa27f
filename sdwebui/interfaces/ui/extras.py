"""The "Extras" tab (A1111's ui_postprocessing): one image, a batch of files or a folder through
every postprocessing script (Upscale, GFPGAN, CodeFormer, the training operations and the
extensions' own), whose controls the runner builds (`scripts_postproc.setup_ui`).

The lead builds the tab (``with gr.Tab("Extras", id="extras", elem_id="tab_extras"):``) and calls
:func:`create_extras_tab` inside it. Generate runs `run_postprocessing` as a job on the shared queue,
like the API's /sdapi/v1/extra-* routes, and saves every result to the extras output folder (or the
batch output folder), which A1111's UI always does (the API never saves).
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.services import runtime as shared  # noqa: E402
from sdwebui.services.extensions.postprocessing_runner import scripts_postproc  # noqa: E402
from sdwebui.services.postprocessing import (MODE_BATCH, MODE_FOLDER, MODE_SINGLE,  # noqa: E402
                                             extras_output_dir, read_sources, run_postprocessing,
                                             save_extras_image)

logger = logging.getLogger(__name__)

TAB_SINGLE, TAB_BATCH, TAB_FOLDER = MODE_SINGLE, MODE_BATCH, MODE_FOLDER
__all__ = ["TAB_SINGLE", "TAB_BATCH", "TAB_FOLDER", "create_extras_tab", "run_extras_ui", "extras_output_dir",
           "save_extras_image"]


def _dirs_hidden() -> bool:
    return bool(getattr(shared.cmd_opts, "hide_ui_dir_config", False))


async def run_extras_ui(tab_index: Any, image: Any, batch_files: list[Any] | None, input_dir: str | None,
                        output_dir: str | None, show_extras_results: bool, *script_args: Any
                        ) -> tuple[list[tuple[Any, str | None]], str]:
    """Generate: (gallery value, html_info). `script_args` are the runner's controls' values in
    its order. Bad input and failed jobs raise gr.Error with the reason."""
    mode = int(tab_index or 0)
    if mode == TAB_BATCH and not batch_files:
        raise gr.Error("No images to process: add files in Batch Process first.")
    if mode == TAB_SINGLE and image is None:
        raise gr.Error("No image selected: upload an image in Single Image first.")

    try:
        if shared.cluster is not None:
            out, html_info = await _run_on_a_worker(mode, image, batch_files, input_dir or "", output_dir or "",
                                                    bool(show_extras_results), script_args)
        else:
            out, html_info = await _run_here(mode, image, batch_files, input_dir or "", output_dir or "",
                                             bool(show_extras_results), script_args)
    except Exception as e:  # UpscalerError, a missing face model, a bad folder ... : show its message
        logger.info("extras failed: %s", e)
        raise gr.Error(str(e)) from None
    return [(im, None) for im in out], html_info


async def _run_here(mode: int, image: Any, batch_files: Any, input_dir: str, output_dir: str, show: bool,
                    script_args: tuple[Any, ...]) -> tuple[list[Any], str]:
    def job() -> tuple[list[Any], str, str]:
        return run_postprocessing(mode, image, batch_files, input_dir, output_dir, show, *script_args,
                                  save_output=True)

    task = shared.queue.submit(job, name="extras")
    try:
        out, html_info, _ = await asyncio.wrap_future(task.future)
    except asyncio.CancelledError:
        # the browser went away: do not leave the job in the queue
        shared.queue.cancel(task.task_id)
        raise
    return out, html_info


async def _run_on_a_worker(mode: int, image: Any, batch_files: Any, input_dir: str, output_dir: str, show: bool,
                           script_args: tuple[Any, ...]) -> tuple[list[Any], str]:
    """Cluster mode: the inputs go to the worker as data (it may not see this machine's uploads or
    folders); it runs the scripts and saves the results, as a worker saves the UI's generations."""
    sources = await asyncio.to_thread(read_sources, mode, image, batch_files, input_dir)
    result = await shared.cluster.run_extras("postprocess", {
        "mode": mode, "sources": sources, "args": list(script_args), "output_dir": output_dir, "show": show},
        dict(shared.opts.data))
    return result["images"], result["html"]


def create_extras_tab() -> dict[str, Any]:
    """Build the tab's components (call inside the open gr.Tab) and wire Generate.

    Returned keys: image, image_batch, input_dir, output_dir, show_extras_results, input_tabs (the
    Single Image / Batch Process / Batch from Directory Tabs), tab_index (State), tab_single,
    tab_batch, tab_folder, script_inputs (the postprocessing scripts' controls, in argument order),
    generate, gallery, html_info, and the Upscale script's controls by their ui() names
    (upscaler_1_name ...) with the old short names (upscaler_1, upscaler_2, upscaler_2_visibility,
    upscaling_resize, upscaling_resize_w, upscaling_resize_h, upscaling_crop).
    """
    # which input sub-tab is open: the handler needs to know, and a Tab's select event is the
    # only signal (A1111 does the same with hidden state)
    tab_index = gr.State(TAB_SINGLE)
    with gr.Row(equal_height=False):
        with gr.Column(variant="compact"):
            with gr.Tabs(elem_id="mode_extras") as input_tabs:
                with gr.Tab("Single Image", id="single_image", elem_id="extras_single_tab") as tab_single:
                    # image_mode=None keeps alpha and grey images as they are
                    image = gr.Image(label="Source", sources=["upload", "clipboard"], type="pil", image_mode=None,
                                     elem_id="extras_image", height=400)
                with gr.Tab("Batch Process", id="batch_process", elem_id="extras_batch_process_tab") as tab_batch:
                    image_batch = gr.File(label="Batch Process", file_count="multiple", file_types=["image"],
                                          type="filepath", elem_id="extras_image_batch")
                with gr.Tab("Batch from Directory", id="batch_from_directory",
                            elem_id="extras_batch_directory_tab") as tab_folder:
                    # the server's folders: not offered with --hide-ui-dir-config (A1111's shared.hide_dirs)
                    shown = not _dirs_hidden()
                    if not shown:
                        gr.HTML("<p>Disabled when launched with --hide-ui-dir-config.</p>")
                    input_dir = gr.Textbox(label="Input directory", visible=shown, elem_id="extras_batch_input_dir",
                                           placeholder="A directory on the same machine where the server is running.")
                    output_dir = gr.Textbox(label="Output directory", visible=shown, elem_id="extras_batch_output_dir",
                                            placeholder="Leave blank to save images to the default path.")
                    show_extras_results = gr.Checkbox(label="Show result images", value=True,
                                                      elem_id="extras_show_extras_results")
            script_inputs = scripts_postproc.setup_ui()
        with gr.Column():
            generate = gr.Button("Generate", variant="primary", elem_id="extras_generate")
            gallery = gr.Gallery(label="Result", format="png", columns=2, elem_id="extras_gallery",
                                 buttons=["download", "fullscreen"])
            html_info = gr.HTML(elem_id="html_info_extras")

    # queue=False: these only record which tab is open and must not wait behind a running job
    for tab, value in ((tab_single, TAB_SINGLE), (tab_batch, TAB_BATCH), (tab_folder, TAB_FOLDER)):
        tab.select(lambda v=value: v, [], [tab_index], show_progress="hidden", queue=False, api_visibility="private")
    image.change(scripts_postproc.image_changed, [], [], show_progress="hidden", queue=False,
                 api_visibility="private")
    generate.click(run_extras_ui,
                   [tab_index, image, image_batch, input_dir, output_dir, show_extras_results, *script_inputs],
                   [gallery, html_info], api_name="extras", concurrency_limit=None)
    out = {"image": image, "image_batch": image_batch, "input_dir": input_dir, "output_dir": output_dir,
           "show_extras_results": show_extras_results, "input_tabs": input_tabs, "tab_index": tab_index,
           "tab_single": tab_single, "tab_batch": tab_batch, "tab_folder": tab_folder, "script_inputs": script_inputs,
           "generate": generate, "gallery": gallery, "html_info": html_info}
    upscale = next((s for s in scripts_postproc.scripts_in_preferred_order() if s.name == "Upscale"), None)
    if upscale is not None and upscale.controls:
        out.update(upscale.controls)
        for short, name in (("upscaler_1", "upscaler_1_name"), ("upscaler_2", "upscaler_2_name"),
                            ("upscaler_2_visibility", "upscaler_2_visibility"), ("upscaling_resize", "upscale_by"),
                            ("upscaling_resize_w", "upscale_to_width"), ("upscaling_resize_h", "upscale_to_height"),
                            ("upscaling_crop", "upscale_crop"), ("resize_mode", "upscale_mode")):
            out[short] = upscale.controls[name]
    return out
