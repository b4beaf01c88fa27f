"""A1111's `modules.ui_components`: `sdwebui.interfaces.ui.components`."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.ui.components')
