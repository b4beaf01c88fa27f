"""A1111's `modules.launch_utils`: `sdwebui.services.extensions.launch_utils`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.extensions.launch_utils')
