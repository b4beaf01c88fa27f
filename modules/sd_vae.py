"""A1111's `modules.sd_vae`: `sdwebui.services.models.vae_registry`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.models.vae_registry')
