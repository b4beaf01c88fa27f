"""A1111's old `modules.sd_samplers_compvis` (gone from A1111 1.10 too): kept so the extensions
that still try it load (`sdwebui.services.legacy.samplers`)."""
from modules._facade import expose

expose(__name__, extra=[('samplers_timesteps', 'sdwebui.services.legacy.samplers'), ('CompVisSampler', 'sdwebui.services.legacy.samplers')])
