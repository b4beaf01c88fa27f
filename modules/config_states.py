"""A1111's `modules.config_states`: saved web UI / extension states (A1111's names:
`sdwebui.services.legacy.extension_states`; the rest: `sdwebui.services.extensions.config_states`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.legacy.extension_states', 'sdwebui.services.extensions.config_states')
