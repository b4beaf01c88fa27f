"""A1111's `modules.localization`: the localization files and the page's strings
(`sdwebui.interfaces.ui.page_assets`)."""
from __future__ import annotations

import json
from typing import Any

from sdwebui.interfaces.ui import page_assets


def __getattr__(name: str) -> Any:
    # A1111's module-level table: {name: [files]}, as listed now
    if name == "localizations":
        return {k: [str(f) for f in v] for k, v in page_assets.list_localizations().items()}
    raise AttributeError(name)


def list_localizations(dirname: str | None = None) -> None:
    """A1111 rescans here; the files are listed at each read of `localizations`."""


def localization_js(current_localization_name: str) -> str:
    """The script that hands the page its strings (`window.localization`)."""
    data = page_assets.localization_data(current_localization_name)
    return f"window.localization = {json.dumps(data)}"
