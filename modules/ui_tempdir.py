"""A1111's `modules.ui_tempdir`: `sdwebui.interfaces.ui.tempdir`."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.ui.tempdir')
