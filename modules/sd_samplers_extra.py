"""A1111's `modules.sd_samplers_extra` (its Restart sampler loop): sampling runs on diffusers
schedulers here."""
from modules._facade import expose

expose(__name__, extra=[('restart_sampler', 'sdwebui.services.legacy.stubs')])
