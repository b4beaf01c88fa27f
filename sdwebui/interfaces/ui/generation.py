"""The generation panel shared by the txt2img and img2img tabs, laid out as in A1111 and with
A1111's element ids, and the submit path: the panel's values become the same request model the
API accepts, checked by the same code, and the job goes on the same queue."""
from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import gradio as gr

from sdwebui.engine.sampling import samplers
from sdwebui.interfaces.ui import generate_inputs, styles_editor
from sdwebui.interfaces.ui.components import ToolButton
# the paste helpers live apart (paste_bindings uses them too); kept importable from here
from sdwebui.interfaces.ui.panel_paste import field_updates, script_infotext_fields, script_value
from sdwebui.interfaces.ui.panel_paste import script_value as _script_value  # noqa: F401  (its former name here)
from sdwebui.services import runtime as shared
from sdwebui.services import call_queue, dispatch
from sdwebui.services.call_queue import time_taken_html
from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.services.generation_requests import processing_args
from sdwebui.services.request_errors import RequestError, error_message

logger = logging.getLogger(__name__)


@dataclass
class Panel:
    """The components of one tab's panel, by request field name (and a few UI-only ones)."""
    tab: str
    fields: dict[str, gr.components.Component] = field(default_factory=dict)
    ui: dict[str, gr.components.Component] = field(default_factory=dict)


def token_counter(text: str) -> str:
    from sdwebui.engine.prompt.encoding import count_tokens

    model = shared.model_manager.sd_model if shared.model_manager else None
    tokenizer = getattr(model, "tokenizer", None) or getattr(model, "tokenizer_2", None)
    if tokenizer is None:
        from sdwebui.engine.models.tokenizer import get_tokenizer

        tokenizer = get_tokenizer()
    used, limit = count_tokens(tokenizer, text or "")
    return f"<span class='gr-box gr-text-input'>{used}/{limit}</span>"


def build_prompt_row(tab: str, panel: Panel) -> None:
    with gr.Row(elem_id=f"{tab}_toprow"):
        with gr.Column(scale=6):
            # each counter sits in the top-right corner of its prompt box, as in A1111 (style.css)
            with gr.Column(elem_classes=["prompt-with-counter"]):
                panel.fields["prompt"] = gr.Textbox(label="Prompt", lines=3, elem_id=f"{tab}_prompt",
                                                    placeholder="Prompt\n(Press Ctrl+Enter to generate, Alt+Enter to "
                                                                "skip, Esc to interrupt)")
                panel.ui["token_counter"] = gr.HTML(token_counter(""), elem_id=f"{tab}_token_counter",
                                                    elem_classes=["token-counter"], container=False)
            with gr.Column(elem_classes=["prompt-with-counter"]):
                panel.fields["negative_prompt"] = gr.Textbox(label="Negative prompt", lines=2,
                                                             elem_id=f"{tab}_neg_prompt",
                                                             placeholder="Negative prompt")
                panel.ui["negative_token_counter"] = gr.HTML(token_counter(""),
                                                             elem_id=f"{tab}_negative_token_counter",
                                                             elem_classes=["token-counter"], container=False)
        with gr.Column(scale=1, min_width=180, elem_id=f"{tab}_actions_column"):
            panel.ui["generate"] = gr.Button("Generate", variant="primary", elem_id=f"{tab}_generate")
            with gr.Row():
                panel.ui["interrupt"] = gr.Button("Interrupt", elem_id=f"{tab}_interrupt", min_width=60)
                panel.ui["skip"] = gr.Button("Skip", elem_id=f"{tab}_skip", min_width=60)
            # A1111's tools row, then the styles row with its editor (interfaces/ui/styles_editor.py)
            with gr.Row(elem_id=f"{tab}_tools"):
                panel.ui["paste"] = ToolButton("↙️", elem_id=f"{tab}_paste")
                panel.ui["clear_prompt"] = styles_editor.clear_prompt_button(tab)
                panel.ui["apply_styles"] = ToolButton(styles_editor.styles_materialize_symbol,
                                                      elem_id=f"{tab}_style_apply")
            styles = styles_editor.UiPromptStyles(tab, panel.fields["prompt"], panel.fields["negative_prompt"])
            panel.fields["styles"] = styles.dropdown
            styles.setup_apply_button(panel.ui["apply_styles"])
    styles_editor.setup_clear_prompt_button(panel.ui["clear_prompt"], panel.fields["prompt"],
                                            panel.fields["negative_prompt"])
    panel.fields["prompt"].change(token_counter, [panel.fields["prompt"]], [panel.ui["token_counter"]],
                                  show_progress="hidden", queue=False)
    panel.fields["negative_prompt"].change(token_counter, [panel.fields["negative_prompt"]],
                                           [panel.ui["negative_token_counter"]], show_progress="hidden", queue=False)


