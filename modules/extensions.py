"""A1111's `modules.extensions`: `sdwebui.services.extensions.discovery`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.extensions.discovery')
