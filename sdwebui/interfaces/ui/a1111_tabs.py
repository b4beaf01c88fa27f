"""A1111's smaller UI modules that build or serve one tab: `modules.ui_postprocessing` (the Extras
tab). `modules.ui_prompt_styles` is styles_editor.py, `modules.ui_checkpoint_merger` checkpoint_merger.py."""
from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


# --- modules.ui_postprocessing -------------------------------------------------------------------------
def create_ui() -> dict:
    """The Extras tab's body (call inside a gr.Tab)."""
    from sdwebui.interfaces.ui.extras import create_extras_tab

    return create_extras_tab()


__all__ = ["create_ui"]
