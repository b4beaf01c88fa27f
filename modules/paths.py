"""A1111's `modules.paths`: `sdwebui.services.paths`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.paths')