def build_sampling(tab: str, panel: Panel) -> None:
    sampler_names = [s.name for s in samplers.SAMPLERS]
    schedule_labels = [s.label for s in samplers.SCHEDULERS]
    with gr.Row(elem_id=f"{tab}_sampling_row"):
        panel.fields["sampler_name"] = gr.Dropdown(label="Sampling method", choices=sampler_names,
                                                   value=sampler_names[0], elem_id=f"{tab}_sampling")
        panel.fields["scheduler"] = gr.Dropdown(label="Schedule type", choices=schedule_labels,
                                                value=schedule_labels[0], elem_id=f"{tab}_scheduler")
        panel.fields["steps"] = gr.Slider(1, 150, value=20, step=1, label="Sampling steps", elem_id=f"{tab}_steps")


def build_override_settings(tab: str, panel: Panel) -> None:
    """A1111's Override settings: hidden until a pasted infotext pins settings that differ from the
    current ones ("Clip skip: 2"); the job runs with them (its override_settings)."""
    with gr.Row(elem_id=f"{tab}_override_settings_row"):
        panel.fields["override_settings"] = override_settings_dropdown(tab)


def override_settings_dropdown(tab: str) -> gr.Dropdown:
    """A1111's create_override_settings_dropdown: "Name: value" texts, hidden while empty."""
    dropdown = gr.Dropdown([], label="Override settings", visible=False, elem_id=f"{tab}_override_settings",
                           multiselect=True)
    dropdown.change(fn=lambda x: gr.update(visible=bool(x)), inputs=[dropdown], outputs=[dropdown],
                    show_progress="hidden", queue=False)
    return dropdown


def start_size() -> tuple[int, int]:
    """(width, height) the UI starts with: 512 as in A1111, unless the checkpoint that loads at start
    declares another native size (the embedded default model draws at 64x64), as an API request
    that leaves the size out gets (services/generation_requests.py)."""
    from sdwebui.services.generation_requests import native_size

    info = shared.select_checkpoint() if shared.registry is not None else None
    return native_size(info) or (512, 512)


def _size_sliders(tab: str, panel: Panel) -> None:
    width, height = start_size()
    with gr.Row():
        with gr.Column(scale=4):
            panel.fields["width"] = gr.Slider(64, 2048, value=width, step=8, label="Width", elem_id=f"{tab}_width")
            panel.fields["height"] = gr.Slider(64, 2048, value=height, step=8, label="Height",
                                               elem_id=f"{tab}_height")
        with gr.Column(scale=0, min_width=48):
            panel.ui["swap"] = gr.Button("⇅", elem_id=f"{tab}_res_switch_btn", min_width=40)
            if tab == "img2img":    # 📐: the size of the image in the current mode's tab (img2img.py)
                panel.ui["detect_size"] = gr.Button("📐", elem_id="img2img_detect_image_size_btn", min_width=40)


def build_size_and_batch(tab: str, panel: Panel) -> None:
    """Width and height (img2img: A1111's "Resize to" / "Resize by" tabs, the second scaling the source
    image by `img2img_scale`), the swap button, batch count and size, CFG scale."""
    with gr.Row():
        with gr.Column(scale=4):
            if tab != "img2img":
                _size_sliders(tab, panel)
            else:
                selected = panel_input(gr.State(0))
                panel.ui["selected_scale_tab"] = selected
                with gr.Tabs(elem_id="img2img_tabs_resize"):
                    with gr.Tab("Resize to", id="img2img_tab_resize_to", elem_id="img2img_tab_resize_to") as to:
                        _size_sliders(tab, panel)
                    with gr.Tab("Resize by", id="img2img_tab_resize_by", elem_id="img2img_tab_resize_by") as by:
                        panel.ui["scale_by"] = panel_input(gr.Slider(0.05, 4.0, value=1.0, step=0.05, label="Scale",
                                                                     elem_id="img2img_scale"))
                        panel.ui["scale_preview"] = gr.HTML("", elem_id="img2img_scale_resolution_preview")
                to.select(lambda: 0, [], [selected], show_progress="hidden", queue=False)
                by.select(lambda: 1, [], [selected], show_progress="hidden", queue=False)
                panel.ui["resize_by_tab"] = by
        with gr.Column(scale=2):
            panel.fields["n_iter"] = gr.Slider(1, 100, value=1, step=1, label="Batch count",
                                               elem_id=f"{tab}_batch_count")
            panel.fields["batch_size"] = gr.Slider(1, 8, value=1, step=1, label="Batch size",
                                                   elem_id=f"{tab}_batch_size")
    panel.ui["swap"].click(lambda w, h: (h, w), [panel.fields["width"], panel.fields["height"]],
                           [panel.fields["width"], panel.fields["height"]], show_progress="hidden", queue=False)
    panel.fields["cfg_scale"] = gr.Slider(1, 30, value=7, step=0.5, label="CFG Scale", elem_id=f"{tab}_cfg_scale")
    # Forge's control and infotext key: the guidance FLUX.1 dev takes through its guidance embedder
    panel.fields["distilled_cfg_scale"] = gr.Slider(0, 30, value=3.5, step=0.5, label="Distilled CFG Scale",
                                                    elem_id=f"{tab}_distilled_cfg_scale",
                                                    info="FLUX.1 dev only; other models ignore it")
    if tab == "img2img":    # A1111's: hidden; it acts only with an instruct-pix2pix model (1.5 then)
        panel.fields["image_cfg_scale"] = gr.Slider(0, 3, value=1.5, step=0.05, label="Image CFG Scale",
                                                    elem_id="img2img_image_cfg_scale", visible=False)


