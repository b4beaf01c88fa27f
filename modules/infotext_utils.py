"""A1111's `modules.infotext_utils` (called `generation_parameters_copypaste` before 1.8): the infotext
parser extensions call, with the app's options applied as A1111 applies them."""
from __future__ import annotations

from typing import Any

from sdwebui.engine.images import infotext
from sdwebui.services.extensions import callbacks as script_callbacks


def parse_generation_parameters(x: str, skip_fields: list[str] | None = None) -> dict[str, Any]:
    from sdwebui.services import runtime as shared

    opts = shared.opts
    if skip_fields is None and opts is not None:
        skip_fields = list(opts.infotext_skip_pasting or [])
    styles = list(shared.prompt_styles.styles.values()) if shared.prompt_styles is not None else None
    params = infotext.parse(x, skip_fields=skip_fields, styles=styles,
                            infotext_styles=opts.infotext_styles if opts is not None else "Apply if any")
    script_callbacks.infotext_pasted_callback(x, params)
    return params
