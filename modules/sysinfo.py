"""A1111's `modules.sysinfo`: the system report (`sdwebui.services.legacy.system`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('get', 'sdwebui.services.legacy.system'),
       ('get_dict', 'sdwebui.services.legacy.system')])
