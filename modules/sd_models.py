"""A1111's `modules.sd_models`: `sdwebui.services.models.checkpoints`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.models.checkpoints')
