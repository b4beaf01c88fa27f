"""A1111's `modules.ui_extra_networks_user_metadata` and `..._checkpoints_user_metadata`: the editor
of a network's user metadata (description, notes; `<file>.json` beside the file). Extensions
subclass `UserMetadataEditor` (the Lora built-in's editor does). A card's edit button fills the
editor (its hidden name box and button, as in A1111) and shows it in the page's popup; Save writes
the JSON atomically and the card is made again (javascript/extra_networks.js)."""
from __future__ import annotations

import datetime
import html
import json
import logging
import os
from pathlib import Path
from typing import Any

import gradio as gr

from sdwebui.engine.atomic_write import atomic_write_bytes


logger = logging.getLogger(__name__)


def path_is_parent(parent_path: str | os.PathLike, child_path: str | os.PathLike) -> bool:
    parent = os.path.abspath(parent_path)
    return os.path.abspath(child_path).startswith(parent.rstrip(os.sep) + os.sep)


def pretty_bytes(num: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(num) < 1024 or unit == "TB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num:.1f} TB"


class UserMetadataEditor:
    def __init__(self, ui: Any, tabname: str, page: Any):
        self.ui = ui
        self.tabname = tabname
        self.page = page
        self.id_part = f"{self.tabname}_{self.page.extra_networks_tabname}_edit_user_metadata"
        self.box = None
        self.edit_name_input = None
        self.button_edit = None
        self.edit_name = None
        self.edit_description = None
        self.edit_notes = None
        self.html_filedata = None
        self.html_preview = None
        self.html_status = None
        self.button_cancel = None
        self.button_replace_preview = None
        self.button_save = None

    def get_user_metadata(self, name: str) -> dict:
        item = self.page.items.get(name, {})
        metadata = item.get("user_metadata")
        if not metadata:
            metadata = {"description": item.get("description", "")}
            item["user_metadata"] = metadata
        return metadata

    def create_extra_default_items_in_left_column(self) -> None:
        pass

    def create_default_editor_elems(self) -> None:
        with gr.Row():
            with gr.Column(scale=2):
                self.edit_name = gr.HTML(elem_classes="extra-network-name")
                self.edit_description = gr.Textbox(label="Description", lines=4)
                self.html_filedata = gr.HTML()
                self.create_extra_default_items_in_left_column()
            with gr.Column(scale=1, min_width=0):
                self.html_preview = gr.HTML()

    def create_default_buttons(self) -> None:
        with gr.Row(elem_classes="edit-user-metadata-buttons"):
            self.button_cancel = gr.Button("Cancel")
            self.button_replace_preview = gr.Button("Replace preview", variant="primary")
            self.button_save = gr.Button("Save", variant="primary")
        self.html_status = gr.HTML(elem_classes="edit-user-metadata-status")
        self.button_cancel.click(fn=None, js="() => { if (typeof closePopup === 'function') closePopup(); }")

    def get_card_html(self, name: str) -> str:
        item = self.page.items.get(name, {})
        preview = item.get("preview")
        if not preview and item.get("filename"):
            preview = item["preview"] = self.page.find_preview(os.path.splitext(item["filename"])[0])
        if preview:
            return (f"<div class='card standalone-card-preview'><img src=\"{html.escape(preview)}\" "
                    "class=\"preview\"></div>")
        return "<div class='card standalone-card-preview'></div>"

    def relative_path(self, path: str) -> str:
        for parent in self.page.allowed_directories_for_previews():
            if parent and path_is_parent(parent, path):
                return os.path.relpath(path, parent)
        return os.path.basename(path)

    def get_metadata_table(self, name: str) -> list[tuple[str, Any]]:
        item = self.page.items.get(name, {})
        try:
            filename = item["filename"]
            stats = os.stat(filename)
        except (KeyError, OSError) as e:
            logger.warning("reading info for %s: %s", name, e)
            return []
        return [("Filename: ", self.relative_path(filename)), ("File size: ", pretty_bytes(stats.st_size)),
                ("Hash: ", item.get("shorthash")),
                ("Modified: ", datetime.datetime.fromtimestamp(stats.st_mtime).strftime("%Y-%m-%d %H:%M"))]

    def put_values_into_components(self, name: str) -> tuple:
        metadata = self.get_user_metadata(name)
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in self.get_metadata_table(name) if v is not None)
        return (html.escape(name), metadata.get("description", ""), f'<table class="file-metadata">{rows}</table>',
                self.get_card_html(name), metadata.get("notes", ""))

    def write_user_metadata(self, name: str, metadata: dict) -> None:
        filename = self.page.items.get(name, {}).get("filename")
        if not filename:
            raise ValueError(f"no network named {name!r} on page {self.page.name!r}")
        path = os.path.splitext(filename)[0] + ".json"
        write_atomically(path, json.dumps(metadata, indent=4, ensure_ascii=False).encode("utf8"))
        self.page.lister.reset()     # the next look sees the new file

    def save_user_metadata(self, name: str, desc: str, notes: str) -> None:
        metadata = self.get_user_metadata(name)
        metadata["description"] = desc
        metadata["notes"] = notes
        self.write_user_metadata(name, metadata)

    def _refresh_card_js(self, close: bool) -> str:
        call = f"extraNetworksRefreshSingleCard({json.dumps(self.page.name)}, {json.dumps(self.tabname)}, name);"
        return "(name) => { " + ("closePopup(); " if close else "") + call + " }"

    def setup_save_handler(self, button: Any, func: Any, components: list) -> None:
        def save(name: str, *values: Any) -> None:
            try:
                func(name, *values)
            except (OSError, ValueError) as e:
                raise gr.Error(f"could not save the user metadata of {name}: {e}") from e

        button.click(fn=save, inputs=[self.edit_name_input, *components], outputs=[],
                     show_progress="hidden").success(fn=None, js=self._refresh_card_js(close=True),
                                                     inputs=[self.edit_name_input])

    def create_editor(self) -> None:
        self.create_default_editor_elems()
        self.edit_notes = gr.TextArea(label="Notes", lines=4)
        self.create_default_buttons()
        self.button_edit.click(fn=self.put_values_into_components, inputs=[self.edit_name_input],
                               outputs=[self.edit_name, self.edit_description, self.html_filedata,
                                        self.html_preview, self.edit_notes], show_progress="hidden")
        self.setup_save_handler(self.button_save, self.save_user_metadata, [self.edit_description, self.edit_notes])

    def create_ui(self) -> None:
        # in the page from the start (gradio 6 leaves hidden blocks out), kept out of sight by
        # style.css until a card's edit button moves it into the popup
        with gr.Group(elem_id=self.id_part, elem_classes="edit-user-metadata") as box:
            self.box = box
            self.edit_name_input = gr.Textbox("Edit user metadata card id", visible="hidden",
                                              elem_id=f"{self.id_part}_name")
            self.button_edit = gr.Button("Edit user metadata", visible="hidden", elem_id=f"{self.id_part}_button")
            self.create_editor()

    def save_preview(self, index: Any, gallery: list, name: str) -> tuple[str, str]:
        """The gallery's selected image (its infotext kept) becomes the card's preview."""
        if not gallery:
            return self.get_card_html(name), "There is no image in gallery to save as a preview."
        item = self.page.items.get(name)
        if not item or not item.get("local_preview"):
            return self.get_card_html(name), f"No card named {html.escape(name)}."
        try:
            save_preview_image(gallery, index, item["local_preview"])
        except OSError as e:
            return self.get_card_html(name), html.escape(f"Could not save the preview: {e}")
        self.page.lister.reset()
        item["preview"] = self.page.find_preview(os.path.splitext(item["local_preview"])[0])
        return self.get_card_html(name), ""

    def setup_ui(self, gallery: Any) -> None:
        self.button_replace_preview.click(
            fn=self.save_preview, inputs=[self.edit_name_input, gallery, self.edit_name_input],
            outputs=[self.html_preview, self.html_status], show_progress="hidden",
            js=f"(x, y, z) => [selected_gallery_index_id('{self.tabname}_gallery'), y, z]",
        ).then(fn=None, js=self._refresh_card_js(close=False), inputs=[self.edit_name_input])


