"""A1111's `modules.ui_settings`: `sdwebui.interfaces.ui.settings_compat`."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.ui.settings_compat')
