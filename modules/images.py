"""A1111's `modules.images`: `sdwebui.engine.images.save`."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.images.save')
