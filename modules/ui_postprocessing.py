"""A1111's `modules.ui_postprocessing`: the Extras tab (`sdwebui.interfaces.ui.a1111_tabs`)."""
from modules._facade import expose

IMPL = "sdwebui.interfaces.ui.a1111_tabs"
expose(__name__, extra=[(name, IMPL) for name in ("create_ui",)])
