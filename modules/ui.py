"""A1111's `modules.ui`: the names extensions use from it (`sdwebui.interfaces.ui.ui_helpers`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.ui.ui_helpers')
