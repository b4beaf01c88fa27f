"""A1111's `modules.api.api`: `sdwebui.interfaces.api.routes`."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.api.routes')
