"""A1111's `modules.ui_prompt_styles`: `sdwebui.interfaces.ui.styles_editor`."""
from modules._facade import expose

expose(__name__, "sdwebui.interfaces.ui.styles_editor")
