"""A1111's `modules.initialize_util`: start-up helpers; the app's own start-up does their work."""
from modules._facade import expose

expose(__name__, extra=[
       ('setup_logging', 'sdwebui.services.legacy.system')])
