"""A1111's `modules.shared_options`: `sdwebui.services.options.registry`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.options.registry')
