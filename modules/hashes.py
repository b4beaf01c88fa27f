"""A1111's `modules.hashes`: `sdwebui.engine.models.hashes`."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.models.hashes')
