"""The Extensions tab: the installed list (enable/disable, updates, uninstall, errors, "Apply and
restart UI") and "Install from URL". Every change goes through modules.extension_manager; who may
make it is decided there (access_error) from the request's client address and login.

Element ids follow A1111 where it has them (extensions_installed_top, extensions_apply,
extensions_check, extension_to_install, extensions_install_branch, extensions_install_dirname,
extension_install_button).
"""
from __future__ import annotations

import html
import logging
import os
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.services.extensions import manager as mgr  # noqa: E402
from sdwebui.services.extensions import discovery as extensions  # noqa: E402

logger = logging.getLogger(__name__)

DISABLE_ALL_CHOICES = [("Load all enabled extensions", "none"), ("Built-in extensions only", "extra"),
                       ("No extensions", "all")]
# after "Apply and restart": wait for the server to go away and come back, then reload the page
RELOAD_JS = """(message) => {
  if (!message || !message.includes('Restarting')) return;
  let tries = 0;
  const poll = () => fetch('./config', {cache: 'no-store', credentials: 'same-origin'})
    .then((r) => { if (r.ok) location.reload(); else throw new Error(); })
    .catch(() => { if (++tries < 120) setTimeout(poll, 1000); });
  setTimeout(poll, 3000);
}"""


# ---------------------------------------------------------------------------------------
# handlers (plain functions: the tests call them directly)
# ---------------------------------------------------------------------------------------
def request_access_error(request: gr.Request | None) -> str | None:
    """access_error() for a gradio request: its client address, and its gradio login if any."""
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    return mgr.access_error(host, bool(getattr(request, "username", None)))


def message_html(text: str, error: bool = False) -> str:
    if not text:
        return ""
    cls = "extensions-error" if error else "extensions-message"
    return f'<div class="{cls}">{html.escape(text)}</div>'


