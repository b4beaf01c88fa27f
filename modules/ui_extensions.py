"""A1111's `modules.ui_extensions`: the Extensions tab's functions (`sdwebui.interfaces.ui.extensions_compat`,
over the tab in sdwebui/interfaces/ui/extensions_*.py and sdwebui/services/extensions)."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.ui.extensions_compat')
