"""A1111's `modules.sd_hijack_utils`: `CondFunc` (`sdwebui.services.legacy.hijack`)."""
from modules._facade import expose

expose(__name__, extra=[('CondFunc', 'sdwebui.services.legacy.hijack')])
