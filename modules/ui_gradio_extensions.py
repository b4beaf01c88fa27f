"""A1111's `modules.ui_gradio_extensions`: the page's JavaScript and CSS (`sdwebui.interfaces.ui.web_assets`)."""
from modules._facade import expose

IMPL = "sdwebui.interfaces.ui.web_assets"
expose(__name__, extra=[(name, IMPL) for name in (
    "webpath", "javascript_html", "css_html", "reload_javascript")])
