"""A1111's `modules.config_states` names over the Backup/Restore service
(services/extensions/config_states.py, manager.py): the saved states of the web UI and its
extensions, for extensions that read or restore them in-process.

Differences from A1111 (docs/compatibility.md, "A1111 module names"): the states are kept in
`<data>/config_states` (A1111: `<webui>/config_states`); restoring refuses, with the reason, while
the server is exposed without --enable-insecure-extension-access (A1111 checks that only in its UI);
the web UI's checkout is not reset over uncommitted changes to tracked files (A1111 resets them away).
"""
from __future__ import annotations

import logging

from sdwebui.services.extensions import config_states, discovery as extensions, manager as mgr

logger = logging.getLogger(__name__)

__all__ = ["all_config_states", "get_config", "get_extension_config", "get_webui_config", "list_config_states",
           "restore_extension_config", "restore_webui_config"]

# A1111 clears and refills this very dict, so extensions may keep a reference to it
all_config_states: dict[str, dict] = {}


def _check_access() -> None:
    message = mgr.flag_access_error()
    if message is not None:
        raise mgr.ExtensionError("access", message, status_code=403)


def list_config_states() -> dict[str, dict]:
    """The saved states, newest first, keyed "<name>: <YYYY-mm-dd HH:MM:SS>", each with its
    `filepath`; also what `all_config_states` holds afterwards."""
    states = mgr.list_config_states()
    all_config_states.clear()
    all_config_states.update(states)
    return all_config_states


def get_webui_config() -> dict:
    """The web UI's own checkout: remote, commit_hash, commit_date, branch (None outside git)."""
    return config_states.webui_config()


def get_extension_config() -> dict[str, dict]:
    """Each extension's entry by name, with A1111's keys."""
    return config_states.extension_config(extensions.extensions or extensions.list_extensions())


def get_config() -> dict:
    """The state now, as a saved state holds it: created_at, webui, extensions."""
    return config_states.current_state(extensions.extensions or extensions.list_extensions())


def restore_webui_config(config: dict) -> None:
    """Check the web UI's recorded commit out; a failure is logged with its reason, as in A1111."""
    _check_access()
    result = config_states.restore_webui(config)
    (logger.info if result.ok else logger.error)("restoring the web UI state: %s", result.line())


def restore_extension_config(config: dict) -> None:
    """Check each installed extension's recorded commit out and save the recorded enabled states
    (`disabled_extensions`); the results are logged, one line each. A restart loads them."""
    _check_access()
    try:
        _results, disabled = config_states.restore_extensions(config, extensions.extensions
                                                              or extensions.list_extensions())
    except ValueError as e:        # no "extensions" in the state: A1111 prints it and returns
        logger.error("restoring the extension state: %s", e)
        return
    mgr.set_enabled(disabled, mgr.configured_disable_mode())
