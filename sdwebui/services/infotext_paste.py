"""A pasted infotext as the app reads it: parsed with the user's settings (`infotext_skip_pasting`,
`infotext_styles`) and prompt styles, then handed to the extensions' `infotext_pasted` callbacks,
which may add or change keys. A1111's `parse_generation_parameters` (modules.infotext_utils) and
the UI's paste read an infotext this way."""
from __future__ import annotations

from typing import Any

from sdwebui.engine.images import infotext
from sdwebui.services.extensions import callbacks as script_callbacks
from sdwebui.services.options.store import Options
from sdwebui.services.styles import StyleDatabase


def parse_pasted(text: str, opts: Options | None, styles: StyleDatabase | None,
                 skip_fields: list[str] | None = None) -> dict[str, Any]:
    """`text` parsed as A1111 parses a pasted infotext. `skip_fields` (default: the
    `infotext_skip_pasting` setting) are left out; the settings `infotext_styles`, `auto_backcompat`
    and `use_old_hires_fix_width_height` apply; without options, infotext.parse's defaults apply."""
    if skip_fields is None and opts is not None:
        skip_fields = list(opts.infotext_skip_pasting or [])
    params = infotext.parse(text, skip_fields=skip_fields,
                            styles=list(styles.styles.values()) if styles is not None else None,
                            infotext_styles=opts.infotext_styles if opts is not None else "Apply if any",
                            auto_backcompat=opts.auto_backcompat if opts is not None else True,
                            use_old_hires_fix_width_height=bool(opts.use_old_hires_fix_width_height) if opts is not None else False)
    script_callbacks.infotext_pasted_callback(text, params)   # looked up at call time: extensions may replace it
    return params