def _date(ts: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def installed_table_html() -> str:
    """The installed list as an HTML table (name, built-in, URL, branch, version, date, update status, errors)."""
    rows = []
    active = {id(e) for e in extensions.active()}
    for e in extensions.extensions:
        state = "active" if id(e) in active else ("enabled (not loaded)" if e.enabled else "disabled")
        remote = html.escape(e.remote or "")
        link = f'<a href="{remote}" target="_blank" rel="noopener noreferrer">{remote}</a>' if remote.startswith(
            ("http://", "https://")) else remote
        errors = "<br>".join(html.escape(m) for m in e.errors)
        rows.append(
            f'<tr data-extension="{html.escape(e.name)}">'
            f'<td class="extension-name">{html.escape(e.name)}'
            + (' <span class="extension-builtin">(built-in)</span>' if e.is_builtin else "")
            + f'</td><td class="extension-state">{state}</td><td class="extension-remote">{link}</td>'
            f'<td>{html.escape(e.branch or "")}</td><td class="extension-version">{html.escape(e.version)}</td>'
            f'<td>{_date(e.commit_date)}</td><td class="extension-status">{html.escape(e.status)}</td>'
            f'<td class="extension-errors">{errors}</td></tr>')
    if not rows:
        rows.append('<tr><td colspan="8">No extensions installed.</td></tr>')
    return ('<table id="extensions_table" class="extensions-table"><thead><tr><th>Extension</th><th>State</th>'
            "<th>URL</th><th>Branch</th><th>Version</th><th>Date</th><th>Update</th><th>Errors</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def installed_updates() -> list:
    """Fresh values for the installed list's components: table, enabled boxes, update boxes,
    uninstall choices, disable-all mode."""
    exts = extensions.extensions
    names = [e.name for e in exts]
    updatable = [e.name for e in exts if e.is_git and e.remote]
    removable = [e.name for e in exts if not e.is_builtin]
    return [
        installed_table_html(),
        gr.update(choices=names, value=[e.name for e in exts if e.enabled]),
        gr.update(choices=updatable, value=[e.name for e in exts if e.can_update and e.name in updatable]),
        gr.update(choices=removable, value=None),
        extensions.disable_mode() if extensions.disable_mode() in extensions.DISABLE_MODES else "none",
    ]


def refresh(request: gr.Request | None = None) -> list:
    extensions.list_extensions()
    return installed_updates()


def check_updates(request: gr.Request | None = None) -> list:
    denied = request_access_error(request)
    if denied:
        return [message_html(denied, True), *installed_updates()]
    try:
        result = mgr.check_for_updates()
    except mgr.ExtensionError as e:
        return [message_html(str(e), True), *installed_updates()]
    newer = [n for n, s in result.items() if s == "new commits"]
    text = (f"Updates available for: {', '.join(newer)}. Tick them under \"Update\" and apply."
            if newer else f"Checked {len(result)} extension(s); no updates.")
    return [message_html(text), *installed_updates()]


def apply_and_restart(enabled: list[str] | None, disable_all: str, to_update: list[str] | None,
                      request: gr.Request | None = None) -> str:
    denied = request_access_error(request)
    if denied:
        return message_html(denied, True)
    enabled = set(enabled or [])
    disabled = [e.name for e in extensions.extensions if e.name not in enabled]
    try:
        return message_html(mgr.apply_and_restart(disabled, disable_all or "none", list(to_update or [])))
    except mgr.ExtensionError as e:
        return message_html(str(e), True)


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


def install(url: str, branch: str, dirname: str, request: gr.Request | None = None) -> list:
    """Install from URL; returns [result html, url box, *installed list updates]."""
    denied = request_access_error(request)
    if denied:
        return [message_html(denied, True), gr.skip(), *installed_updates()]
    try:
        text = mgr.install_from_url(url, branch or None, dirname or None)
    except mgr.ExtensionError as e:
        return [message_html(str(e), True), gr.skip(), *installed_updates()]
    except Exception as e:  # noqa: BLE001 - shown to the user, never a traceback
        logger.exception("installing %s failed", url)
        return [message_html(f"Installing failed: {type(e).__name__}: {e}", True), gr.skip(), *installed_updates()]
    return [message_html(text), "", *installed_updates()]


# ---------------------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------------------
def create_extensions_tab() -> None:
    """Build the whole tab, `gr.Tab("Extensions", id="extensions")`; call inside the app's gr.Tabs()."""
    if not extensions.extensions:
        extensions.list_extensions()
    access_note = mgr.flag_access_error()
    common = dict(concurrency_limit=None, api_visibility="undocumented")

    with gr.Tab("Extensions", id="extensions", elem_id="tab_extensions"):
        if access_note:
            gr.HTML(message_html(access_note, True), elem_id="extensions_access_note")
        with gr.Tabs(elem_id="tabs_extensions"):
            with gr.Tab("Installed", id="extensions_installed", elem_id="extensions_installed_tab"):
                with gr.Row(elem_id="extensions_installed_top"):
                    apply = gr.Button("Apply and restart UI", variant="primary", elem_id="extensions_apply")
                    check = gr.Button("Check for updates", elem_id="extensions_check")
                    disable_all = gr.Radio(DISABLE_ALL_CHOICES, value=extensions.disable_mode(),
                                           label="Disable all extensions", elem_id="extensions_disable_all")
                result = gr.HTML("", elem_id="extensions_installed_result")
                table = gr.HTML(installed_table_html(), elem_id="extensions_installed_html")
                exts = extensions.extensions
                enabled = gr.CheckboxGroup([e.name for e in exts], value=[e.name for e in exts if e.enabled],
                                           label="Enabled", elem_id="extensions_enabled")
                to_update = gr.CheckboxGroup([e.name for e in exts if e.is_git and e.remote], value=[],
                                             label="Update on apply", elem_id="extensions_update")
                with gr.Row(elem_id="extensions_uninstall_row"):
                    victim = gr.Dropdown([e.name for e in exts if not e.is_builtin], value=None,
                                         label="Uninstall", elem_id="extensions_uninstall_name", scale=3)
                    remove = gr.Button("Uninstall", variant="stop", elem_id="extensions_uninstall", scale=1)

            with gr.Tab("Install from URL", id="extensions_install", elem_id="extensions_install_tab"):
                url = gr.Textbox(label="URL for extension's git repository", elem_id="extension_to_install")
                branch = gr.Textbox(label="Specific branch name", placeholder="Leave empty for default main branch",
                                    elem_id="extensions_install_branch")
                dirname = gr.Textbox(label="Local directory name", placeholder="Leave empty for auto",
                                     elem_id="extensions_install_dirname")
                install_button = gr.Button("Install", variant="primary", elem_id="extension_install_button")
                install_result = gr.HTML("", elem_id="extension_install_result")

    listing = [table, enabled, to_update, victim, disable_all]
    check.click(check_updates, [], [result, *listing], **common)
    apply.click(apply_and_restart, [enabled, disable_all, to_update], [result], **common).then(
        None, [result], None, js=RELOAD_JS)
    remove.click(uninstall, [victim], [result, *listing], **common)
    install_button.click(install, [url, branch, dirname], [install_result, url, *listing], **common)
    # a page opened later shows the extensions as they are now
    gr.on(None, refresh, inputs=None, outputs=listing, show_progress="hidden", **common)
