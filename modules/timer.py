"""A1111's `modules.timer`: `Timer` and the start-up timer (`sdwebui.services.util`)."""
from modules._facade import expose

expose(__name__, extra=[('Timer', 'sdwebui.services.util'), ('TimerSubcategory', 'sdwebui.services.util'), ('startup_timer', 'sdwebui.services.util'), ('startup_record', 'sdwebui.services.util')])
