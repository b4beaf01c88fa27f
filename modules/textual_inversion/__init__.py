"""A1111's `modules.textual_inversion`: `sdwebui.engine.models.textual_inversion`."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.models.textual_inversion')
