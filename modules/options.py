"""A1111's `modules.options`: `sdwebui.services.options.store`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.options.store')
