"""A1111's `modules.devices`: `sdwebui.services.models.devices`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.models.devices')
