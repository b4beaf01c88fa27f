"""A1111's `modules.scripts`: `sdwebui.services.extensions.scripts`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.extensions.scripts')
