"""A1111's `modules.ui_extra_networks`: `sdwebui.interfaces.ui.extra_networks` (the page base class and
the registered pages), its HTML from `...extra_networks_html`, the panel (`create_ui`, `setup_ui`)
from `...extra_networks_panel` and `register_default_pages` from `...extra_networks_default_pages`."""
from modules._facade import expose

PANEL = "sdwebui.interfaces.ui.extra_networks_panel"
expose(__name__, 'sdwebui.interfaces.ui.extra_networks',
       extra=[("register_default_pages", "sdwebui.interfaces.ui.extra_networks_default_pages"),
              ("path_is_parent", "sdwebui.interfaces.ui.extra_networks_metadata"),
              *[(name, PANEL) for name in ("ExtraNetworksUi", "create_ui", "setup_ui")]])
