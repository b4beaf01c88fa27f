"""A1111's `modules.profiling`: `Profiler` (`sdwebui.services.legacy.system`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('Profiler', 'sdwebui.services.legacy.system')])
