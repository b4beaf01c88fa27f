"""A1111's `modules.ui_loadsave`: `sdwebui.interfaces.ui.loadsave`."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.ui.loadsave')
