"""A1111's `modules.shared_state`: `sdwebui.services.job_state`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.job_state')