def build_seed(tab: str, panel: Panel) -> None:
    with gr.Row(elem_id=f"{tab}_seed_row"):
        panel.fields["seed"] = gr.Number(label="Seed", value=-1, precision=0, elem_id=f"{tab}_seed", scale=4)
        panel.ui["random_seed"] = gr.Button("🎲️", elem_id=f"{tab}_random_seed", min_width=40, scale=0)
        panel.ui["reuse_seed"] = gr.Button("♻️", elem_id=f"{tab}_reuse_seed", min_width=40, scale=0)
        panel.ui["subseed_show"] = gr.Checkbox(label="Extra", value=False, elem_id=f"{tab}_subseed_show", scale=1)
    with gr.Group(visible=False, elem_id=f"{tab}_seed_extras") as extras:
        with gr.Row():
            panel.fields["subseed"] = gr.Number(label="Variation seed", value=-1, precision=0, elem_id=f"{tab}_subseed")
            panel.fields["subseed_strength"] = gr.Slider(0, 1, value=0, step=0.01, label="Variation strength",
                                                         elem_id=f"{tab}_subseed_strength")
        with gr.Row():
            panel.fields["seed_resize_from_w"] = gr.Slider(0, 2048, value=0, step=8, label="Resize seed from width",
                                                           elem_id=f"{tab}_seed_resize_from_w")
            panel.fields["seed_resize_from_h"] = gr.Slider(0, 2048, value=0, step=8, label="Resize seed from height",
                                                           elem_id=f"{tab}_seed_resize_from_h")
    panel.ui["subseed_show"].change(lambda show: gr.update(visible=show), [panel.ui["subseed_show"]], [extras],
                                    show_progress="hidden", queue=False)
    panel.ui["random_seed"].click(lambda: -1, [], [panel.fields["seed"]], show_progress="hidden", queue=False)


def build_output(tab: str, panel: Panel) -> None:
    """The tab's results column: A1111's output panel (common.create_output_panel, the one extensions
    get too), its send-to buttons wired by the app (app.py) with the selected image's parameters."""
    from sdwebui.interfaces.ui.common import create_output_panel

    out = create_output_panel(tab, getattr(shared.opts, f"outdir_{tab}_samples", None), connect_send_to=False)
    panel.ui.update(gallery=out.gallery, generation_info=out.generation_info, html_info=out.infotext,
                    html_log=out.html_log, save=out.save, save_zip=out.save_zip, open_folder=out.open_folder,
                    download_files=out.download_files)
    panel.ui.update({f"send_to_{target}": button for target, button in out.send_to.items()})
    panel.ui["selected_index"] = gr.State(0)
    # a click on an image selects it (for the send-to buttons) and shows its own infotext, as in A1111
    out.gallery.select(_select_image, [out.generation_info, out.infotext], [panel.ui["selected_index"], out.infotext],
                       show_progress="hidden", queue=False)
    # the job's task id, set by the page when Generate is clicked (A1111 sends it as the first argument)
    panel.ui["task_id"] = gr.Textbox(visible=False, elem_id=f"{tab}_task_id")
    panel.ui["reuse_seed"].click(_seed_from_info, [panel.ui["generation_info"]], [panel.fields["seed"]],
                                 show_progress="hidden", queue=False)


