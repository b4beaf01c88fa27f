"""A1111's `modules.script_callbacks`: `sdwebui.services.extensions.callbacks`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.extensions.callbacks')
