"""A1111's `modules.ui_extra_networks`: the base class of an Extra Networks page and the list of
registered pages. Extensions (the Lora built-in, and third-party ones) subclass `ExtraNetworksPage`,
implement `list_items()` / `create_item()` / `allowed_directories_for_previews()`, and call
`register_page()` from an `on_before_ui` callback; the page is then kept in `extra_pages`.

The default pages (Checkpoints, Textual Inversion, Hypernetworks) are in
extra_networks_default_pages.py, with `register_default_pages()`. A page's HTML (cards, folders,
controls) is made in extra_networks_html.py; the panel of pages beside the Generation tab of
txt2img and img2img (A1111's `create_ui` / `setup_ui`) is extra_networks_panel.py.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import urllib.parse
from pathlib import Path
from typing import Any, Iterable

from sdwebui.interfaces.ui import extra_networks_html as pane
from sdwebui.interfaces.ui.extra_networks_html import ExtraNetworksItem, get_tree, quote_js
from sdwebui.interfaces.ui.extra_networks_metadata import UserMetadataEditor, path_is_parent
from sdwebui.services import runtime as shared
from sdwebui.services.legacy.networks import get_user_metadata
from sdwebui.services.util import MassFileLister, html

logger = logging.getLogger(__name__)

extra_pages: list["ExtraNetworksPage"] = []
allowed_dirs: set[str] = set()
default_allowed_preview_extensions = ["png", "jpg", "jpeg", "webp", "gif"]


@functools.cache
def allowed_preview_extensions_with_extra(extra_extensions: tuple[str, ...] | None = None) -> set[str]:
    return set(default_allowed_preview_extensions) | set(extra_extensions or [])


def allowed_preview_extensions() -> set[str]:
    fmt = shared.opts.samples_format if shared.opts is not None and "samples_format" in shared.opts else "png"
    return allowed_preview_extensions_with_extra((fmt,))


def register_page(page: "ExtraNetworksPage") -> None:
    """Register an Extra Networks page (extensions: from an on_before_ui callback). A page with the
    name of one already registered replaces it, so a UI reload does not list a page twice."""
    for i, existing in enumerate(extra_pages):
        if existing.name == page.name and type(existing) is type(page):
            extra_pages[i] = page
            break
    else:
        extra_pages.append(page)
    allowed_dirs.clear()
    for p in extra_pages:
        try:
            allowed_dirs.update(str(d) for d in p.allowed_directories_for_previews() if d)
        except Exception:   # a page's bug must not hide the others' previews
            logger.exception("extra networks page %r: allowed_directories_for_previews failed", p.name)


def fetch_file(filename: str = ""):
    """A preview image of a registered page (A1111's /sd_extra_networks/thumb): only files inside
    the pages' preview folders, with a preview image extension."""
    from fastapi import HTTPException
    from starlette.responses import FileResponse

    real = os.path.realpath(filename)
    if not os.path.isfile(real):
        raise HTTPException(status_code=404, detail="File not found")
    if not any(path_is_parent(os.path.realpath(d), real) for d in allowed_dirs):
        raise HTTPException(status_code=403, detail=f"File cannot be fetched: {filename}. Must be in one of "
                                                    "directories registered by extra pages.")
    ext = os.path.splitext(real)[1].lower()[1:]
    if ext not in allowed_preview_extensions():
        raise HTTPException(status_code=403, detail=f"File cannot be fetched: {filename}. Extensions allowed: "
                                                    f"{sorted(allowed_preview_extensions())}.")
    return FileResponse(real, headers={"Accept-Ranges": "bytes"})


def get_metadata(page: str = "", item: str = "") -> Any:
    """A page item's metadata as JSON (A1111's /sd_extra_networks/metadata)."""
    from starlette.responses import JSONResponse

    found = next((p for p in extra_pages if p.name == page), None)
    if found is None:
        return JSONResponse({})
    metadata = found.metadata.get(item)
    return JSONResponse({} if metadata is None else {"metadata": json.dumps(metadata, indent=4, ensure_ascii=False)})


def _page_named(name: str) -> "ExtraNetworksPage | None":
    wanted = (name or "").lower().replace(" ", "_")
    return next((p for p in extra_pages if p.extra_networks_tabname == wanted or p.name == name), None)


def get_single_card(page: str = "", tabname: str = "", name: str = "") -> Any:
    """One card's HTML made again (A1111's /sd_extra_networks/get-single-card), after its user
    metadata was edited: {"html": ...}, or 404 naming what is unknown."""
    from fastapi import HTTPException

    found = _page_named(page)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no Extra Networks page named {page!r}")
    try:
        item = found.create_item(name, enable_filter=False)
    except TypeError:       # an extension's create_item(name, index) without enable_filter
        item = found.create_item(name)
    if item is None:
        raise HTTPException(status_code=404, detail=f"no item named {name!r} on the page {found.title!r}")
    found.read_user_metadata(item, use_cache=False)
    found.items[name] = item
    return {"html": found.create_item_html(tabname, item, found.card_tpl)}


def fetch_cover_images(page: str = "", item: str = "", index: int = 0) -> Any:
    """A cover image kept in a network's safetensors metadata (`ssmd_cover_images`, base64)."""
    import base64

    from fastapi import HTTPException
    from starlette.responses import Response

    found = _page_named(page)
    metadata = found.metadata.get(item) if found is not None else None
    covers = (metadata or {}).get("ssmd_cover_images")
    try:
        covers = json.loads(covers) if isinstance(covers, str) else list(covers or [])
        data = base64.b64decode(covers[index])
    except (ValueError, IndexError, TypeError):
        raise HTTPException(status_code=404, detail="no such cover image") from None
    return Response(content=data, media_type="image/png")


def add_pages_to_demo(app: Any, dependencies: list | None = None) -> None:
    """The routes the panel reads previews, metadata and single cards from (A1111's paths); call it
    before the UI is mounted at "/" (`dependencies`: the UI's login check)."""
    for path, fn, methods in (("/sd_extra_networks/thumb", fetch_file, ["GET", "HEAD"]),
                              ("/sd_extra_networks/metadata", get_metadata, ["GET"]),
                              ("/sd_extra_networks/get-single-card", get_single_card, ["GET"]),
                              ("/sd_extra_networks/cover-images", fetch_cover_images, ["GET"])):
        app.add_api_route(path, fn, methods=methods, dependencies=dependencies, include_in_schema=False)


class ExtraNetworksPage:
    """A tab of the Extra Networks panel (A1111's base class; see the module docstring)."""

    def __init__(self, title: str):
        self.title = title
        self.name = title.lower()
        self.extra_networks_tabname = self.name.replace(" ", "_")
        self.allow_prompt = True
        self.allow_negative_prompt = False
        self.metadata: dict = {}
        self.items: dict = {}
        self.lister = MassFileLister()
        # the panel's HTML templates (html/*.html, A1111's names and placeholders)
        self.pane_tpl = html("extra-networks-pane.html")
        self.pane_content_tree_tpl = html("extra-networks-pane-tree.html")
        self.pane_content_dirs_tpl = html("extra-networks-pane-dirs.html")
        self.card_tpl = html("extra-networks-card.html")
        self.btn_tree_tpl = html("extra-networks-tree-button.html")
        self.btn_copy_path_tpl = html("extra-networks-copy-path-button.html")
        self.btn_metadata_tpl = html("extra-networks-metadata-button.html")
        self.btn_edit_item_tpl = html("extra-networks-edit-item-button.html")

    def refresh(self) -> None:
        pass

    def read_user_metadata(self, item: dict, use_cache: bool = True) -> None:
        metadata = get_user_metadata(item.get("filename"), lister=self.lister if use_cache else None)
        if metadata.get("description") is not None:
            item["description"] = metadata["description"]
        item["user_metadata"] = metadata

    def link_preview(self, filename: str) -> str:
        quoted = urllib.parse.quote(filename.replace("\\", "/"))
        mtime, _ = self.lister.mctime(filename)
        return f"./sd_extra_networks/thumb?filename={quoted}&mtime={mtime}"

    def search_terms_from_path(self, filename: str, possible_directories: Iterable[str] | None = None) -> str:
        abspath = os.path.abspath(filename)
        dirs = self.allowed_directories_for_previews() if possible_directories is None else possible_directories
        for parent in dirs:
            parent = os.path.dirname(os.path.abspath(parent))
            if abspath.startswith(parent):
                return os.path.relpath(abspath, parent)
        return ""

    def list_items(self) -> Iterable[dict]:
        raise NotImplementedError()

    def create_item(self, name: str, index: int | None = None) -> dict | None:
        raise NotImplementedError()

    def allowed_directories_for_previews(self) -> list[str]:
        return []

    def refresh_items(self) -> dict:
        """Fill `items` and `metadata` from list_items() (what A1111's create_html does before it
        makes the cards), reading each item's user metadata."""
        self.lister.reset()
        self.metadata = {}
        self.items = {x["name"]: x for x in self.list_items()}
        for item in self.items.values():
            if item.get("metadata"):
                self.metadata[item["name"]] = item["metadata"]
            if "user_metadata" not in item:
                self.read_user_metadata(item)
        return self.items

    def create_html(self, tabname: str, *, empty: bool = False) -> str:
        """The page's pane for the txt2img or img2img tab, its items listed again (`empty`: none)."""
        return pane.page_html(self, tabname, empty=empty)

    def create_item_html(self, tabname: str, item: dict, template: str | None = None) -> Any:
        return pane.item_html(self, tabname, item, template)

    def create_tree_dir_item_html(self, tabname: str, dir_path: str, content: str | None = None) -> str | None:
        return pane.tree_dir_item_html(self, tabname, dir_path, content)

    def create_tree_file_item_html(self, tabname: str, file_path: str, item: dict) -> str:
        return pane.tree_file_item_html(self, tabname, file_path, item)

    def create_tree_view_html(self, tabname: str) -> str:
        return pane.tree_view_html(self, tabname)

    def create_dirs_view_html(self, tabname: str) -> str:
        return pane.dirs_view_html(self, tabname)

    def create_card_view_html(self, tabname: str, *, none_message: str | None = None) -> str:
        return pane.card_view_html(self, tabname, none_message=none_message)

    def get_sort_keys(self, path: str) -> dict:
        p = Path(path)
        mtime, ctime = self.lister.mctime(path)
        return {"date_created": int(mtime), "date_modified": int(ctime), "name": p.name.lower(),
                "path": str(p).lower()}

    def find_preview(self, path: str) -> str | None:
        """The preview link of `<path>.<ext>` or `<path>.preview.<ext>`, if one exists."""
        for ext in sorted(allowed_preview_extensions()):
            for candidate in (f"{path}.{ext}", f"{path}.preview.{ext}"):
                if self.lister.exists(candidate):
                    return self.link_preview(candidate)
        return None

    def find_embedded_preview(self, path: str, name: str, metadata: dict) -> str | None:
        covers = (metadata or {}).get("ssmd_cover_images")
        if not self.lister.exists(f"{path}.safetensors") or not covers:
            return None
        try:
            covers = json.loads(covers) if isinstance(covers, str) else covers
        except ValueError:
            return None
        if any(covers):
            return f"./sd_extra_networks/cover-images?page={self.extra_networks_tabname}&item={name}"
        return None

    def find_description(self, path: str) -> str | None:
        for candidate in (f"{path}.txt", f"{path}.description.txt"):
            if self.lister.exists(candidate):
                try:
                    with open(candidate, encoding="utf-8", errors="replace") as f:
                        return f.read()
                except OSError:
                    pass
        return None

    def create_user_metadata_editor(self, ui: Any, tabname: str) -> Any:
        return UserMetadataEditor(ui, tabname, self)


def initialize() -> None:
    extra_pages.clear()


intialize = initialize     # A1111 spelled it this way in some versions; extensions call either


def pages_in_preferred_order(pages: list[ExtraNetworksPage]) -> list[ExtraNetworksPage]:
    """Pages ordered by the option ui_extra_networks_tab_reorder (names, comma-separated)."""
    order_text = ""
    if shared.opts is not None and "ui_extra_networks_tab_reorder" in shared.opts:
        order_text = shared.opts.ui_extra_networks_tab_reorder or ""
    order = [x.lower().strip() for x in order_text.split(",") if x.strip()]

    def score(page: ExtraNetworksPage, index: int) -> tuple[int, int]:
        name = page.name.lower()
        return next((i for i, wanted in enumerate(order) if wanted in name), len(pages)), index

    return [p for _, p in sorted(((score(p, i), p) for i, p in enumerate(pages)), key=lambda x: x[0])]


__all__ = ["extra_pages", "allowed_dirs", "default_allowed_preview_extensions",
           "allowed_preview_extensions_with_extra", "allowed_preview_extensions", "ExtraNetworksItem", "get_tree",
           "register_page", "path_is_parent", "fetch_file", "get_metadata", "get_single_card",
           "fetch_cover_images", "add_pages_to_demo", "quote_js",
           "ExtraNetworksPage", "initialize", "intialize", "pages_in_preferred_order"]
