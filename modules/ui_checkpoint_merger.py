"""A1111's `modules.ui_checkpoint_merger`: the Checkpoint Merger tab (`sdwebui.interfaces.ui.checkpoint_merger`)."""
from modules._facade import expose

expose(__name__, "sdwebui.interfaces.ui.checkpoint_merger")
