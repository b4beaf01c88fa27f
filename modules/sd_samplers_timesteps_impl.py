"""A1111's `modules.sd_samplers_timesteps_impl` (its DDIM/PLMS/UniPC loops): the samplers run in
`sdwebui.engine.sampling.kdiffusion` here."""
from modules._facade import expose

expose(__name__, extra=[('ddim', 'sdwebui.services.legacy.stubs'), ('plms', 'sdwebui.services.legacy.stubs'), ('unipc', 'sdwebui.services.legacy.stubs')])
