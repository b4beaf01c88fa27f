"""A1111's `modules.xpu_specific`: `has_xpu` (`sdwebui.services.legacy.system`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('has_xpu', 'sdwebui.services.legacy.system')])
