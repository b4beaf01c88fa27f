"""The Extensions tab's "Backup/Restore" sub-tab, as A1111's: the saved config states (which
extensions were enabled at which commits, and the web UI's commit) in a dropdown with "Current",
the chosen one shown as tables where what differs from now is highlighted, "Restore Selected
Config" (extensions, webui or both; confirmed in the browser by config_state_confirm_restore,
then a restart) and "Save Current Config".
"""
from __future__ import annotations

import html
import logging
import os
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.interfaces.ui.extensions_common import (EVENT_ARGS, RELOAD_JS, github_commit_link,  # noqa: E402
                                                     message_html, remote_link, request_access_error)
from sdwebui.services.extensions import config_states  # noqa: E402
from sdwebui.services.extensions import discovery as extensions  # noqa: E402
from sdwebui.services.extensions import manager as mgr  # noqa: E402

logger = logging.getLogger(__name__)

_CHANGED = ' style="color: var(--primary-400)"'     # A1111 marks what a restore would change


def state_choices() -> list[str]:
    return [config_states.CURRENT, *mgr.list_config_states()]


def _when(ts) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(ts))) if ts else "<unknown>"
    except (TypeError, ValueError, OverflowError):
        return "<unknown>"


def _cell(text: str, changed: bool) -> str:
    return f"<td><label{_CHANGED if changed else ''}>{text}</label></td>"


def _row(saved: dict, now: dict | None, first: str = "") -> str:
    """One table row: [first], URL, Branch, Commit, Date; a cell differing from `now` is highlighted."""
    remote, branch, commit = saved.get("remote") or "", saved.get("branch") or "", saved.get("commit_hash") or ""

    def differs(key: str, value: str) -> bool:
        return now is not None and (now.get(key) or "") != value

    link = github_commit_link(commit, remote) if commit else "&lt;unknown&gt;"
    date = github_commit_link(commit, remote, _when(saved.get("commit_date"))) if commit else "&lt;unknown&gt;"
    return (f"<tr>{first}{_cell(remote_link(remote), differs('remote', remote))}"
            f"{_cell(html.escape(branch or '<unknown>'), differs('branch', branch))}"
            f"{_cell(link, differs('commit_hash', commit))}{_cell(date, differs('commit_hash', commit))}</tr>")


def state_table_html(key: str | None) -> str:
    """The chosen state (or "Current") as A1111's two tables, `#config_state_webui` and
    `#config_state_extensions`."""
    exts = extensions.extensions or extensions.list_extensions()
    if not key or key == config_states.CURRENT:
        state = config_states.current_state(exts)
    else:
        state = mgr.list_config_states().get(key)
        if state is None:
            return message_html(f"No saved config state named {key!r}.", True)
    head = (f"<h2>Config Backup: {html.escape(str(state.get('name', 'Config')))}</h2>"
            f"<div><b>Filepath:</b> {html.escape(str(state.get('filepath', '<unknown>')))}</div>"
            f"<div><b>Created at:</b> {_when(state.get('created_at'))}</div>")
    webui, recorded = state.get("webui"), state.get("extensions")
    if not isinstance(webui, dict) or not isinstance(recorded, dict):
        return head + "<h2>This file is corrupted</h2>"
    now = {e.name: e for e in exts}
    rows = []
    for name, entry in recorded.items():
        if not isinstance(entry, dict):
            continue
        current = now.get(name)
        current_fields = None if current is None else {
            "remote": current.remote, "branch": current.branch, "commit_hash": current.commit_hash}
        enabled = bool(entry.get("enabled"))
        first = _cell(f'<input class="gr-check-radio gr-checkbox" type="checkbox" disabled'
                      f'{" checked" if enabled else ""}>{html.escape(name)}',
                      current is not None and current.enabled != enabled)
        rows.append(_row(entry, current_fields, first))
    return (head + "<h2>WebUI State</h2><table id=\"config_state_webui\"><thead><tr><th>URL</th><th>Branch</th>"
            f"<th>Commit</th><th>Date</th></tr></thead><tbody>{_row(webui, config_states.webui_config())}"
            "</tbody></table><h2>Extension State</h2><table id=\"config_state_extensions\"><thead><tr>"
            "<th>Extension</th><th>URL</th><th>Branch</th><th>Commit</th><th>Date</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


# ---------------------------------------------------------------------------------------
# handlers
# ---------------------------------------------------------------------------------------
def save(name: str, request: gr.Request | None = None) -> list:
    """"Save Current Config": [dropdown (the new state chosen), result line]."""
    denied = request_access_error(request)
    if denied:
        return [gr.skip(), message_html(denied, True)]
    path = mgr.save_config_state(name)
    choices = state_choices()
    return [gr.update(choices=choices, value=choices[1] if len(choices) > 1 else config_states.CURRENT),
            message_html(f"Saved the state of the web UI and its extensions to {path}.")]


def restore(confirmed: bool, key: str, restore_type: str, request: gr.Request | None = None) -> str:
    """"Restore Selected Config" (after the browser's confirmation): restores, then restarts."""
    if not key or key == config_states.CURRENT:
        return message_html("Choose a saved state to restore first.")
    if not confirmed:
        return message_html("Restore cancelled.")
    denied = request_access_error(request)
    if denied:
        return message_html(denied, True)
    try:
        text = mgr.restore_config_state(key, restore_type)
    except mgr.ExtensionError as e:
        return message_html(str(e), True)
    return message_html(f"{text}\n{mgr.restart_server()}")


def refresh_choices(key: str | None) -> dict:
    choices = state_choices()
    return gr.update(choices=choices, value=key if key in choices else config_states.CURRENT)


# ---------------------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------------------
def create_backup_tab() -> None:
    with gr.Tab("Backup/Restore", id="backup_restore", elem_id="extensions_backup_tab") as tab:
        with gr.Row(elem_id="extensions_backup_top_row"):
            states = gr.Dropdown(state_choices(), value=config_states.CURRENT, label="Saved Configs",
                                 elem_id="extension_backup_saved_configs", scale=3)
            refresh = gr.Button("\U0001f504", elem_id="refresh_config_states", size="sm", scale=0, min_width=40)
            restore_type = gr.Radio(list(config_states.RESTORE_TYPES), value="extensions", label="State to restore",
                                    elem_id="extension_backup_restore_type")
            restore_button = gr.Button("Restore Selected Config", variant="primary",
                                       elem_id="extension_backup_restore")
        with gr.Row(elem_id="extensions_backup_top_row2"):
            save_name = gr.Textbox("", placeholder="Config Name", show_label=False,
                                   elem_id="extension_backup_save_name")
            save_button = gr.Button("Save Current Config", elem_id="extension_backup_save")
        info = gr.HTML("", elem_id="extension_backup_info")
        table = gr.HTML("", elem_id="extension_backup_table")
        confirmed = gr.Checkbox(False, visible=False)

    refresh.click(refresh_choices, [states], [states], show_progress="hidden", **EVENT_ARGS)
    save_button.click(save, [save_name], [states, info], **EVENT_ARGS)
    restore_button.click(restore, [confirmed, states, restore_type], [info],
                         js="(c, s, t) => config_state_confirm_restore(c, s, t)", **EVENT_ARGS).then(
        None, [info], None, js=RELOAD_JS)
    # when the sub-tab is opened (not at every page load: see extensions_installed.py) and when another
    # state is chosen
    gr.on([tab.select, states.change], state_table_html, inputs=[states], outputs=[table], show_progress="hidden",
          **EVENT_ARGS)
