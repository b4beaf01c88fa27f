"""A1111's `modules.config_states`: saved extension states (`sdwebui.services.extensions.config_states`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.extensions.config_states')
