"""A1111's `modules.npu_specific`: `has_npu` (`sdwebui.services.legacy.system`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('has_npu', 'sdwebui.services.legacy.system')])
