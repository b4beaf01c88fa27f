"""A1111's `modules.ui_common`: `sdwebui.interfaces.ui.common`."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.ui.common')
