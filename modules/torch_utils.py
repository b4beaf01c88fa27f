"""A1111's `modules.torch_utils` (`sdwebui.services.legacy.misc`)."""
from modules._facade import expose

expose(__name__, extra=[('get_param', 'sdwebui.services.legacy.misc'), ('float64', 'sdwebui.services.legacy.misc')])
