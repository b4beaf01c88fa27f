"""A1111's `modules.ui_extensions` names over this UI's Extensions tab (extensions_*.py) and the
extension services (services/extensions/{manager,index,config_states}.py), for extensions that call
them in-process. They take and return what A1111's do (JSON name lists in, HTML tables and gradio
updates out); the HTML is this tab's own.

What differs (docs/compatibility.md, "A1111 module names"): there is no request here, so access is
A1111's flag rule alone (check_access); the tab's own handlers also check the client's address and
login. `available_extensions` is the index these functions last loaded (the tab keeps one per
browser session). Loading an index reads a URL or a local file, with a timeout and a size limit.
"""
from __future__ import annotations

import html
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.interfaces.ui.extensions_available import available_table_html, select  # noqa: E402
from sdwebui.interfaces.ui.extensions_backup import state_choices, state_table_html  # noqa: E402
from sdwebui.interfaces.ui.extensions_common import github_commit_link, names_from_json  # noqa: E402
from sdwebui.interfaces.ui.extensions_installed import installed_table_html  # noqa: E402
from sdwebui.interfaces.ui.extensions_tab import create_extensions_tab  # noqa: E402
from sdwebui.services.extensions import config_states  # noqa: E402
from sdwebui.services.extensions import discovery as extensions  # noqa: E402
from sdwebui.services.extensions import index as ext_index  # noqa: E402
from sdwebui.services.extensions import manager as mgr  # noqa: E402

logger = logging.getLogger(__name__)

__all__ = ["STYLE_PRIMARY", "apply_and_restart", "available_extensions", "check_access", "check_updates",
           "create_ui", "extension_table", "get_date", "get_extension_dirname_from_url",
           "install_extension_from_index", "install_extension_from_url", "make_commit_link", "normalize_git_url",
           "preload_extensions_git_metadata", "refresh_available_extensions",
           "refresh_available_extensions_for_tags", "refresh_available_extensions_from_data",
           "restore_config_state", "save_config_state", "search_extensions", "sort_ordering",
           "update_config_states_table"]

available_extensions: dict = {"extensions": []}
STYLE_PRIMARY = ' style="color: var(--primary-400)"'
# A1111's (reverse, key) pairs, in the order of the tab's "Order" choices
sort_ordering = [(reverse, key) for _label, reverse, key in ext_index.SORT_ORDERS]


def check_access() -> None:
    """Raise AssertionError (A1111's type) saying why, while the server is exposed without
    --enable-insecure-extension-access."""
    message = mgr.flag_access_error()
    if message is not None:
        raise AssertionError(message)


# --- Installed ------------------------------------------------------------------------------------
def extension_table() -> str:
    """The Installed tab's table (`#extensions`)."""
    return installed_table_html()


def make_commit_link(commit_hash: str, remote: str | None, text: str | None = None) -> str:
    return github_commit_link(commit_hash, remote, text)


def apply_and_restart(disable_list: str, update_list: str, disable_all: str) -> str:
    """Save the enabled states, update the named extensions, restart (or stop, outside webui.sh's
    loop); returns the message the tab shows."""
    check_access()
    disabled = names_from_json(disable_list, "disable_list")
    update = names_from_json(update_list, "update_list")
    return mgr.apply_and_restart(disabled, disable_all or "none", update)


def check_updates(id_task: str | None, disable_list: str) -> tuple[str, str]:
    """Fetch every git extension not in `disable_list` (JSON); (the table, "")."""
    check_access()
    disabled = set(names_from_json(disable_list, "disable_list"))
    names = [e.name for e in extensions.extensions
             if e.is_git and not e.is_builtin and e.name not in disabled and e.dirname not in disabled]
    for name, status in mgr.check_for_updates(names).items():
        if status.startswith("unknown"):
            logger.error("Error checking updates for %s: %s", name, status)
    return extension_table(), ""


def preload_extensions_git_metadata() -> None:
    """Read each extension's git information now (it is otherwise read when first shown)."""
    for ext in extensions.extensions:
        _ = ext.remote


# --- Install from URL / Available ------------------------------------------------------------------
def normalize_git_url(url: str | None) -> str:
    """A remote for comparison: no trailing slash or ".git", lower case (A1111 only drops ".git")."""
    return "" if url is None else ext_index.normalize_url(url)


