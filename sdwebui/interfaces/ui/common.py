"""A1111's `modules.ui_common`: the output panel (gallery, 📂 💾 🗃️ and send-to buttons, download
files, infotext, log) that the txt2img/img2img tabs and extensions' own tabs are built with, the
Save / Zip and open-folder handlers behind its buttons, a refresh button for a dropdown, plain text
as HTML."""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import logging
import os
import zipfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gradio as gr
from PIL import Image

from sdwebui.interfaces.ui.components import ToolButton
from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)

folder_symbol = '\U0001f4c2'    # 📂
refresh_symbol = '\U0001f504'   # 🔄

LOG_FIELDS = ["prompt", "seed", "width", "height", "sampler", "cfgs", "steps", "filename", "negative_prompt",
              "sd_model_name", "sd_model_hash"]


def opt(name: str, default: Any) -> Any:
    """An option's value, or `default` where the running app has no such option (or no options yet)."""
    opts = shared.opts
    if opts is None or name not in opts:
        return default
    return getattr(opts, name)


def plaintext_to_html(text: str, classname: str | None = None) -> str:
    """Text as one HTML paragraph: escaped, line breaks kept (A1111's output)."""
    content = "<br>\n".join(html.escape(line) for line in (text or "").split("\n"))
    return f"<p class='{html.escape(classname, quote=True)}'>{content}</p>" if classname else f"<p>{content}</p>"


def update_generation_info(generation_info: str, html_info: str, img_index: int) -> tuple[str, Any]:
    """The infotext of gallery image `img_index` from the generation info JSON, as HTML; the old
    HTML if the JSON or the index does not fit."""
    try:
        infotexts = json.loads(generation_info)["infotexts"]
        if 0 <= int(img_index) < len(infotexts):
            return plaintext_to_html(infotexts[int(img_index)]), gr.update()
    except (ValueError, TypeError, KeyError):
        pass
    return html_info, gr.update()


