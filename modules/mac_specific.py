"""A1111's `modules.mac_specific`: `has_mps` (`sdwebui.services.legacy.system`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('has_mps', 'sdwebui.services.legacy.system')])