def get_extension_dirname_from_url(url: str) -> str:
    return ext_index.dirname_from_url(url)


def install_extension_from_url(dirname: str | None, url: str, branch_name: str | None = None) -> list[str]:
    """Clone `url` into extensions/<dirname> and run its install.py; [the table, the message].
    A bad URL, folder or a failed clone raises manager.ExtensionError saying why."""
    check_access()
    text = mgr.install_from_url(url, branch_name or None, dirname or None)
    return [extension_table(), html.escape(text)]


def refresh_available_extensions_from_data(selected_tags: list[str], showing_type: str, filtering_type: str,
                                           sort_column: int, filter_text: str = "") -> tuple[str, list[str]]:
    """The Available table for `available_extensions` filtered as the tab filters; (html, tags)."""
    selection = select(available_extensions, list(selected_tags or []), showing_type, filtering_type,
                       sort_column, filter_text)
    return available_table_html(selection), list(selection.tags)


def refresh_available_extensions(url: str, selected_tags: list[str], showing_type: str, filtering_type: str,
                                 sort_column: int) -> tuple:
    """Load the index at `url` (a URL or a local file) into `available_extensions`; (url, html,
    tag choices, "", ""). An index that cannot be loaded raises IndexLoadError saying why."""
    global available_extensions
    available_extensions = ext_index.load_index(url or ext_index.default_index_url())
    code, tags = refresh_available_extensions_from_data(selected_tags, showing_type, filtering_type, sort_column)
    return url, code, gr.update(choices=tags), "", ""


def refresh_available_extensions_for_tags(selected_tags: list[str], showing_type: str, filtering_type: str,
                                          sort_column: int, filter_text: str) -> tuple[str, str]:
    return refresh_available_extensions_from_data(selected_tags, showing_type, filtering_type, sort_column,
                                                  filter_text)[0], ""


def search_extensions(filter_text: str, selected_tags: list[str], showing_type: str, filtering_type: str,
                      sort_column: int) -> tuple[str, str]:
    return refresh_available_extensions_from_data(selected_tags, showing_type, filtering_type, sort_column,
                                                  filter_text)[0], ""


def install_extension_from_index(url: str, selected_tags: list[str], showing_type: str, filtering_type: str,
                                 sort_column: int, filter_text: str) -> tuple[str, str, str, str]:
    ext_table, message = install_extension_from_url(None, url)
    code, _ = refresh_available_extensions_from_data(selected_tags, showing_type, filtering_type, sort_column,
                                                     filter_text)
    return code, ext_table, message, ""


def get_date(info: dict, key: str) -> str:
    """An index entry's GitHub time (`2023-11-23T10:00:00Z`) as a local date; "" when absent."""
    return ext_index._date(info.get(key))


# --- Backup/Restore ---------------------------------------------------------------------------------
def save_config_state(name: str) -> tuple:
    """Save the state now; (the dropdown update, the message)."""
    path = mgr.save_config_state(name)
    choices = state_choices()
    value = choices[1] if len(choices) > 1 else config_states.CURRENT
    message = f'<span>Saved current webui/extension state to "{html.escape(str(path))}"</span>'
    return gr.update(value=value, choices=choices), message


def restore_config_state(confirmed: bool, config_state_name: str, restore_type: str) -> str:
    """Restore a saved state ("extensions", "webui" or "both"), then restart."""
    if config_state_name == config_states.CURRENT:
        return "<span>Select a config to restore from.</span>"
    if not confirmed:
        return "<span>Cancelled.</span>"
    check_access()
    text = mgr.restore_config_state(config_state_name, restore_type)
    return f"<span>{html.escape(text)}<br>{html.escape(mgr.restart_server())}</span>"


def update_config_states_table(state_name: str) -> str:
    return state_table_html(state_name)


# --- the tab ----------------------------------------------------------------------------------------
def create_ui() -> gr.Blocks:
    """A Blocks holding the Extensions tab (Installed, Available, Install from URL, Backup/Restore)."""
    with gr.Blocks(analytics_enabled=False) as ui:
        with gr.Tabs():
            create_extensions_tab()
    return ui