def update_logfile(logfile_path: str | os.PathLike, fields: list[str]) -> None:
    """Bring a log.csv written with fewer columns up to `fields` (header replaced, rows padded)."""
    with open(logfile_path, encoding="utf8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows or len(rows[0]) == len(fields):
        return
    rows[0] = list(fields)
    for row in rows[1:]:
        row.extend([""] * (len(fields) - len(row)))
    with open(logfile_path, "w", encoding="utf8", newline="") as f:
        csv.writer(f).writerows(rows)


def image_from_gallery_item(item: Any) -> Image.Image:
    """A gallery value's image: gradio 6 gives (image, caption) pairs whose image is a file path,
    a numpy array or a PIL image; gradio 3 gave dicts with a "name" and data URLs."""
    if isinstance(item, (tuple, list)):
        item = item[0]
    if isinstance(item, dict):
        item = item.get("image") or item.get("path") or item.get("name") or item.get("url")
        if isinstance(item, dict):
            item = item.get("path") or item.get("url")
    if isinstance(item, Image.Image):
        return item
    if isinstance(item, str):
        if item.startswith("data:image/"):
            return Image.open(io.BytesIO(base64.b64decode(item.split(",", 1)[1])))
        return Image.open(item.split("?", 1)[0])
    if hasattr(item, "shape"):         # numpy array
        return Image.fromarray(item)
    raise ValueError(f"not a gallery image: {type(item).__name__}")


def save_files(js_data: str, images: list, do_make_zip: bool, index: int) -> tuple[Any, str]:
    """The output panel's Save (and Zip) button: the gallery's images into `outdir_save` with their
    infotexts, a row per save in its log.csv, optionally a zip of them. Returns (files update, message)."""
    from sdwebui.services.image_saving import save_image
    from sdwebui.services.infotext_paste import parse_pasted

    data = json.loads(js_data)
    infotexts = data.get("infotexts") or []
    first = int(data.get("index_of_first_image", 0))
    start = 0
    if index > -1 and opt("save_selected_only", True) and index >= first:
        images, start = [images[index]], index
    folder = shared.paths.resolve_output(opt("outdir_save", "log/images"))
    folder.mkdir(parents=True, exist_ok=True)
    extension = opt("samples_format", "png")
    write_log = bool(opt("save_write_log_csv", True))
    logfile = folder / "log.csv"
    if write_log and logfile.exists():
        update_logfile(logfile, LOG_FIELDS)
    filenames: list[str] = []
    fullfns: list[str] = []
    parsed: list[dict] = []
    with (open(logfile, "a", encoding="utf8", newline="") if write_log else nullcontext()) as log:
        for image_index, item in enumerate(images, start):
            info = infotexts[image_index] if image_index < len(infotexts) else ""
            params = parse_pasted(info, shared.opts, shared.prompt_styles, [])
            parsed.append(params)
            fullfn, txt = save_image(image_from_gallery_item(item), folder, "", seed=params.get("Seed"),
                                     prompt=params.get("Prompt"), extension=extension, info=info or None,
                                     grid=image_index < first, save_to_dirs=bool(opt("use_save_to_dirs_for_ui", False)))
            for path in (fullfn, txt):
                if path:
                    filenames.append(os.path.relpath(path, folder))
                    fullfns.append(str(path))
        if log is not None and parsed:
            writer = csv.writer(log)
            if log.tell() == 0:
                writer.writerow(LOG_FIELDS)
            writer.writerow([parsed[0].get("Prompt", ""), parsed[0].get("Seed", ""), data.get("width"),
                             data.get("height"), data.get("sampler_name"), data.get("cfg_scale"), data.get("steps"),
                             filenames[0] if filenames else "", parsed[0].get("Negative prompt", ""),
                             data.get("sd_model_name"), data.get("sd_model_hash")])
    if do_make_zip and fullfns:
        from sdwebui.engine.images.filenames import FilenameGenerator

        seeds = [p.get("Seed") for p in parsed]
        name = FilenameGenerator({"seed": seeds[0], "all_seeds": seeds, "batch_size": len(seeds),
                                  "prompt": parsed[0].get("Prompt", "")}).apply(
            opt("grid_zip_filename_pattern", "") or "[datetime]_[[model_name]]_[seed]-[seed_last]")
        zip_path = folder / f"{name}.zip"
        with zipfile.ZipFile(zip_path, "w") as zf:
            for arcname, path in zip(filenames, fullfns):
                zf.write(path, arcname)
        fullfns.insert(0, str(zip_path))
    message = plaintext_to_html(f"Saved: {filenames[0]}") if filenames else plaintext_to_html("Nothing saved")
    return gr.update(value=fullfns, visible=True), message


@dataclass
class OutputPanel:
    """What create_output_panel() made: A1111's fields (gallery, generation_info, infotext, html_log,
    button_upscale), then the buttons, which the app's own tabs wire themselves."""
    gallery: Any = None
    generation_info: Any = None
    infotext: Any = None
    html_log: Any = None
    button_upscale: Any = None
    open_folder: Any = None
    save: Any = None
    save_zip: Any = None
    download_files: Any = None
    send_to: dict[str, Any] = field(default_factory=dict)   # "img2img", "inpaint", "extras" -> button


# the last input is the selected image's index, from A1111's JavaScript global where the page has it
SELECTED_INDEX_JS = ("(...args) => [...args.slice(0, -1), "
                     "typeof selected_gallery_index_id === 'function' ? selected_gallery_index_id('{gallery}') : -1]")


def dirs_hidden() -> bool:
    return bool(getattr(shared.cmd_opts, "hide_ui_dir_config", False))


def open_folder_target(outdir: str | None, images: list | None, index: int) -> Path:
    """The folder 📂 opens: the samples folder, or the selected image's own folder as the option
    open_dir_button_choice asks ("Subdirectory": unless it is gradio's temporary folder)."""
    folder = shared.paths.resolve_output(opt("outdir_samples", "") or outdir or "outputs")
    choice = str(opt("open_dir_button_choice", "Subdirectory"))
    if "Sub" in choice and images and 0 <= index < len(images):
        from sdwebui.interfaces.ui.tempdir import is_gradio_temp_path

        item = images[index]
        path = item[0] if isinstance(item, (list, tuple)) else item
        path = path.get("path") or path.get("name") if isinstance(path, dict) else path
        if isinstance(path, str) and path:
            image_dir = Path(path.split("?", 1)[0]).parent
            if "temp" in choice or not is_gradio_temp_path(image_dir):
                folder = image_dir
    return folder


def open_output_folder(outdir: str | None, images: list | None, index: int, client_host: str | None) -> str:
    """📂: the output folder opened in the file manager of the server's desktop (A1111's button),
    only for a browser on the server's own machine; otherwise a message saying why not."""
    from sdwebui.services.extensions.manager import is_loopback
    from sdwebui.services.util import open_folder

    if dirs_hidden():
        return plaintext_to_html("Opening folders is disabled (--hide-ui-dir-config).")
    folder = open_folder_target(outdir, images, index)
    if not is_loopback(client_host):
        # the file manager would open on the server's screen, where the person clicking is not
        return plaintext_to_html(f"The folder opens on the server's own desktop, so only a browser on that machine "
                                 f"may open it; the images are in {folder} there.")
    if not folder.is_dir():
        return plaintext_to_html(f"{folder} does not exist yet: nothing was saved there.")
    try:
        open_folder(str(folder))
    except OSError as e:        # no xdg-open / file manager on this machine
        logger.warning("could not open %s: %s", folder, e)
        return plaintext_to_html(f"Could not open {folder}: {e}")
    return ""


def create_output_panel(tabname: str, outdir: str | None, toprow: Any = None, *,
                        connect_send_to: bool = True) -> OutputPanel:
    """A1111 1.10's results column with its element ids: the gallery (output only: no upload zone),
    then 📂 💾 🗃️ and the send-to buttons, the download files, the infotext and the log.
    The app's txt2img/img2img tabs use it too, with `connect_send_to=False`: they wire the send-to
    buttons themselves (with the selected image and its parameters); an extension's panel gets
    A1111's send-to bindings (the gallery's image, and txt2img's fields when `tabname` is txt2img)."""
    res = OutputPanel()
    with gr.Column(elem_id=f"{tabname}_results"):
        if toprow is not None and hasattr(toprow, "create_inline_toprow_image"):
            toprow.create_inline_toprow_image()
        with gr.Column(variant="panel", elem_id=f"{tabname}_results_panel"):
            with gr.Group(elem_id=f"{tabname}_gallery_container"):
                # interactive=False: before the first image an empty panel, not gradio's upload zone;
                # selecting, downloading and the full-screen view still work
                res.gallery = gr.Gallery(label="Output", show_label=False, elem_id=f"{tabname}_gallery", columns=4,
                                         preview=True, height=opt("gallery_height", "") or None, format="png",
                                         interactive=False, buttons=["download", "fullscreen"],
                                         elem_classes=["webui-output-gallery"])
            _output_buttons(tabname, res)
            if tabname == "extras":
                res.generation_info = gr.HTML(elem_id=f"html_info_x_{tabname}")
                res.infotext = gr.HTML(elem_id=f"html_info_{tabname}", elem_classes="infotext")
                res.html_log = gr.HTML(elem_id=f"html_log_{tabname}")
            else:
                res.download_files = gr.File(None, file_count="multiple", interactive=False, show_label=False,
                                             visible=False, elem_id=f"download_files_{tabname}")
                with gr.Group():
                    res.infotext = gr.HTML(elem_id=f"html_info_{tabname}", elem_classes="infotext")
                    res.html_log = gr.HTML(elem_id=f"html_log_{tabname}", elem_classes="html-log")
                    res.generation_info = gr.Textbox(visible=False, elem_id=f"generation_info_{tabname}")
                _wire_save(tabname, res)
            _wire_open_folder(tabname, outdir, res)
            if connect_send_to:
                _register_send_to(tabname, res)
    return res


def _output_buttons(tabname: str, res: OutputPanel) -> None:
    with gr.Row(elem_id=f"image_buttons_{tabname}", elem_classes="image-buttons"):
        res.open_folder = ToolButton(folder_symbol, elem_id=f"{tabname}_open_folder", visible=not dirs_hidden(),
                                     tooltip="Open images output directory.")
        if tabname != "extras":
            where = opt("outdir_save", "log/images")
            res.save = ToolButton("💾", elem_id=f"save_{tabname}",
                                  tooltip=f"Save the image to a dedicated directory ({where}).")
            res.save_zip = ToolButton("🗃️", elem_id=f"save_zip_{tabname}",
                                      tooltip=f"Save zip archive with images to a dedicated directory ({where})")
        res.send_to = {
            "img2img": ToolButton("🖼️", elem_id=f"{tabname}_send_to_img2img",
                                  tooltip="Send image and generation parameters to img2img tab."),
            "inpaint": ToolButton("🎨️", elem_id=f"{tabname}_send_to_inpaint",
                                  tooltip="Send image and generation parameters to img2img inpaint tab."),
            "extras": ToolButton("📐", elem_id=f"{tabname}_send_to_extras",
                                 tooltip="Send image and generation parameters to extras tab."),
        }


def _wire_save(tabname: str, res: OutputPanel) -> None:
    index = gr.Number(-1, visible=False, precision=0)
    js = SELECTED_INDEX_JS.replace("{gallery}", f"{tabname}_gallery")
    for button, make_zip in ((res.save, False), (res.save_zip, True)):
        button.click(lambda info, gallery, i, z=make_zip: save_files(info, gallery or [], z, int(i)),
                     inputs=[res.generation_info, res.gallery, index], outputs=[res.download_files, res.html_log],
                     js=js, show_progress="hidden")


def _wire_open_folder(tabname: str, outdir: str | None, res: OutputPanel) -> None:
    index = gr.Number(-1, visible=False, precision=0)

    def open_clicked(images: list | None, i: float, request: gr.Request) -> str:
        host = request.client.host if request is not None and request.client is not None else None
        return open_output_folder(outdir, images, int(i), host)

    res.open_folder.click(open_clicked, [res.gallery, index], [res.html_log],
                          js=SELECTED_INDEX_JS.replace("{gallery}", f"{tabname}_gallery"), show_progress="hidden",
                          queue=False)


def _register_send_to(tabname: str, res: OutputPanel) -> None:
    """A1111's bindings: each button sends the gallery's image (and, from a txt2img panel, its fields)."""
    from sdwebui.interfaces.ui.paste_bindings import ParamBinding, register_paste_params_button

    for target, button in res.send_to.items():
        register_paste_params_button(ParamBinding(button, target, source_image_component=res.gallery,
                                                  source_tabname="txt2img" if tabname == "txt2img" else None))


def create_refresh_button(refresh_component: Any, refresh_method: Callable[[], Any],
                          refreshed_args: dict | Callable[[], dict], elem_id: str | None) -> ToolButton:
    """A 🔄 button that calls `refresh_method()` then updates the component(s) with
    `refreshed_args` (a dict, or a function returning one, e.g. {"choices": [...]})."""
    components = refresh_component if isinstance(refresh_component, list) else [refresh_component]
    label = next((c.label for c in components if getattr(c, "label", None) is not None), None)

    def refresh():
        refresh_method()
        args = (refreshed_args() if callable(refreshed_args) else refreshed_args) or {}
        for component in components:     # the page built later (a reload) shows the new values too
            for key, value in args.items():
                setattr(component, key, value)
        updates = [gr.update(**args) for _ in components]
        return updates if len(updates) > 1 else updates[0]

    button = ToolButton(value=refresh_symbol, elem_id=elem_id, tooltip=f"{label}: refresh" if label else "Refresh")
    button.click(fn=refresh, inputs=[], outputs=components, show_progress="hidden")
    return button


def setup_dialog(button_show: Any, dialog: Any, *, button_close: Any = None) -> None:
    """`dialog` hidden until `button_show` is clicked, then shown as a popup (A1111's popupId)."""
    dialog.visible = False
    element = json.dumps(dialog.elem_id or "")
    button_show.click(fn=lambda: gr.update(visible=True), inputs=[], outputs=[dialog]).then(
        fn=None, js=f"() => {{ if (typeof popupId === 'function') popupId({element}); }}")
    if button_close is not None:
        button_close.click(fn=None, js="() => { if (typeof closePopup === 'function') closePopup(); }")


__all__ = ["folder_symbol", "refresh_symbol", "plaintext_to_html", "update_generation_info", "update_logfile",
           "save_files", "open_output_folder", "OutputPanel", "create_output_panel", "create_refresh_button", "setup_dialog",
           "image_from_gallery_item", "ToolButton"]
