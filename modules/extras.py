"""A1111's `modules.extras`: `run_pnginfo` in A1111's shape ("", infotext, HTML), from
`sdwebui.interfaces.ui.pnginfo`."""
from modules._facade import expose
from sdwebui.interfaces.ui import pnginfo

expose(__name__, computed={"run_pnginfo": lambda: pnginfo.run_pnginfo_parts})
