"""A1111's `modules.ui_extra_networks_checkpoints`: `sdwebui.interfaces.ui.extra_networks_default_pages`."""
from modules._facade import expose

IMPL = "sdwebui.interfaces.ui.extra_networks_default_pages"
expose(__name__, extra=[(name, IMPL) for name in ("ExtraNetworksPageCheckpoints",)])
