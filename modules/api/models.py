"""A1111's `modules.api.models`: `sdwebui.interfaces.api.models`."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.api.models')
