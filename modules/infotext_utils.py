"""A1111's `modules.infotext_utils` (called `generation_parameters_copypaste` before 1.8): the infotext
parser extensions call, reading an infotext with the running app's settings and styles
(`sdwebui.services.infotext_paste`)."""
from __future__ import annotations

from typing import Any

from sdwebui.services import infotext_paste, runtime


def parse_generation_parameters(x: str, skip_fields: list[str] | None = None) -> dict[str, Any]:
    return infotext_paste.parse_pasted(x, runtime.opts, runtime.prompt_styles, skip_fields)
