"""A1111's `modules.restart` (`sdwebui.services.legacy.system`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('is_restartable', 'sdwebui.services.legacy.system'),
       ('restart_program', 'sdwebui.services.legacy.system'),
       ('stop_program', 'sdwebui.services.legacy.system')])
