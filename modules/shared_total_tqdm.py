"""A1111's `modules.shared_total_tqdm`: `TotalTQDM` (`sdwebui.services.job_state`)."""
from modules._facade import expose

expose(__name__, extra=[('TotalTQDM', 'sdwebui.services.job_state')])
