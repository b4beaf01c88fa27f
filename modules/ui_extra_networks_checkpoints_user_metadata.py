"""A1111's `modules.ui_extra_networks_checkpoints_user_metadata`: `sdwebui.interfaces.ui.extra_networks_metadata`."""
from modules._facade import expose

IMPL = "sdwebui.interfaces.ui.extra_networks_metadata"
expose(__name__, extra=[(name, IMPL) for name in ("CheckpointUserMetadataEditor",)])
