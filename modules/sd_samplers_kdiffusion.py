"""A1111's `modules.sd_samplers_kdiffusion`: the sampler table and the classes extensions
subclass (`sdwebui.services.legacy.samplers`); sampling itself runs in `sdwebui.engine.sampling.kdiffusion`."""
from modules._facade import expose

expose(__name__, extra=[('samplers_k_diffusion', 'sdwebui.services.legacy.samplers'), ('samplers_data_k_diffusion', 'sdwebui.services.legacy.samplers'), ('k_diffusion_samplers_map', 'sdwebui.services.legacy.samplers'), ('sampler_extra_params', 'sdwebui.services.legacy.samplers'), ('k_diffusion_scheduler', 'sdwebui.services.legacy.samplers'), ('KDiffusionSampler', 'sdwebui.services.legacy.samplers'), ('CFGDenoiserKDiffusion', 'sdwebui.services.legacy.samplers'), ('CFGDenoiser', 'sdwebui.services.legacy.samplers')])
