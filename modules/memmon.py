"""A1111's `modules.memmon`: `MemUsageMonitor` (`sdwebui.services.memory`)."""
from modules._facade import expose

expose(__name__, extra=[('MemUsageMonitor', 'sdwebui.services.memory')])
