"""A1111's `modules.extras`: `run_pnginfo` in A1111's shape ("", infotext, HTML), from
`sdwebui.interfaces.ui.pnginfo`; the Checkpoint Merger's `run_modelmerger`, `read_metadata`,
`create_config`, `to_half` and `checkpoint_dict_skip_on_merge`, from `sdwebui.interfaces.ui.checkpoint_merger`."""
from modules._facade import expose
from sdwebui.interfaces.ui import pnginfo

MERGER = "sdwebui.interfaces.ui.checkpoint_merger"
expose(__name__, extra=[(name, MERGER) for name in (
    "run_modelmerger", "read_metadata", "create_config", "to_half", "checkpoint_dict_skip_on_merge")],
    computed={"run_pnginfo": lambda: pnginfo.run_pnginfo_parts})
