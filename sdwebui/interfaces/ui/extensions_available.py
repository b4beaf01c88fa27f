"""The Extensions tab's "Available" sub-tab, as A1111's: "Load from:" an extension index (A1111's
URL, `WEBUI_EXTENSIONS_INDEX`, any other URL or a local file), tag filters (ads, localization
and installed hidden by default), "hide"/"show" and "or"/"and", the order, a search box, and an
Install button per entry. The button fills the hidden `extension_to_install` box and clicks the
hidden `install_extension_button` (javascript/extensions.js: install_extension_from_index), as
in A1111. The loaded index is kept per browser session (gr.State), not process-wide.
"""
from __future__ import annotations

import html
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.interfaces.ui.extensions_common import EVENT_ARGS, message_html, request_access_error  # noqa: E402
from sdwebui.interfaces.ui.extensions_installed import installed_updates  # noqa: E402
from sdwebui.services.extensions import discovery as extensions  # noqa: E402
from sdwebui.services.extensions import index as ext_index  # noqa: E402
from sdwebui.services.extensions import manager as mgr  # noqa: E402

logger = logging.getLogger(__name__)


def available_table_html(selection: ext_index.Selection) -> str:
    """A1111's table (`#available_extensions`): name with tags, description with dates and
    stars, Install (or a disabled "Installed")."""
    rows = []
    for e in selection.entries:
        url = html.escape(e.url)
        tags = ", ".join(f'<span class="extension-tag" title="{html.escape(selection.tags.get(t, t))}">'
                         f"{html.escape(t)}</span>" for t in e.tags)
        button = (f'<button class="lg secondary gradio-button custom-button extension-install" data-url="{url}"'
                  f'{" disabled" if e.installed else ""}>{"Installed" if e.installed else "Install"}</button>')
        rows.append(
            f'<tr data-extension="{html.escape(e.name)}"><td><a href="{url}" target="_blank" '
            f'rel="noopener noreferrer">{html.escape(e.name)}</a><br>{tags}</td>'
            f'<td>{html.escape(e.description)}<p class="info"><span class="date_added">Update: '
            f"{html.escape(e.update_time)} Added: {html.escape(e.added)} Created: {html.escape(e.create_time)}"
            f'</span> <span class="star_count">stars: <b>{e.stars}</b></span></p></td><td>{button}</td></tr>')
    code = ('<table id="available_extensions"><thead><tr><th>Extension</th><th>Description</th><th>Action</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    if selection.hidden:
        code += f'<p class="extensions-hidden-count">Extension hidden: {selection.hidden}</p>'
    return code


def select(index: dict | None, tags: list[str] | None, showing: str, filtering: str, sort: int | str,
           search: str) -> ext_index.Selection:
    exts = extensions.extensions
    return ext_index.filter_index(index or {"extensions": []}, [n for e in exts for n in (e.name, e.dirname)],
                                  [e.remote for e in exts if e.remote], tags or [], showing or "hide",
                                  filtering or "or", sort if sort is not None else 0, search or "")


# ---------------------------------------------------------------------------------------
# handlers
# ---------------------------------------------------------------------------------------
def load(source: str, tags: list[str] | None, showing: str, filtering: str, sort: int | str,
         request: gr.Request | None = None) -> list:
    """"Load from:": [index state, source box, table, tag choices, search box, result line].
    A1111's index URL is always allowed; another URL or a local file is fetched or read by the
    server, so it needs the same access as managing extensions."""
    source = (source or "").strip() or ext_index.default_index_url()
    if source != ext_index.default_index_url():
        denied = request_access_error(request)
        if denied:
            return [gr.skip(), source, gr.skip(), gr.skip(), gr.skip(), message_html(denied, True)]
    try:
        index = ext_index.load_index(source)
        selection = select(index, tags, showing, filtering, sort, "")
    except ValueError as e:          # IndexLoadError, or a bad filter choice
        logger.warning("extension index: %s", e)
        return [gr.skip(), source, gr.skip(), gr.skip(), gr.skip(), message_html(str(e), True)]
    count = len(index["extensions"])
    tag_choices = list(dict.fromkeys([*ext_index.INITIAL_TAGS, *selection.tags]))
    return [index, source, available_table_html(selection), gr.update(choices=tag_choices), "",
            message_html(f"Loaded {count} extensions from {source}.")]


def refilter(index: dict | None, tags: list[str] | None, showing: str, filtering: str, sort: int | str,
             search: str) -> list:
    """Any filter, order or search change: [table, result line]."""
    if index is None:
        return ["", message_html('Load an extension index first ("Load from:").')]
    try:
        return [available_table_html(select(index, tags, showing, filtering, sort, search)), ""]
    except ValueError as e:
        return [gr.skip(), message_html(str(e), True)]


def install_from_index(url: str, index: dict | None, tags: list[str] | None, showing: str, filtering: str,
                       sort: int | str, search: str, request: gr.Request | None = None) -> list:
    """An Install button: [available table, result line, the url box (cleared), *installed_updates()]."""
    denied = request_access_error(request)
    if denied:
        return [gr.skip(), message_html(denied, True), "", *installed_updates()]
    try:
        text, error = mgr.install_from_url(url), False
    except mgr.ExtensionError as e:
        text, error = str(e), True
    except Exception as e:  # noqa: BLE001 - shown to the user, never a traceback
        logger.exception("installing %s failed", url)
        text, error = f"Installing failed: {type(e).__name__}: {e}", True
    table = refilter(index, tags, showing, filtering, sort, search)[0] if index is not None else gr.skip()
    return [table, message_html(text, error), "", *installed_updates()]


# ---------------------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------------------
def create_available_tab(installed_listing: list) -> None:
    with gr.Tab("Available", id="available", elem_id="extensions_available_tab"):
        with gr.Row():
            load_button = gr.Button("Load from:", variant="primary", elem_id="extensions_available_load")
            source = gr.Textbox(ext_index.default_index_url(), label="Extension index URL", container=False,
                                elem_id="extensions_index_url", scale=4)
            to_install = gr.Textbox(visible="hidden", elem_id="extension_to_install")
            install_button = gr.Button(visible="hidden", elem_id="install_extension_button")
        with gr.Row():
            tags = gr.CheckboxGroup(ext_index.INITIAL_TAGS, value=ext_index.DEFAULT_HIDDEN_TAGS,
                                    label="Extension tags", elem_id="extensions_available_tags",
                                    elem_classes=["compact-checkbox-group"])
            sort = gr.Radio(ext_index.SORT_LABELS, value=ext_index.SORT_LABELS[0], type="index", label="Order",
                            elem_id="extensions_available_order", elem_classes=["compact-checkbox-group"])
        with gr.Row():
            showing = gr.Radio(list(ext_index.SHOWING_TYPES), value="hide", label="Showing type",
                               elem_id="extensions_available_showing", elem_classes=["compact-checkbox-group"])
            filtering = gr.Radio(list(ext_index.FILTERING_TYPES), value="or", label="Filtering type",
                                 elem_id="extensions_available_filtering", elem_classes=["compact-checkbox-group"])
        search = gr.Textbox(label="Search", container=False, placeholder="Search",
                            elem_id="extensions_available_search")
        result = gr.HTML("", elem_id="extensions_available_result")
        table = gr.HTML("", elem_id="extensions_available_html")
        index = gr.State(None)

    filters = [tags, showing, filtering, sort]
    load_button.click(load, [source, *filters], [index, source, table, tags, search, result], **EVENT_ARGS)
    for control in filters:
        control.change(refilter, [index, *filters, search], [table, result], show_progress="hidden", **EVENT_ARGS)
    search.change(refilter, [index, *filters, search], [table, result], show_progress="hidden", **EVENT_ARGS)
    install_button.click(install_from_index, [to_install, index, *filters, search],
                         [table, result, to_install, *installed_listing], **EVENT_ARGS)
