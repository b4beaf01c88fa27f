"""A1111's `modules.ui_checkpoint_merger`: a tab this web UI does not have; its builder says so
(`sdwebui.interfaces.ui.a1111_tabs`)."""
from modules._facade import expose

IMPL = "sdwebui.interfaces.ui.a1111_tabs"
expose(__name__, extra=[(name, IMPL) for name in (
    "update_interp_description", "modelmerger", "UiCheckpointMerger")])
