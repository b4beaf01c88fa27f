"""A1111's `modules.logging_config` (`sdwebui.services.legacy.system`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('setup_logging', 'sdwebui.services.legacy.system')])
