"""A1111's `modules.postprocessing`: `sdwebui.engine.processing.extras`."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.processing.extras')
