"""A1111's `modules.sd_samplers` names that extensions read: `sdwebui.engine.sampling.samplers.extension_tables`."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.sampling.samplers.extension_tables')
