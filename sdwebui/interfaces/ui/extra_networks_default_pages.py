"""The Extra Networks pages A1111 registers itself (`modules.ui_extra_networks_checkpoints`,
`..._textual_inversion`, `..._hypernets`), listing this app's checkpoint registry, embeddings
folder and hypernetworks folder."""
from __future__ import annotations

import html
import logging
import os
from pathlib import Path
from typing import Iterator

from sdwebui.interfaces.ui.extra_networks import ExtraNetworksPage, quote_js, register_page
from sdwebui.interfaces.ui.extra_networks_metadata import CheckpointUserMetadataEditor
from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)


def _samples_format() -> str:
    return shared.opts.samples_format if shared.opts is not None and "samples_format" in shared.opts else "png"


class ExtraNetworksPageCheckpoints(ExtraNetworksPage):
    def __init__(self) -> None:
        super().__init__("Checkpoints")
        self.allow_prompt = False

    def refresh(self) -> None:
        if shared.registry is not None:
            shared.registry.refresh()

    def _find(self, name: str):
        registry = shared.registry
        return registry.match(name) if registry is not None else None

    def create_item(self, name: str, index: int | None = None, enable_filter: bool = True) -> dict | None:
        info = self._find(name)
        if info is None:
            return None
        filename = str(info.filename)
        path = os.path.splitext(filename)[0]
        terms = [self.search_terms_from_path(filename)] + ([info.sha256] if info.sha256 else [])
        return {"name": info.name_for_extra, "filename": filename, "shorthash": info.shorthash,
                "preview": self.find_preview(path), "description": self.find_description(path),
                "search_terms": terms, "onclick": html.escape(f"return selectCheckpoint({quote_js(name)})"),
                "local_preview": f"{path}.{_samples_format()}", "metadata": {},
                "sort_keys": {"default": index, **self.get_sort_keys(filename)}}

    def list_items(self) -> Iterator[dict]:
        infos = shared.registry.list() if shared.registry is not None else []
        for index, info in enumerate(infos):
            item = self.create_item(info.title, index)
            if item is not None:
                yield item

    def allowed_directories_for_previews(self) -> list[str]:
        if shared.paths is None:
            return []
        dirs = [shared.paths.checkpoints, shared.paths.extra_checkpoint_dir]
        return [str(d) for d in dirs if d is not None]

    def create_user_metadata_editor(self, ui, tabname: str) -> CheckpointUserMetadataEditor:
        return CheckpointUserMetadataEditor(ui, tabname, self)


class ExtraNetworksPageTextualInversion(ExtraNetworksPage):
    def __init__(self) -> None:
        super().__init__("Textual Inversion")
        self.allow_negative_prompt = True

    def refresh(self) -> None:
        db = shared.embeddings
        if db is not None:
            model = shared.model_manager.sd_model if shared.model_manager is not None else None
            db.refresh(model, force=True)

    def create_item(self, name: str, index: int | None = None, enable_filter: bool = True) -> dict | None:
        db = shared.embeddings
        emb = db.loaded.get(name) if db is not None else None
        if emb is None:
            return None
        filename = str(emb.path)
        path = os.path.splitext(filename)[0]
        return {"name": name, "filename": filename, "shorthash": db.shorthash(emb),
                "preview": self.find_preview(path), "description": self.find_description(path),
                "search_terms": [self.search_terms_from_path(filename)], "prompt": quote_js(emb.name),
                "local_preview": f"{path}.preview.{_samples_format()}",
                "sort_keys": {"default": index, **self.get_sort_keys(filename)}}

    def list_items(self) -> Iterator[dict]:
        names = list(shared.embeddings.loaded) if shared.embeddings is not None else []
        for index, name in enumerate(names):
            item = self.create_item(name, index)
            if item is not None:
                yield item

    def allowed_directories_for_previews(self) -> list[str]:
        return [str(shared.embeddings.folder)] if shared.embeddings is not None else []


HYPERNETWORK_SUFFIXES = (".pt",)


def hypernetwork_dir() -> Path | None:
    """--hypernetwork-dir, else A1111's default `models/hypernetworks`."""
    configured = getattr(shared.cmd_opts, "hypernetwork_dir", None) if shared.cmd_opts is not None else None
    if configured:
        return Path(configured)
    return shared.paths.models / "hypernetworks" if shared.paths is not None else None


class ExtraNetworksPageHypernetworks(ExtraNetworksPage):
    """Hypernetwork files are listed; this app does not apply hypernetworks (docs/compatibility.md)."""

    def __init__(self) -> None:
        super().__init__("Hypernetworks")

    def _files(self) -> dict[str, Path]:
        folder = hypernetwork_dir()
        if folder is None or not folder.is_dir():
            return {}
        return {p.stem: p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in HYPERNETWORK_SUFFIXES}

    def create_item(self, name: str, index: int | None = None, enable_filter: bool = True) -> dict | None:
        path = self._files().get(name)
        if path is None:
            return None
        stem = os.path.splitext(str(path))[0]
        return {"name": name, "filename": str(path), "shorthash": None, "preview": self.find_preview(stem),
                "description": self.find_description(stem), "search_terms": [self.search_terms_from_path(str(path))],
                "prompt": quote_js(f"<hypernet:{name}:") + " + opts.extra_networks_default_multiplier + " + quote_js(">"),
                "local_preview": f"{stem}.preview.{_samples_format()}",
                "sort_keys": {"default": index, **self.get_sort_keys(str(path))}}

    def list_items(self) -> Iterator[dict]:
        for index, name in enumerate(self._files()):
            item = self.create_item(name, index)
            if item is not None:
                yield item

    def allowed_directories_for_previews(self) -> list[str]:
        folder = hypernetwork_dir()
        return [str(folder)] if folder is not None else []


def register_default_pages() -> None:
    """The pages A1111 itself registers: Textual Inversion, Hypernetworks, Checkpoints."""
    register_page(ExtraNetworksPageTextualInversion())
    register_page(ExtraNetworksPageHypernetworks())
    register_page(ExtraNetworksPageCheckpoints())


__all__ = ["register_default_pages", "ExtraNetworksPageCheckpoints", "ExtraNetworksPageTextualInversion", "ExtraNetworksPageHypernetworks",
           "hypernetwork_dir"]
