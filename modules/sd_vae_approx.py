"""A1111's `modules.sd_vae_approx`: `model()` (the Approx NN preview network), `VAEApprox`,
`cheap_approximation`."""
from modules._facade import expose

expose(__name__, extra=[('cheap_approximation', 'sdwebui.services.legacy.samplers'), ('model', 'sdwebui.services.legacy.preview_models'), ('VAEApprox', 'sdwebui.services.legacy.preview_models')])
