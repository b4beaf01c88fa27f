"""A1111's `modules.shared`: `sdwebui.services.runtime`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.runtime', extra=[("sd_model", "sdwebui.services.runtime")])
