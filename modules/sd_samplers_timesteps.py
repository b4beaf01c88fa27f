"""A1111's `modules.sd_samplers_timesteps`: DDIM, PLMS, UniPC's table and classes
(`sdwebui.services.legacy.samplers`)."""
from modules._facade import expose

expose(__name__, extra=[('samplers_timesteps', 'sdwebui.services.legacy.samplers'), ('samplers_data_timesteps', 'sdwebui.services.legacy.samplers'), ('CompVisSampler', 'sdwebui.services.legacy.samplers'), ('VanillaStableDiffusionSampler', 'sdwebui.services.legacy.samplers'), ('CFGDenoiserTimesteps', 'sdwebui.services.legacy.samplers'), ('CompVisTimestepsDenoiser', 'sdwebui.services.legacy.samplers'), ('CompVisTimestepsVDenoiser', 'sdwebui.services.legacy.samplers')])
