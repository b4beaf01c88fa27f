"""A1111's `modules.sd_vae_approx`: `cheap_approximation` (`sdwebui.services.legacy.samplers`)."""
from modules._facade import expose

expose(__name__, extra=[('cheap_approximation', 'sdwebui.services.legacy.samplers'), ('model', 'sdwebui.services.legacy.stubs'), ('VAEApprox', 'sdwebui.services.legacy.stubs')])