def _select_image(info: str, html_info: str, evt: gr.SelectData) -> tuple[int, Any]:
    from sdwebui.interfaces.ui.common import update_generation_info

    index = int(evt.index or 0)
    return index, update_generation_info(info, html_info, index)[0]


def selected_image(gallery: list | None, index: int, info: str):
    """(PIL image, its infotext) of the gallery item the user selected (the first one by default)."""
    from PIL import Image

    if not gallery:
        raise gr.Error("Generate an image first")
    index = index if 0 <= index < len(gallery) else 0
    item = gallery[index]
    path = item[0] if isinstance(item, (list, tuple)) else item
    if isinstance(path, dict):
        path = path.get("path") or path.get("name")
    image = path if isinstance(path, Image.Image) else Image.open(path)
    texts = []
    try:
        data = json.loads(info) if info else {}
        texts = data.get("infotexts") or []     # one per gallery image, the grid's included
    except (ValueError, TypeError, AttributeError):
        pass
    text = texts[index] if 0 <= index < len(texts) else (texts[0] if texts else "")
    return image, text


def _seed_from_info(info: str) -> int:
    try:
        return int(json.loads(info)["seed"])
    except (ValueError, KeyError, TypeError):
        return -1


def format_infotext_html(infotexts: list[str], warnings: list[str] | None = None) -> str:
    if not infotexts:
        return ""
    body = html.escape(infotexts[0]).replace("\n", "<br>")
    notes = "".join(f"<p class='warning'>{html.escape(w)}</p>" for w in warnings or [])
    return f"<div class='infotext'><p>{body}</p>{notes}</div>"


async def submit(make_processing: Callable[[Any, dict], Any], request_model, values: dict[str, Any], name: str,
                 task_id: str | None = None, user: str | None = None):
    """Build the API request model from the panel, check it as the API does, queue it under `task_id`
    (the page's id: its progress bar and live previews poll /internal/progress with it, as A1111's
    do), wait; yields (gallery, info, html) once, with the results.
    `make_processing(request, processing_args)` makes the processing object."""
    try:
        req = request_model(**values)
        args = processing_args(req, name)
        if float(args.get("cfg_scale") or 0).is_integer():
            args["cfg_scale"] = int(args["cfg_scale"])    # A1111's UI writes "CFG scale: 7", not 7.0
        p = make_processing(req, args)
    except RequestError as e:
        raise gr.Error(error_message(e.detail)) from None
    except ValueError as e:
        raise gr.Error(str(e)) from None
    p.do_not_save_samples = not req.save_images
    p.user = user
    if generate_inputs.prepare_only.get():      # modules.txt2img.txt2img_create_processing
        yield p
        return
    try:
        if shared.cluster is not None:
            # --cluster-workers / --cluster: on a worker, also for an extension's task runner that
            # calls modules.txt2img.txt2img holding the queue lock (this process holds no model)
            from sdwebui.interfaces.cluster.front import run_ui_job

            processed = await run_ui_job(name, req, p, task_id)
        elif call_queue.runs_here():
            # called by a thread that holds the queue lock (an extension's task runner calling
            # modules.txt2img.txt2img, as A1111's are called): the job runs here, in its turn already
            processed = call_queue.run_as_job(lambda: scripts_mod.run_processing(p), task_id, name)
        else:
            job = shared.queue.submit(lambda: scripts_mod.run_processing(p), task_id=task_id, name=name)
            try:
                processed = await asyncio.wrap_future(job.future)
            except asyncio.CancelledError:
                shared.queue.cancel(job.task_id)
                raise
    except asyncio.CancelledError:
        raise
    except Exception as e:
        raise gr.Error(str(e)) from None
    yield gallery_items(processed), processed.js(), format_infotext_html(processed.infotexts, processed.warnings)


def gallery_items(processed: Any) -> list[tuple]:
    """The gallery's (image, caption) pairs. Each image carries its infotext in `info["parameters"]`
    as in A1111 (with enable_pnginfo): gradio writes it into the PNG it serves, so an image downloaded
    from the gallery, or taken from it as a card preview, keeps its parameters."""
    texts = processed.infotexts or []      # one per image, the grid's first (as in A1111 1.6+)
    keep = bool(getattr(shared.opts, "enable_pnginfo", True))
    for image, text in zip(processed.images, texts):
        if keep and text and hasattr(image, "info"):
            image.info["parameters"] = text
    return [(im, None) for im in processed.images]


