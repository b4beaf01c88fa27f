"""A1111's `modules.ui_prompt_styles`: `sdwebui.interfaces.ui.a1111_tabs`."""
from modules._facade import expose

IMPL = "sdwebui.interfaces.ui.a1111_tabs"
expose(__name__, extra=[(name, IMPL) for name in (
    "styles_edit_symbol", "styles_materialize_symbol", "styles_copy_symbol", "select_style",
    "save_style", "delete_style", "materialize_styles", "refresh_styles", "UiPromptStyles")])