def write_atomically(path: str, data: bytes) -> None:
    """`data` into `path` through a temporary file beside it: a failed write leaves the old file."""
    atomic_write_bytes(Path(path), data)


def save_preview_image(gallery: list, index: Any, filename: str) -> None:
    """The gallery item at `index` (clamped; the first when none is selected) written to `filename`
    in the format its extension names, with the image's infotext, as A1111 saves a card preview."""
    from sdwebui.engine.images.metadata import encode_image, read_info
    from sdwebui.interfaces.ui.common import image_from_gallery_item

    try:
        position = int(index)
    except (TypeError, ValueError):
        position = 0
    position = min(max(position, 0), len(gallery) - 1)
    image = image_from_gallery_item(gallery[position])
    infotext, _ = read_info(image)
    fmt = os.path.splitext(filename)[1].lstrip(".").lower() or "png"
    write_atomically(filename, encode_image(image, fmt, infotext=infotext))


class CheckpointUserMetadataEditor(UserMetadataEditor):
    """The checkpoint page's editor: also the preferred VAE (A1111's "vae" user metadata key)."""

    def __init__(self, ui: Any, tabname: str, page: Any):
        super().__init__(ui, tabname, page)
        self.select_vae = None

    def save_user_metadata(self, name: str, desc: str, notes: str, vae: str | None = None) -> None:
        metadata = self.get_user_metadata(name)
        metadata["description"] = desc
        metadata["notes"] = notes
        metadata["vae"] = vae
        self.write_user_metadata(name, metadata)

    def put_values_into_components(self, name: str) -> tuple:
        return (*super().put_values_into_components(name), self.get_user_metadata(name).get("vae", ""))

    def create_editor(self) -> None:
        from sdwebui.services import runtime as shared

        self.create_default_editor_elems()
        with gr.Row():
            names = [v.model_name for v in shared.vae_registry.list()] if shared.vae_registry is not None else []
            self.select_vae = gr.Dropdown(choices=["Automatic", "None", *names], value="None",
                                          label="Preferred VAE", elem_id="checpoint_edit_user_metadata_preferred_vae")
        self.edit_notes = gr.TextArea(label="Notes", lines=4)
        self.create_default_buttons()
        self.button_edit.click(fn=self.put_values_into_components, inputs=[self.edit_name_input],
                               outputs=[self.edit_name, self.edit_description, self.html_filedata,
                                        self.html_preview, self.edit_notes, self.select_vae],
                               show_progress="hidden")
        self.setup_save_handler(self.button_save, self.save_user_metadata,
                                [self.edit_description, self.edit_notes, self.select_vae])


__all__ = ["UserMetadataEditor", "CheckpointUserMetadataEditor", "pretty_bytes", "path_is_parent", "write_atomically",
           "save_preview_image"]
