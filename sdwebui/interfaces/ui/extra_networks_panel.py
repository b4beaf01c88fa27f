"""The Extra Networks panel of the txt2img and img2img tabs (A1111's `ui_extra_networks.create_ui` and
`setup_ui`): one tab per registered page (Textual Inversion, Hypernetworks, Checkpoints, Lora and the
extensions' pages) beside the Generation tab, each holding the page's cards and its user metadata
editor.

A page's cards are made the first time its tab is opened in a browser session, not at page load as
A1111 does: each page load event costs gradio 6 a walk over every component of the page (~950 here),
and most visits to txt2img never open a card page. The refresh control lists the files again (new
files added while running show up), and the cards' search, sort and folder filters run in the browser
(javascript/extra_networks.js).
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any

import gradio as gr

from sdwebui.interfaces.ui.extra_networks import extra_pages, pages_in_preferred_order

logger = logging.getLogger(__name__)


class ExtraNetworksUi:
    """What create_ui builds for one generation tab (A1111's fields, read by extensions)."""

    def __init__(self) -> None:
        self.pages: list[gr.HTML] = []
        self.pages_contents: list[str] = []
        self.page_contents = None
        self.user_metadata_editors: list[Any] = []
        self.stored_extra_pages: list[Any] = []
        self.button_save_preview = None
        self.preview_target_filename = None
        self.tabname: str | None = None
        self.related_tabs: list[gr.Tab] = []


def _render(page: Any, tabname: str) -> str:
    """A page's pane; a broken page (an extension's) shows its error instead of breaking the panel."""
    try:
        return page.create_html(tabname)
    except Exception as e:
        logger.exception("Extra Networks page %r could not be made", page.title)
        import html

        return f"<div class='nocards extra-network-error'>{html.escape(page.title)}: {html.escape(str(e))}</div>"


def _filter_js(tabname: str, page: Any) -> str:
    return f"() => {{ applyExtraNetworkFilter('{tabname}_{page.extra_networks_tabname}'); }}"


def create_ui(interface: Any, unrelated_tabs: list[Any], tabname: str) -> ExtraNetworksUi:
    """The page tabs; call inside the gr.Tabs that holds the Generation tab (`unrelated_tabs`)."""
    ui = ExtraNetworksUi()
    ui.stored_extra_pages = pages_in_preferred_order(extra_pages.copy())
    ui.tabname = tabname
    loaded_states: list[gr.State] = []
    refresh_buttons: list[tuple] = []
    for page in ui.stored_extra_pages:
        part = f"{tabname}_{page.extra_networks_tabname}"
        with gr.Tab(page.title, id=part, elem_id=part, elem_classes=["extra-page"]) as tab:
            with gr.Column(elem_id=f"{part}_prompts", elem_classes=["extra-page-prompts"]):
                pass
            html = gr.HTML(page.create_html(tabname, empty=True), elem_id=f"{part}_cards_html",
                           elem_classes=["extra-network-cards-html"])
            ui.pages.append(html)
            try:
                editor = page.create_user_metadata_editor(ui, tabname)
                editor.create_ui()
                ui.user_metadata_editors.append(editor)
            except Exception:       # an extension's editor: the cards still work without it
                logger.exception("Extra Networks page %r: its user metadata editor could not be built", page.title)
            refresh = gr.Button("Refresh", elem_id=f"{part}_extra_refresh_internal", visible="hidden")
        ui.related_tabs.append(tab)
        loaded = gr.State(False)
        loaded_states.append(loaded)

        def show(is_loaded: bool, page: Any = page) -> tuple:
            # the cards are made once per browser session; Refresh makes them again
            return (gr.skip(), True) if is_loaded else (_render(page, tabname), True)

        tab.select(show, [loaded], [html, loaded], show_progress="hidden", queue=False,
                   api_visibility="undocumented").then(None, js=_filter_js(tabname, page))

        refresh_buttons.append((refresh, page))

    def refresh_all() -> list:
        for pg in ui.stored_extra_pages:
            try:
                pg.refresh()
            except Exception:
                logger.exception("Extra Networks page %r: refresh failed", pg.title)
        ui.pages_contents = [_render(pg, tabname) for pg in ui.stored_extra_pages]
        return [*ui.pages_contents, *[True] * len(loaded_states)]

    # every page's pane is made again (A1111 does too): a new file may belong to another page
    for refresh, page in refresh_buttons:
        refresh.click(refresh_all, [], [*ui.pages, *loaded_states], show_progress="hidden",
                      api_visibility="undocumented").then(None, js=_filter_js(tabname, page))
    # hidden, in the last page's tab: gradio 6 takes only tabs as children of gr.Tabs
    with ui.related_tabs[-1] if ui.related_tabs else contextlib.nullcontext():
        ui.button_save_preview = gr.Button("Save preview", elem_id=f"{tabname}_save_preview", visible="hidden")
        ui.preview_target_filename = gr.Textbox("Preview save filename", elem_id=f"{tabname}_preview_filename",
                                                visible="hidden")
    for tab in unrelated_tabs:
        tab.select(None, js=f"() => {{ extraNetworksUnrelatedTabSelected('{tabname}'); }}")
    return ui


def setup_ui(ui: ExtraNetworksUi, gallery: Any) -> None:
    """Connects the editors' "Replace preview" (and A1111's older save-preview button) to `gallery`."""
    from sdwebui.interfaces.ui.extra_networks_metadata import path_is_parent, save_preview_image

    def save_preview(index: Any, images: list, filename: str) -> list[str]:
        allowed = any(path_is_parent(d, filename) for pg in ui.stored_extra_pages
                      for d in pg.allowed_directories_for_previews())
        if not allowed:
            raise gr.Error(f"writing a preview to {filename} is not allowed: it is in no Extra Networks folder")
        if not images:
            raise gr.Error("There is no image in the gallery to save as a preview.")
        save_preview_image(images, index, filename)
        return [_render(pg, ui.tabname) for pg in ui.stored_extra_pages]

    ui.button_save_preview.click(save_preview, [ui.preview_target_filename, gallery, ui.preview_target_filename],
                                 ui.pages, js=f"(x, y, z) => [selected_gallery_index_id('{ui.tabname}_gallery'), y, z]",
                                 show_progress="hidden", api_visibility="undocumented")
    for editor in ui.user_metadata_editors:
        try:
            editor.setup_ui(gallery)
        except Exception:
            logger.exception("Extra Networks editor of %r: setup_ui failed", editor.page.title)


def build(tabname: str, generation_tab: Any, gallery: Any) -> ExtraNetworksUi:
    """create_ui and setup_ui for one of this UI's generation tabs (inside its `{tab}_extra_tabs`)."""
    ui = create_ui(None, [generation_tab], tabname)
    setup_ui(ui, gallery)
    return ui


__all__ = ["ExtraNetworksUi", "create_ui", "setup_ui", "build"]
