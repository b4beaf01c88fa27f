"""A1111's `modules.ui_toprow`: `sdwebui.interfaces.ui.toprow`."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.ui.toprow')
