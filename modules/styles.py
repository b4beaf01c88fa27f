"""A1111's `modules.styles`: `sdwebui.services.styles`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.styles')
