"""A1111's `modules.errors`: `sdwebui.services.errors`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.errors')
