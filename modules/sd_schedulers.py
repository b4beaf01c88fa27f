"""A1111's `modules.sd_schedulers` names that extensions read: `sdwebui.engine.sampling.samplers.extension_tables`."""
from modules._facade import expose

_TABLES = 'sdwebui.engine.sampling.samplers.extension_tables'
expose(__name__, extra=[("schedulers", _TABLES), ("schedulers_map", _TABLES)])
