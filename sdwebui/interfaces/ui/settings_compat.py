"""A1111's `modules.ui_settings`: one option's component and value, and `UiSettings`, the Settings
tab's builder, over this UI's own Settings tab (settings.py)."""
from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from sdwebui.interfaces.ui import settings as settings_ui
from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)


def _info(key: str):
    info = shared.opts.data_labels.get(key) if shared.opts is not None else None
    if info is None:
        known = sorted(shared.opts.data_labels) if shared.opts is not None else []
        raise KeyError(f"no option named {key!r} (options: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''})")
    return info


def get_value_for_setting(key: str) -> Any:
    """A gradio update with the option's current value (and fresh choices where it has them)."""
    return settings_ui._ui_update(key, _info(key))


def create_setting_component(key: str, is_quicksettings: bool = False) -> gr.components.Component:
    """The component the Settings tab shows for option `key`, with its current value."""
    return settings_ui.setting_component(key, _info(key), elem_id=f"setting_{key}")


class UiSettings:
    """A1111's Settings tab object: create_ui() builds this UI's Settings tab, add_quicksettings()
    the quicksettings row; run_settings / run_settings_single apply values as the tab does."""

    def __init__(self) -> None:
        self.submit = self.result = self.interface = self.dummy_component = None
        self.components: list = []
        self.component_dict: dict[str, Any] = {}
        self.quicksettings_list: list = []
        self.quicksettings_names: dict[str, int] = {}
        self.text_settings = self.show_all_pages = self.show_one_page = self.search_input = None

    def create_ui(self, loadsave: Any = None, dummy_component: Any = None) -> None:
        self.dummy_component = dummy_component
        settings_ui.create_settings_tab()

    def add_quicksettings(self) -> None:
        self.quicksettings_list = settings_ui.create_quicksettings()
        keys = list(shared.opts.quicksettings_list or []) if shared.opts is not None else []
        self.quicksettings_names = {k: i for i, k in enumerate(keys)}

    def add_functionality(self, demo: Any) -> None:
        """The tab's events are wired when it is built (create_ui)."""

    def run_settings(self, *args: Any) -> tuple[str, str]:
        raise NotImplementedError("UiSettings.run_settings takes A1111's positional component values; here the "
                                  "Settings tab applies its own values (POST /sdapi/v1/options does the same)")

    def run_settings_single(self, value: Any, key: str) -> tuple[Any, str]:
        """Set one option (as a quicksettings edit does) and save the settings."""
        _info(key)
        why = settings_ui.read_only_reason(key)
        if why is not None:   # refused as the Settings tab and the API refuse it (A1111: opts.set is False)
            logger.warning("not setting %s: %s", key, why)
            return get_value_for_setting(key), shared.opts.dumps()
        if shared.opts.set(key, value):
            shared.opts.save()
        return get_value_for_setting(key), shared.opts.dumps()

    def register_settings(self) -> None:
        """The options are registered when the app starts (extensions' on_ui_settings included)."""


__all__ = ["get_value_for_setting", "create_setting_component", "UiSettings"]
