"""A1111's `modules.shared_gradio_themes`: `sdwebui.interfaces.ui.web_assets`."""
from modules._facade import expose

IMPL = "sdwebui.interfaces.ui.web_assets"
expose(__name__, extra=[(name, IMPL) for name in (
    "gradio_hf_hub_themes", "reload_gradio_theme", "resolve_var")])
