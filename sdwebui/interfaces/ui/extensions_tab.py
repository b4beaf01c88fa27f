"""The Extensions tab, with A1111's sub-tabs: Installed (extensions_installed.py), Available
(extensions_available.py), Install from URL (here), Backup/Restore (extensions_backup.py).
Every change goes through sdwebui.services.extensions.manager; who may make it is decided there
(access_error) from the request's client address and login, and a refusal is a message on the
tab, never a traceback.
"""
from __future__ import annotations

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.interfaces.ui.extensions_available import create_available_tab  # noqa: E402
from sdwebui.interfaces.ui.extensions_backup import create_backup_tab  # noqa: E402
from sdwebui.interfaces.ui.extensions_common import EVENT_ARGS, message_html, request_access_error  # noqa: E402
from sdwebui.interfaces.ui.extensions_installed import (apply_and_restart, check_updates,  # noqa: E402,F401
                                                        create_installed_tab, installed_table_html,
                                                        installed_updates, uninstall)
from sdwebui.services.extensions import discovery as extensions  # noqa: E402
from sdwebui.services.extensions import manager as mgr  # noqa: E402

logger = logging.getLogger(__name__)


def install(url: str, branch: str, dirname: str, request: gr.Request | None = None) -> list:
    """"Install from URL": [result line, url box (cleared on success), *installed_updates()]."""
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


def create_install_from_url_tab(installed_listing: list) -> None:
    with gr.Tab("Install from URL", id="install_from_url", elem_id="extensions_install_tab"):
        url = gr.Textbox(label="URL for extension's git repository", elem_id="extensions_install_url")
        branch = gr.Textbox(label="Specific branch name", placeholder="Leave empty for default main branch",
                            elem_id="extensions_install_branch")
        dirname = gr.Textbox(label="Local directory name", placeholder="Leave empty for auto",
                             elem_id="extensions_install_dirname")
        button = gr.Button("Install", variant="primary", elem_id="extension_install_button")
        result = gr.HTML("", elem_id="extension_install_result")
    button.click(install, [url, branch, dirname], [result, url, *installed_listing], **EVENT_ARGS)


def create_extensions_tab() -> None:
    """Build the whole tab, `gr.Tab("Extensions", id="extensions")`; call inside the app's gr.Tabs()."""
    if not extensions.extensions:
        extensions.list_extensions()
    access_note = mgr.flag_access_error()
    with gr.Tab("Extensions", id="extensions", elem_id="tab_extensions") as tab:
        if access_note:
            gr.HTML(message_html(access_note, True), elem_id="extensions_access_note")
        with gr.Tabs(elem_id="tabs_extensions"):
            _, listing = create_installed_tab(tab)
            create_available_tab(listing)
            create_install_from_url_tab(listing)
            create_backup_tab()