def wire_generate(panel: Panel, name: str, run: Callable[..., Any]) -> None:
    """Generate (the button; Ctrl+Enter in a prompt box clicks it, see javascript/shortcuts.js): every
    field component's value under its request field name, the UI-only inputs (images, ...) by their
    panel name, passed to `run`. The inputs are one ordered list, named as A1111's handler names them
    (generate_inputs.py): extensions re-submit them, or call `modules.txt2img.txt2img` with them."""
    by_component = {comp: key for key, comp in panel.fields.items()}
    extras = {key: comp for key, comp in panel.ui.items() if getattr(comp, "_panel_input", False)}
    by_extra = {comp: key for key, comp in extras.items()}
    # A1111's four outputs: the images, the generation info (JSON), its HTML, and the log (time taken)
    outputs = [panel.ui["gallery"], panel.ui["generation_info"], panel.ui["html_info"], panel.ui["html_log"]]
    runner = scripts_mod.runner_for(panel.tab)
    task_box = panel.ui["task_id"]
    ordered = generate_inputs.order_inputs(
        name, task_box, panel.fields, extras, [c for c in runner.inputs if isinstance(c, gr.components.Component)])

    async def call(data: dict, task_id: str | None, user: str | None):
        values = {by_component[c]: v for c, v in data.items() if c in by_component}
        values["save_images"] = True            # the UI saves like A1111 (samples_save decides)
        texts = values.pop("override_settings", None) or []
        if texts:
            values["override_settings"] = override_settings_dict(texts)
        for key in ("seed_resize_from_w", "seed_resize_from_h"):
            if values.get(key) == 0:
                values[key] = -1
        if runner.ui_built:
            # the scripts' controls become script_name / script_args / alwayson_scripts, as an API client sends them
            flat = [data[c] if c in data else d for c, d in zip(runner.inputs, runner.defaults)]
            values.update(runner.request_fields(flat))
        extra = {by_extra[c]: v for c, v in data.items() if c in by_extra}
        start = time.perf_counter()
        async for out in run(values, extra, task_id or None, user):
            if generate_inputs.prepare_only.get():
                yield out        # the processing object, not run (txt2img_create_processing)
                return
            gallery, info, info_html = out
            yield gallery, info, info_html, time_taken_html(time.perf_counter() - start)

    async def generate(request: gr.Request, *args: Any):
        user = getattr(request, "username", None) if request is not None else None
        data = dict(zip(ordered.components, args))
        async for out in call(data, data.get(task_box), user):
            yield out

    generate_inputs.register(ordered, {**by_component, **by_extra}, call)
    # webuiStartGenerate gives the job its task id (the first input), shows Interrupt/Skip and polls its
    # progress (as A1111's submit() does). gradio's own progress is off: its every status message
    # re-walks each component of the page, seconds of browser CPU per job.
    start = f"(...args) => {{ args[0] = webuiStartGenerate('{panel.tab}'); return args; }}"
    panel.ui["generate"].click(generate, ordered.components, outputs, js=start, show_progress="hidden",
                               concurrency_limit=None, api_name=name
                               ).then(None, js=f"() => webuiEndGenerate('{panel.tab}')")
    panel.ui["interrupt"].click(dispatch.interrupt, [], [], queue=False)
    panel.ui["skip"].click(dispatch.skip, [], [], queue=False)


def override_settings_dict(texts: list[str]) -> dict[str, Any]:
    """The Override settings dropdown's "Clip skip: 2" texts as the request's override_settings
    (A1111's create_override_settings_dict); a text that names no setting is an error."""
    from sdwebui.services.legacy.infotext import create_override_settings_dict

    try:
        return create_override_settings_dict(list(texts))
    except ValueError as e:
        raise gr.Error(str(e)) from None


def panel_input(component: gr.components.Component) -> gr.components.Component:
    """Mark a UI-only component (an image editor, ...) as an input of Generate."""
    component._panel_input = True
    return component


def wire_paste(panel: Panel) -> None:
    """↙: read an A1111 infotext pasted in the prompt box into every field, as A1111's paste button
    does, and into the scripts' controls that declare `infotext_fields`."""
    from sdwebui.interfaces.ui.pnginfo import parse_for_paste, paste_fields

    script_fields = script_infotext_fields(scripts_mod.runner_for(panel.tab))

    def paste(prompt: str) -> list:
        if not prompt or not prompt.strip():
            return [gr.skip()] * (len(panel.fields) + len(script_fields))
        params = parse_for_paste(prompt) if script_fields else {}
        return [*field_updates(panel, paste_fields(prompt)), *(script_value(c, key, params) for c, key in script_fields)]

    panel.ui["paste"].click(paste, [panel.fields["prompt"]],
                            [*panel.fields.values(), *(c for c, _ in script_fields)], queue=False)
