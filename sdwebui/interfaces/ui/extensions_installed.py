"""The Extensions tab's "Installed" sub-tab, laid out as A1111's: one table (`#extensions`) with an
enable checkbox per extension and an update checkbox where an update was found, "Apply and
restart UI", "Check for updates", the "Disable all extensions" radio; each extension's load
errors under its name. The page's JavaScript (javascript/extensions.js: extensions_apply,
extensions_check) reads the checkboxes into the hidden `extensions_disabled_list` /
`extensions_update_list` boxes, as in A1111. Uninstalling (not in A1111) is a row of its own.
"""
from __future__ import annotations

import html
import logging
import os
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.interfaces.ui.extensions_common import (EVENT_ARGS, RELOAD_JS, github_commit_link,  # noqa: E402
                                                     message_html, names_from_json, remote_link,
                                                     request_access_error)
from sdwebui.services import runtime as shared  # noqa: E402
from sdwebui.services.extensions import discovery as extensions  # noqa: E402
from sdwebui.services.extensions import manager as mgr  # noqa: E402

logger = logging.getLogger(__name__)

DISABLE_ALL_CHOICES = list(extensions.DISABLE_MODES)      # A1111 shows the raw values: none / extra / all
_NOT_ACTIVE_STYLE = ' style="color: var(--primary-400)"'   # A1111's mark for what disable-all turns off
_ERROR_STYLE = ' style="color: var(--error-text-color, #c00)"'


def _date(ts: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def installed_table_html() -> str:
    """A1111's table: Extension (enable box), URL, Branch, Version, Date, Update; the errors of
    an extension that failed to load under its name."""
    exts = extensions.extensions
    active = {id(e) for e in extensions.active()}
    all_on = all(e.enabled for e in exts)
    status_class = ' class="extension_status"'
    rows = []
    for e in exts:
        name = html.escape(e.name)
        style = _NOT_ACTIVE_STYLE if e.enabled and id(e) not in active else ""
        remote = remote_link(e.remote, "built-in" if e.is_builtin else None)
        version = github_commit_link(e.commit_hash, e.remote, e.version) if e.commit_hash else ""
        status = html.escape(e.status)
        if e.can_update:
            status = (f'<label><input class="gr-check-radio gr-checkbox" name="update_{name}" checked="checked" '
                      f'type="checkbox">{status}</label>')
        errors = "".join(f'<div class="extension_error"{_ERROR_STYLE}>{html.escape(m)}</div>' for m in e.errors)
        rows.append(
            f'<tr data-extension="{name}"><td><label{style}><input class="gr-check-radio gr-checkbox extension_toggle" '
            f'name="enable_{name}" type="checkbox"{" checked" if e.enabled else ""}>{name}</label>{errors}</td>'
            f"<td>{remote}</td><td>{html.escape(e.branch or '')}</td><td>{version}</td>"
            f"<td>{_date(e.commit_date)}</td><td{status_class if e.remote else ''}>{status}</td></tr>")
    if not rows:
        rows.append('<tr><td colspan="6">No extensions installed.</td></tr>')
    toggle_all = ('<input class="gr-check-radio gr-checkbox all_extensions_toggle" type="checkbox"'
                  f'{" checked" if all_on else ""}>')
    return (
        f'<table id="extensions" data-render="{time.time_ns()}"><thead><tr><th>{toggle_all}'
        '<abbr title="Ticked: loaded after the next Apply and restart; unticked: not loaded">Extension</abbr></th>'
        "<th>URL</th><th>Branch</th><th>Version</th><th>Date</th>"
        '<th><abbr title="Ticked: updated to the newest commit at the next Apply and restart">Update</abbr></th>'
        "</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>")


def disabled_note() -> str:
    """A1111's line above the table when disable-all is on, saying how to turn it off."""
    ns = shared.cmd_opts
    if getattr(ns, "disable_all_extensions", False):
        text = "No extension is loaded: the server was started with --disable-all-extensions."
    elif mgr.configured_disable_mode() != "none":
        text = ('"Disable all extensions" is set: choose "none" and apply to load every enabled extension '
                'again.')
    elif getattr(ns, "disable_extra_extensions", False):
        text = "Only built-in extensions are loaded: the server was started with --disable-extra-extensions."
    else:
        return ""
    return f'<span style="color: var(--primary-400);">{html.escape(text)}</span>'


def installed_updates() -> list:
    """Fresh values for the installed list's components: table, uninstall choices, disable-all mode."""
    removable = [e.name for e in extensions.extensions if not e.is_builtin]
    return [installed_table_html(), gr.update(choices=removable, value=None), mgr.configured_disable_mode()]


def refresh() -> list:
    extensions.list_extensions()
    return installed_updates()


# ---------------------------------------------------------------------------------------
# handlers (plain functions: the tests call them directly)
# ---------------------------------------------------------------------------------------
def _check(disabled: list[str], request: gr.Request | None) -> list:
    denied = request_access_error(request)
    if denied:
        return [message_html(denied, True), *installed_updates()]
    names = [e.name for e in extensions.extensions
             if e.is_git and not e.is_builtin and e.name not in disabled and e.dirname not in disabled]
    try:
        result = mgr.check_for_updates(names)
    except mgr.ExtensionError as e:
        return [message_html(str(e), True), *installed_updates()]
    newer = [n for n, s in result.items() if s == "new commits"]
    failed = [f"{n}: {s}" for n, s in result.items() if s.startswith("unknown")]
    text = (f"Updates available for: {', '.join(newer)}. They are ticked under \"Update\"; apply to update them."
            if newer else f"Checked {len(result)} extension(s); no updates.")
    return [message_html("\n".join([text, *failed])), *installed_updates()]


def check_updates(request: gr.Request | None = None) -> list:
    """"Check for updates" of every git extension: [message, *installed_updates()]."""
    return _check([], request)


def check_from_page(disabled_json: str, request: gr.Request | None = None) -> list:
    """"Check for updates" as the page asks it: the extensions unticked there are skipped (A1111)."""
    try:
        disabled = names_from_json(disabled_json, "disabled_list")
    except mgr.ExtensionError as e:
        return [message_html(str(e), True), *installed_updates()]
    return _check(disabled, request)


def _apply(disabled: list[str], disable_all: str, update: list[str], request: gr.Request | None) -> str:
    denied = request_access_error(request)
    if denied:
        return message_html(denied, True)
    try:
        return message_html(mgr.apply_and_restart(disabled, disable_all or "none", update))
    except mgr.ExtensionError as e:
        return message_html(str(e), True)


def apply_and_restart(enabled: list[str] | None, disable_all: str, to_update: list[str] | None,
                      request: gr.Request | None = None) -> str:
    """"Apply and restart UI" given the enabled names: every other extension is disabled."""
    on = set(enabled or [])
    return _apply([e.name for e in extensions.extensions if e.name not in on], disable_all,
                  list(to_update or []), request)


def apply_from_page(disabled_json: str, update_json: str, disable_all: str,
                    request: gr.Request | None = None) -> str:
    """"Apply and restart UI" as the page's extensions_apply() sends it: JSON lists of the
    unticked extensions and of those ticked for update."""
    try:
        disabled = names_from_json(disabled_json, "disabled_list")
        update = names_from_json(update_json, "update_list")
    except mgr.ExtensionError as e:
        return message_html(str(e), True)
    return _apply(disabled, disable_all, update, request)


def uninstall(name: str | None, request: gr.Request | None = None) -> list:
    denied = request_access_error(request)
    if denied:
        return [message_html(denied, True), *installed_updates()]
    if not name:
        return [message_html("Choose an extension to uninstall.", True), *installed_updates()]
    try:
        text = mgr.uninstall(name)
    except mgr.ExtensionError as e:
        return [message_html(str(e), True), *installed_updates()]
    return [message_html(text), *installed_updates()]


# ---------------------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------------------
def create_installed_tab(extensions_tab: gr.Tab | None = None) -> tuple[gr.HTML, list]:
    """Build the sub-tab (inside gr.Tabs); returns (its result line, the listing components that
    installed_updates() fills), for the other sub-tabs to refresh after an install. The listing is
    read again whenever the Extensions tab (`extensions_tab`) or this sub-tab is opened."""
    restartable = mgr.is_restartable()
    with gr.Tab("Installed", id="installed", elem_id="extensions_installed_tab") as installed_tab:
        with gr.Row(elem_id="extensions_installed_top"):
            apply = gr.Button("Apply and restart UI" if restartable else "Apply and quit", variant="primary",
                              elem_id="extensions_apply")
            check = gr.Button("Check for updates", elem_id="extensions_check")
            disable_all = gr.Radio(DISABLE_ALL_CHOICES, value=mgr.configured_disable_mode(),
                                   label="Disable all extensions", elem_id="extensions_disable_all")
            disabled_list = gr.Textbox(visible=False, container=False, elem_id="extensions_disabled_list")
            update_list = gr.Textbox(visible=False, container=False, elem_id="extensions_update_list")
            refresh_button = gr.Button("Refresh", size="sm", elem_id="extensions_refresh")
        info = gr.HTML(disabled_note(), elem_id="extensions_installed_info")
        table = gr.HTML(installed_table_html(), elem_id="extensions_installed_html")
        with gr.Row(elem_id="extensions_uninstall_row"):
            victim = gr.Dropdown([e.name for e in extensions.extensions if not e.is_builtin], value=None,
                                 label="Uninstall", elem_id="extensions_uninstall_name", scale=3)
            remove = gr.Button("Uninstall", variant="stop", elem_id="extensions_uninstall", scale=1)

    listing = [table, victim, disable_all]
    apply.click(apply_from_page, [disabled_list, update_list, disable_all], [info],
                js="(d, u, all) => extensions_apply(d, u, all)", **EVENT_ARGS).then(
        None, [info], None, js=RELOAD_JS)
    check.click(check_from_page, [disabled_list], [info, *listing],
                js="(d) => [extensions_check()[1]]", **EVENT_ARGS)
    refresh_button.click(refresh, [], listing, show_progress="hidden", **EVENT_ARGS)
    remove.click(uninstall, [victim], [info, *listing], **EVENT_ARGS)
    # shows the extensions as they are now; read when the tab is opened, not at every page load, where
    # each event's status messages cost the page a walk over all its components
    opened = [installed_tab.select] + ([extensions_tab.select] if extensions_tab is not None else [])
    gr.on(opened, refresh, inputs=None, outputs=listing, show_progress="hidden", **EVENT_ARGS)
    return info, listing
